// At a relay or an edge, live streams come from upstream: a player's play
// asks the puller for the stream, which starts one upstream pull per stream
// however many players want it and publishes it into the local hub
// (docs/cluster.md, "Live"). The origin has none. The server layer knows
// only this interface; common/proxy implements it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rw::server {

// Held by a player while it plays; released from any thread (the pull
// lingers, then stops once nobody holds it).
class PullLease {
 public:
  virtual ~PullLease() = default;
};

// What a puller is doing, for the admin API and the metrics
// (docs/operations.md).
struct PullReport {
  std::string app, stream;
  std::string remote;    // the upstream's name for it
  std::string upstream;  // rtmp://... it is pulled from now
  std::string state;     // waiting (for the upstream's answer), playing, refused
  std::string last_code;  // the last ProxyStream status (ProxyStream.Proxy.Start...)
  std::chrono::system_clock::time_point since;  // of the last status
  std::size_t players = 0;
  bool is_static = false;
};
struct UpstreamReport {
  std::string app;   // the local application it serves
  std::string url;
  bool primary = false;  // the first listed; the others are backups
  bool current = false;  // the one in use
  bool ready = false;    // current and answering
};
struct SegmentFetchTotals {
  std::uint64_t fetches = 0, fetch_errors = 0;
  std::uint64_t fetched_bytes = 0;  // segment bytes fetched from upstream
  std::uint64_t served_bytes = 0;   // segment bytes given to DVR players and downstream servers
  std::uint64_t coalesced = 0;      // reads that waited for a fetch already in flight
};
struct UpstreamAddress {
  std::string url, host;
  std::uint16_t port = 0;
};
struct ProxyReport {
  std::vector<UpstreamAddress> configured;  // every upstream of the config
  std::vector<PullReport> pulls;
  std::vector<UpstreamReport> upstreams;
  SegmentFetchTotals segments;
};

class LivePuller {
 public:
  virtual ~LivePuller() = default;

  // Whether this server pulls the application's streams from upstream.
  virtual bool pulls(const std::string& app) const = 0;

  struct Want {
    std::unique_ptr<PullLease> lease;  // null when refused
    // The upstream refused the stream (it does not know it, the name is
    // bad there, the application does not exist): the player gets
    // Play.StreamNotFound with this.
    std::string not_found;
  };
  // A player wants app/name. The first one waits (bounded) until the
  // upstream has answered the play, so that a stream unknown upstream gets
  // StreamNotFound instead of a player waiting forever; the others join the
  // running pull. `query`: the player's (tokens an upstream may check;
  // the first player's goes upstream). `via`: the servers the request
  // came through (loops). Arguments are references (GCC 12 and
  // temporaries in co_await).
  virtual boost::asio::awaitable<Want> want(const std::string& app, const std::string& name,
                                            const std::string& query, const std::string& via) = 0;

  // From any thread but a worker's (it may wait a moment for the puller's
  // own thread); nullopt when that thread did not answer in time.
  virtual std::optional<ProxyReport> report(std::chrono::milliseconds within) = 0;
};

// Pulls a script asks for (FMS's server-side ProxyStream, from Lua:
// docs/applications.md): a relay's or an edge's proxy manager does them.
// Safe to call from any thread; statuses come on the proxy thread.
class StreamProxies {
 public:
  // code (ProxyStream.Proxy.Start, .Stop, .BadName, NetConnection.Proxy.*),
  // level (status, error), description.
  using Status = std::function<void(std::string code, std::string level, std::string description)>;
  virtual ~StreamProxies() = default;
  // Pulls `remote` from the upstream at `url` (rtmp://HOST[:PORT]/APP) and
  // publishes it here as `local` in application APP, until stop_proxy;
  // retried while the upstream refuses it. Returns its id.
  virtual std::uint64_t proxy_from(std::string url, std::string local, std::string remote, Status on_status) = 0;
  virtual void stop_proxy(std::uint64_t id) = 0;
};

}  // namespace rw::server
