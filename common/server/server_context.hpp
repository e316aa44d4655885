// What every connection of a server shares: options, logger, clock, the
// live stream registry and the event bus. Made once by the role's main()
// and passed down; nothing here is global.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/base/clock.hpp"
#include "common/base/log.hpp"
#include "common/media/stream_hub.hpp"
#include "common/rtmp/server_session.hpp"
#include "common/server/bandwidth_probe.hpp"
#include "common/server/client_registry.hpp"
#include "common/server/event_bus.hpp"
#include "common/server/out_queue.hpp"

namespace rw::server {

struct DvrPolicy {
  enum class Record { All, Requested, Off };
  Record record = Record::All;
  std::uint32_t segment_ms = 2000;
  std::uint64_t window_ms = 7'200'000;
  std::uint64_t max_bytes = std::uint64_t{4} << 30;
  std::size_t tail_max_bytes = 64u << 20;
  std::size_t write_queue_max_bytes = 256u << 20;
};

struct AppSettings {
  std::string name;
  DvrPolicy dvr;
  BandwidthSettings bandwidth;
};

struct ServerOptions {
  // Who this server is in a chain (docs/cluster.md, "Loops"): its connect
  // replies say it (rewindServer, rewindRole), so a downstream Rewind
  // server knows it may ask for segments, and it refuses requests that
  // went round a loop back to it.
  std::string role = "origin";
  std::string server_id;
  std::string listen_host = "0.0.0.0";
  std::uint16_t listen_port = 1935;
  unsigned threads = 0;  // 0: one per core
  rtmp::SessionOptions session;
  OutQueueOptions out_queue;
  // 0: write as soon as a batch of frames is handled; more: gather each
  // player's frames for up to this long and write them with one writev.
  std::chrono::milliseconds write_interval{50};
  std::chrono::milliseconds handshake_timeout{10'000};  // until connect is accepted
  std::chrono::milliseconds send_timeout{10'000};       // a player that reads nothing this long
  // Liveness (docs/architecture.md): a connection quiet this long is pinged;
  // one that sent nothing at all this long is closed; a publisher that sent
  // no media this long is closed. 0 turns each off.
  std::chrono::milliseconds ping_interval{10'000};
  std::chrono::milliseconds idle_timeout{30'000};
  std::chrono::milliseconds publisher_idle_timeout{10'000};
  // SO_SNDBUF of a connection that plays (0: the kernel's autotuning, which
  // lets a player that stops reading hold megabytes).
  std::size_t player_send_buffer = 256u << 10;
  std::size_t max_connections = 0;                      // 0: no limit
  // Applications a client may connect to. Empty: any valid name, with
  // default_app's settings.
  std::vector<AppSettings> apps;
  AppSettings default_app;
};

class Application;
class DvrAccess;
class SegmentSource;
class LivePuller;

struct ServerContext {
  ServerContext(const ServerOptions& o, Logger& l, const Clock& c, media::StreamRegistry& s, EventBus& e)
      : options(o), log(l), clock(c), streams(s), events(e) {}

  const ServerOptions& options;
  Logger& log;
  const Clock& clock;
  media::StreamRegistry& streams;
  EventBus& events;
  std::atomic<std::uint64_t> next_connection_id{1};
  std::atomic<std::size_t> connections{0};
  // Every connection, for the admin API and the metrics.
  ClientRegistry clients;
  // The DVR store, or nullptr when this server records nothing.
  DvrAccess* dvr = nullptr;
  // Where DVR players read recordings: the store at the origin, the
  // upstream through the cache at a relay or an edge; nullptr: no DVR.
  SegmentSource* segments = nullptr;
  // At a relay or an edge: where live streams come from; nullptr at the
  // origin.
  LivePuller* puller = nullptr;
  // Decides who may connect, publish and play (HTTP callbacks, scripts);
  // nullptr: everyone may (docs/applications.md).
  Application* application = nullptr;

  // The settings for an application, or nullptr when clients may not use it.
  const AppSettings* find_app(const std::string& name) const;
};

}  // namespace rw::server
