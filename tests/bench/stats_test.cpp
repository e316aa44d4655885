#include "tests/bench/stats.hpp"

#include <gtest/gtest.h>

namespace rw::bench {
namespace {

TEST(Summarize, NearestRankPercentiles) {
  std::vector<double> v;
  for (int i = 20; i >= 1; --i) v.push_back(i);  // unsorted on purpose
  Summary s = summarize(v);
  EXPECT_EQ(s.count, 20u);
  EXPECT_EQ(s.p50, 10);
  EXPECT_EQ(s.p95, 19);
  EXPECT_EQ(s.p99, 20);
  EXPECT_EQ(s.max, 20);
  EXPECT_DOUBLE_EQ(s.mean, 10.5);
}

TEST(Summarize, P99OfAThousandIsThe990th) {
  std::vector<double> v;
  for (int i = 1; i <= 1000; ++i) v.push_back(i);
  Summary s = summarize(v);
  EXPECT_EQ(s.p50, 500);
  EXPECT_EQ(s.p95, 950);
  EXPECT_EQ(s.p99, 990);
  EXPECT_EQ(s.max, 1000);
}

TEST(Summarize, SmallSets) {
  Summary empty = summarize({});
  EXPECT_EQ(empty.count, 0u);
  EXPECT_EQ(empty.max, 0);
  Summary one = summarize({7});
  EXPECT_EQ(one.p50, 7);
  EXPECT_EQ(one.p95, 7);
  EXPECT_EQ(one.max, 7);
  Summary three = summarize({3, 1, 2});
  EXPECT_EQ(three.p50, 2);
  EXPECT_EQ(three.p95, 3);
}

constexpr std::int64_t kMs = 1000;  // microseconds

TEST(PlayerTimeline, RealTimeStreamHasNoLag) {
  PlayerTimeline t;
  const std::int64_t base = 5'000'000;
  for (std::uint32_t i = 0; i < 100; ++i) t.on_media(1000 + i * 40, base + i * 40 * kMs);
  EXPECT_TRUE(t.started());
  EXPECT_EQ(t.first_media_us(), base);
  EXPECT_EQ(t.lag_ms(), 0);
  EXPECT_EQ(t.max_lag_ms(), 0);
  EXPECT_EQ(t.max_gap_ms(), 40);
  EXPECT_EQ(t.ahead_ms(), 0);
  EXPECT_EQ(t.media_ms(), 99 * 40);
}

TEST(PlayerTimeline, StallThatIsNeverMadeUpIsLag) {
  PlayerTimeline t;
  for (std::uint32_t i = 0; i < 20; ++i) {
    const std::int64_t wall = i * 40 * kMs + (i >= 10 ? 1500 * kMs : 0);
    t.on_media(i * 40, wall);
  }
  EXPECT_EQ(t.max_gap_ms(), 1540);
  EXPECT_EQ(t.lag_ms(), 1500);
  EXPECT_EQ(t.max_lag_ms(), 1500);
}

TEST(PlayerTimeline, StallThatIsCaughtUpLeavesOnlyTheMaximum) {
  PlayerTimeline t;
  for (std::uint32_t i = 0; i < 10; ++i) t.on_media(i * 40, i * 40 * kMs);
  // 800 ms of silence, then 20 frames at once, then real time again.
  const std::int64_t burst_at = 9 * 40 * kMs + 800 * kMs;
  for (std::uint32_t i = 10; i < 30; ++i) t.on_media(i * 40, burst_at);
  EXPECT_NEAR(t.max_lag_ms(), 800 - 40, 0.001);
  for (std::uint32_t i = 30; i < 40; ++i) t.on_media(i * 40, burst_at + (i - 29) * 40 * kMs);
  EXPECT_LT(t.lag_ms(), 800);
  EXPECT_NEAR(t.max_lag_ms(), 760, 0.001);
  EXPECT_EQ(t.max_gap_ms(), 800);
}

TEST(PlayerTimeline, GopCacheBurstAtTheStartIsNotLag) {
  PlayerTimeline t;
  // Two seconds of media within 50 ms, then real time from the live edge.
  for (std::uint32_t i = 0; i <= 50; ++i) t.on_media(i * 40, i * kMs);
  for (std::uint32_t i = 51; i < 200; ++i) t.on_media(i * 40, 50 * kMs + (i - 50) * 40 * kMs);
  EXPECT_NEAR(t.ahead_ms(), 2000 - 50, 0.001);
  EXPECT_LE(t.max_lag_ms(), 1);
  EXPECT_EQ(t.lag_ms(), 0);
}

TEST(PlayerTimeline, FinishCountsTheSilenceAtTheEnd) {
  PlayerTimeline t;
  for (std::uint32_t i = 0; i < 10; ++i) t.on_media(i * 40, i * 40 * kMs);
  t.finish(9 * 40 * kMs + 2000 * kMs);
  EXPECT_EQ(t.lag_ms(), 2000);
  EXPECT_EQ(t.max_lag_ms(), 2000);
  EXPECT_EQ(t.max_gap_ms(), 2000);
}

TEST(PlayerTimeline, FinishWithoutMediaChangesNothing) {
  PlayerTimeline t;
  t.finish(1'000'000);
  EXPECT_FALSE(t.started());
  EXPECT_EQ(t.max_lag_ms(), 0);
  EXPECT_EQ(t.max_gap_ms(), 0);
}

TEST(PlayerTimeline, TimestampWrapIsNotAJump) {
  PlayerTimeline t;
  const std::uint32_t start = 0xFFFFFF00u;
  for (std::uint32_t i = 0; i < 20; ++i) t.on_media(start + i * 40, i * 40 * kMs);
  EXPECT_EQ(t.media_ms(), 19 * 40);
  EXPECT_EQ(t.max_lag_ms(), 0);
}

TEST(PlayerTimeline, InterleavedAudioAndVideoSlightlyOutOfOrder) {
  PlayerTimeline t;
  // Video every 33 ms, audio every 23 ms, delivered in arrival order with
  // audio a little behind the video.
  std::int64_t wall = 0;
  for (std::uint32_t i = 0; i < 30; ++i) {
    t.on_media(i * 33, wall);
    t.on_media(i * 33 > 10 ? i * 33 - 10 : 0, wall);
    wall += 33 * kMs;
  }
  EXPECT_EQ(t.media_ms(), 29 * 33) << "media time is the furthest reached";
  EXPECT_LE(t.max_lag_ms(), 0.001);
}

TEST(ScheduleLag, OnlyPastDueCounts) {
  ScheduleLag lag;
  lag.sample(1000 * kMs, 1500 * kMs);
  EXPECT_EQ(lag.current_ms(), 0);
  lag.sample(2000 * kMs, 1700 * kMs);
  EXPECT_EQ(lag.current_ms(), 300);
  lag.sample(2100 * kMs, 2200 * kMs);
  EXPECT_EQ(lag.current_ms(), 0);
  EXPECT_EQ(lag.max_ms(), 300);
}

}  // namespace
}  // namespace rw::bench

