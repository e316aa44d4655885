#include "common/http/http_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/http/http_server.hpp"

namespace rw::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using Result = Expected<HttpAnswer, std::string>;
using Clock = std::chrono::steady_clock;

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// Awaits client.post() from a coroutine on an io_context of the calling
// thread, as an RTMP worker's coroutine would.
Result post_from_here(HttpClient& client, const std::string& url, std::chrono::milliseconds timeout = 1000ms,
                      std::string body = "{}") {
  asio::io_context io;
  std::optional<Result> result;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { result.emplace(co_await client.post(url, body, timeout)); },
      asio::detached);
  io.run_for(5s);
  if (!result) return unexpected(std::string("the post never completed"));
  return std::move(*result);
}

// A peer on loopback that misbehaves as a test needs, and counts its
// connections.
class RawServer {
 public:
  enum class Mode {
    Answer,                // "0" after `delay`, keeping the connection alive
    Silent,                // reads the request and never answers
    Oversize,              // an answer of 100000 bytes
    CloseOnFirstRequest,   // closes when a request arrives, without answering
    CloseOnSecondRequest,  // answers the first request, closes at the second
  };

  explicit RawServer(Mode mode, std::chrono::milliseconds delay = 0ms) : mode_(mode), delay_(delay) {
    acceptor_.open(tcp::v4());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RawServer() {
    io_.stop();
    thread_.join();
  }

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int accepted() const { return accepted_; }
  int ended() const { return ended_; }
  int most_open() const { return most_open_; }
  int requests() const { return requests_; }

 private:
  asio::awaitable<void> accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    ++accepted_;
    const int now_open = ++open_;
    most_open_ = std::max(most_open_.load(), now_open);  // one thread: no race
    beast::flat_buffer buffer;
    for (int n = 1;; ++n) {
      bhttp::request<bhttp::string_body> request;
      auto [ec, bytes] = co_await bhttp::async_read(socket, buffer, request, asio::as_tuple(asio::use_awaitable));
      (void)bytes;
      if (ec) break;
      ++requests_;
      if (mode_ == Mode::CloseOnFirstRequest || (mode_ == Mode::CloseOnSecondRequest && n == 2)) break;
      if (mode_ == Mode::Silent) {
        char sink[512];
        for (;;) {
          auto [read_error, got] = co_await socket.async_read_some(asio::buffer(sink), asio::as_tuple(asio::use_awaitable));
          (void)got;
          if (read_error) break;
        }
        break;
      }
      if (delay_ > 0ms) {
        asio::steady_timer timer(io_, delay_);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      const std::string body = mode_ == Mode::Oversize ? std::string(100'000, 'x') : "0";
      const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
      auto [write_error, written] = co_await asio::async_write(socket, asio::buffer(answer), asio::as_tuple(asio::use_awaitable));
      (void)written;
      if (write_error) break;
    }
    --open_;
    ++ended_;
  }

  const Mode mode_;
  const std::chrono::milliseconds delay_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_{io_};
  std::uint16_t port_ = 0;
  std::atomic<int> accepted_{0}, open_{0}, most_open_{0}, ended_{0}, requests_{0};
  std::thread thread_;
};

// What the project's own HTTP server received.
struct Received {
  std::string method, target, content_type, body, peer;
};

class HttpClientTest : public ::testing::Test {
 protected:
  // The project's HTTP server as the peer, answering "0" (or 404 for
  // /missing) and recording each request.
  void start_server() {
    HttpServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    auto created = HttpServer::create(
        options,
        [this](const Request& request, const Peer& peer) {
          std::lock_guard lock(mutex_);
          received_.push_back(Received{std::string(request.method_string()), std::string(request.target()),
                                       std::string(request[bhttp::field::content_type]), request.body(),
                                       peer.address});
          if (request.target() == "/missing") return text_response(404, "no such hook");
          return text_response(200, "0");
        },
        log_);
    ASSERT_TRUE(created) << created.error();
    server_ = std::move(*created);
    server_->start();
  }
  std::string server_url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  std::vector<Received> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }
  HttpClient& client(HttpClientOptions options = {}) {
    client_ = std::make_unique<HttpClient>(options, log_);
    return *client_;
  }

  Logger log_{LogLevel::Debug, [](LogLevel, std::string_view) {}};  // debug lines built, then dropped
  std::mutex mutex_;
  std::vector<Received> received_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<HttpClient> client_;  // before the server goes
};

TEST(ParseHttpUrl, AcceptsHostsPortsAndTargets) {
  auto url = parse_http_url("http://127.0.0.1:8085/api/v1/streams?app=live&x=1");
  ASSERT_TRUE(url) << url.error();
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 8085);
  EXPECT_EQ(url->target, "/api/v1/streams?app=live&x=1");

