#include "common/proxy/proxy_manager.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <future>

#include "common/cluster/identity.hpp"
#include "common/cluster/upstream_url.hpp"
#include "common/media/stream_name.hpp"

namespace rw::proxy {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto kTick = 250ms;
// How often a waiting player looks at its pull's answer: every waiting
// player wakes the proxy thread this often.
constexpr auto kAnswerPoll = 50ms;
// After Play.Start from an upstream that does not say whether the stream
// is live (not a Rewind server), how long to wait for its first frames
// before the player is answered.
constexpr auto kFirstFramesWait = 1000ms;

std::vector<UpstreamUrl> parse_all(const google::protobuf::RepeatedPtrField<std::string>& texts) {
  std::vector<UpstreamUrl> urls;
  for (const auto& t : texts) {
    if (auto url = cluster::parse_upstream_url(t)) urls.push_back(std::move(*url));
  }
  return urls;
}

}  // namespace

ProxyManagerSettings proxy_settings(const config::Config& config, Identity identity) {
  ProxyManagerSettings s;
  s.identity = std::move(identity);
  s.upstreams = parse_all(config.upstream());
  for (const auto& app : config.app()) {
    if (app.upstream_size() > 0) s.app_upstreams[app.name()] = parse_all(app.upstream());
    for (const auto& p : app.static_proxy()) {
      s.static_pulls.push_back(StaticPull{app.name(), p.local(), p.has_remote() ? p.remote() : p.local()});
    }
  }
  const auto& proxy = config.proxy();
  s.upstream.connection.connect_timeout = std::chrono::milliseconds(proxy.connect_timeout_ms());
  s.upstream.connection.not_responding = std::chrono::milliseconds(proxy.not_responding_ms());
  s.upstream.connection.call_timeout = std::chrono::milliseconds(proxy.call_timeout_ms());
  s.upstream.selection.backoff_max = std::chrono::milliseconds(proxy.backoff_max_ms());
  s.upstream.selection.prefer_primary_after = std::chrono::milliseconds(proxy.prefer_primary_after_ms());
  s.stream.tail_ms = proxy.tail_ms();
  s.segments.limits = cluster::ProtocolLimits{proxy.max_segment_bytes(), proxy.max_page_bytes(),
                                              proxy.max_index_entries()};
  s.segments.index_ttl = std::chrono::milliseconds(proxy.index_ttl_ms());
  s.segments.read_ahead = config.cache().read_ahead();
  s.segments.server_id = s.identity.server_id;
  s.linger = std::chrono::milliseconds(proxy.linger_ms());
  s.answer_wait = s.upstream.connection.connect_timeout + 2000ms;
  return s;
}

// A player's hold on a pull; released on the proxy thread.
class ProxyManager::Lease : public server::PullLease {
 public:
  Lease(ProxyManager& manager, Key key) : manager_(manager), key_(std::move(key)) {}
  ~Lease() override {
    asio::post(manager_.io_, [m = &manager_, key = std::move(key_)] { m->release(key); });
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

 private:
  ProxyManager& manager_;
  Key key_;
};

ProxyManager::ProxyManager(media::StreamRegistry& streams, server::EventBus& events, cache::SegmentCache& cache,
                           ProxyManagerSettings settings, const Logger& log)
    : streams_(streams),
      events_(events),
      cache_(cache),
      settings_(std::move(settings)),
      log_(log),
      work_(asio::make_work_guard(io_)),
      segments_(io_.get_executor(), [this](const std::string& app) { return upstream_for(app); }, cache,
                settings_.segments, log, events),
      ticker_(io_) {}

ProxyManager::~ProxyManager() { stop(); }

void ProxyManager::start() {
  asio::post(io_, [this] {
    for (const auto& p : settings_.static_pulls) {
      log_.info() << "proxy: static pull " << log_field(p.app) << "/" << log_field(p.local) << " from "
                  << log_field(p.remote);
      open_pull(Key{p.app, p.local}, p.remote, true);
    }
    tick();
  });
  thread_ = std::thread([this] { io_.run(); });
}

void ProxyManager::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (thread_.joinable()) {
    asio::post(io_, [this] {
      ticker_.cancel();
      for (auto& [key, pull] : pulls_) {
        pull->upstream->remove_play(*pull->stream);
        pull->stream.reset();
      }
      pulls_.clear();
      for (auto& [app, up] : upstreams_) up->stop();
      for (auto& [id, pull] : script_pulls_) pull.upstream->stop();
      work_.reset();
    });
    thread_.join();
  }
  if (const std::size_t written = cache_.spill_memory()) {
    log_.info() << "cache: wrote " << written << " segments from memory to disk for the next start";
  }
  // Coroutines still suspended (calls that were waiting) are destroyed
  // here, with the io_context, before the upstreams they refer to.
  pulls_.clear();
  upstreams_.clear();
  script_pulls_.clear();
}

