#include "common/proxy/upstream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace rw::proxy {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {
constexpr auto kLastedLongEnough = 5s;
}  // namespace

Upstream::Upstream(asio::any_io_executor executor, std::string local_app, std::vector<UpstreamUrl> urls,
                   Identity identity, UpstreamSettings settings, const Logger& log, StatusListener status)
    : executor_(executor),
      local_app_(std::move(local_app)),
      identity_(std::move(identity)),
      settings_(std::move(settings)),
      log_(log),
      status_(std::move(status)),
      set_(std::move(urls), settings_.selection),
      reconnect_timer_(executor),
      probe_timer_(executor) {}

Upstream::~Upstream() { stop(); }

void Upstream::start() { connect_current(); }

void Upstream::stop() {
  if (stopped_) return;
  stopped_ = true;
  reconnect_timer_.cancel();
  probe_timer_.cancel();
  if (connection_) connection_->close("shutting down");
  connection_.reset();
}

void Upstream::report(const std::string& code, const std::string& level, const std::string& upstream,
                      const std::string& description, const std::string& failover_cause) {
  if (status_) status_(ProxyStatus{local_app_, {}, code, level, upstream, description, failover_cause});
}

std::vector<server::UpstreamReport> Upstream::upstreams() const {
  std::vector<server::UpstreamReport> out;
  for (std::size_t i = 0; i < set_.size(); ++i) {
    const bool current = i == set_.current();
    out.push_back(server::UpstreamReport{local_app_, set_.url(i).text, i == 0, current,
                                         current && connection_ &&
                                             connection_->state() == UpstreamConnection::State::Ready});
  }
  return out;
}

void Upstream::connect_current() {
  if (stopped_) return;
  const UpstreamUrl& url = set_.current_url();
  // The listener learns which connection speaks through a slot filled once
  // the connection exists.
  auto slot = std::make_shared<std::weak_ptr<UpstreamConnection>>();
  std::weak_ptr<Upstream> weak = shared_from_this();
  connection_ = UpstreamConnection::open(
      executor_, url, url.app_for(local_app_), identity_, settings_.connection, log_,
      [weak, slot](UpstreamConnection::State state, const std::string& why) {
        auto self = weak.lock();
        auto c = slot->lock();
        if (self && c) self->on_state(c, state, why);
      });
  *slot = connection_;
  log_.info() << "proxy: app=" << log_field(local_app_) << " connecting to upstream " << url.text;
  for (UpstreamPlay* play : plays_) play->start_on(*connection_);
}

void Upstream::on_state(const std::shared_ptr<UpstreamConnection>& c, UpstreamConnection::State state,
                        const std::string& why) {
  if (c != connection_ || stopped_) return;
  const std::string url = c->url().text;
  switch (state) {
    case UpstreamConnection::State::Connecting: break;
    case UpstreamConnection::State::Ready:
      ready_since_ = std::chrono::steady_clock::now();
      log_.info() << "proxy: app=" << log_field(local_app_) << " upstream " << url << " ready"
                  << (c->speaks_segment_protocol() ? " (Rewind " + log_field(c->upstream_server_id()) + ")" : "");
      if (set_.current() != 0 && !probing_) {
        probing_ = true;
        asio::co_spawn(executor_, [self = shared_from_this()] { return self->probe_primary(); }, asio::detached);
      }
      break;
    case UpstreamConnection::State::NotResponding:
      log_.warn() << "proxy: app=" << log_field(local_app_) << " upstream " << url << " not responding: " << why;
      report("NetConnection.Proxy.NotResponding", "error", url, why);
      leaving_because_ = "not_responding";
      break;
    case UpstreamConnection::State::Closed: {
      const auto now = std::chrono::steady_clock::now();
      // Only a connection that lasted resets the backoff: an upstream
      // that accepts and then drops every connection is not retried in a
      // tight loop.
      if (ready_since_ && now - *ready_since_ >= kLastedLongEnough) set_.succeeded(now);
      std::string cause = std::move(leaving_because_);
      leaving_because_.clear();
      if (cause.empty()) cause = ready_since_ ? "lost" : "unreachable";
      ready_since_.reset();
      const auto when = set_.failed(now);
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(when - now);
      log_.warn() << "proxy: app=" << log_field(local_app_) << " upstream " << url << " lost: " << log_escape(why)
                  << "; next: " << set_.current_url().text << " in " << wait.count() << " ms";
      report("NetConnection.Connect.Closed", "status", url, why, cause);
      connection_.reset();
      reconnect_timer_.expires_at(when);
      reconnect_timer_.async_wait([weak = std::weak_ptr<Upstream>(shared_from_this())](boost::system::error_code ec) {
        auto self = weak.lock();
        if (!ec && self && !self->stopped_ && !self->connection_) self->connect_current();
      });
      break;
    }
  }
}

void Upstream::add_play(UpstreamPlay& play) {
  plays_.push_back(&play);
  if (connection_) play.start_on(*connection_);
}

