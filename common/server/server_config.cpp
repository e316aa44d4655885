#include "common/server/server_config.hpp"

#include <algorithm>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "common/config/config_loader.hpp"

namespace rw::server {

namespace {

AppSettings app_settings(const config::AppSettings& app) {
  AppSettings out;
  out.name = app.name();
  const config::DvrSettings& d = app.dvr();
  out.dvr.record = d.record() == "all"         ? DvrPolicy::Record::All
                   : d.record() == "requested" ? DvrPolicy::Record::Requested
                                               : DvrPolicy::Record::Off;
  out.dvr.segment_ms = d.segment_ms();
  out.dvr.window_ms = std::uint64_t{d.window_s()} * 1000;
  out.dvr.max_bytes = d.max_bytes();
  out.dvr.tail_max_bytes = d.tail_max_bytes();
  out.dvr.write_queue_max_bytes = d.write_queue_max_bytes();
  const config::BandwidthDetection& b = app.bandwidth_detection();
  out.bandwidth.enabled = b.enabled();
  out.bandwidth.max_rate_kbps = b.max_rate_kbps();
  // An AMF0 string of at most 65535 bytes carries it; at least 1 KiB, or
  // the per-call overhead is what gets measured.
  out.bandwidth.data_size = std::clamp<std::size_t>(b.data_size(), 1024, 65535);
  out.bandwidth.max_wait = std::chrono::milliseconds(std::clamp<std::uint32_t>(b.max_wait_ms(), 100, 10'000));
  return out;
}

}  // namespace

ServerOptions server_options(const config::Config& c) {
  ServerOptions o;
  config::parse_host_port(c.listen(), o.listen_host, o.listen_port);
  o.threads = c.threads();
  const auto& rtmp = c.rtmp();
  o.session.out_chunk_size = rtmp.chunk_size();
  o.session.chunk_limits.max_message_size = rtmp.max_message_size();
  // Partial messages at once: a big one (a keyframe) and commands beside it.
  o.session.chunk_limits.max_buffered_bytes = std::size_t{rtmp.max_message_size()} + 2 * rtmp.max_command_size();
  o.session.command_chunk_limits.max_message_size = rtmp.max_command_size();
  o.session.command_chunk_limits.max_buffered_bytes = 2 * std::size_t{rtmp.max_command_size()};
  o.session.amf_limits.max_elements = rtmp.max_amf_elements();
  o.session.window_ack_size = rtmp.window_ack_size();
  o.session.peer_bandwidth = rtmp.window_ack_size();
  o.session.max_streams = rtmp.max_streams_per_connection();
  o.session.amf_limits.max_depth = rtmp.max_amf_depth();
  o.handshake_timeout = std::chrono::milliseconds(rtmp.handshake_timeout_ms());
  o.send_timeout = std::chrono::milliseconds(rtmp.send_timeout_ms());
  o.ping_interval = std::chrono::milliseconds(rtmp.ping_interval_ms());
  o.idle_timeout = std::chrono::milliseconds(rtmp.idle_timeout_ms());
  o.publisher_idle_timeout = std::chrono::milliseconds(c.publisher().idle_timeout_ms());
  o.max_connections = rtmp.max_connections();
  const auto& player = c.player();
  o.write_interval = std::chrono::milliseconds(player.write_interval_ms());
  o.out_queue.max_lag_ms = player.max_queue_lag_ms();
  o.out_queue.max_bytes = player.max_queue_bytes();
  o.out_queue.max_skips = player.max_skips();
  o.player_send_buffer = player.send_buffer_bytes();
  o.default_app = app_settings(c.default_app());
  for (const auto& app : c.app()) {
    // A listed application starts from default_app.
    config::AppSettings merged = c.default_app();
    merged.MergeFrom(app);
    o.apps.push_back(app_settings(merged));
  }
  return o;
}

media::HubOptions hub_options(const config::Config& c) {
  media::HubOptions o;
  o.gop_max_frames = c.player().gop_cache_max_frames();
  o.gop_max_bytes = c.player().gop_cache_max_bytes();
  return o;
}

dvr::Retention retention_of(const ServerOptions& options, std::string_view app) {
  const AppSettings* settings = &options.default_app;
  for (const auto& a : options.apps) {
    if (a.name == app) settings = &a;
  }
  return dvr::Retention{settings->dvr.window_ms, settings->dvr.max_bytes};
}

void log_events(EventBus& bus, Logger& log, const Clock& clock) {
  struct PerConnection {
    std::mutex mutex;
    std::unordered_map<std::uint64_t, LogRateLimit> limits;
  };
  auto per_connection = std::make_shared<PerConnection>();
  bus.subscribe([&log, &clock, per_connection](const ServerEvent& e) {
    // Commands are many and the client chooses them: the connection logs
    // the ones worth a line (unknown ones), rate-limited.
    if (e.type == EventType::Command) return;
    // The proxy logs its own status lines (with the upstream and why).
    if (e.type == EventType::Proxy || e.type == EventType::Failover || e.type == EventType::Fetch) return;
    const bool problem = e.type == EventType::Error || e.type == EventType::Reject;
    if (!log.enabled(problem ? LogLevel::Warn : LogLevel::Info)) return;
    std::uint64_t suppressed = 0;
    {
      std::lock_guard lock(per_connection->mutex);
      auto& limit = per_connection->limits[e.connection_id];
      const bool allowed = limit.allow(clock.now(), suppressed);
      if (e.type == EventType::Disconnect) {
        if (!allowed) suppressed = limit.suppressed();
        per_connection->limits.erase(e.connection_id);
      } else if (!allowed) {
        return;
      }
    }
    auto line = problem ? log.warn() : log.info();
    // What the client sent is escaped: a name with a newline in it must not
    // forge a log line.
    line << "conn=" << e.connection_id << " peer=" << e.peer << " app=" << log_field(e.app);
    if (!e.stream.empty()) line << " stream=" << log_field(e.stream);
    line << " " << to_string(e.type);
    if (!e.detail.empty()) line << " " << log_escape(e.detail, 512);
    if (suppressed > 0) line << " (" << suppressed << " lines about this connection suppressed before)";
  });
}

}  // namespace rw::server
