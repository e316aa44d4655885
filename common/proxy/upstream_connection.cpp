#include "common/proxy/upstream_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <random>

namespace rw::proxy {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using asio::ip::tcp;

namespace {

// How often the watchdog looks; a quiet upstream is pinged at each look.
constexpr auto kWatchPeriod = 1000ms;
constexpr std::size_t kReadBuffer = 64 * 1024;

rtmp::ClientOptions session_options(const UpstreamOptions& options) {
  rtmp::ClientOptions o;
  o.random = [engine = std::mt19937_64(std::random_device{}())](std::span<std::uint8_t> out) mutable {
    for (auto& b : out) b = static_cast<std::uint8_t>(engine());
  };
  o.chunk_limits = options.chunk_limits;
  o.amf_limits = options.amf_limits;
  return o;
}

std::string field(const amf::Object& o, std::string_view key) {
  const amf::Value* v = o.find(key);
  return v ? std::string(v->as_string()) : std::string();
}

}  // namespace

const char* to_string(UpstreamConnection::State state) {
  switch (state) {
    case UpstreamConnection::State::Connecting: return "connecting";
    case UpstreamConnection::State::Ready: return "ready";
    case UpstreamConnection::State::NotResponding: return "not responding";
    case UpstreamConnection::State::Closed: return "closed";
  }
  return "?";
}

std::shared_ptr<UpstreamConnection> UpstreamConnection::open(asio::any_io_executor executor, UpstreamUrl url,
                                                             std::string app, Identity identity,
                                                             UpstreamOptions options, const Logger& log,
                                                             StateListener listener) {
  std::shared_ptr<UpstreamConnection> c(new UpstreamConnection(executor, std::move(url), std::move(app),
                                                               std::move(identity), std::move(options), log,
                                                               std::move(listener)));
  asio::co_spawn(executor, [c] { return c->run(); }, asio::detached);
  return c;
}

UpstreamConnection::UpstreamConnection(asio::any_io_executor executor, UpstreamUrl url, std::string app,
                                       Identity identity, UpstreamOptions options, const Logger& log,
                                       StateListener listener)
    : executor_(executor),
      url_(std::move(url)),
      app_(std::move(app)),
      identity_(std::move(identity)),
      options_(std::move(options)),
      log_(log),
      listener_(std::move(listener)),
      socket_(executor),
      session_(session_options(options_)),
      ready_signal_(executor, std::chrono::steady_clock::time_point::max()),
      write_signal_(executor, std::chrono::steady_clock::time_point::max()),
      watchdog_(executor) {}

UpstreamConnection::~UpstreamConnection() = default;

void UpstreamConnection::set_state(State state, const std::string& why) {
  if (state_ == state || state_ == State::Closed) return;
  state_ = state;
  if (state == State::Ready && !ready_signalled_) {
    ready_signalled_ = true;
    ready_signal_.cancel();
  }
  if (listener_) listener_(state, why);
}

asio::awaitable<void> UpstreamConnection::run() {
  auto self = shared_from_this();
  // Resolve and connect, within connect_timeout (the watchdog enforces it).
  last_input_ = std::chrono::steady_clock::now();
  asio::co_spawn(executor_, [self] { return self->watch(); }, asio::detached);
  tcp::resolver resolver(executor_);
  auto [resolve_error, endpoints] = co_await resolver.async_resolve(url_.host, std::to_string(url_.port),
                                                                     asio::as_tuple(asio::use_awaitable));
  if (state_ == State::Closed) co_return;
  if (resolve_error) {
    close("cannot resolve " + url_.host + ": " + resolve_error.message());
    co_return;
  }
  auto [connect_error, endpoint] =
      co_await asio::async_connect(socket_, endpoints, asio::as_tuple(asio::use_awaitable));
  if (state_ == State::Closed) co_return;
  if (connect_error) {
    close("cannot connect: " + connect_error.message());
    co_return;
  }
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);

  rtmp::ConnectParams params;
  params.app = app_;
  params.tc_url = "rtmp://" + url_.host + ":" + std::to_string(url_.port) + "/" + app_;
  params.flash_version = "FMLE/3.0 (compatible; Rewind " + identity_.role + ")";
  // Who is asking: a Rewind upstream refuses a connection from itself and
  // its hooks can tell a relay from a viewer; other servers ignore these.
  params.extra_fields.set("rewindRole", identity_.role);
  params.extra_fields.set("rewindServer", identity_.server_id);
  session_.connect(params);
  asio::co_spawn(executor_, [self] { return self->write_loop(); }, asio::detached);
  flush();

