#include "common/http/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

namespace rw::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

// RFC 3986's unreserved characters: enough for host names and IPv4
// addresses, and nothing that could end the Host header or the authority.
bool host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
}

// host:port as a Host header and a pool's key write it: an IPv6 address in
// brackets.
std::string authority_of(const HttpUrl& url, bool with_default_port) {
  std::string out = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  if (with_default_port || url.port != 80) out += ":" + std::to_string(url.port);
  return out;
}

std::string over_limit(std::size_t limit) { return "answer over " + std::to_string(limit) + " bytes"; }

// A failed write or read, in the words of the answer-less exchange it
// leaves.
std::string describe(const boost::system::error_code& ec, std::size_t body_limit) {
  if (ec == bhttp::error::body_limit) return over_limit(body_limit);
  if (ec == bhttp::error::header_limit) return "answer's header over the parser's limit";
  if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::broken_pipe) {
    return "the server closed the connection without answering";
  }
  if (ec == bhttp::error::partial_message) return "the server closed the connection in the middle of its answer";
  if (ec == asio::error::connection_reset) return "connection reset by the server";
  if (ec.category() == make_error_code(bhttp::error::bad_target).category()) return "bad answer: " + ec.message();
  return ec.message();
}

}  // namespace

Expected<HttpUrl, std::string> parse_http_url(std::string_view url) {
  if (starts_with_ignoring_case(url, "https://")) return unexpected(std::string("https is not supported (only http://)"));
  constexpr std::string_view kScheme = "http://";
  if (!starts_with_ignoring_case(url, kScheme)) return unexpected(std::string("not an http:// URL"));
  std::string_view rest = url.substr(kScheme.size());
  // What goes on the request line must not end it or the header early;
  // anything else is to be percent-encoded by whoever wrote the URL.
  for (char c : rest) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) return unexpected(std::string("a space, control or non-ASCII character in the URL"));
  }
  if (const auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);  // not sent
  const auto path_start = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, path_start);
  const std::string_view target = path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  if (authority.find('@') != std::string_view::npos) {
    return unexpected(std::string("credentials in the URL are not supported"));
  }

  HttpUrl out;
  std::string_view port_text;
  bool has_port = false;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return unexpected(std::string("no ] after the IPv6 address"));
    const std::string address(authority.substr(1, close - 1));
    boost::system::error_code ec;
    asio::ip::make_address_v6(address, ec);
    if (ec) return unexpected("bad IPv6 address [" + address + "]");
    out.host = address;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return unexpected("unexpected \"" + std::string(after) + "\" after the IPv6 address");
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    const std::string_view host = authority.substr(0, colon);
    if (host.empty()) return unexpected(std::string("no host"));
    if (!std::all_of(host.begin(), host.end(), host_char)) return unexpected("bad host \"" + std::string(host) + "\"");
    out.host = host;
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
  }
  if (has_port) {
    unsigned port = 0;
    const char* end = port_text.data() + port_text.size();
    const auto [stop, ec] = std::from_chars(port_text.data(), end, port);
    if (port_text.empty() || ec != std::errc() || stop != end || port == 0 || port > 65535) {
      return unexpected("bad port \"" + std::string(port_text) + "\"");
    }
    out.port = static_cast<std::uint16_t>(port);
  }
  if (target.empty()) {
    out.target = "/";
  } else if (target[0] == '?') {
    out.target = "/" + std::string(target);
  } else {
    out.target = target;
  }
  return out;
}

class HttpClient::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpClient& client, std::string pool_key)
      : client_(client), key(std::move(pool_key)), stream(client.io_), resolver(client.io_), timer(client.io_) {
    client_.connections_.insert(this);
  }
  ~Connection() { client_.connections_.erase(this); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Ends whatever is under way on it: its operations complete with an
  // error.
  void close() {
    stream.close();
    resolver.cancel();
    timer.cancel();
  }

 private:
  HttpClient& client_;

 public:
  const std::string key;  // its pool's
  beast::tcp_stream stream;
  tcp::resolver resolver;
  // While resolving, the caller's deadline; while idle, the keep-alive.
  asio::steady_timer timer;
  bool connected = false;
  // The resolve's result, written by its handler, which may outlive the
  // exchange that asked (one that timed out).
  bool resolved = false;
  boost::system::error_code resolve_error;
  tcp::resolver::results_type endpoints;
  bool idle = false;
  // Tells the handlers of one idle spell from those of a later one.
  std::uint64_t idle_generation = 0;
};

