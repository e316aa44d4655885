#include "tests/bench/report.hpp"

#include <cstdio>

#include "tests/bench/json_writer.hpp"

namespace rw::bench {

namespace {

void write_summary(JsonWriter& w, std::string_view name, const Summary& s) {
  w.key(name).begin_object();
  w.key("p50").value(s.p50).key("p95").value(s.p95).key("p99").value(s.p99).key("max").value(s.max);
  w.key("mean").value(s.mean);
  w.key("count").value(static_cast<std::uint64_t>(s.count));
  w.end_object();
}

void write_counts(JsonWriter& w, std::string_view name, const std::map<std::string, std::size_t>& counts) {
  w.key(name).begin_object();
  for (const auto& [reason, count] : counts) w.key(reason).value(static_cast<std::uint64_t>(count));
  w.end_object();
}

void write_failures(JsonWriter& w, const std::map<std::string, std::size_t>& failures) {
  write_counts(w, "failure_reasons", failures);
}

void write_run(JsonWriter& w, const Options& o, const RunTiming& t) {
  w.key("url").value(o.url_text);
  w.key("clients_requested").value(static_cast<std::uint64_t>(o.clients));
  w.key("ramp_per_s").value(o.ramp);
  w.key("duration_s").value(o.duration_s);
  w.key("ramp_s").value(t.ramp_s);
  w.key("window_s").value(t.window_s);
  w.key("interrupted").value(t.interrupted);
  w.key("bench_cpu_percent").value(t.bench_cpu_percent);
  w.key("bench_saturated").value(t.bench_cpu_percent > kBenchSaturatedPercent);
  w.key("machine_cpu_percent").value(t.machine_cpu_percent);
  if (t.server) {
    w.key("server").begin_object();
    w.key("pid").value(t.server->pid);
    w.key("cpu_percent").value(t.server->cpu_percent);
    w.key("rss_start_kb").value(t.server->rss_start_kb);
    w.key("rss_max_kb").value(t.server->rss_max_kb);
    w.key("rss_end_kb").value(t.server->rss_end_kb);
    w.key("peak_rss_kb").value(t.server->peak_rss_kb);
    w.end_object();
  }
}

double mbit_per_s(std::uint64_t bytes, double seconds) {
  return seconds > 0 ? static_cast<double>(bytes) * 8 / seconds / 1e6 : 0;
}

// The server's figures and the machine's, when measured.
std::string usage_part(const RunTiming& t) {
  char buf[200];
  std::string out;
  if (t.server) {
    std::snprintf(buf, sizeof buf, " server_cpu=%.1f%% server_rss=%.1fMB(max %.1fMB)", t.server->cpu_percent,
                  static_cast<double>(t.server->rss_end_kb) / 1024, static_cast<double>(t.server->rss_max_kb) / 1024);
    out += buf;
  }
  std::snprintf(buf, sizeof buf, " machine_cpu=%.1f%%", t.machine_cpu_percent);
  out += buf;
  if (t.bench_cpu_percent > kBenchSaturatedPercent) {
    out += " (WARNING: the bench was near saturation; lag and gaps may be its own)";
  }
  return out;
}

}  // namespace

std::string to_json(const Options& options, const PlayResult& r) {
  JsonWriter w;
  w.begin_object();
  w.key("mode").value("play");
  write_run(w, options, r.timing);
  w.key("clients").value(static_cast<std::uint64_t>(r.clients));
  w.key("connected").value(static_cast<std::uint64_t>(r.connected));
  w.key("playing").value(static_cast<std::uint64_t>(r.playing));
  w.key("failed").value(static_cast<std::uint64_t>(r.failed));
  w.key("closed").value(static_cast<std::uint64_t>(r.closed));
  w.key("behind_1s").value(static_cast<std::uint64_t>(r.behind_1s));
  write_failures(w, r.failures);
  w.key("bytes_received").value(r.bytes_received);
  w.key("messages_received").value(r.messages_received);
  w.key("receive_mbit_s").value(mbit_per_s(r.window_bytes_received, r.timing.window_s));
  w.key("acknowledgements_sent").value(r.acknowledgements_sent);
  w.key("pings_answered").value(r.pings_answered);
  w.key("lag_ms").begin_object();
  write_summary(w, "final", r.final_lag_ms);
  write_summary(w, "max", r.max_lag_ms);
  w.end_object();
  write_summary(w, "max_gap_ms", r.max_gap_ms);
  write_summary(w, "startup_ms", r.startup_ms);
  write_summary(w, "ahead_ms", r.ahead_ms);
  w.end_object();
  return w.str();
}

std::string to_json(const Options& options, const PublishResult& r) {
  JsonWriter w;
  w.begin_object();
  w.key("mode").value("publish");
  write_run(w, options, r.timing);
  w.key("file").value(options.file);
  w.key("clients").value(static_cast<std::uint64_t>(r.clients));
  w.key("connected").value(static_cast<std::uint64_t>(r.connected));
  w.key("publishing").value(static_cast<std::uint64_t>(r.publishing));
  w.key("failed").value(static_cast<std::uint64_t>(r.failed));
  w.key("dropped").value(static_cast<std::uint64_t>(r.dropped));
  w.key("behind_1s").value(static_cast<std::uint64_t>(r.behind_1s));
  write_failures(w, r.failures);
  w.key("bytes_sent").value(r.bytes_sent);
  w.key("messages_sent").value(r.messages_sent);
  w.key("send_mbit_s").value(mbit_per_s(r.window_bytes_sent, r.timing.window_s));
  w.key("file_loops").value(r.loops);
  w.key("behind_schedule_ms").begin_object();
  write_summary(w, "final", r.final_behind_ms);
  write_summary(w, "max", r.max_behind_ms);
  w.end_object();
  w.end_object();
  return w.str();
}

std::string to_json(const Options& options, const SeekResult& r) {
  JsonWriter w;
  w.begin_object();
  w.key("mode").value("seek");
  write_run(w, options, r.timing);
  w.key("seeks_per_client").value(static_cast<std::uint64_t>(options.seeks));
  w.key("interval_ms").value(static_cast<std::uint64_t>(options.seek_interval_ms));
  w.key("jitter_ms").value(static_cast<std::uint64_t>(options.seek_jitter_ms));
  w.key("play_start_ms").value(options.play_start);
  w.key("buffer_ms").value(static_cast<std::uint64_t>(options.buffer_ms));
  w.key("seed").value(options.seed);
  w.key("range_ms");
  if (options.range_ms > 0) {
    w.value(static_cast<std::uint64_t>(options.range_ms));
  } else {
    w.null();
  }
  w.key("stream_length_ms").begin_object().key("min");
  if (r.stream_length_min_ms) {
    w.value(static_cast<std::uint64_t>(*r.stream_length_min_ms));
  } else {
    w.null();
  }
  w.key("max");
  if (r.stream_length_max_ms) {
    w.value(static_cast<std::uint64_t>(*r.stream_length_max_ms));
  } else {
    w.null();
  }
  w.end_object();
  w.key("clients").value(static_cast<std::uint64_t>(r.clients));
  w.key("connected").value(static_cast<std::uint64_t>(r.connected));
  w.key("playing").value(static_cast<std::uint64_t>(r.playing));
  w.key("completed").value(static_cast<std::uint64_t>(r.completed));
  w.key("failed").value(static_cast<std::uint64_t>(r.failed));
  w.key("closed").value(static_cast<std::uint64_t>(r.closed));
  w.key("unfinished").value(static_cast<std::uint64_t>(r.unfinished));
  write_failures(w, r.failures);
  const SeekTally& t = r.seeks;
  w.key("seeks").begin_object();
  w.key("sent").value(static_cast<std::uint64_t>(t.sent));
  w.key("landed").value(static_cast<std::uint64_t>(t.landed));
  w.key("failed").value(static_cast<std::uint64_t>(t.failed));
  write_failures(w, t.failures);
  w.key("violations").value(static_cast<std::uint64_t>(t.violations));
  write_counts(w, "violation_kinds", t.violation_kinds);
  w.key("violation_examples").begin_array();
  for (const auto& example : t.examples) w.value(example);
  w.end_array();
  w.key("stale_messages").value(t.stale_messages);
  w.end_object();
  write_summary(w, "seek_to_keyframe_ms", r.seek_to_keyframe_ms);
  write_summary(w, "seek_to_notify_ms", r.seek_to_notify_ms);
  write_summary(w, "keyframe_before_target_ms", r.keyframe_before_target_ms);
  write_summary(w, "startup_ms", r.startup_ms);
  w.key("bytes_received").value(r.bytes_received);
  w.key("messages_received").value(r.messages_received);
  w.end_object();
  return w.str();
}

std::string summary_line(const SeekResult& r) {
  char buf[640];
  const Summary& k = r.seek_to_keyframe_ms;
  std::snprintf(buf, sizeof buf,
                "seek: %zu clients, %zu connected, %zu completed, %zu failed, %zu closed, %zu unfinished; "
                "%zu seeks, %zu landed, %zu failed, %zu with violations; "
                "seek to keyframe p50/p95/p99/max %.1f/%.1f/%.1f/%.1f ms (to Seek.Notify p50 %.1f ms); "
                "bench_cpu=%.1f%%",
                r.clients, r.connected, r.completed, r.failed, r.closed, r.unfinished, r.seeks.sent, r.seeks.landed,
                r.seeks.failed, r.seeks.violations, k.p50, k.p95, k.p99, k.max, r.seek_to_notify_ms.p50,
                r.timing.bench_cpu_percent);
  return std::string(buf) + usage_part(r.timing);
}

std::string summary_line(const PlayResult& r) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "play: %zu clients, %zu connected, %zu playing, %zu failed, %zu closed; "
                "lag max p50/p95/max %.0f/%.0f/%.0f ms, %zu behind >1s; "
                "largest gap p50/p95/max %.0f/%.0f/%.0f ms; %.1f Mbit/s in; bench_cpu=%.1f%%",
                r.clients, r.connected, r.playing, r.failed, r.closed, r.max_lag_ms.p50, r.max_lag_ms.p95,
                r.max_lag_ms.max, r.behind_1s, r.max_gap_ms.p50, r.max_gap_ms.p95, r.max_gap_ms.max,
                mbit_per_s(r.window_bytes_received, r.timing.window_s), r.timing.bench_cpu_percent);
  return std::string(buf) + usage_part(r.timing);
}