  std::vector<std::uint8_t> buffer(kReadBuffer);
  while (state_ != State::Closed) {
    auto [read_error, n] =
        co_await socket_.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
    if (state_ == State::Closed) break;
    if (read_error) {
      close(read_error == asio::error::eof ? "upstream closed the connection" : "read failed: " + read_error.message());
      break;
    }
    last_input_ = std::chrono::steady_clock::now();
    if (state_ == State::NotResponding) set_state(State::Ready, "answering again");
    ByteView data(buffer.data(), n);
    while (!data.empty() && state_ != State::Closed) {
      events_.clear();
      auto r = session_.feed(data, events_);
      data = data.subspan(r.consumed);
      for (auto& e : events_) {
        if (state_ == State::Closed) break;
        handle(e);
      }
      if (r.error) {
        close(std::string("protocol error from upstream: ") + rtmp::to_string(r.error->kind) + ": " +
              r.error->detail);
        break;
      }
      if (r.consumed == 0) break;
    }
    flush();
  }
}

asio::awaitable<void> UpstreamConnection::watch() {
  auto self = shared_from_this();
  while (state_ != State::Closed) {
    watchdog_.expires_after(kWatchPeriod);
    co_await watchdog_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (state_ == State::Closed) break;
    const auto quiet = std::chrono::steady_clock::now() - last_input_;
    if (state_ == State::Connecting) {
      if (quiet > options_.connect_timeout) {
        close("no answer to connect within " + std::to_string(options_.connect_timeout.count()) + " ms");
      }
      continue;
    }
    if (quiet > options_.not_responding) {
      // NetConnection.Proxy.NotResponding: told once, then given up on.
      set_state(State::NotResponding, "no data and no answer to a ping for " +
                                          std::to_string(options_.not_responding.count()) + " ms");
      close("not responding");
      break;
    }
    if (quiet >= kWatchPeriod) {
      session_.ping(++ping_counter_);
      flush();
    }
  }
}

void UpstreamConnection::flush() {
  if (!session_.has_output() || state_ == State::Closed) return;
  session_.drain_output_to(outgoing_);
  write_signal_.cancel();
}

asio::awaitable<void> UpstreamConnection::write_loop() {
  auto self = shared_from_this();
  Bytes sending;
  while (state_ != State::Closed) {
    if (outgoing_.empty()) {
      write_signal_.expires_at(std::chrono::steady_clock::time_point::max());
      co_await write_signal_.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    sending.swap(outgoing_);
    outgoing_.clear();
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(sending), asio::as_tuple(asio::use_awaitable));
    sending.clear();
    if (ec && state_ != State::Closed) {
      close("write failed: " + ec.message());
      break;
    }
  }
}

void UpstreamConnection::handle(rtmp::ClientEvent& event) {
  if (auto* m = std::get_if<rtmp::StreamMessageEvent>(&event)) {
    for (auto& [handle, play] : plays_) {
      if (play.stream_id != 0 && play.stream_id == m->message.header.stream_id) {
        play.sink->on_message(std::move(m->message));
        return;
      }
    }
    return;
  }
  if (auto* status = std::get_if<rtmp::StatusEvent>(&event)) {
    for (auto& [handle, play] : plays_) {
      if (play.stream_id != 0 && play.stream_id == status->stream_id) {
        play.sink->on_status(*status);
        return;
      }
    }
    return;
  }
  if (auto* connected = std::get_if<rtmp::ConnectedEvent>(&event)) {
    upstream_server_id_ = field(connected->info, "rewindServer");
    upstream_is_rewind_ = !upstream_server_id_.empty();
    set_state(State::Ready, "connected");
    for (auto& [handle, play] : plays_) start_play(play);
    return;
  }
  if (auto* failed = std::get_if<rtmp::ConnectFailedEvent>(&event)) {
    close("connect refused: " + field(failed->info, "code") + ": " + field(failed->info, "description"));
    return;
  }
  if (auto* created = std::get_if<rtmp::StreamCreatedEvent>(&event)) {
    if (abandoned_creates_.erase(created->transaction_id)) {
      // Its play stopped before the stream was made: give the slot back.
      session_.delete_stream(created->stream_id);
      return;
    }
    for (auto& [handle, play] : plays_) {
      if (play.create_transaction == created->transaction_id && play.stream_id == 0) {
        play.stream_id = created->stream_id;
        // What ffmpeg and librtmp send before play; a Rewind upstream
        // paces recorded streams by it.
        session_.set_buffer_length(play.stream_id, 1000);
        // Live only (-1): a recording is read through the segment protocol.
        session_.play(play.stream_id, play.name, -1, -1, true);
        return;
      }
    }
    return;
  }
  auto answer = [&](double txn, Expected<std::vector<amf::Value>, CallError> result) {
    auto it = calls_.find(txn);
    if (it == calls_.end()) return;
    it->second->result = std::move(result);
    it->second->signal.cancel();
    calls_.erase(it);
  };
  if (auto* result = std::get_if<rtmp::ResultEvent>(&event)) {
    answer(result->transaction_id, std::move(result->values));
    return;
  }
  if (auto* error = std::get_if<rtmp::CallErrorEvent>(&event)) {
    CallError e{"Failed", "the call failed"};
    for (const auto& v : error->values) {
      if (const amf::Object* o = v.as_object()) {
        if (const amf::Value* r = o->find("reason")) e.reason = std::string(r->as_string());
        if (const amf::Value* d = o->find("description")) e.description = std::string(d->as_string());
      }
    }
    answer(error->transaction_id, unexpected(std::move(e)));
    // A createStream refused: the play cannot go on.
    for (auto it = plays_.begin(); it != plays_.end(); ++it) {
      if (it->second.create_transaction == error->transaction_id && it->second.stream_id == 0) {
        PlaySink* sink = it->second.sink;
        plays_.erase(it);
        sink->on_play_lost("connect refused: the upstream refused createStream");
        break;
      }
    }
    return;
  }
  if (auto* call = std::get_if<rtmp::ServerCallEvent>(&event)) {
    // onBWDone and the like; a server's call that wants an answer gets one.
    if (call->command.transaction_id != 0) session_.send_result(call->command.transaction_id, {amf::Null{}});
    return;
  }
  if (auto* notice = std::get_if<rtmp::ClientNoticeEvent>(&event)) {
    log_.debug() << "upstream " << url_.text << ": " << log_escape(notice->text);
  }
}

