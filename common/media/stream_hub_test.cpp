#include "common/media/stream_hub.hpp"

#include <gtest/gtest.h>

#include <deque>

namespace rw::media {
namespace {

// Runs posted functions when told to, like one worker thread's loop.
class ManualExecutor final : public Executor {
 public:
  void post(std::function<void()> fn) override {
    queue_.push_back(std::move(fn));
    ++posts;
  }
  void run() {
    while (!queue_.empty()) {
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      fn();
    }
  }
  int posts = 0;

 private:
  std::deque<std::function<void()>> queue_;
};

struct Recorder final : LiveSubscriber {
  void on_publish_start() override { log.push_back("start"); }
  void on_frame(ChunkedFrameCache& f) override {
    timestamps.push_back(f.frame()->timestamp);
    log.push_back("frame");
    if (on_frame_hook) on_frame_hook();
  }
  void on_unpublish() override { log.push_back("unpublish"); }
  std::vector<std::string> log;
  std::vector<std::uint32_t> timestamps;
  std::function<void()> on_frame_hook;
};

MutableFramePtr video(std::uint32_t ts, bool key) {
  Bytes body = key ? Bytes{0x17, 0x01, 0, 0, 0, 0xAA} : Bytes{0x27, 0x01, 0, 0, 0, 0xBB};
  return make_media_frame(rtmp::msg_type::kVideo, ts, std::move(body));
}
MutableFramePtr video_header() { return make_media_frame(rtmp::msg_type::kVideo, 0, Bytes{0x17, 0x00, 0, 0, 0, 1, 2}); }
MutableFramePtr audio(std::uint32_t ts) { return make_media_frame(rtmp::msg_type::kAudio, ts, Bytes{0xAF, 0x01, 0x21}); }
MutableFramePtr audio_header() { return make_media_frame(rtmp::msg_type::kAudio, 0, Bytes{0xAF, 0x00, 0x12, 0x10}); }

TEST(Frame, ClassifiesKeyframesAndHeaders) {
  EXPECT_TRUE(video(0, true)->keyframe);
  EXPECT_FALSE(video(0, false)->keyframe);
  EXPECT_TRUE(video_header()->sequence_header);
  EXPECT_FALSE(video_header()->keyframe);
  EXPECT_TRUE(audio_header()->sequence_header);
  EXPECT_FALSE(audio(0)->sequence_header);
}

TEST(Frame, ChunkedCacheBuildsOncePerVariant) {
  FramePtr f = video(1000, true);
  ChunkedFrameCache cache(f);
  const SharedBuffer& a = cache.get(1, 4096);
  const SharedBuffer& b = cache.get(1, 4096);
  EXPECT_EQ(a.data(), b.data());
  // Type-0 header on the video chunk stream: fmt 0, csid 7, ts 1000,
  // length 6, type 9, stream id 1 (little-endian).
  EXPECT_EQ(to_hex(a.view()), "07" "0003e8" "000006" "09" "01000000" "1701000000aa");
}

TEST(StreamHub, SecondPublisherIsRefused) {
  StreamHub hub("live", "test", {});
  EXPECT_TRUE(hub.start_publish());
  EXPECT_FALSE(hub.start_publish());
  hub.stop_publish();
  EXPECT_TRUE(hub.start_publish());
}

TEST(StreamHub, NewPlayerGetsHeadersAndGopFromLatestKeyframe) {
  StreamHub hub("live", "test", {});
  ASSERT_TRUE(hub.start_publish());
  hub.publish(make_metadata_frame(0, Bytes{0x02, 0x00, 0x0a}));
  hub.publish(video_header());
  hub.publish(audio_header());
  hub.publish(video(0, true));
  hub.publish(audio(10));
  hub.publish(video(33, false));
  hub.publish(video(66, true));  // a new GOP starts here
  hub.publish(audio(70));
  hub.publish(video(100, false));

  ManualExecutor exec;
  Recorder player;
  StartState start = hub.subscribe(player, exec);
  EXPECT_TRUE(start.publishing);
  ASSERT_TRUE(start.metadata && start.video_header && start.audio_header);
  ASSERT_EQ(start.gop.size(), 3u);
  EXPECT_EQ(start.gop[0]->timestamp, 66u);
  EXPECT_TRUE(start.gop[0]->keyframe);
  EXPECT_EQ(start.gop[2]->timestamp, 100u);
  hub.unsubscribe(player, exec);
}

TEST(StreamHub, FramesReachSubscribersThroughTheirExecutorOncePerThread) {
  StreamHub hub("live", "test", {});
  ManualExecutor thread_a, thread_b;
  Recorder a1, a2, b1;
  hub.subscribe(a1, thread_a);
  hub.subscribe(a2, thread_a);
  hub.subscribe(b1, thread_b);
  ASSERT_TRUE(hub.start_publish());
  hub.publish(video(0, true));
  hub.publish(video(33, false));
  // One post per event per thread, whatever the number of players there.
  EXPECT_EQ(thread_a.posts, 3);
  EXPECT_EQ(thread_b.posts, 3);
  EXPECT_TRUE(a1.log.empty());
  thread_a.run();
  thread_b.run();
  for (Recorder* r : {&a1, &a2, &b1}) {
    EXPECT_EQ(r->log, (std::vector<std::string>{"start", "frame", "frame"}));
  }
  hub.stop_publish();
  thread_a.run();
  EXPECT_EQ(a1.log.back(), "unpublish");
  EXPECT_EQ(hub.subscriber_count(), 3u);
}

TEST(StreamHub, AFeedNobodyReadsIsNotHandedToTheNextReader) {
  // The only feed reader on a thread switches to callbacks (it filters
  // audio): the feed stops growing. A player joining later must get a
  // fresh feed, not the old frames followed by a gap.
  StreamHub hub("live", "test", {});
  ManualExecutor thread;
  Recorder first, second;
  ASSERT_TRUE(hub.start_publish());
  FeedOptions feed;
  StartState s1 = hub.subscribe(first, thread, &feed);
  ASSERT_TRUE(s1.feed);
  hub.publish(video(0, true));
  thread.run();
  ASSERT_EQ(s1.feed->end() - s1.feed->begin(), 1u);
  hub.stop_reading_feed(first, thread);
  hub.publish(video(33, false));
  hub.publish(video(66, false));
  thread.run();
  StartState s2 = hub.subscribe(second, thread, &feed);
  ASSERT_TRUE(s2.feed);
  EXPECT_NE(s2.feed, s1.feed);
  EXPECT_FALSE(s2.feed->find(s2.gop.front())) << "the new reader would start at the keyframe, then jump";
  hub.unsubscribe(first, thread);
  hub.unsubscribe(second, thread);
}

TEST(StreamHub, JoinSnapshotAndQueuedEventsNeverOverlap) {
  StreamHub hub("live", "test", {});
  ManualExecutor exec;
  Recorder early;
  hub.subscribe(early, exec);  // makes a fanout on exec
  ASSERT_TRUE(hub.start_publish());
  hub.publish(video(0, true));
  hub.publish(video(33, false));
  // These events are queued on exec but not yet run when `late` joins: its
  // snapshot already holds them, so it must not get them again.
  Recorder late;
  StartState s = hub.subscribe(late, exec);
  ASSERT_EQ(s.gop.size(), 2u);
  hub.publish(video(66, false));
  exec.run();
  EXPECT_EQ(early.timestamps, (std::vector<std::uint32_t>{0, 33, 66}));
  EXPECT_EQ(late.timestamps, (std::vector<std::uint32_t>{66}));
}

TEST(StreamHub, SubscriberMayLeaveFromInsideItsCallback) {
  StreamHub hub("live", "test", {});
  ManualExecutor exec;
  Recorder a, b;
  hub.subscribe(a, exec);
  hub.subscribe(b, exec);
  a.on_frame_hook = [&] { hub.unsubscribe(a, exec); };
  ASSERT_TRUE(hub.start_publish());
  hub.publish(video(0, true));
  hub.publish(video(33, false));
  exec.run();
  EXPECT_EQ(a.timestamps, (std::vector<std::uint32_t>{0}));
  EXPECT_EQ(b.timestamps, (std::vector<std::uint32_t>{0, 33}));
  EXPECT_EQ(hub.subscriber_count(), 1u);
}

TEST(StreamHub, GopCacheGivesUpBeyondItsLimitUntilNextKeyframe) {
  HubOptions options;
  options.gop_max_frames = 3;
  StreamHub hub("live", "test", options);
  ASSERT_TRUE(hub.start_publish());
  hub.publish(video(0, true));
  for (std::uint32_t ts = 33; ts < 200; ts += 33) hub.publish(video(ts, false));
  ManualExecutor exec;
  Recorder r;
  EXPECT_TRUE(hub.subscribe(r, exec).gop.empty());
  hub.unsubscribe(r, exec);
  hub.publish(video(300, true));
  EXPECT_EQ(hub.subscribe(r, exec).gop.size(), 1u);
  hub.unsubscribe(r, exec);
}

TEST(StreamHub, RepublishForgetsTheOldPublishersHeaders) {
  StreamHub hub("live", "test", {});
  ASSERT_TRUE(hub.start_publish());
  hub.publish(video_header());
  hub.publish(video(0, true));
  hub.stop_publish();
  ASSERT_TRUE(hub.start_publish());
  ManualExecutor exec;
  Recorder r;
  StartState s = hub.subscribe(r, exec);
  EXPECT_FALSE(s.video_header);
  EXPECT_TRUE(s.gop.empty());
  hub.unsubscribe(r, exec);
}

MutableFramePtr numbered(MutableFramePtr f, std::uint64_t position) {
  auto copy = std::make_shared<Frame>(*f);
  copy->position = position;
  return copy;
}

TEST(StreamHub, RecordingTailHandsOverAtAPosition) {
  StreamHub hub("live", "test", {});
  ManualExecutor exec;
  Recorder r;
  EXPECT_EQ(hub.subscribe_from(1, r, exec).result, StreamHub::TailJoin::Result::NotLive);
  ASSERT_TRUE(hub.start_publish());
  hub.set_recorded(true, 1u << 20);
  for (std::uint64_t p = 1; p <= 10; ++p) hub.publish(numbered(video(static_cast<std::uint32_t>(p * 33), p == 1), p));
  hub.mark_durable(5);  // frames 1..4 are in the store
  EXPECT_EQ(hub.subscribe_from(3, r, exec).result, StreamHub::TailJoin::Result::InStore);
  auto join = hub.subscribe_from(7, r, exec);
  ASSERT_EQ(join.result, StreamHub::TailJoin::Result::Joined);
  ASSERT_EQ(join.frames.size(), 4u);
  EXPECT_EQ(join.frames.front()->position, 7u);
  EXPECT_EQ(join.frames.back()->position, 10u);
  hub.publish(numbered(video(363, false), 11));
  exec.run();
  // Only frame 11 arrives live: 7..10 came with the join.
  EXPECT_EQ(r.timestamps, (std::vector<std::uint32_t>{363}));
  EXPECT_EQ(hub.last_position(), 11u);
  EXPECT_EQ(hub.last_timestamp(), 363u);
  hub.unsubscribe(r, exec);

  Recorder next;
  auto at_edge = hub.subscribe_from(12, next, exec);
  EXPECT_EQ(at_edge.result, StreamHub::TailJoin::Result::Joined);
  EXPECT_TRUE(at_edge.frames.empty());
  hub.unsubscribe(next, exec);
}

TEST(StreamHub, RecordingTailIsBounded) {
  StreamHub hub("live", "test", {});
  ASSERT_TRUE(hub.start_publish());
  // Bodies are 6 bytes; with each frame's own memory counted, three fit.
  hub.set_recorded(true, 3 * memory_cost(*video(0, false)) + 2);
  for (std::uint64_t p = 1; p <= 10; ++p) hub.publish(numbered(video(static_cast<std::uint32_t>(p), p == 1), p));
  ManualExecutor exec;
  Recorder r;
  EXPECT_EQ(hub.subscribe_from(7, r, exec).result, StreamHub::TailJoin::Result::InStore);
  auto join = hub.subscribe_from(8, r, exec);
  ASSERT_EQ(join.result, StreamHub::TailJoin::Result::Joined);
  EXPECT_EQ(join.frames.size(), 3u);
  hub.unsubscribe(r, exec);
}

TEST(StreamHub, AProxiedTailIsNumberedFromAnAnchor) {
  // An edge's pull: frames come without positions; the upstream's index
  // says its next segment starts with the keyframe at 1000, number 501.
  StreamHub hub("live", "pulled", {});
  ASSERT_TRUE(hub.start_publish());
  hub.set_proxied_tail(1u << 20, 10'000);
  for (std::uint32_t t = 0; t < 2000; t += 100) hub.publish(video(t, t % 1000 == 0));
  ManualExecutor exec;
  Recorder r;
  EXPECT_EQ(hub.subscribe_from(501, r, exec).result, StreamHub::TailJoin::Result::NotLive) << "not anchored yet";
  EXPECT_FALSE(hub.anchor(1500, 501)) << "no keyframe there";
  ASSERT_TRUE(hub.anchor(1000, 501));
  EXPECT_TRUE(hub.anchored());
  EXPECT_EQ(hub.last_position(), 510u);  // 1000..1900: ten frames, 501..510
  // The GOP cache a new player (or a downstream pull) starts from is
  // numbered too.
  auto from = hub.gop_anchor();
  ASSERT_TRUE(from);
  EXPECT_EQ(from->timestamp, 1000u);
  EXPECT_EQ(from->position, 501u);
  // A player sent the frame at 1300 before the anchor goes on at 505.
  EXPECT_EQ(hub.position_after(1300), std::optional<std::uint64_t>(505u));
  EXPECT_FALSE(hub.position_after(900)) << "before the anchor: no number";
  hub.publish(video(2000, true));
  EXPECT_EQ(hub.last_position(), 511u) << "frames to come are numbered on";
  auto join = hub.subscribe_from(505, r, exec);
  ASSERT_EQ(join.result, StreamHub::TailJoin::Result::Joined);
  ASSERT_EQ(join.frames.size(), 7u);
  EXPECT_EQ(join.frames.front()->timestamp, 1400u);
  EXPECT_EQ(join.frames.front()->position, 505u);
  EXPECT_EQ(join.frames.back()->position, 511u);
  hub.unsubscribe(r, exec);
  // A gap in the pull: numbers stop until the next anchor.
  hub.unanchor();
  hub.publish(video(2100, false));
  EXPECT_EQ(hub.subscribe_from(512, r, exec).result, StreamHub::TailJoin::Result::NotLive);
  // Only the last keep_ms stay.
  for (std::uint32_t t = 2200; t < 20'000; t += 100) hub.publish(video(t, t % 1000 == 0));
  EXPECT_FALSE(hub.anchor(1000, 501)) << "trimmed";
}

TEST(StreamRegistry, AppAndNameStayApart) {
  // Both may contain '/': "a/b" + "c" and "a" + "b/c" are two streams.
  StreamRegistry registry;
  auto one = registry.acquire("a/b", "c");
  auto two = registry.acquire("a", "b/c");
  EXPECT_NE(one, two);
  EXPECT_TRUE(one->start_publish());
  EXPECT_TRUE(two->start_publish()) << "the second stream's publisher got BadName";
  registry.release(one);
  registry.release(two);
}

TEST(StreamRegistry, HubLivesWhileHeld) {
  StreamRegistry registry;
  auto a = registry.acquire("live", "x");
  auto b = registry.acquire("live", "x");
  auto y = registry.acquire("live", "y");
  EXPECT_EQ(a, b);
  EXPECT_NE(y, a);
  registry.release(a);
  EXPECT_EQ(registry.hubs().size(), 2u);
  registry.release(b);
  ASSERT_EQ(registry.hubs().size(), 1u);
  EXPECT_EQ(registry.hubs()[0]->name(), "y");
  registry.release(y);
  EXPECT_TRUE(registry.hubs().empty());
  // A later acquire of "x" makes a new hub.
  auto again = registry.acquire("live", "x");
  EXPECT_NE(again, a);
  registry.release(again);
}

}  // namespace
}  // namespace rw::media
