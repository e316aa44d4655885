#include "tests/bench/options.hpp"

#include <gtest/gtest.h>

namespace rw::bench {
namespace {

TEST(RtmpUrl, ParsesHostPortAppAndStream) {
  auto url = parse_rtmp_url("rtmp://127.0.0.1:19350/live/test");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 19350);
  EXPECT_EQ(url->app, "live");
  EXPECT_EQ(url->stream, "test");
  EXPECT_EQ(url->tc_url, "rtmp://127.0.0.1:19350/live");
}

TEST(RtmpUrl, DefaultPortIs1935) {
  auto url = parse_rtmp_url("rtmp://example.org/app/stream");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->port, 1935);
  EXPECT_EQ(url->tc_url, "rtmp://example.org:1935/app");
}

TEST(RtmpUrl, StreamKeepsFurtherSlashesAndQuery) {
  auto url = parse_rtmp_url("rtmp://h/live/a/b?key=1");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->app, "live");
  EXPECT_EQ(url->stream, "a/b?key=1");
}

TEST(RtmpUrl, RejectsWhatIsNotAStreamUrl) {
  for (const char* bad : {"", "http://h/live/s", "rtmp://", "rtmp://h", "rtmp://h/live", "rtmp://h/live/",
                          "rtmp://h//s", "rtmp://:1935/live/s", "rtmp://h:0/live/s", "rtmp://h:65536/live/s",
                          "rtmp://h:x/live/s", "rtmp://h:19x/live/s"}) {
    EXPECT_FALSE(parse_rtmp_url(bad)) << bad;
  }
}

TEST(IndexedStreamName, SuffixesOnlyWhenThereAreSeveral) {
  EXPECT_EQ(indexed_stream_name("cam", 0, 1), "cam");
  EXPECT_EQ(indexed_stream_name("cam", 0, 2), "cam-0");
  EXPECT_EQ(indexed_stream_name("cam", 499, 500), "cam-499");
  EXPECT_EQ(indexed_stream_name("cam?key=1", 2, 3), "cam-2?key=1");
}

TEST(ClientsDue, RampsAtTheRateStartingWithOne) {
  EXPECT_EQ(clients_due(0, 100, 1000), 1u);
  EXPECT_EQ(clients_due(0.009, 100, 1000), 1u);
  EXPECT_EQ(clients_due(0.01, 100, 1000), 2u);
  EXPECT_EQ(clients_due(0.5, 100, 1000), 51u);
  EXPECT_EQ(clients_due(9.99, 100, 1000), 1000u);
  EXPECT_EQ(clients_due(1e6, 100, 1000), 1000u);
  EXPECT_EQ(clients_due(1, 100, 0), 0u);
  EXPECT_EQ(clients_due(-1, 100, 10), 0u);
}

std::vector<std::string_view> words(std::initializer_list<std::string_view> w) { return w; }

TEST(ParseOptions, PlayWithEverything) {
  auto o = parse_options(words({"play", "--url", "rtmp://127.0.0.1:1935/live/test", "--clients", "3000", "--ramp",
                                "500", "--duration", "60", "--json", "out.json", "--start", "-1", "--buffer-ms", "3000",
                                "--timeout", "5", "--report-interval", "0", "--server-pid", "42", "--read-buffer",
                                "4096", "--chunk-size", "60000", "--delayed-ack", "on"}));
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->mode, Mode::Play);
  EXPECT_EQ(o->url.stream, "test");
  EXPECT_EQ(o->clients, 3000u);
  EXPECT_EQ(o->ramp, 500);
  EXPECT_EQ(o->duration_s, 60);
  EXPECT_EQ(o->json_path, "out.json");
  EXPECT_EQ(o->play_start, -1);
  EXPECT_EQ(o->buffer_ms, 3000u);
  EXPECT_EQ(o->timeout_s, 5);
  EXPECT_EQ(o->report_interval_s, 0);
  EXPECT_EQ(o->server_pid, 42);
  EXPECT_EQ(o->read_buffer, 4096u);
  EXPECT_EQ(o->chunk_size, 60000u);
  EXPECT_TRUE(o->delayed_ack);
}

TEST(ParseOptions, Defaults) {
  auto o = parse_options(words({"play", "--url", "rtmp://h/live/s"}));
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->clients, 1u);
  EXPECT_EQ(o->play_start, -2);
  EXPECT_EQ(o->chunk_size, 4096u);
  EXPECT_FALSE(o->delayed_ack);
}

TEST(ParseOptions, PublishNeedsAFile) {
  EXPECT_FALSE(parse_options(words({"publish", "--url", "rtmp://h/live/s"})));
  auto o = parse_options(words({"publish", "--url", "rtmp://h/live/s", "--file", "x.flv", "--clients", "500"}));
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->mode, Mode::Publish);
  EXPECT_EQ(o->file, "x.flv");
}

