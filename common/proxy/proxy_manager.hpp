// What makes a server a relay or an edge (docs/cluster.md): the upstreams
// of each application, the live pulls (the server's LivePuller) and the
// DVR segments from upstream (its SegmentSource), all on one proxy thread
// of their own so that no upstream exchange ever runs on a worker.
//
// - One pull per stream however many players want it: the first player
//   starts it and waits (bounded) for the upstream's answer, the others
//   join; it stops proxy.linger_ms after the last one leaves. Static
//   proxies (proxyFrom(local, remote) in the config) start with the server
//   and stay, retried while the upstream refuses them.
// - A pulled stream's live frames are numbered as the upstream's recording
//   numbers them (anchored) whenever the upstream's index says where its
//   next segment starts, so a DVR player goes on from segments into live.
// - ProxyStream and upstream NetConnection status go on the event bus
//   (EventType::Proxy) and in the log.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/base/log.hpp"
#include "common/cache/segment_cache.hpp"
#include "proto/config.pb.h"
#include "common/media/stream_hub.hpp"
#include "common/proxy/proxy_segments.hpp"
#include "common/proxy/proxy_stream.hpp"
#include "common/proxy/upstream.hpp"
#include "common/server/event_bus.hpp"
#include "common/server/live_puller.hpp"

namespace rw::proxy {

struct StaticPull {
  std::string app;
  std::string local;
  std::string remote;
};

struct ProxyManagerSettings {
  Identity identity;
  // Upstreams of every application, unless it has its own.
  std::vector<UpstreamUrl> upstreams;
  std::map<std::string, std::vector<UpstreamUrl>> app_upstreams;
  std::vector<StaticPull> static_pulls;
  UpstreamSettings upstream;
  ProxyStreamSettings stream;
  ProxySegmentsSettings segments;
  std::chrono::milliseconds linger{10000};
  // How long a first player waits for the upstream's answer.
  std::chrono::milliseconds answer_wait{7000};
  // A static pull the upstream refused is tried again after this.
  std::chrono::milliseconds static_retry{5000};
};

// The settings a relay's or an edge's config says (a config that passed
// validation: its upstream URLs parse).
ProxyManagerSettings proxy_settings(const config::Config& config, Identity identity);

class ProxyManager : public server::LivePuller, public server::StreamProxies {
 public:
  ProxyManager(media::StreamRegistry& streams, server::EventBus& events, cache::SegmentCache& cache,
               ProxyManagerSettings settings, const Logger& log);
  ~ProxyManager() override;
  ProxyManager(const ProxyManager&) = delete;
  ProxyManager& operator=(const ProxyManager&) = delete;

  // Starts the proxy thread and the static pulls.
  void start();
  // Stops every pull and upstream connection, then the thread. After the
  // server has stopped (no player holds a pull).
  void stop();

  server::SegmentSource& segments() { return segments_; }

  bool pulls(const std::string& app) const override;
  boost::asio::awaitable<Want> want(const std::string& app, const std::string& name, const std::string& query,
                                    const std::string& via) override;
  std::optional<server::ProxyReport> report(std::chrono::milliseconds within) override;
  // A script's ProxyStream: a static pull from an upstream of its own.
  std::uint64_t proxy_from(std::string url, std::string local, std::string remote, Status on_status) override;
  void stop_proxy(std::uint64_t id) override;

 private:
  using Key = std::pair<std::string, std::string>;
  struct Pull {
    std::shared_ptr<Upstream> upstream;
    std::unique_ptr<ProxyStream> stream;
    std::string remote;
    std::size_t leases = 0;
    bool is_static = false;
    bool anchoring = false;
    std::optional<std::chrono::steady_clock::time_point> idle_since;
    std::optional<std::chrono::steady_clock::time_point> refused_since;
    std::chrono::steady_clock::time_point last_anchor{};
    std::string last_code;  // its last ProxyStream status, and when
    std::chrono::system_clock::time_point last_code_at{};
  };
  class Lease;

  // Proxy thread.
  std::shared_ptr<Upstream> upstream_for(const std::string& app);
  // `up`: the pull's upstream; nullptr: the application's.
  std::shared_ptr<Pull> open_pull(const Key& key, const std::string& remote, bool is_static,
                                  std::shared_ptr<Upstream> up = nullptr);
  void proxy_from_here(std::uint64_t id, const std::string& url, const std::string& local, const std::string& remote,
                       const Status& script_status);
  void close_pull(const Key& key);
  boost::asio::awaitable<Want> want_here(const std::string& app, const std::string& name, const std::string& query,
                                         const std::string& via);
  void release(const Key& key);
  void tick();
  boost::asio::awaitable<void> anchor(Key key);
  void on_status(const ProxyStatus& status);
  server::ProxyReport report_here() const;

  media::StreamRegistry& streams_;
  server::EventBus& events_;
  cache::SegmentCache& cache_;
  const ProxyManagerSettings settings_;
  const Logger& log_;
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  ProxySegments segments_;
  std::map<std::string, std::shared_ptr<Upstream>> upstreams_;
  std::map<Key, std::shared_ptr<Pull>> pulls_;
  // Scripts' pulls: by id, and their status callbacks by stream.
  struct ScriptPull {
    Key key;
    std::shared_ptr<Upstream> upstream;
    Status on_status;
  };
  std::map<std::uint64_t, ScriptPull> script_pulls_;
  std::atomic<std::uint64_t> next_script_pull_{1};
  boost::asio::steady_timer ticker_;
  std::thread thread_;
  std::atomic<bool> stopped_{false};  // set by stop() on the caller's thread
};

}  // namespace rw::proxy