struct HttpClient::Waiter {
  explicit Waiter(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;  // the caller's deadline; cancelled when served
  std::shared_ptr<Connection> given;  // a kept-alive connection handed over,
  bool place = false;                 // or the place of one that closed
};

// A connection one exchange is using. It goes back to its pool by
// give_back(); dropped without that (a failure, an exception) it is closed,
// so that the pool's count stays right whatever way the exchange ends.
class HttpClient::Lease {
 public:
  Lease(HttpClient& client, std::shared_ptr<Connection> connection, bool reused)
      : client_(&client), connection_(std::move(connection)), reused_(reused) {}
  Lease(Lease&& other) noexcept
      : client_(other.client_), connection_(std::move(other.connection_)), reused_(other.reused_) {}
  Lease& operator=(Lease&&) = delete;
  ~Lease() {
    if (connection_) client_->release(std::move(connection_), false);
  }

  Connection& connection() { return *connection_; }
  // Kept alive from an earlier exchange, not opened for this one.
  bool reused() const { return reused_; }
  void give_back(bool reusable) { client_->release(std::move(connection_), reusable); }
  // Closes the connection and opens none yet in its place, which it keeps.
  void renew() {
    std::string key = connection_->key;
    connection_->close();
    connection_ = std::make_shared<Connection>(*client_, std::move(key));
    reused_ = false;
  }

