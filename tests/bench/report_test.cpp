#include "tests/bench/report.hpp"

#include <gtest/gtest.h>

namespace rw::bench {
namespace {

Options play_options() {
  Options o;
  o.url_text = "rtmp://127.0.0.1/live/test";
  o.clients = 3;
  o.duration_s = 10;
  return o;
}

TEST(Report, PlayJsonHasTheFiguresTheIssueAsksFor) {
  PlayResult r;
  r.clients = 3;
  r.connected = 3;
  r.playing = 2;
  r.failed = 1;
  r.behind_1s = 1;
  r.failures["NetStream.Play.StreamNotFound"] = 1;
  r.max_lag_ms = summarize({10, 1200});
  r.max_gap_ms = summarize({40, 90});
  r.window_bytes_received = 12'500'000;
  r.timing.window_s = 10;
  r.timing.server = ServerUsage{77, 42.5, 1000, 2000, 1500, 2100};
  const std::string json = to_json(play_options(), r);
  for (const char* part :
       {R"("mode":"play")", R"("clients":3)", R"("connected":3)", R"("playing":2)", R"("failed":1)",
        R"("closed":0)", R"("behind_1s":1)", R"("failure_reasons":{"NetStream.Play.StreamNotFound":1})",
        R"("receive_mbit_s":10.000)", R"("lag_ms":{"final":{)", R"("max":{"p50":10.000,"p95":1200.000,"p99":1200.000,"max":1200.000)",
        R"("max_gap_ms":{"p50":40.000)", R"("server":{"pid":77,"cpu_percent":42.500)"}) {
    EXPECT_NE(json.find(part), std::string::npos) << part << "\n" << json;
  }
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');

  const std::string line = summary_line(r);
  EXPECT_NE(line.find("3 clients, 3 connected, 2 playing, 1 failed, 0 closed"), std::string::npos) << line;
  EXPECT_NE(line.find("1 behind >1s"), std::string::npos) << line;
  EXPECT_NE(line.find("server_cpu=42.5%"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find("WARNING"), std::string::npos);
  EXPECT_NE(json.find(R"("bench_saturated":false)"), std::string::npos);

  r.timing.bench_cpu_percent = 97;
  EXPECT_NE(summary_line(r).find("WARNING: the bench was near saturation"), std::string::npos);
  EXPECT_NE(to_json(play_options(), r).find(R"("bench_saturated":true)"), std::string::npos);
}

TEST(Report, PublishJson) {
  Options o = play_options();
  o.mode = Mode::Publish;
  o.file = "/tmp/x.flv";
  PublishResult r;
  r.clients = 2;
  r.publishing = 2;
  r.dropped = 1;
  r.max_behind_ms = summarize({5, 15});
  const std::string json = to_json(o, r);
  for (const char* part : {R"("mode":"publish")", R"("file":"/tmp/x.flv")", R"("dropped":1)",
                           R"("behind_schedule_ms":{"final":)", R"("max":{"p50":5.000)"}) {
    EXPECT_NE(json.find(part), std::string::npos) << part << "\n" << json;
  }
  EXPECT_EQ(json.find("\"server\""), std::string::npos) << "no server figures without --server-pid";
  EXPECT_NE(summary_line(r).find("2 publishing, 0 failed, 1 dropped"), std::string::npos);
}

TEST(Report, SeekJsonAndSummary) {
  Options o = play_options();
  o.mode = Mode::Seek;
  o.seeks = 2;
  o.play_start = 0;
  SeekResult r;
  r.clients = 3;
  r.connected = 3;
  r.playing = 2;
  r.completed = 1;
  r.failed = 1;
  r.unfinished = 1;
  r.failures["NetStream.Play.StreamNotFound"] = 1;
  r.stream_length_min_ms = 599'000;
  r.stream_length_max_ms = 600'009;
  r.seeks.sent = 4;
  r.seeks.landed = 3;
  r.seeks.failed = 1;
  r.seeks.failures["NetStream.Seek.InvalidTime"] = 1;
  r.seeks.violations = 1;
  r.seeks.violation_kinds["keyframe after the target"] = 1;
  r.seeks.examples.push_back("client 1 seek 2: ...");
  r.seek_to_keyframe_ms = summarize({2, 4, 40});
  r.timing.window_s = 10;
  const std::string json = to_json(o, r);
  for (const char* part :
       {R"("mode":"seek")", R"("seeks_per_client":2)", R"("interval_ms":1000)", R"("jitter_ms":100)",
        R"("range_ms":null)", R"("stream_length_ms":{"min":599000,"max":600009})", R"("completed":1)",
        R"("unfinished":1)", R"("failure_reasons":{"NetStream.Play.StreamNotFound":1})",
        R"("seeks":{"sent":4,"landed":3,"failed":1,"failure_reasons":{"NetStream.Seek.InvalidTime":1},)",
        R"("violations":1,"violation_kinds":{"keyframe after the target":1})",
        R"("violation_examples":["client 1 seek 2: ..."])",
        R"("seek_to_keyframe_ms":{"p50":4.000,"p95":40.000,"p99":40.000,"max":40.000)"}) {
    EXPECT_NE(json.find(part), std::string::npos) << part << "\n" << json;
  }
  o.range_ms = 120'000;
  EXPECT_NE(to_json(o, r).find(R"("range_ms":120000)"), std::string::npos);

  const std::string line = summary_line(r);
  EXPECT_NE(line.find("3 clients, 3 connected, 1 completed, 1 failed, 0 closed, 1 unfinished"), std::string::npos)
      << line;
  EXPECT_NE(line.find("4 seeks, 3 landed, 1 failed, 1 with violations"), std::string::npos) << line;
  EXPECT_NE(line.find("p50/p95/p99/max 4.0/40.0/40.0/40.0 ms"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace rw::bench
