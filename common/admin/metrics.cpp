#include "common/admin/metrics.hpp"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>

#include "common/admin/process_metrics.hpp"
#include "common/base/bytes.hpp"

namespace rw::admin {

namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<prometheus::ClientMetric::Label>;

// Seek latency: a seek answered from memory takes about a millisecond, one
// that reads the store or goes upstream tens (docs/performance.md).
const prometheus::Histogram::BucketBoundaries kSeekBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                            0.05,   0.1,   0.25,   0.5,   1,    2.5, 5};
// An upstream segment fetch: a 2 s segment of a few hundred KB.
const prometheus::Histogram::BucketBoundaries kFetchBuckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                             0.25,  0.5,    1,     2.5,  5,     10};

// A family built at scrape time.
struct Snapshot {
  MetricFamily family;
  Snapshot(const char* name, const char* help, MetricType type) : family{name, help, type, {}} {}
  void add(Labels labels, double value) {
    prometheus::ClientMetric metric;
    metric.label = std::move(labels);
    if (family.type == MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
    family.metric.push_back(std::move(metric));
  }
};

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

prometheus::Family<prometheus::Counter>& counter(prometheus::Registry& registry, const char* name,
                                                 const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Histogram>& histogram(prometheus::Registry& registry, const char* name,
                                                     const char* help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
}

}  // namespace

ServerMetrics::ServerMetrics(Observed& observed)
    : observed_(observed),
      role_(observed.context.options.role),
      registry_(std::make_shared<prometheus::Registry>()),
      connects_(counter(*registry_, "rewind_connects_total",
          "RTMP connect commands, by application and whether they were accepted")),
      disconnects_(counter(*registry_, "rewind_disconnects_total",
          "Connections that ended, by why (client_closed, read_failed, slow_player...)")),
      plays_(counter(*registry_, "rewind_plays_total",
          "Plays that started, by application")),
      publishes_(counter(*registry_, "rewind_publishes_total",
          "Publishes that started, by application")),
      seek_duration_(histogram(*registry_, "rewind_dvr_seek_duration_seconds",
          "Time from a player's seek until the first segment at the new place was read")),
      failovers_(counter(*registry_, "rewind_proxy_failovers_total",
          "Upstream connections left for the next try, by why (not_responding, lost, unreachable, "
          "bad_upstream, primary_back)")),
      proxy_statuses_(counter(*registry_, "rewind_proxy_statuses_total",
          "ProxyStream and upstream NetConnection statuses reported, by code")),
      fetch_duration_(histogram(*registry_, "rewind_proxy_fetch_duration_seconds",
          "Time to fetch one DVR segment from upstream, by upstream")) {
  // The configured applications have their labels whatever clients do.
  for (const auto& app : observed_.context.options.apps) apps_.insert(to_valid_utf8(app.name));
  // Series that exist before their first event, so that a dashboard shows
  // 0 rather than nothing.
  const std::string& role = role_;
  for (int c = 0; c <= static_cast<int>(server::CloseCause::Shutdown); ++c) {
    disconnects_.Add({{"role", role}, {"reason", server::to_string(static_cast<server::CloseCause>(c))}});
  }
  seek_duration_.Add({{"role", role}}, kSeekBuckets);
  if (observed_.puller) {
    for (const char* reason : {"not_responding", "lost", "unreachable", "bad_upstream", "primary_back"}) {
      failovers_.Add({{"role", role}, {"reason", reason}});
    }
    for (const char* code : {"ProxyStream.Proxy.Start", "ProxyStream.Proxy.Stop", "ProxyStream.Proxy.BadName",
                             "NetConnection.Proxy.NotResponding", "NetConnection.Connect.Closed",
                             "NetConnection.Proxy.Switched"}) {
      proxy_statuses_.Add({{"role", role}, {"code", code}});
    }
  }
  observed_.context.events.subscribe([this](const server::ServerEvent& e) { on_event(e); });
}

std::string ServerMetrics::app_label(const std::string& app, bool may_add) {
  std::string label = to_valid_utf8(app);
  std::lock_guard lock(apps_mutex_);
  if (apps_.count(label)) return label;
  if (!may_add || apps_.size() >= kMaxApps) return "other";
  apps_.insert(label);
  return label;
}

void ServerMetrics::on_event(const server::ServerEvent& e) {
  using server::EventType;
  switch (e.type) {
    case EventType::Connect:
      connects_.Add({{"role", role_}, {"app", app_label(e.app)}, {"result", "accepted"}}).Increment();
      break;
    case EventType::Reject:
      // A name a rejected client chose takes no label of its own: clients
      // connecting to made-up applications must not use up the cap.
      connects_.Add({{"role", role_}, {"app", app_label(e.app, false)}, {"result", "rejected"}}).Increment();
      break;
    case EventType::Disconnect:
      disconnects_.Add({{"role", role_}, {"reason", e.cause.empty() ? "other" : e.cause}}).Increment();
      break;
    case EventType::Play:
      plays_.Add({{"role", role_}, {"app", app_label(e.app)}}).Increment();
      break;
    case EventType::Publish:
      publishes_.Add({{"role", role_}, {"app", app_label(e.app)}}).Increment();
      break;
    case EventType::Seek:
      if (e.duration.count() > 0) seek_duration_.Add({{"role", role_}}, kSeekBuckets).Observe(seconds(e.duration));
      break;
    case EventType::Failover:
      failovers_.Add({{"role", role_}, {"reason", e.cause}}).Increment();
      break;
    case EventType::Proxy:
      proxy_statuses_.Add({{"role", role_}, {"code", e.code}}).Increment();
      break;
    case EventType::Fetch:
      fetch_duration_.Add({{"role", role_}, {"upstream", e.peer}}, kFetchBuckets).Observe(seconds(e.duration));
      break;
    default:
      break;
  }
}

void ServerMetrics::collect_clients(std::vector<MetricFamily>& out) {
  Snapshot connections("rewind_connections", "Open RTMP connections, by application (\"\": not connected yet)",
                       MetricType::Gauge);
  Snapshot players("rewind_players", "Connections playing a stream (viewers), by application", MetricType::Gauge);
  Snapshot publishers("rewind_publishers", "Connections publishing a stream, by application", MetricType::Gauge);
  Snapshot downstream("rewind_downstream_servers",
                      "Relays and edges connected to pull from this server, by application", MetricType::Gauge);
  std::map<std::string, std::array<double, 4>> by_app;
  for (const auto& c : observed_.context.clients.clients()) {
    auto& n = by_app[app_label(c.description.app)];
    n[0] += 1;
    if (c.description.kind == server::ClientEntry::Kind::Player) n[1] += 1;
    if (c.description.kind == server::ClientEntry::Kind::Publisher) n[2] += 1;
    if (c.description.kind == server::ClientEntry::Kind::Downstream) n[3] += 1;
  }
  for (const auto& [app, n] : by_app) {
    const Labels labels{{"app", app}, {"role", role_}};
    connections.add(labels, n[0]);
    players.add(labels, n[1]);
    publishers.add(labels, n[2]);
    downstream.add(labels, n[3]);
  }

  Snapshot bytes_in("rewind_received_bytes_total", "Bytes received from RTMP clients, by application",
                    MetricType::Counter);
  Snapshot bytes_out("rewind_sent_bytes_total", "Bytes sent to RTMP clients, by application", MetricType::Counter);
  Snapshot messages_in("rewind_received_messages_total", "RTMP messages received from clients, by application",
                       MetricType::Counter);
  Snapshot messages_out("rewind_sent_media_messages_total",
                        "Media messages (audio, video, data) queued for clients, by application",
                        MetricType::Counter);
  Snapshot ingest("rewind_ingest_bytes_total", "Media payload bytes received from publishers, by application",
                  MetricType::Counter);
  Snapshot skips("rewind_player_skips_total",
                 "Times a slow player was skipped ahead to the next keyframe, by application", MetricType::Counter);
  std::map<std::string, server::ClientTotals> totals;
  for (const auto& [app, t] : observed_.context.clients.totals_by_app()) totals[app_label(app)] += t;
  for (const auto& [app, t] : totals) {
    const Labels labels{{"app", app}, {"role", role_}};
    bytes_in.add(labels, static_cast<double>(t.bytes_in));
    bytes_out.add(labels, static_cast<double>(t.bytes_out));
    messages_in.add(labels, static_cast<double>(t.messages_in));
    messages_out.add(labels, static_cast<double>(t.messages_out));
    ingest.add(labels, static_cast<double>(t.ingest_bytes));
    skips.add(labels, static_cast<double>(t.skips));
  }

  Snapshot streams("rewind_live_streams", "Streams being published here now (pulled ones included)",
                   MetricType::Gauge);
  double live = 0;
  for (const auto& hub : observed_.context.streams.hubs()) live += hub->publishing() ? 1 : 0;
  streams.add({{"role", role_}}, live);

  for (Snapshot* s : {&connections, &players, &publishers, &downstream, &bytes_in, &bytes_out, &messages_in,
                      &messages_out, &ingest, &skips, &streams}) {
    out.push_back(std::move(s->family));
  }
}

void ServerMetrics::collect_dvr(std::vector<MetricFamily>& out) {
  if (!observed_.dvr) return;
  const dvr::RecordingStats& stats = observed_.dvr->recording_stats();
  const Labels role{{"role", role_}};
  Snapshot written("rewind_dvr_segments_written_total", "DVR segments stored", MetricType::Counter);
  written.add(role, static_cast<double>(stats.segments_written.load()));
  Snapshot written_bytes("rewind_dvr_written_bytes_total", "Bytes of DVR segments stored", MetricType::Counter);
  written_bytes.add(role, static_cast<double>(stats.bytes_written.load()));
  Snapshot errors("rewind_dvr_write_errors_total",
                  "DVR segments the store refused or that recording gave up on (a full or too slow disk)",
                  MetricType::Counter);
  errors.add(role, static_cast<double>(stats.write_errors.load()));
  Snapshot queue("rewind_dvr_write_queue_bytes", "Bytes of DVR segments waiting to be stored", MetricType::Gauge);
  queue.add(role, static_cast<double>(std::max<std::int64_t>(0, stats.queued_bytes.load())));

  Snapshot store_bytes("rewind_dvr_store_bytes", "Bytes of recorded media in the DVR store, by application",
                       MetricType::Gauge);
  Snapshot recordings("rewind_dvr_recordings", "Recordings in the DVR store, by application and whether live",
                      MetricType::Gauge);
  Snapshot window("rewind_dvr_window_seconds",
                  "The longest DVR window (recorded media one can rewind into) of the application's recordings",
                  MetricType::Gauge);
  auto listed = observed_.dvr->store().list_streams();
  if (listed) {
    struct AppDvr {
      double bytes = 0, live = 0, ended = 0, window = 0;
    };
    std::map<std::string, AppDvr> apps;
    for (const auto& info : *listed) {
      AppDvr& a = apps[app_label(info.app())];
      a.bytes += static_cast<double>(info.total_bytes());
      (info.live() ? a.live : a.ended) += 1;
      if (info.next_sequence() > info.first_sequence()) {
        a.window = std::max(a.window, (info.end_ms() - info.start_ms()) / 1000.0);
      }
    }
    for (const auto& [app, a] : apps) {
      store_bytes.add({{"app", app}, {"role", role_}}, a.bytes);
      recordings.add({{"app", app}, {"result", "live"}, {"role", role_}}, a.live);
      recordings.add({{"app", app}, {"result", "ended"}, {"role", role_}}, a.ended);
      window.add({{"app", app}, {"role", role_}}, a.window);
    }
  }
  for (Snapshot* s : {&written, &written_bytes, &errors, &queue, &store_bytes, &recordings, &window}) {
    out.push_back(std::move(s->family));
  }
}

void ServerMetrics::collect_proxy(std::vector<MetricFamily>& out) {
  const Labels role{{"role", role_}};
  if (observed_.cache) {
    const cache::CacheStats s = observed_.cache->stats();
    Snapshot requests("rewind_cache_requests_total", "DVR segment cache lookups, by tier and result",
                      MetricType::Counter);
    requests.add({{"result", "hit"}, {"role", role_}, {"tier", "memory"}}, static_cast<double>(s.memory_hits));
    requests.add({{"result", "miss"}, {"role", role_}, {"tier", "memory"}}, static_cast<double>(s.memory_misses));
    requests.add({{"result", "hit"}, {"role", role_}, {"tier", "disk"}}, static_cast<double>(s.disk_hits));
    requests.add({{"result", "miss"}, {"role", role_}, {"tier", "disk"}}, static_cast<double>(s.disk_misses));
    Snapshot bytes("rewind_cache_bytes", "Bytes of DVR segments held, by tier", MetricType::Gauge);
    bytes.add({{"role", role_}, {"tier", "memory"}}, static_cast<double>(s.memory_bytes));
    bytes.add({{"role", role_}, {"tier", "disk"}}, static_cast<double>(s.disk_bytes));
    Snapshot entries("rewind_cache_entries", "DVR segments held, by tier", MetricType::Gauge);
    entries.add({{"role", role_}, {"tier", "memory"}}, static_cast<double>(s.memory_entries));
    entries.add({{"role", role_}, {"tier", "disk"}}, static_cast<double>(s.disk_entries));
    Snapshot evictions("rewind_cache_evictions_total",
                       "DVR segments evicted, by tier (memory evictions spill to disk when it is on)",
                       MetricType::Counter);
    evictions.add({{"role", role_}, {"tier", "memory"}}, static_cast<double>(s.memory_evictions));
    evictions.add({{"role", role_}, {"tier", "disk"}}, static_cast<double>(s.disk_evictions));
    for (Snapshot* f : {&requests, &bytes, &entries, &evictions}) out.push_back(std::move(f->family));
  }
  if (!observed_.puller) return;
  auto report = observed_.puller->report(kPullerReportWait);
  if (!report) return;
  Snapshot up("rewind_proxy_upstream_up", "1 when the upstream is the one in use and answers", MetricType::Gauge);
  Snapshot current("rewind_proxy_upstream_current", "1 for the upstream in use, 0 for the others",
                   MetricType::Gauge);
  Snapshot primary("rewind_proxy_upstream_primary", "1 for the primary upstream, 0 for backups", MetricType::Gauge);
  // Applications past the label cap share "other": one series per label
  // set (any of them up or current counts).
  std::map<std::pair<std::string, std::string>, std::array<bool, 3>> upstreams;
  for (const auto& u : report->upstreams) {
    auto& flags = upstreams[{app_label(u.app), u.url}];
    flags[0] = flags[0] || u.ready;
    flags[1] = flags[1] || u.current;
    flags[2] = flags[2] || u.primary;
  }
  for (const auto& [key, flags] : upstreams) {
    const Labels labels{{"app", key.first}, {"role", role_}, {"upstream", key.second}};
    up.add(labels, flags[0] ? 1 : 0);
    current.add(labels, flags[1] ? 1 : 0);
    primary.add(labels, flags[2] ? 1 : 0);
  }
  Snapshot pulls("rewind_proxy_live_pulls", "Live streams pulled from upstream now, by application",
                 MetricType::Gauge);
  std::map<std::string, double> by_app;
  for (const auto& p : report->pulls) by_app[app_label(p.app)] += 1;
  for (const auto& [app, n] : by_app) pulls.add({{"app", app}, {"role", role_}}, n);
  const server::SegmentFetchTotals& t = report->segments;
  Snapshot fetches("rewind_proxy_segment_fetches_total", "DVR segment fetches from upstream, by result",
                   MetricType::Counter);
  fetches.add({{"result", "ok"}, {"role", role_}}, static_cast<double>(t.fetches));
  fetches.add({{"result", "error"}, {"role", role_}}, static_cast<double>(t.fetch_errors));
  Snapshot fetched("rewind_proxy_fetched_bytes_total", "Bytes of DVR segments fetched from upstream",
                   MetricType::Counter);
  fetched.add(role, static_cast<double>(t.fetched_bytes));
  Snapshot served("rewind_cache_served_bytes_total",
                  "Bytes of DVR segments given to players and downstream servers (from the cache or fetched)",
                  MetricType::Counter);
  served.add(role, static_cast<double>(t.served_bytes));
  Snapshot coalesced("rewind_cache_coalesced_waits_total",
                     "Segment reads that waited for a fetch already in flight instead of fetching",
                     MetricType::Counter);
  coalesced.add(role, static_cast<double>(t.coalesced));
  for (Snapshot* f : {&up, &current, &primary, &pulls, &fetches, &fetched, &served, &coalesced}) {
    out.push_back(std::move(f->family));
  }
}

std::vector<MetricFamily> ServerMetrics::collect() {
  std::vector<MetricFamily> out;
  Snapshot info("rewind_build_info", "Always 1: the role and version of this server", MetricType::Gauge);
  info.add({{"role", role_}, {"version", REWIND_VERSION}}, 1);
  out.push_back(std::move(info.family));
  Snapshot up_since("rewind_start_time_seconds", "When this server started, seconds since the epoch",
                    MetricType::Gauge);
  up_since.add({{"role", role_}},
               std::chrono::duration<double>(observed_.started.time_since_epoch()).count());
  out.push_back(std::move(up_since.family));
  collect_clients(out);
  collect_dvr(out);
  collect_proxy(out);
  for (auto& f : registry_->Collect()) out.push_back(std::move(f));
  for (auto& f : process_families()) out.push_back(std::move(f));
  return out;
}

std::string ServerMetrics::scrape() { return prometheus::TextSerializer().Serialize(collect()); }

}  // namespace rw::admin