 private:
  HttpClient* client_;
  std::shared_ptr<Connection> connection_;
  bool reused_;
};

HttpClient::HttpClient(HttpClientOptions options, const Logger& log) : options_(std::move(options)), log_(log) {
  thread_ = std::thread([this] { io_.run(); });
}

HttpClient::~HttpClient() {
  // Everything under way ends with an error (its coroutine then completes
  // on its caller's executor); the thread's run() returns once nothing is
  // left, which co_spawn's own work tracking makes include every exchange.
  asio::post(io_, [this] { stop_all(); });
  work_.reset();
  if (thread_.joinable()) thread_.join();
}

void HttpClient::stop_all() {
  stopping_ = true;
  for (auto& [key, pool] : pools_) {
    for (Waiter* waiter : pool.waiters) waiter->timer.cancel();
    for (const auto& connection : pool.idle) {
      connection->idle = false;
      connection->close();
    }
    pool.open -= pool.idle.size();
    pool.idle.clear();
  }
  // The rest are in use: their exchanges see the error and stopping_.
  for (Connection* connection : connections_) connection->close();
}

asio::awaitable<Expected<HttpAnswer, std::string>> HttpClient::post(std::string url, std::string body,
                                                                    std::chrono::milliseconds timeout) {
  // co_spawn's completion is dispatched to the executor associated with
  // the awaiting coroutine, so this resumes on the caller's thread.
  Outcome outcome =
      co_await asio::co_spawn(io_, exchange(std::move(url), std::move(body), timeout), asio::use_awaitable);
  if (outcome.error) co_return unexpected(std::move(*outcome.error));
  co_return std::move(outcome.answer);
}

asio::awaitable<HttpClient::Outcome> HttpClient::exchange(std::string url_text, std::string body,
                                                          std::chrono::milliseconds timeout) {
  // A cancelled caller makes the operation under way fail, and the
  // failure is returned like any other, instead of an exception that
  // would skip the bookkeeping below.
  co_await asio::this_coro::throw_if_cancelled(false);
  const asio::cancellation_state cancel_state = co_await asio::this_coro::cancellation_state;
  const auto started = Clock::now();
  const auto deadline = started + timeout;
  const auto cancelled = [&] { return cancel_state.cancelled() != asio::cancellation_type::none; };
  const auto fail = [&](std::string why) {
    // The client stopping and the caller cancelling are what made an
    // operation fail, whatever error it reports.
    if (stopping_) {
      why = "client stopped";
    } else if (cancelled()) {
      why = "cancelled";
    }
    log_.debug() << "http client: POST " << log_escape(url_text) << " failed: " << why;
    Outcome outcome;
    outcome.error = std::move(why);
    return outcome;
  };
  const std::string timed_out = "timed out after " + std::to_string(timeout.count()) + " ms";

  auto url = parse_http_url(url_text);
  if (!url) co_return fail("bad url: " + url.error());
  if (stopping_) co_return fail("client stopped");

  bhttp::request<bhttp::string_body> request{bhttp::verb::post, url->target, 11};
  request.set(bhttp::field::host, authority_of(*url, false));
  request.set(bhttp::field::content_type, "application/json");
  request.set(bhttp::field::user_agent, "rewind");
  request.body() = std::move(body);
  request.prepare_payload();

  const std::string key = authority_of(*url, true);
  std::optional<Lease> lease = co_await acquire(key, deadline);
  if (!lease) co_return fail(timed_out);
  for (bool retried = false;;) {
    Connection& connection = lease->connection();
    // A cancellation that came between two operations (or as the pool
    // handed this one a connection) has cancelled none of them: it is
    // looked for before each.
    if (stopping_ || cancelled()) {
      lease->give_back(connection.connected);
      co_return fail("cancelled");
    }
    if (!connection.connected) {
      if (auto error = co_await connect(connection, *url, deadline, timed_out)) co_return fail(*error);
      if (cancelled()) co_return fail("cancelled");
    }

    connection.stream.expires_at(deadline);
    auto [write_error, written] =
        co_await bhttp::async_write(connection.stream, request, asio::as_tuple(asio::use_awaitable));
    (void)written;
    boost::system::error_code ec = write_error;
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options_.max_response_body_bytes);
    bool answered_some = false;
    if (!ec && cancelled()) ec = asio::error::operation_aborted;
    if (!ec) {
      auto [read_error, read_bytes] =
          co_await bhttp::async_read(connection.stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      (void)read_bytes;
      ec = read_error;
      answered_some = parser.got_some() || buffer.size() > 0;
    }
    if (ec) {
      if (ec == beast::error::timeout) co_return fail(timed_out);
      // A kept-alive connection fails so, before a byte of the answer,
      // when the server closed it while it was idle (its own keep-alive
      // timeout) just as it was taken: the request goes once more, on a
      // fresh connection.
      if (lease->reused() && !answered_some && !retried && !stopping_ && !cancelled()) {
        log_.debug() << "http client: " << connection.key << ": kept-alive connection failed (" << ec.message()
                     << "), retrying on a fresh one";
        lease->renew();
        retried = true;
        continue;
      }
      co_return fail(describe(ec, options_.max_response_body_bytes));
    }

    auto response = parser.release();
    // Bytes beyond the answer are not HTTP/1.1 without pipelining: such a
    // connection is not used again.
    const bool reusable = response.keep_alive() && buffer.size() == 0;
    Outcome outcome;
    outcome.answer.status = response.result_int();
    outcome.answer.body = std::move(response.body());
    log_.debug() << "http client: POST " << log_escape(url_text) << " -> " << outcome.answer.status << " ("
                 << outcome.answer.body.size() << " bytes, "
                 << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count() << " ms"
                 << (lease->reused() ? ", kept-alive connection" : "") << ")";
    lease->give_back(reusable);
    co_return outcome;
  }
}

asio::awaitable<std::optional<HttpClient::Lease>> HttpClient::acquire(const std::string& key,
                                                                      Clock::time_point deadline) {
  Pool& pool = pools_[key];
  if (!pool.idle.empty()) {
    std::shared_ptr<Connection> connection = std::move(pool.idle.back());
    pool.idle.pop_back();
    connection->idle = false;
    ++connection->idle_generation;  // its idle handlers, if already queued, find it taken
    connection->timer.cancel();
    boost::system::error_code ignored;
    connection->stream.socket().cancel(ignored);
    co_return Lease(*this, std::move(connection), true);
  }
  if (pool.open < std::max<std::size_t>(options_.max_connections_per_host, 1)) {
    ++pool.open;
    co_return Lease(*this, std::make_shared<Connection>(*this, key), false);
  }

  Waiter waiter(io_);
  pool.waiters.push_back(&waiter);
  // However this ends (served, the deadline, a stop, the coroutine
  // destroyed), the waiter leaves the queue if it is still in it.
  struct Dequeue {
    HttpClient& client;
    const std::string& key;
    Waiter* waiter;
    ~Dequeue() {
      auto it = client.pools_.find(key);
      if (it == client.pools_.end()) return;
      it->second.waiters.remove(waiter);
      if (it->second.open == 0 && it->second.waiters.empty()) client.pools_.erase(it);
    }
  } dequeue{*this, key, &waiter};
  waiter.timer.expires_at(deadline);
  co_await waiter.timer.async_wait(asio::as_tuple(asio::use_awaitable));
  // Served, even if the deadline passed just as that happened: the
  // connection or place is this exchange's now.
  if (waiter.given) co_return Lease(*this, std::move(waiter.given), true);
  if (waiter.place) co_return Lease(*this, std::make_shared<Connection>(*this, key), false);
  co_return std::nullopt;
}

asio::awaitable<std::optional<std::string>> HttpClient::connect(Connection& connection, const HttpUrl& url,
                                                               Clock::time_point deadline,
                                                               std::string timed_out) {
  std::vector<tcp::endpoint> endpoints;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(url.host, ec);
  if (!ec) {
    endpoints.emplace_back(address, url.port);
  } else {
    // getaddrinfo runs on Asio's resolver thread and cannot be interrupted
    // once begun: the exchange waits for its result on a timer that the
    // deadline (or a stop, or the caller's cancellation) also ends, and
    // leaves the resolve to finish alone.
    auto self = connection.shared_from_this();
    connection.resolved = false;
    connection.timer.expires_at(deadline);
    connection.resolver.async_resolve(url.host, std::to_string(url.port),
                                      [self](boost::system::error_code error, tcp::resolver::results_type results) {
                                        self->resolved = true;
                                        self->resolve_error = error;
                                        self->endpoints = std::move(results);
                                        self->timer.cancel();
                                      });
    co_await connection.timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!connection.resolved) {
      connection.resolver.cancel();
      co_return "resolving " + url.host + ": " + timed_out;
    }
    if (connection.resolve_error) co_return "resolving " + url.host + ": " + connection.resolve_error.message();
    for (const auto& entry : connection.endpoints) endpoints.push_back(entry.endpoint());
  }