TEST(ParseOptions, SeekPlaysFromTheStartAndCapsTheRun) {
  auto o = parse_options(words({"seek", "--url", "rtmp://h/live/dvr10", "--clients", "100", "--seeks", "10"}));
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->mode, Mode::Seek);
  EXPECT_EQ(o->seeks, 10u);
  EXPECT_EQ(o->play_start, 0) << "seeking is into a recording";
  EXPECT_EQ(o->seek_interval_ms, 1000u);
  EXPECT_EQ(o->seek_jitter_ms, 100u);
  EXPECT_EQ(o->range_ms, 0u) << "ask getStreamLength";
  EXPECT_EQ(o->seed, 1u);
  EXPECT_EQ(o->buffer_ms, 1000u);
  // 11 waits (play, then 10 seeks) of timeout + interval + jitter, plus a timeout.
  EXPECT_DOUBLE_EQ(o->duration_s, 11 * (10 + 1.1) + 10);
  EXPECT_DOUBLE_EQ(o->duration_s, seek_duration_cap_s(10, 1100, 10));
}

TEST(ParseOptions, SeekWithEverything) {
  auto o = parse_options(words({"seek", "--url", "rtmp://h/live/dvr10", "--seeks", "0", "--interval-ms", "250",
                                "--jitter-ms", "0", "--range-ms", "600000", "--seed", "18446744073709551615",
                                "--start", "5000", "--duration", "7", "--timeout", "2"}));
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->seeks, 0u);
  EXPECT_EQ(o->seek_interval_ms, 250u);
  EXPECT_EQ(o->seek_jitter_ms, 0u);
  EXPECT_EQ(o->range_ms, 600000u);
  EXPECT_EQ(o->seed, 18446744073709551615u);
  EXPECT_EQ(o->play_start, 5000);
  EXPECT_EQ(o->duration_s, 7) << "a given duration is kept";
  EXPECT_EQ(o->timeout_s, 2);
}

TEST(ParseOptions, PlayKeepsItsDefaultsWhenSeekOptionsAreGiven) {
  auto o = parse_options(words({"play", "--url", "rtmp://h/live/s", "--seeks", "3"}));
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->play_start, -2);
  EXPECT_EQ(o->duration_s, 30);
}

TEST(ParseOptions, ChurnTakesItsPlayRange) {
  auto o = parse_options(words({"churn", "--url", "rtmp://h/live/s", "--clients", "120", "--churn-min-ms", "50",
                                "--churn-max-ms", "900"}));
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->mode, Mode::Churn);
  EXPECT_EQ(o->clients, 120u);
  EXPECT_EQ(o->churn_min_ms, 50u);
  EXPECT_EQ(o->churn_max_ms, 900u);
}

TEST(ParseOptions, ErrorsNameTheProblem) {
  struct Case {
    std::vector<std::string_view> args;
    std::string_view message_part;
  };
  const std::vector<Case> cases = {
      {{}, "missing mode"},
      {{"record"}, "unknown mode 'record' (play, publish, seek or churn)"},
      {{"play"}, "--url is required"},
      {{"play", "--url"}, "missing value after --url"},
      {{"churn", "--url", "rtmp://h/a/s", "--churn-min-ms", "2000", "--churn-max-ms", "100"},
       "--churn-min-ms is over --churn-max-ms"},
      {{"play", "--url", "http://x/y/z"}, "bad URL"},
      {{"play", "--url", "rtmp://h/a/s", "--clients", "0"}, "bad value '0' for --clients"},
      {{"play", "--url", "rtmp://h/a/s", "--clients", "12x"}, "bad value"},
      {{"play", "--url", "rtmp://h/a/s", "--ramp", "0"}, "--ramp"},
      {{"play", "--url", "rtmp://h/a/s", "--duration", "-1"}, "--duration"},
      {{"play", "--url", "rtmp://h/a/s", "--duration", "nan"}, "--duration"},
      {{"play", "--url", "rtmp://h/a/s", "--chunk-size", "64"}, "--chunk-size"},
      {{"play", "--url", "rtmp://h/a/s", "--read-buffer", "10"}, "--read-buffer"},
      {{"play", "--url", "rtmp://h/a/s", "--delayed-ack", "yes"}, "--delayed-ack"},
      {{"play", "--url", "rtmp://h/a/s", "--frobnicate", "1"}, "unknown option --frobnicate"},
      {{"seek", "--url", "rtmp://h/a/s", "--seeks", "-1"}, "--seeks"},
      {{"seek", "--url", "rtmp://h/a/s", "--range-ms", "0"}, "bad value '0' for --range-ms"},
      {{"seek", "--url", "rtmp://h/a/s", "--range-ms", "4294967296"}, "--range-ms"},
      {{"seek", "--url", "rtmp://h/a/s", "--interval-ms", "1.5"}, "--interval-ms"},
      {{"seek", "--url", "rtmp://h/a/s", "--jitter-ms", "x"}, "--jitter-ms"},
      {{"seek", "--url", "rtmp://h/a/s", "--seed", "-3"}, "--seed"},
  };
  for (const auto& c : cases) {
    auto o = parse_options(c.args);
    ASSERT_FALSE(o) << c.message_part;
    EXPECT_NE(o.error().find(c.message_part), std::string::npos) << o.error();
  }
}

}  // namespace
}  // namespace rw::bench
