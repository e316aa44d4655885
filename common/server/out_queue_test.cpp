#include "common/server/out_queue.hpp"

#include <gtest/gtest.h>

namespace rw::server {
namespace {

SharedBuffer bytes_of(std::size_t n, std::uint8_t fill = 0xAB) { return SharedBuffer(Bytes(n, fill)); }

MediaTag video(std::uint32_t ts, bool keyframe) { return MediaTag{1, ts, keyframe, false}; }

std::size_t drain(OutQueue& q) {
  std::size_t total = 0;
  while (!q.empty()) {
    ByteView views[8];
    std::size_t n = q.gather(views);
    std::size_t sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += views[i].size();
    q.consume(sum);
    total += sum;
  }
  return total;
}

TEST(OutQueue, GathersInOrderAndConsumesPartialWrites) {
  OutQueue q;
  q.push_control(SharedBuffer(Bytes{1, 2, 3}));
  EXPECT_EQ(q.push_media(SharedBuffer(Bytes{4, 5}), video(0, true)), OutQueue::Push::Queued);
  EXPECT_EQ(q.bytes(), 5u);
  ByteView views[4];
  ASSERT_EQ(q.gather(views), 2u);
  EXPECT_EQ(views[0].size(), 3u);
  q.consume(4);  // all of the first entry and one byte of the second
  ASSERT_EQ(q.gather(views), 1u);
  ASSERT_EQ(views[0].size(), 1u);
  EXPECT_EQ(views[0][0], 5);
  q.consume(1);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(OutQueue, GrowsPastItsInitialRing) {
  OutQueue q;
  for (std::uint32_t i = 0; i < 1000; ++i) ASSERT_EQ(q.push_media(bytes_of(10), video(i, i == 0)), OutQueue::Push::Queued);
  EXPECT_EQ(q.entries(), 1000u);
  EXPECT_EQ(drain(q), 10'000u);
}

TEST(OutQueue, SkipsToNextKeyframeWhenTooFarBehind) {
  OutQueue q(OutQueueOptions{1u << 30, 1000, 3});
  ASSERT_EQ(q.push_media(bytes_of(100), video(0, true)), OutQueue::Push::Queued);
  for (std::uint32_t ts = 33; ts <= 990; ts += 33) ASSERT_EQ(q.push_media(bytes_of(100), video(ts, false)), OutQueue::Push::Queued);
  // 1023 ms after the oldest queued frame: over the 1000 ms lag.
  EXPECT_EQ(q.push_media(bytes_of(100), video(1023, false)), OutQueue::Push::Skipped);
  EXPECT_EQ(q.entries(), 0u);
  EXPECT_EQ(q.skips(), 1u);
  EXPECT_EQ(q.push_media(bytes_of(100), video(1056, false)), OutQueue::Push::Dropped);
  EXPECT_EQ(q.push_media(bytes_of(100), video(1089, true)), OutQueue::Push::Queued);
  EXPECT_EQ(q.push_media(bytes_of(100), video(1122, false)), OutQueue::Push::Queued);
  EXPECT_EQ(q.entries(), 2u);
}

TEST(OutQueue, KeepsControlEssentialAndStartedEntriesWhenSkipping) {
  OutQueue q(OutQueueOptions{1u << 30, 1000, 3});
  q.push_control(bytes_of(10));
  ASSERT_EQ(q.push_media(bytes_of(100), video(0, true)), OutQueue::Push::Queued);
  ASSERT_EQ(q.push_media(bytes_of(50), MediaTag{1, 10, false, true}), OutQueue::Push::Queued);  // sequence header
  ASSERT_EQ(q.push_media(bytes_of(100), video(20, false)), OutQueue::Push::Queued);
  q.consume(15);  // control written, the keyframe started
  EXPECT_EQ(q.push_media(bytes_of(100), video(2000, true)), OutQueue::Push::Queued);  // a keyframe resumes at once
  // Left: the started keyframe (95 bytes), the header, the new keyframe.
  EXPECT_EQ(q.entries(), 3u);
  EXPECT_EQ(q.bytes(), 95u + 50u + 100u);
}

TEST(OutQueue, ByteLimitTriggersSkipToo) {
  // Ten 100-byte frames and their entries fit; the eleventh does not.
  OutQueue probe;
  probe.push_media(bytes_of(100), video(0, true));
  const std::size_t per_frame = probe.memory();
  OutQueue q(OutQueueOptions{10 * per_frame, 60'000, 3});
  for (std::uint32_t i = 0; i < 10; ++i) ASSERT_EQ(q.push_media(bytes_of(100), video(i, i == 0)), OutQueue::Push::Queued);
  EXPECT_EQ(q.push_media(bytes_of(100), video(11, false)), OutQueue::Push::Skipped);
}

TEST(OutQueue, TinyMessagesMeetTheByteLimitByTheirMemory) {
  // One-byte frames: the limit counts what each entry costs, not only the
  // byte to write, so a flood of them is cut at about max_bytes of memory.
  OutQueue q(OutQueueOptions{64 * 1024, 60'000, 1000});
  std::size_t queued = 1;
  ASSERT_EQ(q.push_media(bytes_of(1), video(0, true)), OutQueue::Push::Queued);
  while (q.push_media(bytes_of(1), video(0, false)) == OutQueue::Push::Queued && queued < 1'000'000) ++queued;
  EXPECT_LT(queued, 64u * 1024 / 16);
  EXPECT_LE(q.memory(), 64u * 1024);
}

TEST(OutQueue, TooSlowAfterMaxSkipsWithoutCatchingUp) {
  OutQueue q(OutQueueOptions{1u << 30, 100, 2});
  std::uint32_t ts = 0;
  OutQueue::Push last = OutQueue::Push::Queued;
  auto fill_until_over = [&]() {
    OutQueue::Push r = OutQueue::Push::Queued;
    ASSERT_EQ(q.push_media(bytes_of(10), video(ts, true)), OutQueue::Push::Queued);
    while (r == OutQueue::Push::Queued) {
      ts += 40;
      r = q.push_media(bytes_of(10), video(ts, false));
    }
    last = r;
  };
  fill_until_over();
  EXPECT_EQ(last, OutQueue::Push::Skipped);
  fill_until_over();
  EXPECT_EQ(last, OutQueue::Push::Skipped);
  fill_until_over();
  EXPECT_EQ(last, OutQueue::Push::TooSlow);
}

TEST(OutQueue, CatchingUpResetsSkips) {
  OutQueue q(OutQueueOptions{1u << 30, 100, 1});
  ASSERT_EQ(q.push_media(bytes_of(10), video(0, true)), OutQueue::Push::Queued);
  EXPECT_EQ(q.push_media(bytes_of(10), video(500, false)), OutQueue::Push::Skipped);
  ASSERT_EQ(q.push_media(bytes_of(10), video(533, true)), OutQueue::Push::Queued);
  drain(q);
  EXPECT_EQ(q.skips(), 0u);
  ASSERT_EQ(q.push_media(bytes_of(10), video(566, false)), OutQueue::Push::Queued);
  EXPECT_EQ(q.push_media(bytes_of(10), video(1000, false)), OutQueue::Push::Skipped);
}

TEST(OutQueue, LagUsesSerialArithmeticAcrossWrap) {
  OutQueue q(OutQueueOptions{1u << 30, 1000, 3});
  ASSERT_EQ(q.push_media(bytes_of(10), video(0xFFFFFF00u, true)), OutQueue::Push::Queued);
  // 0x100 + 0x200 ms later, across the 32-bit wrap: well within 1000 ms.
  EXPECT_EQ(q.push_media(bytes_of(10), video(0x200, false)), OutQueue::Push::Queued);
}

TEST(OutQueue, SeekDropsOnlyTheStreamsUnsentMedia) {
  OutQueue q;
  ASSERT_EQ(q.push_media(bytes_of(100), MediaTag{1, 0, false, true}), OutQueue::Push::Queued);  // sequence header
  ASSERT_EQ(q.push_media(bytes_of(100), video(0, true)), OutQueue::Push::Queued);
  ASSERT_EQ(q.push_media(bytes_of(100), video(33, false)), OutQueue::Push::Queued);
  ASSERT_EQ(q.push_media(bytes_of(7), MediaTag{2, 33, true, false}), OutQueue::Push::Queued);  // another stream
  q.push_control(bytes_of(5));
  q.consume(150);  // the header and half of the keyframe are on the wire
  q.drop_unsent_media(1);
  // Left: the rest of the keyframe, the other stream's frame, the control bytes.
  EXPECT_EQ(q.entries(), 3u);
  EXPECT_EQ(q.bytes(), 50u + 7u + 5u);
  EXPECT_EQ(drain(q), 62u);
}

TEST(OutQueue, LagIsTheSpanOfDroppableMediaWaiting) {
  OutQueue q;
  EXPECT_EQ(q.lag_ms(1, 5000), 0u);
  ASSERT_EQ(q.push_media(bytes_of(10), MediaTag{1, 100, false, true}), OutQueue::Push::Queued);  // never dropped
  EXPECT_EQ(q.lag_ms(1, 5000), 0u);
  ASSERT_EQ(q.push_media(bytes_of(10), video(1000, true)), OutQueue::Push::Queued);
  ASSERT_EQ(q.push_media(bytes_of(10), video(1033, false)), OutQueue::Push::Queued);
  EXPECT_EQ(q.lag_ms(1, 3000), 2000u);
  EXPECT_EQ(q.lag_ms(2, 3000), 0u) << "another stream has nothing waiting";
  drain(q);
  EXPECT_EQ(q.lag_ms(1, 3000), 0u);
}

TEST(OutQueue, LagSurvivesARepublishFromTimestampZero) {
  // A publisher streamed for an hour, then reconnected and started again
  // at 0: the slow player's queue must still read as lagging.
  OutQueueOptions options;
  options.max_lag_ms = 5000;
  options.max_bytes = 1u << 30;
  OutQueue q(options);
  std::uint32_t ts = 3'600'000;
  ASSERT_EQ(q.push_media(bytes_of(10), video(ts, true)), OutQueue::Push::Queued);
  for (int i = 0; i < 30; ++i) ASSERT_EQ(q.push_media(bytes_of(10), video(ts += 33, false)), OutQueue::Push::Queued);
  // The republish: 0, 33, 66... The queue never drains (the player reads nothing).
  ts = 0;
  ASSERT_EQ(q.push_media(bytes_of(10), video(ts, true)), OutQueue::Push::Queued);
  OutQueue::Push last = OutQueue::Push::Queued;
  int pushed = 0;
  while (last == OutQueue::Push::Queued && pushed < 1000) {
    last = q.push_media(bytes_of(10), video(ts += 33, false));
    ++pushed;
  }
  EXPECT_EQ(last, OutQueue::Push::Skipped) << "no skip after " << pushed << " frames";
  // About 5 s of media (150 frames at 33 ms) after the republish, not an hour.
  EXPECT_LT(pushed, 170);
}

}  // namespace
}  // namespace rw::server
