// The Prometheus metrics of one Rewind process (docs/operations.md lists
// each one and what it means).
//
// Two kinds, one text: what happens (disconnects, seeks, failovers, proxy
// statuses, upstream fetches) is counted from the event bus into
// prometheus-cpp families as it happens; what is (connections, bytes,
// DVR store, cache, upstreams) is read at scrape time from the counters
// the server keeps anyway, so the RTMP hot path pays nothing for metrics.
//
// Labels are bounded: role, app (at most kMaxApps distinct values, the
// rest count as "other"), upstream (the configured URLs), tier, result,
// reason, code (status codes Rewind itself sends). No label is per stream
// or per client: the admin API has those.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/admin/observed.hpp"

namespace rw::admin {

class ServerMetrics {
 public:
  static constexpr std::size_t kMaxApps = 32;

  // Subscribes to the context's event bus: make it before the server starts.
  explicit ServerMetrics(Observed& observed);
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // Every family, as a scrape sees them.
  std::vector<prometheus::MetricFamily> collect();
  // The Prometheus text exposition format (version 0.0.4).
  std::string scrape();

 private:
  void on_event(const server::ServerEvent& event);
  // The label value for an application: itself (as valid UTF-8), or
  // "other" past kMaxApps, or when it is new and may_add is false.
  std::string app_label(const std::string& app, bool may_add = true);
  void collect_clients(std::vector<prometheus::MetricFamily>& out);
  void collect_dvr(std::vector<prometheus::MetricFamily>& out);
  void collect_proxy(std::vector<prometheus::MetricFamily>& out);

  Observed& observed_;
  const std::string role_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& connects_;
  prometheus::Family<prometheus::Counter>& disconnects_;
  prometheus::Family<prometheus::Counter>& plays_;
  prometheus::Family<prometheus::Counter>& publishes_;
  prometheus::Family<prometheus::Histogram>& seek_duration_;
  prometheus::Family<prometheus::Counter>& failovers_;
  prometheus::Family<prometheus::Counter>& proxy_statuses_;
  prometheus::Family<prometheus::Histogram>& fetch_duration_;
  std::mutex apps_mutex_;
  std::set<std::string> apps_;
};

}  // namespace rw::admin
