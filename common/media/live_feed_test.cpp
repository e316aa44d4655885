#include "common/media/live_feed.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <vector>

namespace rw::media {
namespace {

FramePtr video(std::uint32_t ts, bool key, std::size_t size = 6) {
  Bytes body(size, 0xBB);
  body[0] = key ? 0x17 : 0x27;
  body[1] = 0x01;
  return make_media_frame(rtmp::msg_type::kVideo, ts, std::move(body));
}

TEST(MediaClock, AdvancesByStepsAndIgnoresJumps) {
  MediaClock c;
  EXPECT_EQ(c.advance(3'600'000), 0u);
  EXPECT_EQ(c.advance(3'600'040), 40u);
  EXPECT_EQ(c.advance(3'600'020), 40u) << "audio interleaving a little behind video";
  EXPECT_EQ(c.advance(3'600'080), 80u);
  EXPECT_EQ(c.advance(0), 80u) << "a republish from 0 goes on from where the clock is";
  EXPECT_EQ(c.advance(33), 113u);
  EXPECT_EQ(c.advance(33 + 10'000'000), 113u) << "a jump forward is a new timeline too";
  EXPECT_EQ(c.advance(33 + 10'000'040), 153u);
  EXPECT_EQ(c.advance(0xFFFFFFF0u), 153u);
  EXPECT_EQ(c.advance(0x10), 185u) << "32-bit wrap is a step forward";
}

TEST(LiveFeed, TrimsByStreamTimeAcrossARepublishFromZero) {
  // An hour-long publish, then the encoder reconnects and starts at 0:
  // measured on raw timestamps nothing would be trimmed for an hour.
  LiveFeed feed(1, 4096, 5000, 1u << 30);
  std::uint32_t ts = 3'600'000;
  for (int i = 0; i < 300; ++i) feed.append(static_cast<std::uint64_t>(i), video(ts += 33, i % 60 == 0));
  const std::uint64_t before = feed.end() - feed.begin();
  ts = 0;
  for (int i = 0; i < 600; ++i) feed.append(static_cast<std::uint64_t>(300 + i), video(ts += 33, i % 60 == 0));
  // About 5 s at 30 fps is kept, not all 900 frames.
  EXPECT_LE(feed.end() - feed.begin(), 5000u / 33 + 2);
  EXPECT_LE(before, 5000u / 33 + 2);
  EXPECT_LE(feed.lag_ms(feed.begin()), 5000u);
}

TEST(LiveFeed, TrimsByMemory) {
  LiveFeed feed(1, 4096, 60'000, 64 * 1024);
  for (int i = 0; i < 1000; ++i) feed.append(static_cast<std::uint64_t>(i), video(0, i == 0, 1000));
  EXPECT_LE(feed.held_bytes(), 64u * 1024);
  EXPECT_GT(feed.end() - feed.begin(), 10u);
  EXPECT_EQ(feed.bytes_from(feed.end() - 1), feed.at(feed.end() - 1).bytes.size());
}

TEST(LiveFeed, FindsAFrameItHolds) {
  LiveFeed feed(1, 4096, 60'000, 1u << 30);
  FramePtr key = video(100, true);
  feed.append(1, video(67, false));
  feed.append(2, key);
  feed.append(3, video(133, false));
  ASSERT_TRUE(feed.find(key));
  EXPECT_EQ(feed.at(*feed.find(key)).frame, key);
  EXPECT_FALSE(feed.find(video(100, true)));
}

struct Reader final : FeedReader {
  std::function<void()> on_ready;
  int calls = 0;
  void feed_ready() override {
    ++calls;
    if (on_ready) on_ready();
  }
};

TEST(FeedRegistration, LeavesTheFeedOnEveryPath) {
  auto feed = std::make_shared<LiveFeed>(1, 4096, 5000, 1u << 20);
  Reader a, b;
  {
    FeedRegistration ra(feed, a);
    FeedRegistration rb(feed, b);
    EXPECT_EQ(feed->reader_count(), 2u);
    FeedRegistration moved = std::move(rb);
    EXPECT_EQ(feed->reader_count(), 2u);
    moved.reset();
    EXPECT_EQ(feed->reader_count(), 1u);
    feed->notify_readers();
    EXPECT_EQ(a.calls, 1);
    EXPECT_EQ(b.calls, 0);
  }
  EXPECT_EQ(feed->reader_count(), 0u);
  feed->notify_readers();  // nobody left to call
  EXPECT_EQ(a.calls, 1);
}

TEST(FeedRegistration, ReadersMayLeaveWhileTheFeedCallsThem) {
  // A reader whose write fails tears its connection down from inside
  // feed_ready(); it may also drop another reader (both leave the feed).
  auto feed = std::make_shared<LiveFeed>(1, 4096, 5000, 1u << 20);
  Reader first, second, third;
  auto r1 = std::make_unique<FeedRegistration>(feed, first);
  auto r2 = std::make_unique<FeedRegistration>(feed, second);
  auto r3 = std::make_unique<FeedRegistration>(feed, third);
  first.on_ready = [&] {
    r1.reset();
    r2.reset();
  };
  feed->notify_readers();
  EXPECT_EQ(first.calls, 1);
  EXPECT_EQ(second.calls, 0) << "a reader that left during the round is not called";
  EXPECT_EQ(third.calls, 1);
  EXPECT_EQ(feed->reader_count(), 1u);
  feed->notify_readers();
  EXPECT_EQ(third.calls, 2);
}

}  // namespace
}  // namespace rw::media