void UpstreamConnection::start_play(Play& play) {
  if (play.create_transaction != 0) return;
  play.create_transaction = session_.create_stream();
  flush();
}

std::uint64_t UpstreamConnection::play(const std::string& name, PlaySink& sink) {
  const std::uint64_t handle = next_play_++;
  Play& p = plays_[handle];
  p.name = name;
  p.sink = &sink;
  if (state_ == State::Ready) start_play(p);
  return handle;
}

void UpstreamConnection::stop_play(std::uint64_t handle) {
  auto it = plays_.find(handle);
  if (it == plays_.end()) return;
  if (it->second.stream_id != 0 && state_ == State::Ready) {
    session_.close_stream(it->second.stream_id);
    session_.delete_stream(it->second.stream_id);
    flush();
  } else if (it->second.create_transaction != 0 && state_ == State::Ready) {
    abandoned_creates_.insert(it->second.create_transaction);
  }
  plays_.erase(it);
}

asio::awaitable<Expected<std::vector<amf::Value>, UpstreamConnection::CallError>> UpstreamConnection::call(
    const std::string& name, std::vector<amf::Value> args) {
  auto self = shared_from_this();
  if (state_ == State::Connecting) {
    co_await ready_signal_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (state_ != State::Ready) co_return unexpected(CallError{"Lost", "the upstream connection is " +
                                                                         std::string(to_string(state_))});
  auto pending = std::make_shared<PendingCall>(executor_);
  const double txn = session_.call(name, std::move(args));
  calls_[txn] = pending;
  flush();
  pending->signal.expires_after(options_.call_timeout);
  co_await pending->signal.async_wait(asio::as_tuple(asio::use_awaitable));
  if (!pending->result) {
    calls_.erase(txn);
    co_return unexpected(CallError{"Timeout", name + " got no answer within " +
                                                  std::to_string(options_.call_timeout.count()) + " ms"});
  }
  co_return std::move(*pending->result);
}

void UpstreamConnection::fail_everything(const std::string& why) {
  auto calls = std::move(calls_);
  calls_.clear();
  for (auto& [txn, pending] : calls) {
    pending->result = unexpected(CallError{"Lost", why});
    pending->signal.cancel();
  }
  auto plays = std::move(plays_);
  plays_.clear();
  for (auto& [handle, play] : plays) play.sink->on_play_lost(why);
  ready_signal_.cancel();
}

void UpstreamConnection::close(const std::string& why) {
  if (state_ == State::Closed) return;
  const State before = state_;
  state_ = State::Closed;
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  watchdog_.cancel();
  write_signal_.cancel();
  (void)before;
  fail_everything(why);
  if (listener_) listener_(State::Closed, why);
}

}  // namespace rw::proxy