namespace rw::bench {
namespace {

TEST(PublishProgress, UnsentBytesAreLate) {
  PublishProgress p(1000, 100);
  EXPECT_FALSE(p.oldest_late_due());
  p.queued(600, 10);
  p.queued(1200, 20);
  EXPECT_EQ(p.oldest_late_due(), 10);
  p.sent(600);
  EXPECT_EQ(p.oldest_late_due(), 20);
  p.sent(1200);
  EXPECT_FALSE(p.oldest_late_due()) << "without acknowledgements, sent is done";
}

TEST(PublishProgress, AWindowPastTheLastAcknowledgementIsLate) {
  // 100 handshake bytes; the server acknowledges every 1000.
  PublishProgress p(1000, 100);
  for (int i = 1; i <= 10; ++i) p.queued(100 + static_cast<std::uint64_t>(i) * 500, i * 10);  // ends 600..5100
  p.sent(5100);
  EXPECT_FALSE(p.oldest_late_due()) << "no acknowledgement yet: the server may not acknowledge at all";
  p.acknowledged(1000);  // position 1100
  // The next acknowledgement is due once the server has read position
  // 2100: the batch ending at 2100 (due 40) has been sent, so it is late.
  EXPECT_EQ(p.oldest_late_due(), 40);
  p.acknowledged(2500);  // position 2600
  EXPECT_EQ(p.oldest_late_due(), 70);  // expects 3600: the batch ending at 3600
  p.acknowledged(5000);  // position 5100: all read
  EXPECT_FALSE(p.oldest_late_due());
  EXPECT_EQ(p.acknowledged_bytes(), 5100u);
}

TEST(PublishProgress, AcknowledgementOfUnsentBytesIsNotLateYet) {
  PublishProgress p(1000, 0);
  p.queued(500, 10);
  p.sent(500);
  p.acknowledged(500);
  p.queued(1000, 20);
  p.sent(1000);
  EXPECT_FALSE(p.oldest_late_due()) << "the next acknowledgement needs byte 1500, not sent yet";
  p.queued(1600, 30);
  EXPECT_EQ(p.oldest_late_due(), 30) << "unsent";
  p.sent(1600);
  EXPECT_EQ(p.oldest_late_due(), 30) << "sent past the window, not acknowledged";
}

TEST(PublishProgress, SequenceWraps) {
  PublishProgress p(1000, 0);
  p.acknowledged(0xFFFFFF00u);
  p.acknowledged(0x00000100u);
  EXPECT_EQ(p.acknowledged_bytes(), 0x100000100u);
}

}  // namespace
TEST(RateMeter, MbitPerSecondBetweenReadings) {
  RateMeter meter(1000, 0);
  EXPECT_DOUBLE_EQ(meter.mbit_per_s(1000 + 125'000, 1'000'000), 1.0);  // 1 Mbit in 1 s
  EXPECT_DOUBLE_EQ(meter.mbit_per_s(1000 + 125'000 + 250'000, 1'500'000), 4.0);  // 2 Mbit in 0.5 s
  EXPECT_DOUBLE_EQ(meter.mbit_per_s(2'000'000, 1'500'000), 0.0);  // no time passed
}

}  // namespace rw::bench
