#include "common/http/http_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <algorithm>

namespace rw::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

Response text_response(unsigned status, std::string body, std::string content_type) {
  Response response{static_cast<bhttp::status>(status), 11};
  response.set(bhttp::field::content_type, content_type);
  response.body() = std::move(body);
  return response;
}

namespace {

std::string endpoint_string(const asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "?";
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

// The status a request that failed to parse gets, or 0 when the client
// only went away or was too slow (nothing to answer).
unsigned status_for(const boost::system::error_code& ec) {
  if (ec == bhttp::error::header_limit) return 431;
  if (ec == bhttp::error::body_limit) return 413;
  if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
    return 0;
  }
  if (ec.category() == make_error_code(bhttp::error::bad_target).category()) return 400;  // a parse error
  return 0;
}

}  // namespace

class HttpServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpServer& server, asio::ip::tcp::socket socket, std::string address)
      : server_(server), peer_{endpoint_string(socket)}, address_(std::move(address)), stream_(std::move(socket)) {
    server_.sessions_.push_back(this);
    ++server_.per_address_[address_];
  }
  ~Session() {
    std::erase(server_.sessions_, this);
    if (auto it = server_.per_address_.find(address_); it != server_.per_address_.end() && --it->second == 0) {
      server_.per_address_.erase(it);
    }
  }

  // Waiting for a kept-alive connection's next request: the first to go
  // when the server is full.
  bool idle() const { return idle_; }
  void close() {
    idle_ = false;  // not to be picked again while it winds down
    boost::system::error_code ignored;
    stream_.socket().close(ignored);
  }

  asio::awaitable<void> run() {
    auto self = shared_from_this();
    beast::flat_buffer buffer(server_.options_.header_limit + 1024);
    bool first = true;
    for (;;) {
      if (!first && buffer.size() == 0) {
        // Between requests: wait (at most idle_timeout) for the next one to
        // begin; it then has request_timeout to arrive whole, as a first
        // request has.
        idle_ = true;
        stream_.expires_after(server_.options_.idle_timeout);
        auto [wait_error] = co_await stream_.socket().async_wait(asio::socket_base::wait_read,
                                                                 asio::as_tuple(asio::use_awaitable));
        idle_ = false;
        if (wait_error) break;
      }
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(server_.options_.header_limit);
      parser.body_limit(server_.options_.body_limit);
      stream_.expires_after(server_.options_.request_timeout);
      auto [ec, n] = co_await bhttp::async_read(stream_, buffer, parser, asio::as_tuple(asio::use_awaitable));
      (void)n;
      if (ec) {
        const unsigned status = status_for(ec);
        if (status != 0) {
          server_.log_refusal(peer_, std::to_string(status) + " " + ec.message());
          Response response = text_response(status, ec.message() + "\n");
          response.keep_alive(false);
          co_await write(response);
        } else if (ec == beast::error::timeout) {
          server_.log_refusal(peer_, "closed: no whole request within " +
                                         std::to_string(server_.options_.request_timeout.count()) + " ms");
        }
        break;
      }
      first = false;
      Request request = parser.release();
      Response response;
      try {
        response = server_.handler_(request, Peer{peer_});
      } catch (const std::exception& e) {
        // A handler's bug must not take the process down with it.
        server_.log_.error() << "http: " << request.method_string() << " " << log_escape(request.target(), 200)
                             << " failed: " << e.what();
        response = text_response(500, "internal error\n");
      }
      response.version(request.version());
      response.keep_alive(request.keep_alive());
      if (request.method() == bhttp::verb::head) {
        response.prepare_payload();
        response.body().clear();
      }
      if (!co_await write(response) || !response.keep_alive()) break;
    }
    boost::system::error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  }

 private:
  asio::awaitable<bool> write(Response& response) {
    const bool no_body = response.result() == bhttp::status::no_content ||
                         response.result() == bhttp::status::not_modified;
    if (!no_body && !response.has_content_length()) response.content_length(response.body().size());
    // Answers being written are bounded together: many clients that ask for
    // big answers and read them slowly get 503 beyond that.
    std::size_t size = response.body().size();
    if (server_.response_bytes_in_flight_ + size > server_.options_.max_response_bytes_in_flight) {
      server_.log_refusal(peer_, "503: " + std::to_string(server_.response_bytes_in_flight_) +
                                     " bytes of answers are being written already");
      response = text_response(503, "busy: too many answers being written; try again\n");
      response.keep_alive(false);
      response.content_length(response.body().size());
      size = response.body().size();
    }
    server_.response_bytes_in_flight_ += size;
    // A client that does not read its answer is given the request time.
    stream_.expires_after(server_.options_.request_timeout);
    auto [ec, n] = co_await bhttp::async_write(stream_, response, asio::as_tuple(asio::use_awaitable));
    (void)n;
    server_.response_bytes_in_flight_ -= size;
    co_return !ec;
  }

  HttpServer& server_;
  const std::string peer_;
  const std::string address_;  // without the port: the per-address limit
  beast::tcp_stream stream_;
  bool idle_ = false;
};

