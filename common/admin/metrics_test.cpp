#include "common/admin/metrics.hpp"

#include <gtest/gtest.h>
#include <prometheus/check_names.h>

#include <set>

#include "common/admin/test_observed.hpp"

namespace rw::admin {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;
using Kind = server::ClientEntry::Kind;

const MetricFamily* family(const std::vector<MetricFamily>& all, const std::string& name) {
  for (const auto& f : all) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string label(const prometheus::ClientMetric& m, const std::string& name) {
  for (const auto& l : m.label) {
    if (l.name == name) return l.value;
  }
  return {};
}

// The value of the series of `name` whose labels include `labels`.
double value(const std::vector<MetricFamily>& all, const std::string& name,
             const std::map<std::string, std::string>& labels) {
  const MetricFamily* f = family(all, name);
  if (!f) return -1;
  for (const auto& m : f->metric) {
    bool match = true;
    for (const auto& [k, v] : labels) match = match && label(m, k) == v;
    if (!match) continue;
    if (f->type == MetricType::Counter) return m.counter.value;
    if (f->type == MetricType::Histogram) return static_cast<double>(m.histogram.sample_count);
    return m.gauge.value;
  }
  return -1;
}

// Every family of a busy relay: clients of every kind, events of every
// type. (The puller is absent; its families are checked in the interop test
// with a real chain.)
std::vector<MetricFamily> busy_families(ObservedFixture& f, ServerMetrics& metrics) {
  f.add_client(1, "live", Kind::Publisher, "a");
  f.add_client(2, "live", Kind::Player, "a");
  f.add_client(3, "live", Kind::Downstream, "a");
  server::ServerEvent seek{server::EventType::Seek, 2, "p", "live", "a", "1000 ms", {}, {},
                           std::chrono::milliseconds(3)};
  f.events.publish(seek);
  server::ServerEvent gone{server::EventType::Disconnect, 2, "p", "live", {}, "too slow", {}, "slow_player", {}};
  f.events.publish(gone);
  return metrics.collect();
}

TEST(ServerMetrics, NamesFollowPrometheusConventions) {
  ObservedFixture f("relay");
  ServerMetrics metrics(f.observed);
  const auto all = busy_families(f, metrics);
  ASSERT_GT(all.size(), 20u);
  const std::set<std::string> allowed_labels{"role", "app", "upstream", "tier", "result", "reason", "code", "version"};
  std::set<std::string> names;
  for (const auto& fam : all) {
    SCOPED_TRACE(fam.name);
    EXPECT_TRUE(names.insert(fam.name).second) << "exported twice";
    EXPECT_TRUE(prometheus::CheckMetricName(fam.name));
    const bool process = fam.name.rfind("process_", 0) == 0;
    EXPECT_TRUE(process || fam.name.rfind("rewind_", 0) == 0) << "no rewind_ prefix";
    EXPECT_FALSE(fam.help.empty());
    const bool total = fam.name.size() > 6 && fam.name.compare(fam.name.size() - 6, 6, "_total") == 0;
    EXPECT_EQ(total, fam.type == MetricType::Counter) << "counters, and only counters, end in _total";
    // Base units only: bytes and seconds, never milliseconds or kilobytes.
    for (const char* unit : {"_ms", "_milliseconds", "_kb", "_kbytes", "_mb", "_bits"}) {
      EXPECT_EQ(fam.name.find(unit), std::string::npos) << "unit " << unit;
    }
    for (const auto& m : fam.metric) {
      for (const auto& l : m.label) {
        EXPECT_TRUE(prometheus::CheckLabelName(l.name));
        EXPECT_TRUE(allowed_labels.count(l.name)) << "label " << l.name << " is not one of the bounded ones";
      }
      if (!process) {
        EXPECT_EQ(label(m, "role"), "relay");
      }
    }
  }
  for (const char* expected :
       {"rewind_connections", "rewind_players", "rewind_publishers", "rewind_received_bytes_total",
        "rewind_sent_bytes_total", "rewind_received_messages_total", "rewind_sent_media_messages_total",
        "rewind_ingest_bytes_total", "rewind_player_skips_total", "rewind_disconnects_total",
        "rewind_dvr_seek_duration_seconds", "process_cpu_seconds_total",
        "process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds"}) {
    EXPECT_TRUE(names.count(expected)) << expected;
  }
}

TEST(ServerMetrics, CountsWhatTheEventsSay) {
  ObservedFixture f;
  ServerMetrics metrics(f.observed);
  const auto all = busy_families(f, metrics);
  EXPECT_EQ(value(all, "rewind_disconnects_total", {{"reason", "slow_player"}}), 1);
  EXPECT_EQ(value(all, "rewind_disconnects_total", {{"reason", "read_failed"}}), 0) << "exists before it happens";
  EXPECT_EQ(value(all, "rewind_dvr_seek_duration_seconds", {}), 1);
  const MetricFamily* seeks = family(all, "rewind_dvr_seek_duration_seconds");
  ASSERT_NE(seeks, nullptr);
  for (const auto& b : seeks->metric[0].histogram.bucket) {
    EXPECT_EQ(b.cumulative_count, b.upper_bound >= 0.003 ? 1u : 0u) << "le=" << b.upper_bound;
  }
  EXPECT_EQ(value(all, "rewind_players", {{"app", "live"}}), 1);
  EXPECT_EQ(value(all, "rewind_publishers", {{"app", "live"}}), 1);
  EXPECT_EQ(value(all, "rewind_downstream_servers", {{"app", "live"}}), 1);
  EXPECT_EQ(value(all, "rewind_connections", {{"app", "live"}}), 3);
  // The origin has no proxy: none of its families.
  const MetricFamily* failovers = family(all, "rewind_proxy_failovers_total");
  EXPECT_TRUE(failovers == nullptr || failovers->metric.empty());
}

TEST(ServerMetrics, ByteCountersNeverGoDownWhenAClientLeaves) {
  ObservedFixture f;
  ServerMetrics metrics(f.observed);
  auto player = f.add_client(7, "live", Kind::Player, "a");
  player->add_bytes_out(1000);
  player->add_bytes_in(10);
  EXPECT_EQ(value(metrics.collect(), "rewind_sent_bytes_total", {{"app", "live"}}), 1000);
  f.context.clients.remove(*player);
  player.reset();
  const auto after = metrics.collect();
  EXPECT_EQ(value(after, "rewind_sent_bytes_total", {{"app", "live"}}), 1000);
  EXPECT_EQ(value(after, "rewind_received_bytes_total", {{"app", "live"}}), 10);
  EXPECT_EQ(value(after, "rewind_players", {{"app", "live"}}), -1) << "no viewer left";
}

TEST(ServerMetrics, ApplicationLabelsAreCapped) {
  ObservedFixture f;
  ServerMetrics metrics(f.observed);
  for (std::uint64_t i = 0; i < ServerMetrics::kMaxApps + 20; ++i) {
    f.add_client(i + 1, "app" + std::to_string(i), Kind::Player, "s");
  }
  const auto all = metrics.collect();
  const MetricFamily* players = family(all, "rewind_players");
  ASSERT_NE(players, nullptr);
  std::set<std::string> apps;
  double total = 0;
  for (const auto& m : players->metric) {
    apps.insert(label(m, "app"));
    total += m.gauge.value;
  }
  EXPECT_EQ(apps.size(), ServerMetrics::kMaxApps + 1);
  EXPECT_TRUE(apps.count("other"));
  EXPECT_EQ(total, ServerMetrics::kMaxApps + 20) << "every viewer counted once";
}

TEST(ServerMetrics, RejectedClientsCannotUseUpTheApplicationLabels) {
  ObservedFixture f;
  f.options.apps.push_back(server::AppSettings{"live", {}, {}});
  ServerMetrics metrics(f.observed);
  for (int i = 0; i < 100; ++i) {
    std::string app = "made-up-";  // (not operator+: GCC 12's -Wrestrict misfires on it here)
    app += std::to_string(i);
    f.events.publish(server::ServerEvent{server::EventType::Reject, 1, "p", app, {}, "no application", {}, {}, {}});
  }
  for (std::uint64_t i = 0; i < ServerMetrics::kMaxApps + 5; ++i) {
    std::string app = "x";
    app += std::to_string(i);
    f.add_client(i + 1, app, Kind::Player, "s");
  }
  f.add_client(99, "live", Kind::Player, "s");
  const auto all = metrics.collect();
  EXPECT_EQ(value(all, "rewind_connects_total", {{"app", "other"}, {"result", "rejected"}}), 100);
  EXPECT_EQ(value(all, "rewind_players", {{"app", "live"}}), 1) << "a configured application keeps its label";
}

TEST(ServerMetrics, ScrapeIsTheTextFormat) {
  ObservedFixture f;
  ServerMetrics metrics(f.observed);
  f.add_client(1, "live", Kind::Player, "a")->add_bytes_out(5);
  const std::string text = metrics.scrape();
  EXPECT_NE(text.find("# TYPE rewind_sent_bytes_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("rewind_sent_bytes_total{app=\"live\",role=\"origin\"} 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE rewind_dvr_seek_duration_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("rewind_build_info{role=\"origin\",version=\""), std::string::npos);
}

}  // namespace
}  // namespace rw::admin