bool ProxyManager::pulls(const std::string& app) const {
  return !settings_.upstreams.empty() || settings_.app_upstreams.count(app) != 0;
}

std::shared_ptr<Upstream> ProxyManager::upstream_for(const std::string& app) {
  if (stopped_) return nullptr;
  if (auto it = upstreams_.find(app); it != upstreams_.end()) return it->second;
  auto own = settings_.app_upstreams.find(app);
  const std::vector<UpstreamUrl>& urls = own != settings_.app_upstreams.end() ? own->second : settings_.upstreams;
  if (urls.empty()) return nullptr;
  auto up = std::make_shared<Upstream>(io_.get_executor(), app, urls, settings_.identity, settings_.upstream, log_,
                                       [this](const ProxyStatus& s) { on_status(s); });
  upstreams_.emplace(app, up);
  up->start();
  return up;
}

void ProxyManager::on_status(const ProxyStatus& status) {
  if (status.code == "ProxyStream.Proxy.Start" || status.code == "ProxyStream.Proxy.Stop") {
    segments_.forget_index(status.app, status.stream);
  }
  log_.info() << "proxy: " << status.code << " app=" << log_field(status.app)
              << (status.stream.empty() ? "" : " stream=" + log_field(status.stream)) << " upstream=" << status.upstream
              << ": " << log_escape(status.description);
  events_.publish(server::ServerEvent{server::EventType::Proxy, 0, status.upstream, status.app, status.stream,
                                      status.description, status.code, {}, {}});
  if (!status.failover_cause.empty()) {
    server::ServerEvent failover{server::EventType::Failover, 0, status.upstream, status.app, {}, status.description,
                                 {}, {}, {}};
    failover.cause = status.failover_cause;
    events_.publish(failover);
  }
  for (const auto& [id, pull] : script_pulls_) {
    // A script's pull hears its stream's statuses and its upstream's.
    if (pull.key.first == status.app && (status.stream.empty() || status.stream == pull.key.second)) {
      const bool error = status.code.find("BadName") != std::string::npos ||
                         status.code.find("Failed") != std::string::npos ||
                         status.code.find("Rejected") != std::string::npos;
      pull.on_status(status.code, error ? "error" : "status", status.description);
    }
  }
  if (!status.stream.empty()) {
    if (auto it = pulls_.find(Key{status.app, status.stream}); it != pulls_.end()) {
      it->second->last_code = status.code;
      it->second->last_code_at = std::chrono::system_clock::now();
    }
  }
}

server::ProxyReport ProxyManager::report_here() const {
  server::ProxyReport report;
  auto configured = [&](const std::vector<UpstreamUrl>& urls) {
    for (const auto& u : urls) report.configured.push_back(server::UpstreamAddress{u.text, u.host, u.port});
  };
  configured(settings_.upstreams);
  for (const auto& [app, urls] : settings_.app_upstreams) configured(urls);
  for (const auto& [key, pull] : pulls_) {
    server::PullReport p;
    p.app = key.first;
    p.stream = key.second;
    p.remote = pull->remote;
    p.upstream = pull->upstream ? pull->upstream->current_url() : std::string();
    p.state = pull->stream->published() ? "playing" : pull->refused_since ? "refused" : "waiting";
    p.last_code = pull->last_code;
    p.since = pull->last_code_at;
    p.players = pull->leases;
    p.is_static = pull->is_static;
    report.pulls.push_back(std::move(p));
  }
  for (const auto& [app, up] : upstreams_) {
    for (auto& u : up->upstreams()) report.upstreams.push_back(std::move(u));
  }
  report.segments = segments_.totals();
  return report;
}