HttpServer::HttpServer(HttpServerOptions options, Handler handler, const Logger& log)
    : options_(std::move(options)), handler_(std::move(handler)), log_(log) {}

Expected<std::unique_ptr<HttpServer>, std::string> HttpServer::create(HttpServerOptions options, Handler handler,
                                                                     const Logger& log) {
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(options), std::move(handler), log));
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(server->options_.host, ec);
  if (ec) return unexpected("http: bad address " + server->options_.host + ": " + ec.message());
  const asio::ip::tcp::endpoint endpoint(address, server->options_.port);
  auto& acceptor = server->acceptor_;
  if (acceptor.open(endpoint.protocol(), ec); ec) return unexpected("http: " + ec.message());
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor.bind(endpoint, ec); ec) {
    return unexpected("http: cannot listen on " + server->options_.host + ":" + std::to_string(endpoint.port()) +
                      ": " + ec.message());
  }
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return unexpected("http: " + ec.message());
  server->port_ = acceptor.local_endpoint(ec).port();
  return server;
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::every(std::chrono::milliseconds interval, std::function<void()> task) {
  periodic_.push_back(Periodic{interval, std::move(task)});
}

void HttpServer::arm(std::size_t index, const std::shared_ptr<asio::steady_timer>& timer) {
  timer->expires_after(periodic_[index].interval);
  timer->async_wait([this, index, timer](boost::system::error_code ec) {
    if (ec) return;
    periodic_[index].task();
    arm(index, timer);
  });
}

void HttpServer::start() {
  if (started_) return;
  started_ = true;
  accept();
  for (std::size_t i = 0; i < periodic_.size(); ++i) arm(i, std::make_shared<asio::steady_timer>(io_));
  thread_ = std::thread([this] { io_.run(); });
}

void HttpServer::stop() {
  if (!started_) return;
  started_ = false;
  asio::post(io_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

void HttpServer::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      boost::system::error_code ignored;
      const auto remote = socket.remote_endpoint(ignored);
      const std::string address = ignored ? std::string("?") : remote.address().to_string();
      if (per_address_[address] >= options_.max_connections_per_address) {
        log_refusal(endpoint_string(socket), "closed at accept: " + std::to_string(per_address_[address]) +
                                                 " HTTP connections from this address already");
        socket.close(ignored);
      } else {
        // Full: the longest-idle kept-alive connection makes room (its
        // client reconnects when it has something to ask). One that is
        // closing still counts until it is gone, but is not picked again.
        bool room = sessions_.size() < options_.max_connections;
        if (!room) {
          auto idle = std::find_if(sessions_.begin(), sessions_.end(), [](Session* s) { return s->idle(); });
          if (idle != sessions_.end()) {
            (*idle)->close();
            room = true;
          }
        }
        if (!room) {
          log_refusal(endpoint_string(socket), "closed at accept: " + std::to_string(sessions_.size()) +
                                                   " HTTP connections already (the most there may be)");
          socket.close(ignored);
        } else {
          auto session = std::make_shared<Session>(*this, std::move(socket), address);
          asio::co_spawn(io_, [session] { return session->run(); }, asio::detached);
        }
      }
      if (per_address_[address] == 0) per_address_.erase(address);
    } else {
      // Out of descriptors, most often: the next accept comes a moment
      // later so that the loop does not spin.
      log_refusal("-", "accept failed: " + ec.message());
      auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
      timer->async_wait([this, timer](boost::system::error_code) { accept(); });
      return;
    }
    accept();
  });
}

void HttpServer::log_refusal(const std::string& peer, const std::string& why) {
  std::uint64_t suppressed = 0;
  if (!refusal_limit_.allow(std::chrono::steady_clock::now(), suppressed)) return;
  auto line = log_.warn();
  line << "http: peer=" << peer << " " << log_escape(why, 300);
  if (suppressed > 0) line << " (" << suppressed << " such lines suppressed before)";
}

}  // namespace rw::http