  url = parse_http_url("http://hooks.example.com");
  ASSERT_TRUE(url) << url.error();
  EXPECT_EQ(url->host, "hooks.example.com");
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->target, "/");

  url = parse_http_url("HTTP://Example.com:65535?q=1#fragment");
  ASSERT_TRUE(url) << url.error();
  EXPECT_EQ(url->host, "Example.com");
  EXPECT_EQ(url->port, 65535);
  EXPECT_EQ(url->target, "/?q=1");

  url = parse_http_url("http://[::1]:8080/hook");
  ASSERT_TRUE(url) << url.error();
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 8080);
  EXPECT_EQ(url->target, "/hook");

  url = parse_http_url("http://[2001:db8::7]");
  ASSERT_TRUE(url) << url.error();
  EXPECT_EQ(url->host, "2001:db8::7");
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->target, "/");
}

TEST(ParseHttpUrl, RefusesWhatItCannotCall) {
  const std::pair<const char*, const char*> cases[] = {
      {"https://example.com/", "https is not supported"},
      {"ftp://example.com/", "not an http:// URL"},
      {"example.com:80/hook", "not an http:// URL"},
      {"", "not an http:// URL"},
      {"garbage", "not an http:// URL"},
      {"http://", "no host"},
      {"http://:8080/", "no host"},
      {"http://h:0/", "bad port"},
      {"http://h:65536/", "bad port"},
      {"http://h:80x/", "bad port"},
      {"http://h:/", "bad port"},
      {"http://h:-1/", "bad port"},
      {"http://[::1/", "no ]"},
      {"http://[not-v6]/", "bad IPv6 address"},
      {"http://[::1]8080/", "after the IPv6 address"},
      {"http://::1/", "no host"},
      {"http://user:secret@h/", "credentials"},
      {"http://h/a b", "space"},
      {"http://h/\r\nX-Injected: 1", "control"},
      {"http://ho$t/", "bad host"},
  };
  for (const auto& [text, why] : cases) {
    auto url = parse_http_url(text);
    ASSERT_FALSE(url) << text;
    EXPECT_NE(url.error().find(why), std::string::npos) << text << ": " << url.error();
  }
}

TEST_F(HttpClientTest, PostsJsonAndReturnsTheAnswer) {
  start_server();
  auto& http = client();
  const std::string body = R"({"action":"on_publish","app":"live","stream":"cam1"})";
  auto answer = post_from_here(http, server_url("/api/v1/streams?vhost=x"), 1000ms, body);
  ASSERT_TRUE(answer) << answer.error();
  EXPECT_EQ(answer->status, 200u);
  EXPECT_EQ(answer->body, "0");
  const auto seen = received();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/api/v1/streams?vhost=x");
  EXPECT_EQ(seen[0].content_type, "application/json");
  EXPECT_EQ(seen[0].body, body);

  // Any status is an answer; what it means is the caller's to decide.
  answer = post_from_here(http, server_url("/missing"));
  ASSERT_TRUE(answer) << answer.error();
  EXPECT_EQ(answer->status, 404u);
  EXPECT_EQ(answer->body, "no such hook");
}

TEST_F(HttpClientTest, ResolvesAHostName) {
  start_server();
  auto& http = client();
  auto answer = post_from_here(http, "http://localhost:" + std::to_string(server_->port()) + "/hook");
  ASSERT_TRUE(answer) << answer.error();
  EXPECT_EQ(answer->body, "0");
}

TEST_F(HttpClientTest, PostsToAnIpv6Address) {
  HttpServerOptions options;
  options.host = "::1";
  options.port = 0;
  std::string host_header;
  auto created = HttpServer::create(
      options,
      [&](const Request& request, const Peer&) {
        std::lock_guard lock(mutex_);
        host_header = std::string(request[bhttp::field::host]);
        return text_response(200, "0");
      },
      log_);
  if (!created) GTEST_SKIP() << "no IPv6 loopback: " << created.error();
  server_ = std::move(*created);
  server_->start();
  auto& http = client();
  const std::string authority = "[::1]:" + std::to_string(server_->port());
  auto answer = post_from_here(http, "http://" + authority + "/hook");
  ASSERT_TRUE(answer) << answer.error();
  std::lock_guard lock(mutex_);
  EXPECT_EQ(host_header, authority);
}

