#include "common/http/http_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rw::http {
namespace {

using namespace std::chrono_literals;

// A raw client: the tests send what a hostile or broken client would.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void send(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;  // the server closed: what it answered is still readable
      sent += static_cast<std::size_t>(n);
    }
  }
  // Everything until the server closes or `within` passes.
  std::string read_all(std::chrono::milliseconds within = 3000ms) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + within;
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (::poll(&p, 1, static_cast<int>(std::max<long>(1, left.count()))) <= 0) break;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void start(HttpServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    auto created = HttpServer::create(
        options,
        [](const Request& request, const Peer&) {
          return text_response(200, "path=" + std::string(request.target()) + " body=" + request.body());
        },
        log_);
    ASSERT_TRUE(created) << created.error();
    server_ = std::move(*created);
    server_->start();
  }
  // Whether a line containing `part` was logged within a second (the
  // server logs after the client has seen its answer or the close).
  bool logged(std::string_view part) {
    const auto deadline = std::chrono::steady_clock::now() + 1000ms;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mutex_);
        for (const auto& l : lines_) {
          if (l.find(part) != std::string::npos) return true;
        }
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  std::mutex mutex_;
  std::vector<std::string> lines_;
  Logger log_{LogLevel::Debug, [this](LogLevel, std::string_view line) {
                std::lock_guard lock(mutex_);
                lines_.emplace_back(line);
              }};
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, AnswersRequestsOnAKeptAliveConnection) {
  start();
  RawClient client(server_->port());
  ASSERT_TRUE(client.connected());
  client.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
              "Connection: close\r\n\r\nxyz");
  const std::string answer = client.read_all();
  EXPECT_NE(answer.find("HTTP/1.1 200 OK"), std::string::npos) << answer;
  EXPECT_NE(answer.find("path=/a body="), std::string::npos) << answer;
  EXPECT_NE(answer.find("path=/b body=xyz"), std::string::npos) << answer;
  EXPECT_TRUE(client.closed());
}

TEST_F(HttpServerTest, HugeHeadersGet431AndALogLine) {
  start();
  RawClient client(server_->port());
  client.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  const std::string answer = client.read_all();
  EXPECT_EQ(answer.rfind("HTTP/1.1 431", 0), 0u) << answer.substr(0, 200);
  EXPECT_TRUE(client.closed());
  EXPECT_TRUE(logged("431"));
}

TEST_F(HttpServerTest, AnOversizeBodyGets413) {
  start();
  RawClient client(server_->port());
  client.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + std::string(70000, 'b'));
  const std::string answer = client.read_all();
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer.substr(0, 200);
}

TEST_F(HttpServerTest, GarbageGets400) {
  start();
  RawClient client(server_->port());
  client.send("\x16\x03\x01 this is not HTTP\r\n\r\n");
  const std::string answer = client.read_all();
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer.substr(0, 200);
  EXPECT_TRUE(logged("400"));
}

TEST_F(HttpServerTest, ASlowClientIsClosedAndOthersAreServed) {
  HttpServerOptions options;
  options.request_timeout = 300ms;
  start(options);
  RawClient slow(server_->port());
  slow.send("GET / HTTP/1.1\r\nHo");  // and nothing more
  RawClient quick(server_->port());
  quick.send("GET /quick HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(quick.read_all().find("path=/quick"), std::string::npos);
  const auto started = std::chrono::steady_clock::now();
  slow.read_all(3000ms);
  EXPECT_TRUE(slow.closed());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2000ms);
  EXPECT_TRUE(logged("no whole request within 300 ms"));
}

TEST_F(HttpServerTest, WhenFullTheLongestIdleConnectionMakesRoom) {
  HttpServerOptions options;
  options.max_connections = 2;
  start(options);
  RawClient a(server_->port()), b(server_->port());
  a.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");  // answered, then kept alive: idle
  EXPECT_NE(a.read_all(300ms).find("path=/a"), std::string::npos);
  b.send("GET /b HTTP/1.1\r\nHo");  // a request on its way: busy
  std::this_thread::sleep_for(100ms);
  RawClient c(server_->port());
  c.send("GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(c.read_all().find("path=/c"), std::string::npos);
  a.read_all(500ms);
  EXPECT_TRUE(a.closed()) << "the idle one went";
  // Now both are busy: a fourth is closed at accept.
  RawClient d(server_->port());
  d.send("GET /d HTTP/1.1\r\nHo");
  RawClient e(server_->port());
  e.send("GET /e HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(e.read_all(1000ms), "");
  EXPECT_TRUE(e.closed());
  EXPECT_TRUE(logged("HTTP connections already"));
}

TEST_F(HttpServerTest, OneAddressGetsAShareOfTheConnections) {
  HttpServerOptions options;
  options.max_connections_per_address = 2;
  start(options);
  RawClient a(server_->port()), b(server_->port());
  a.send("GET / HTTP/1.1\r\nHo");
  b.send("GET / HTTP/1.1\r\nHo");
  std::this_thread::sleep_for(100ms);
  RawClient c(server_->port());
  c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read_all(1000ms), "");
  EXPECT_TRUE(c.closed());
  EXPECT_TRUE(logged("from this address already"));
}

TEST_F(HttpServerTest, AKeptAliveConnectionHasTheRequestTimeOnceItsRequestBegins) {
  HttpServerOptions options;
  options.request_timeout = 300ms;
  options.idle_timeout = 2000ms;
  start(options);
  RawClient client(server_->port());
  client.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(client.read_all(200ms).find("path=/1"), std::string::npos);
  client.send("GET /2 HTTP/1.1\r\nHo");  // and no more: 300 ms, not the idle 2 s
  const auto started = std::chrono::steady_clock::now();
  client.read_all(3000ms);
  EXPECT_TRUE(client.closed());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);
}

TEST_F(HttpServerTest, AnswersBeyondTheInFlightBudgetAre503) {
  HttpServerOptions options;
  options.max_response_bytes_in_flight = 100;  // the handler's answers are ~20 bytes
  start(options);
  RawClient client(server_->port());
  client.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\nConnection: close\r\n\r\n" +
              std::string(200, 'z'));
  const std::string answer = client.read_all();
  EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer.substr(0, 100);
}

TEST_F(HttpServerTest, HeadHasNoBody) {
  start();
  RawClient client(server_->port());
  client.send("HEAD /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string answer = client.read_all();
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_NE(answer.find("Content-Length: "), std::string::npos);
  EXPECT_EQ(answer.find("path="), std::string::npos) << answer;
}

TEST_F(HttpServerTest, AnAddressInUseIsAnError) {
  start();
  HttpServerOptions options;
  options.host = "127.0.0.1";
  options.port = server_->port();
  auto second = HttpServer::create(options, [](const Request&, const Peer&) { return text_response(200, ""); }, log_);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().find("cannot listen"), std::string::npos) << second.error();
}

}  // namespace
}  // namespace rw::http
