// A small HTTP/1.1 server (Boost.Beast) for what operators and their tools
// ask a Rewind process: Prometheus scrapes, the admin API, health checks
// (docs/operations.md). It runs on a thread of its own, so nothing an HTTP
// client does (a slow one, a malformed request, a huge header) reaches an
// RTMP worker; handlers run on that thread and answer at once.
//
// Bounds, so that no client can make it hold much: request headers of at
// most 8 KiB (431), bodies of at most 64 KiB (413), a request must arrive
// whole within 10 s of its first byte (slow clients are closed), a kept-
// alive connection may wait 15 s for its next one; at most 64 connections
// at once and 16 from one address: when full, the longest-idle kept-alive
// connection makes room, otherwise the new one is closed at accept; at most
// 32 MiB of answers being written at once (then 503). Every refusal is a
// log line, rate-limited.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/base/expected.hpp"
#include "common/base/log.hpp"

namespace rw::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

struct HttpServerOptions {
  std::string host = "0.0.0.0";
  std::uint16_t port = 8935;  // 0: any free port
  std::size_t max_connections = 64;
  std::size_t max_connections_per_address = 16;
  std::size_t max_response_bytes_in_flight = 32u << 20;
  std::uint32_t header_limit = 8 * 1024;
  std::uint64_t body_limit = 64 * 1024;
  std::chrono::milliseconds request_timeout{10'000};  // to receive one whole request, from its first byte
  std::chrono::milliseconds idle_timeout{15'000};     // a kept-alive connection with no request
};

// What a handler knows of the client besides its request.
struct Peer {
  std::string address;  // address:port
};

// Answers one request on the HTTP thread. The response's version and
// keep-alive are set by the server.
using Handler = std::function<Response(const Request& request, const Peer& peer)>;

class HttpServer {
 public:
  // Binds the listening socket; fails with a message (address in use, bad
  // address) without starting anything.
  static Expected<std::unique_ptr<HttpServer>, std::string> create(HttpServerOptions options, Handler handler,
                                                                  const Logger& log);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::uint16_t port() const { return port_; }
  // The HTTP thread's executor, for handlers' own asynchronous work.
  boost::asio::any_io_executor executor() { return io_.get_executor(); }
  // Runs `task` on the HTTP thread every `interval` from start() on (the
  // admin API samples its rates this way).
  void every(std::chrono::milliseconds interval, std::function<void()> task);
  void start();
  void stop();

 private:
  HttpServer(HttpServerOptions options, Handler handler, const Logger& log);
  class Session;
  void accept();
  // A refused request's log line, at most a burst per window for all
  // clients together.
  void log_refusal(const std::string& peer, const std::string& why);

  const HttpServerOptions options_;
  const Handler handler_;
  const Logger& log_;
  // HTTP thread only. Before io_: sessions still queued in it when it is
  // destroyed leave these.
  std::vector<Session*> sessions_;         // oldest first
  std::map<std::string, std::size_t> per_address_;
  std::size_t response_bytes_in_flight_ = 0;
  LogRateLimit refusal_limit_;
  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  std::uint16_t port_ = 0;
  struct Periodic {
    std::chrono::milliseconds interval;
    std::function<void()> task;
  };
  std::vector<Periodic> periodic_;
  void arm(std::size_t index, const std::shared_ptr<boost::asio::steady_timer>& timer);
  std::thread thread_;
  bool started_ = false;
};

// Helpers for handlers.
Response text_response(unsigned status, std::string body, std::string content_type = "text/plain; charset=utf-8");

}  // namespace rw::http