TEST_F(HttpClientTest, CompletesOnTheCallersThread) {
  start_server();
  auto& http = client();
  std::promise<std::thread::id> client_thread;
  asio::post(http.executor(), [&] { client_thread.set_value(std::this_thread::get_id()); });
  const auto client_id = client_thread.get_future().get();

  // The caller: a worker with an io_context on a thread of its own.
  asio::io_context worker;
  std::thread::id before, after;
  std::optional<Result> result;
  asio::co_spawn(
      worker,
      [&]() -> asio::awaitable<void> {
        before = std::this_thread::get_id();
        result.emplace(co_await http.post(server_url("/hook"), "{}", 1000ms));
        after = std::this_thread::get_id();
      },
      asio::detached);
  std::thread worker_thread([&] { worker.run_for(3s); });
  const auto worker_id = worker_thread.get_id();
  worker_thread.join();
  ASSERT_TRUE(result);
  ASSERT_TRUE(*result) << result->error();
  EXPECT_EQ(before, worker_id);
  EXPECT_EQ(after, worker_id);
  EXPECT_NE(after, client_id);
}

TEST_F(HttpClientTest, ReusesAKeptAliveConnection) {
  start_server();
  auto& http = client();
  for (int i = 0; i < 3; ++i) {
    auto answer = post_from_here(http, server_url("/hook"));
    ASSERT_TRUE(answer) << answer.error();
  }
  const auto seen = received();
  ASSERT_EQ(seen.size(), 3u);
  std::set<std::string> peers;
  for (const auto& r : seen) peers.insert(r.peer);
  EXPECT_EQ(peers.size(), 1u) << "one TCP connection for the three";
}

TEST_F(HttpClientTest, AnIdleConnectionIsClosedAfterTheKeepAlive) {
  RawServer server(RawServer::Mode::Answer);
  HttpClientOptions options;
  options.idle_keepalive = 100ms;
  auto& http = client(options);
  ASSERT_TRUE(post_from_here(http, server.url()));
  const auto deadline = Clock::now() + 1000ms;
  while (server.ended() == 0 && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server.ended(), 1);
  // The next post opens a new connection without a fuss.
  ASSERT_TRUE(post_from_here(http, server.url()));
  EXPECT_EQ(server.accepted(), 2);
}

TEST_F(HttpClientTest, AKeptAliveConnectionTheServerClosedIsRetriedOnAFreshOne) {
  RawServer server(RawServer::Mode::CloseOnSecondRequest);
  auto& http = client();
  auto first = post_from_here(http, server.url());
  ASSERT_TRUE(first) << first.error();
  auto second = post_from_here(http, server.url());
  ASSERT_TRUE(second) << second.error();
  EXPECT_EQ(second->body, "0");
  EXPECT_EQ(server.accepted(), 2);
  EXPECT_EQ(server.requests(), 3);
}

TEST_F(HttpClientTest, AFreshConnectionThatFailsIsNotRetried) {
  RawServer server(RawServer::Mode::CloseOnFirstRequest);
  auto& http = client();
  auto answer = post_from_here(http, server.url());
  ASSERT_FALSE(answer);
  EXPECT_NE(answer.error().find("closed the connection without answering"), std::string::npos) << answer.error();
  EXPECT_EQ(server.accepted(), 1);
}

TEST_F(HttpClientTest, AServerThatNeverAnswersTimesOut) {
  RawServer server(RawServer::Mode::Silent);
  auto& http = client();
  const auto started = Clock::now();
  auto answer = post_from_here(http, server.url(), 300ms);
  const auto took = since(started);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error(), "timed out after 300 ms");
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 800ms);
  // The connection it gave up is closed, not pooled.
  const auto deadline = Clock::now() + 1000ms;
  while (server.ended() == 0 && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server.ended(), 1);
}

TEST_F(HttpClientTest, ConnectionRefusedIsAnErrorAtOnce) {
  // A port nothing listens on: bound, then let go.
  std::uint16_t port = 0;
  {
    asio::io_context io;
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    port = probe.local_endpoint().port();
  }
  auto& http = client();
  const auto started = Clock::now();
  auto answer = post_from_here(http, "http://127.0.0.1:" + std::to_string(port) + "/hook", 3000ms);
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error(), "connection refused");
  EXPECT_LT(since(started), 500ms);
}

TEST_F(HttpClientTest, AnOversizeAnswerIsAnError) {
  RawServer server(RawServer::Mode::Oversize);
  auto& http = client();
  auto answer = post_from_here(http, server.url());
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error(), "answer over 65536 bytes");
}

TEST_F(HttpClientTest, ABadUrlIsAnError) {
  auto& http = client();
  auto answer = post_from_here(http, "https://hooks.example.com/");
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().rfind("bad url: https is not supported", 0), 0u) << answer.error();
}