std::string summary_line(const PublishResult& r) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "publish: %zu clients, %zu connected, %zu publishing, %zu failed, %zu dropped; "
                "behind schedule max p50/p95/max %.0f/%.0f/%.0f ms, %zu behind >1s; %.1f Mbit/s out; "
                "bench_cpu=%.1f%%",
                r.clients, r.connected, r.publishing, r.failed, r.dropped, r.max_behind_ms.p50, r.max_behind_ms.p95,
                r.max_behind_ms.max, r.behind_1s, mbit_per_s(r.window_bytes_sent, r.timing.window_s),
                r.timing.bench_cpu_percent);
  return std::string(buf) + usage_part(r.timing);
}

std::string to_json(const Options& options, const ChurnResult& r) {
  JsonWriter w;
  w.begin_object();
  w.key("mode").value("churn");
  write_run(w, options, r.timing);
  w.key("churn_min_ms").value(static_cast<std::uint64_t>(options.churn_min_ms));
  w.key("churn_max_ms").value(static_cast<std::uint64_t>(options.churn_max_ms));
  w.key("slots").value(static_cast<std::uint64_t>(r.slots));
  w.key("started").value(static_cast<std::uint64_t>(r.started));
  w.key("vanished").value(static_cast<std::uint64_t>(r.vanished));
  w.key("failed").value(static_cast<std::uint64_t>(r.failed));
  w.key("cut_off").value(static_cast<std::uint64_t>(r.cut_off));
  write_counts(w, "failure_reasons", r.failures);
  write_summary(w, "startup_ms", r.startup_ms);
  w.end_object();
  return w.str();
}

std::string summary_line(const ChurnResult& r) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "churn: %zu slots, %zu players started, %zu vanished with a reset, %zu failed to start, "
                "%zu cut off; startup p50/p95/max %.0f/%.0f/%.0f ms; bench_cpu=%.1f%%",
                r.slots, r.started, r.vanished, r.failed, r.cut_off, r.startup_ms.p50, r.startup_ms.p95,
                r.startup_ms.max, r.timing.bench_cpu_percent);
  return std::string(buf) + usage_part(r.timing);
}

}  // namespace rw::bench