void Upstream::remove_play(UpstreamPlay& play) { std::erase(plays_, &play); }

asio::awaitable<Expected<std::vector<amf::Value>, UpstreamConnection::CallError>> Upstream::call(
    const std::string& name, std::vector<amf::Value> args) {
  auto self = shared_from_this();
  UpstreamConnection::CallError last{"Lost", "no upstream connection"};
  asio::steady_timer wait(executor_);
  for (int attempt = 0; attempt < 2 && !stopped_; ++attempt) {
    // Between connections: wait (bounded) for the next one.
    for (int i = 0; i < 100 && !connection_ && !stopped_; ++i) {
      wait.expires_after(50ms);
      co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    std::shared_ptr<UpstreamConnection> c = connection_;
    if (!c) break;
    auto result = co_await c->call(name, args);
    if (result || result.error().reason != "Lost") co_return result;
    last = result.error();
    // Lost: the next try goes to the next connection.
    for (int i = 0; i < 100 && connection_ == c && !stopped_; ++i) {
      wait.expires_after(50ms);
      co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
  co_return unexpected(last);
}

asio::awaitable<bool> Upstream::wait_ready(std::chrono::milliseconds within) {
  auto self = shared_from_this();
  asio::steady_timer wait(executor_);
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (!stopped_) {
    if (connection_ && connection_->state() == UpstreamConnection::State::Ready) co_return true;
    if (std::chrono::steady_clock::now() >= deadline) break;
    wait.expires_after(20ms);
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return false;
}

void Upstream::fail_over(const std::string& why) {
  if (!connection_) return;
  leaving_because_ = "bad_upstream";
  connection_->close(why);
}

asio::awaitable<void> Upstream::probe_primary() {
  auto self = shared_from_this();
  std::shared_ptr<UpstreamConnection> probe;
  while (!stopped_ && set_.current() != 0) {
    const auto now = std::chrono::steady_clock::now();
    if (!probe || probe->state() == UpstreamConnection::State::Closed) {
      set_.primary_failed();
      const UpstreamUrl& primary = set_.url(0);
      probe = UpstreamConnection::open(executor_, primary, primary.app_for(local_app_), identity_,
                                       settings_.connection, log_, nullptr);
    } else if (probe->state() == UpstreamConnection::State::Ready) {
      set_.primary_answered(now);
      if (set_.prefer_primary(now) && connection_ &&
          connection_->state() == UpstreamConnection::State::Ready) {
        co_await switch_to_primary(probe);
        // Now the current connection, unless stopped meanwhile: then it
        // is closed below.
        break;
      }
    }
    probe_timer_.expires_after(settings_.probe_interval);
    co_await probe_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (probe && probe != connection_) probe->close("probe no longer needed");
  probing_ = false;
}

asio::awaitable<void> Upstream::switch_to_primary(std::shared_ptr<UpstreamConnection> primary) {
  switching_ = true;
  log_.info() << "proxy: app=" << log_field(local_app_) << " the primary " << primary->url().text
              << " has answered for " << settings_.selection.prefer_primary_after.count()
              << " ms: switching back to it at a keyframe";
  for (UpstreamPlay* play : plays_) play->begin_switch(*primary);
  asio::steady_timer wait(executor_);
  const auto deadline = std::chrono::steady_clock::now() + settings_.switch_timeout;
  auto all_done = [&] {
    for (UpstreamPlay* play : plays_) {
      if (!play->switch_done()) return false;
    }
    return true;
  };
  while (!stopped_ && !all_done() && std::chrono::steady_clock::now() < deadline &&
         primary->state() == UpstreamConnection::State::Ready) {
    wait.expires_after(50ms);
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  switching_ = false;
  if (stopped_) co_return;
  if (primary->state() != UpstreamConnection::State::Ready) {
    for (UpstreamPlay* play : plays_) play->cancel_switch();
    co_return;
  }
  // Plays that did not switch in time (a stream without keyframes) are
  // started on the primary as after a failover.
  std::shared_ptr<UpstreamConnection> old = std::move(connection_);
  connection_ = primary;
  set_.back_to_primary(std::chrono::steady_clock::now());
  // The primary now reports to on_state as the current connection.
  std::weak_ptr<Upstream> weak = shared_from_this();
  std::weak_ptr<UpstreamConnection> current = connection_;
  primary->set_listener([weak, current](UpstreamConnection::State state, const std::string& why) {
    auto self = weak.lock();
    auto c = current.lock();
    if (self && c) self->on_state(c, state, why);
  });
  // Plays that did not switch in time (a stream without keyframes), and
  // those that had nothing to switch (waiting for a publisher, refused),
  // are started on the primary as after a failover.
  for (UpstreamPlay* play : plays_) {
    if (!play->plays_on(*connection_)) {
      play->cancel_switch();
      play->start_on(*connection_);
    }
  }
  if (old) old->close("switched back to the primary");
  report("NetConnection.Proxy.Switched", "status", primary->url().text, "back on the primary", "primary_back");
}

}  // namespace rw::proxy