std::optional<server::ProxyReport> ProxyManager::report(std::chrono::milliseconds within) {
  if (stopped_) return std::nullopt;
  auto promise = std::make_shared<std::promise<server::ProxyReport>>();
  auto future = promise->get_future();
  asio::post(io_, [this, promise] { promise->set_value(report_here()); });
  if (future.wait_for(within) != std::future_status::ready) return std::nullopt;
  return future.get();
}

std::shared_ptr<ProxyManager::Pull> ProxyManager::open_pull(const Key& key, const std::string& remote,
                                                           bool is_static, std::shared_ptr<Upstream> up) {
  if (!up) up = upstream_for(key.first);
  if (!up) return nullptr;
  auto pull = std::make_shared<Pull>();
  pull->upstream = up;
  pull->remote = remote;
  pull->is_static = is_static;
  pull->stream = std::make_unique<ProxyStream>(streams_, key.first, key.second, remote, settings_.stream, log_,
                                               [this](const ProxyStatus& s) { on_status(s); });
  pulls_[key] = pull;
  up->add_play(*pull->stream);
  log_.debug() << "proxy: pulling " << log_field(key.first) << "/" << log_field(key.second) << " as "
               << log_field(remote);
  return pull;
}

void ProxyManager::close_pull(const Key& key) {
  auto it = pulls_.find(key);
  if (it == pulls_.end()) return;
  std::shared_ptr<Pull> pull = it->second;
  pulls_.erase(it);
  pull->upstream->remove_play(*pull->stream);
  pull->stream.reset();
}

std::uint64_t ProxyManager::proxy_from(std::string url, std::string local, std::string remote, Status on_status) {
  const std::uint64_t id = next_script_pull_++;
  asio::post(io_, [this, id, url = std::move(url), local = std::move(local), remote = std::move(remote),
                   on_status = std::move(on_status)] { proxy_from_here(id, url, local, remote, on_status); });
  return id;
}

void ProxyManager::proxy_from_here(std::uint64_t id, const std::string& url, const std::string& local,
                                   const std::string& remote, const Status& script_status) {
  if (stopped_) return;
  const std::optional<UpstreamUrl> upstream = cluster::parse_upstream_url(url);
  if (!upstream || upstream->app.empty()) {
    script_status("ProxyStream.Proxy.BadName", "error", "not an upstream rtmp://HOST[:PORT]/APP: " + url);
    return;
  }
  const std::string& app = upstream->app;
  if (std::string why = media::validate_stream_name(local); !why.empty()) {
    script_status("ProxyStream.Proxy.BadName", "error", local + ": " + why);
    return;
  }
  const Key key{app, local};
  if (pulls_.count(key)) {
    script_status("ProxyStream.Proxy.BadName", "error", app + "/" + local + " is already pulled here");
    return;
  }
  log_.info() << "proxy: a script pulls " << log_field(app) << "/" << log_field(local) << " from " << log_field(url)
              << " as " << log_field(remote);
  auto up = std::make_shared<Upstream>(io_.get_executor(), app, std::vector<UpstreamUrl>{*upstream},
                                       settings_.identity, settings_.upstream, log_,
                                       [this](const ProxyStatus& s) { on_status(s); });
  // Registered first: the pull's first statuses go to the script too.
  script_pulls_[id] = ScriptPull{key, up, script_status};
  up->start();
  open_pull(key, remote, true, up);
}

void ProxyManager::stop_proxy(std::uint64_t id) {
  asio::post(io_, [this, id] {
    auto it = script_pulls_.find(id);
    if (it == script_pulls_.end()) return;
    ScriptPull pull = std::move(it->second);
    script_pulls_.erase(it);
    if (auto p = pulls_.find(pull.key); p != pulls_.end() && p->second->upstream == pull.upstream) close_pull(pull.key);
    pull.upstream->stop();
    pull.on_status("ProxyStream.Proxy.Stop", "status", "stopped by the script");
  });
}

asio::awaitable<server::LivePuller::Want> ProxyManager::want(const std::string& app, const std::string& name,
                                                             const std::string& query, const std::string& via) {
  co_return co_await asio::co_spawn(io_, [&] { return want_here(app, name, query, via); }, asio::use_awaitable);
}

