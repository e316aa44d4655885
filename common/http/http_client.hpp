// A small asynchronous HTTP/1.1 client (Boost.Beast) for what a Rewind
// process asks other services: SRS-style HTTP callbacks (on_connect,
// on_publish...), a POST of JSON whose answer is "0" to allow.
//
// It runs on a thread of its own, so that resolving, connecting and
// waiting for a slow callback server cost an RTMP worker nothing but the
// suspended coroutine: post() is awaited on the worker's executor and
// resumes there. Every exchange is bounded by the caller's timeout, from
// the wait for a pooled connection to the answer's last byte, and an
// answer is bounded in size, so a broken callback server can make a
// connection wait no longer than the timeout and make the process hold
// little.
//
// Connections are kept alive and pooled per host:port, at most
// max_connections_per_host of them: a burst of publishers queues for them
// instead of opening a connection each to a server that is already slow.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "common/base/expected.hpp"
#include "common/base/log.hpp"

namespace rw::http {

struct HttpUrl {
  std::string host;  // a name or an address; an IPv6 address without its brackets
  std::uint16_t port = 80;
  std::string target = "/";  // the path and the query, as sent
};

// Only http:// (no TLS): "http://host[:port][/path][?query]", an IPv6
// address in [brackets]. A fragment is dropped; credentials in the URL are
// refused. The error says what is wrong with the URL.
Expected<HttpUrl, std::string> parse_http_url(std::string_view url);

struct HttpClientOptions {
  std::size_t max_connections_per_host = 8;          // (at least 1) further requests wait for a free connection
  std::size_t max_response_body_bytes = 64 * 1024;   // a bigger answer is an error
  std::chrono::milliseconds idle_keepalive{15'000};  // an idle pooled connection is closed after this
};

struct HttpAnswer {
  unsigned status = 0;
  std::string body;
};

class HttpClient {
 public:
  // Starts the client's thread.
  HttpClient(HttpClientOptions options, const Logger& log);
  // Stops: pending requests complete with an error ("client stopped") on
  // their callers' executors, and the thread is joined. Not to be called
  // from the client's own thread, nor while post() may still be called.
  // (A resolve that getaddrinfo has begun cannot be interrupted: the
  // destructor waits for it, as long as the system's resolver takes.)
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POSTs `body` (Content-Type: application/json) to `url`. The whole
  // exchange (waiting for a pooled connection, resolving, connecting,
  // writing, reading) is bounded by `timeout`; failures are values:
  // "timed out after 3000 ms", "connection refused", "bad url: ...",
  // "answer over 65536 bytes". Any HTTP status is an answer. Completes on
  // the executor of the awaiting coroutine, never on the client's thread.
  // Safe to call from many threads at once. Cancelling the awaiting
  // coroutine ends the exchange at once (its connection is closed).
  boost::asio::awaitable<Expected<HttpAnswer, std::string>> post(std::string url, std::string body,
                                                                 std::chrono::milliseconds timeout);

  // The client's own thread.
  boost::asio::any_io_executor executor() { return io_.get_executor(); }

 private:
  class Connection;
  struct Waiter;
  class Lease;
  // What an exchange ends with; co_spawn needs a default-constructible
  // result, which Expected is not.
  struct Outcome {
    HttpAnswer answer;
    std::optional<std::string> error;
  };
  // One host:port's connections. `open` counts every connection of the
  // pool, idle, in use or being opened: it is what the limit bounds.
  struct Pool {
    std::size_t open = 0;
    std::list<std::shared_ptr<Connection>> idle;  // the most recently used last
    std::list<Waiter*> waiters;                   // oldest first
  };

  boost::asio::awaitable<Outcome> exchange(std::string url, std::string body, std::chrono::milliseconds timeout);
  // A connection of `key`'s pool, kept alive from an earlier exchange or
  // new (not connected yet); when the pool is full, the first one given
  // back, waiting for it until `deadline`. nullopt when none came by then
  // (or the client stopped, or the caller cancelled).
  boost::asio::awaitable<std::optional<Lease>> acquire(const std::string& key,
                                                       std::chrono::steady_clock::time_point deadline);
  // Resolves (unless the host is an address) and connects by `deadline`;
  // the error when that failed (`timed_out` when the deadline passed).
  boost::asio::awaitable<std::optional<std::string>> connect(Connection& connection, const HttpUrl& url,
                                                             std::chrono::steady_clock::time_point deadline,
                                                             std::string timed_out);
  // A connection back from an exchange: into the pool (`reusable`) or
  // closed; either way a waiter gets it or its place.
  void release(std::shared_ptr<Connection> connection, bool reusable);
  void keep_idle(const std::shared_ptr<Connection>& connection);
  void drop_idle(const std::shared_ptr<Connection>& connection, std::uint64_t generation);
  // A closed connection's place in its pool goes to the oldest waiter, or
  // is given up.
  void free_place(const std::string& key);
  void stop_all();

  const HttpClientOptions options_;
  const Logger& log_;
  // Client thread only. Before io_: connections still held by handlers
  // queued in it when it is destroyed leave these.
  // connections_ before pools_: the connections pools_ still holds when
  // it is destroyed leave connections_.
  std::set<Connection*> connections_;  // every connection, to close them all at stop
  std::map<std::string, Pool> pools_;
  bool stopping_ = false;
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
};

}  // namespace rw::http