  connection.stream.expires_at(deadline);
  auto [connect_error, endpoint] =
      co_await connection.stream.async_connect(endpoints, asio::as_tuple(asio::use_awaitable));
  if (connect_error == beast::error::timeout) co_return timed_out;
  if (connect_error == asio::error::connection_refused) co_return std::string("connection refused");
  if (connect_error) co_return "connecting to " + authority_of(url, true) + ": " + connect_error.message();
  connection.connected = true;
  log_.debug() << "http client: " << connection.key << ": connected to " << endpoint.address().to_string() << ":"
               << endpoint.port();
  co_return std::nullopt;
}

void HttpClient::release(std::shared_ptr<Connection> connection, bool reusable) {
  if (reusable && !stopping_) {
    Pool& pool = pools_[connection->key];
    if (!pool.waiters.empty()) {
      Waiter* waiter = pool.waiters.front();
      pool.waiters.pop_front();
      waiter->given = std::move(connection);
      waiter->timer.cancel();
      return;
    }
    keep_idle(connection);
    return;
  }
  const std::string key = connection->key;
  connection->close();
  connection.reset();
  free_place(key);
}

void HttpClient::keep_idle(const std::shared_ptr<Connection>& connection) {
  pools_[connection->key].idle.push_back(connection);
  connection->idle = true;
  const std::uint64_t generation = ++connection->idle_generation;
  connection->timer.expires_after(options_.idle_keepalive);
  connection->timer.async_wait([this, connection, generation](boost::system::error_code ec) {
    if (!ec) drop_idle(connection, generation);
  });
  // A server closing a kept-alive connection makes it readable: it leaves
  // the pool then, instead of failing the next request that takes it.
  connection->stream.socket().async_wait(tcp::socket::wait_read,
                                         [this, connection, generation](boost::system::error_code ec) {
                                           if (!ec) drop_idle(connection, generation);
                                         });
}

void HttpClient::drop_idle(const std::shared_ptr<Connection>& connection, std::uint64_t generation) {
  if (!connection->idle || connection->idle_generation != generation) return;
  connection->idle = false;
  pools_[connection->key].idle.remove(connection);
  log_.debug() << "http client: " << connection->key << ": closing an idle kept-alive connection";
  connection->close();
  free_place(connection->key);
}

void HttpClient::free_place(const std::string& key) {
  auto it = pools_.find(key);
  if (it == pools_.end()) return;
  Pool& pool = it->second;
  if (!pool.waiters.empty() && !stopping_) {
    Waiter* waiter = pool.waiters.front();
    pool.waiters.pop_front();
    waiter->place = true;
    waiter->timer.cancel();
    return;
  }
  --pool.open;
  if (pool.open == 0 && pool.waiters.empty()) pools_.erase(it);
}

}  // namespace rw::http