asio::awaitable<server::LivePuller::Want> ProxyManager::want_here(const std::string& app, const std::string& name,
                                                                  const std::string& query, const std::string& via) {
  const Key key{app, name};
  std::shared_ptr<Pull> pull;
  if (auto it = pulls_.find(key); it != pulls_.end()) pull = it->second;
  if (!pull) {
    // The upstream learns the path the request took (loops) and the
    // player's query (a token it may check) from the first player's, as
    // SRS edges pass on their first client's; the name is the same
    // upstream.
    const std::string remote =
        cluster::name_with_via(name, query, cluster::forward_via(via, settings_.identity.server_id));
    pull = open_pull(key, remote, false);
    if (!pull) co_return Want{nullptr, "no upstream for " + app};
  }
  ++pull->leases;
  pull->idle_since.reset();

  // Wait for the answer; a live stream, for its first frames too, so that
  // the player starts live (not from the recording) and at once.
  asio::steady_timer wait(io_);
  const auto started = std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::time_point> playing_since;
  while (!stopped_ && pull->stream) {
    const ProxyStream& s = *pull->stream;
    const auto now = std::chrono::steady_clock::now();
    if (s.answer() == ProxyStream::Answer::NotFound || s.published()) break;
    if (s.answer() == ProxyStream::Answer::Playing) {
      if (!playing_since) playing_since = now;
      if (s.upstream_live() == false) break;
      if (!s.upstream_live() && now - *playing_since >= kFirstFramesWait) break;
    }
    if (now - started >= settings_.answer_wait) break;
    wait.expires_after(kAnswerPoll);
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  std::string refused;
  if (stopped_ || !pull->stream) {
    refused = "the server is stopping";
  } else if (pull->stream->answer() == ProxyStream::Answer::NotFound) {
    refused = pull->stream->not_found_reason();
  } else if (pull->stream->answer() == ProxyStream::Answer::Waiting) {
    refused = "no upstream answered the play of " + name + " within " +
              std::to_string(settings_.answer_wait.count()) + " ms";
  }
  if (!refused.empty()) {
    if (--pull->leases == 0 && !pull->is_static && pulls_.count(key) && pulls_[key] == pull) close_pull(key);
    co_return Want{nullptr, refused};
  }
  co_return Want{std::make_unique<Lease>(*this, key), {}};
}

void ProxyManager::release(const Key& key) {
  auto it = pulls_.find(key);
  if (it == pulls_.end()) return;
  Pull& pull = *it->second;
  if (pull.leases > 0 && --pull.leases == 0) pull.idle_since = std::chrono::steady_clock::now();
}

void ProxyManager::tick() {
  if (stopped_) return;
  const auto now = std::chrono::steady_clock::now();
  std::vector<Key> expired;
  for (auto& [key, pull] : pulls_) {
    ProxyStream& s = *pull->stream;
    s.tick(now);
    if (!pull->is_static && pull->leases == 0 && pull->idle_since && now - *pull->idle_since >= settings_.linger) {
      expired.push_back(key);
      continue;
    }
    if (pull->is_static && s.answer() == ProxyStream::Answer::NotFound) {
      if (!pull->refused_since) pull->refused_since = now;
      if (now - *pull->refused_since >= settings_.static_retry) expired.push_back(key);
      continue;
    }
    if (s.published() && !pull->anchoring && pull->upstream->speaks_segment_protocol() &&
        now - pull->last_anchor >= settings_.segments.index_ttl) {
      pull->anchoring = true;
      pull->last_anchor = now;
      asio::co_spawn(io_, anchor(key), asio::detached);
    }
  }
  for (const Key& key : expired) {
    const bool again = pulls_[key]->is_static;
    const std::string remote = pulls_[key]->remote;
    const std::shared_ptr<Upstream> up = pulls_[key]->upstream;
    if (!again) {
      log_.info() << "proxy: " << log_field(key.first) << "/" << log_field(key.second)
                  << " has had no player for " << settings_.linger.count() << " ms: the pull stops";
    }
    close_pull(key);
    if (again) open_pull(key, remote, true, up);
  }
  ticker_.expires_after(kTick);
  ticker_.async_wait([this](boost::system::error_code ec) {
    if (!ec) tick();
  });
}

asio::awaitable<void> ProxyManager::anchor(Key key) {
  const std::string no_via;
  auto info = co_await segments_.info_here(key.first, key.second, no_via);
  auto it = pulls_.find(key);
  if (it == pulls_.end()) co_return;
  it->second->anchoring = false;
  if (info && *info && it->second->stream) it->second->stream->anchor(**info);
}

}  // namespace rw::proxy