TEST_F(HttpClientTest, AFullPoolQueuesTheRest) {
  RawServer server(RawServer::Mode::Answer, 100ms);
  HttpClientOptions options;
  options.max_connections_per_host = 1;
  auto& http = client(options);
  asio::io_context worker;
  std::vector<std::optional<Result>> results(3);
  for (auto& slot : results) {
    asio::co_spawn(
        worker,
        [&http, &slot, url = server.url()]() -> asio::awaitable<void> {
          slot.emplace(co_await http.post(url, "{}", 1500ms));
        },
        asio::detached);
  }
  const auto started = Clock::now();
  worker.run_for(3s);
  for (const auto& result : results) {
    ASSERT_TRUE(result);
    EXPECT_TRUE(*result) << result->error();
  }
  EXPECT_GE(since(started), 300ms) << "one after the other";
  EXPECT_EQ(server.most_open(), 1);
  EXPECT_EQ(server.accepted(), 1) << "the one connection, passed on";
}

TEST_F(HttpClientTest, AWaiterForAFullPoolTimesOut) {
  RawServer server(RawServer::Mode::Silent);
  HttpClientOptions options;
  options.max_connections_per_host = 1;
  auto& http = client(options);
  asio::io_context worker;
  std::optional<Result> holder, waiter;
  Clock::time_point waiter_done;
  const auto started = Clock::now();
  asio::co_spawn(
      worker, [&]() -> asio::awaitable<void> { holder.emplace(co_await http.post(server.url(), "{}", 600ms)); },
      asio::detached);
  asio::co_spawn(
      worker,
      [&]() -> asio::awaitable<void> {
        waiter.emplace(co_await http.post(server.url(), "{}", 200ms));
        waiter_done = Clock::now();
      },
      asio::detached);
  worker.run_for(3s);
  ASSERT_TRUE(holder && waiter);
  ASSERT_FALSE(*waiter);
  EXPECT_EQ(waiter->error(), "timed out after 200 ms");
  EXPECT_LT(waiter_done - started, 500ms);
  ASSERT_FALSE(*holder);
  EXPECT_EQ(holder->error(), "timed out after 600 ms");
  EXPECT_EQ(server.accepted(), 1);
}

TEST_F(HttpClientTest, DestroyingTheClientEndsPendingRequests) {
  RawServer server(RawServer::Mode::Silent);
  HttpClientOptions options;
  options.max_connections_per_host = 1;  // one request on the wire, one waiting for it
  auto& http = client(options);
  asio::io_context worker;
  auto guard = asio::make_work_guard(worker);
  std::vector<std::optional<Result>> results(2);
  for (auto& slot : results) {
    asio::co_spawn(
        worker,
        [&http, &slot, url = server.url()]() -> asio::awaitable<void> {
          slot.emplace(co_await http.post(url, "{}", 5000ms));
        },
        asio::detached);
  }
  std::thread worker_thread([&] { worker.run_for(3s); });
  const auto wait_until = Clock::now() + 1000ms;
  while (server.requests() == 0 && Clock::now() < wait_until) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(server.requests(), 1);

  const auto started = Clock::now();
  client_.reset();
  EXPECT_LT(since(started), 500ms);
  guard.reset();  // the worker's run() returns once both coroutines are done
  worker_thread.join();
  EXPECT_LT(since(started), 1000ms) << "the posts completed";
  for (const auto& result : results) {
    ASSERT_TRUE(result);
    ASSERT_FALSE(*result);
    EXPECT_EQ(result->error(), "client stopped");
  }
}

TEST_F(HttpClientTest, CancellingTheCallerEndsTheExchange) {
  using namespace boost::asio::experimental::awaitable_operators;
  RawServer server(RawServer::Mode::Silent);
  auto& http = client();
  asio::io_context worker;
  std::optional<std::size_t> which;
  const auto started = Clock::now();
  asio::co_spawn(
      worker,
      [&]() -> asio::awaitable<void> {
        // The caller gives up first: a connection closing, say.
        auto attempt = [&]() -> asio::awaitable<std::string> {
          auto answer = co_await http.post(server.url(), "{}", 2000ms);
          co_return answer ? std::string("answered") : answer.error();
        };
        asio::steady_timer give_up(worker, 100ms);
        auto outcome = co_await (attempt() || give_up.async_wait(asio::use_awaitable));
        which = outcome.index();
      },
      asio::detached);
  worker.run_for(3s);
  ASSERT_TRUE(which);
  EXPECT_EQ(*which, 1u);
  EXPECT_LT(since(started), 1000ms) << "the post ended when cancelled, not at its timeout";
  const auto deadline = Clock::now() + 1000ms;
  while (server.ended() == 0 && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server.ended(), 1) << "its connection was closed";
}

}  // namespace
}  // namespace rw::http
