#include "common/dvr/recorder.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>

#include "common/dvr/test_media.hpp"
#include "common/dvr/test_store.hpp"

namespace rw::dvr {
namespace {

// Runs posted functions when told to: the publisher's thread and the
// store's writer thread, driven by the test.
class ManualExecutor final : public media::Executor {
 public:
  void post(std::function<void()> fn) override { queue_.push_back(std::move(fn)); }
  std::size_t run() {
    std::size_t n = 0;
    while (!queue_.empty()) {
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      fn();
      ++n;
    }
    return n;
  }
  bool idle() const { return queue_.empty(); }

 private:
  std::deque<std::function<void()>> queue_;
};

struct Listener final : RecorderListener {
  void on_recording_durable(std::uint64_t next_position) override { durable.push_back(next_position); }
  void on_recording_failed(const std::string& why, bool no_space) override {
    failures.push_back(why);
    full = no_space;
  }
  std::vector<std::uint64_t> durable;
  std::vector<std::string> failures;
  bool full = false;
};

struct Fixture {
  test_store::TempDir dir;
  std::unique_ptr<SegmentStore> store = std::move(*SegmentStore::open(dir.sub("db")));
  ManualExecutor writer, owner;
  ManualClock clock;
  Listener listener;

  std::shared_ptr<Recorder> recorder(RecordMode mode, std::size_t queue_max = 256u << 20) {
    auto begun = store->begin_recording("live", "cam", mode, clock.wall_ms());
    EXPECT_TRUE(begun);
    RecorderOptions options;
    options.app = "live";
    options.name = "cam";
    options.segmenter.target_ms = 1000;
    options.write_queue_max_bytes = queue_max;
    return Recorder::create(*store, writer, owner, clock, options, *begun, &listener);
  }
  void settle() {
    while (!writer.idle() || !owner.idle()) {
      writer.run();
      owner.run();
    }
  }
};

// Records frames the way a PublishStream does: numbered by the recorder
// before they would be shared.
std::vector<std::uint64_t> feed(Recorder& r, const std::vector<media::FramePtr>& frames) {
  std::vector<std::uint64_t> positions;
  for (const auto& f : frames) {
    media::Frame copy = *f;
    r.record(copy);
    positions.push_back(copy.position);
  }
  return positions;
}

TEST(Recorder, NumbersFramesAndStoresSegmentsOffThePublishersThread) {
  Fixture fx;
  auto rec = fx.recorder(RecordMode::NewRecording);
  // Keyframes every second, 100 ms frames, 5 s: cuts at 1 s, 2 s, ...
  auto frames = test_media::video_stream({0, 1000, 2000, 3000, 4000}, 5000);
  auto positions = feed(*rec, frames);
  // Headers and metadata before the first keyframe are carried as the first
  // segment's "in effect" fields, not numbered; every frame from the first
  // keyframe on is numbered, consecutively from 1.
  std::size_t first = 0;
  while (first < frames.size() && !frames[first]->keyframe) {
    EXPECT_EQ(positions[first], 0u) << first;
    ++first;
  }
  ASSERT_LT(first, frames.size());
  for (std::size_t i = first; i < positions.size(); ++i) EXPECT_EQ(positions[i], i - first + 1) << i;
  // Nothing was written on the publisher's thread: segments wait for the writer.
  EXPECT_TRUE(fx.store->segment_infos("live", "cam", 0, 100)->empty());
  EXPECT_GT(rec->queued_bytes(), 0u);
  fx.settle();
  auto stored = fx.store->segment_infos("live", "cam", 0, 100);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->size(), 4u);  // the fifth is still open
  ASSERT_FALSE(fx.listener.durable.empty());
  EXPECT_EQ(fx.listener.durable.back(), (*stored).back().first_position() + (*stored).back().frame_count());
  EXPECT_EQ(rec->queued_bytes(), 0u);

  rec->finish();
  fx.settle();
  auto info = fx.store->stream_info("live", "cam");
  ASSERT_TRUE(info && *info);
  EXPECT_FALSE((*info)->live());
  EXPECT_EQ(fx.store->segment_infos("live", "cam", 0, 100)->size(), 5u);
  EXPECT_EQ((*info)->next_position(), positions.back() + 1);
  EXPECT_TRUE(fx.listener.failures.empty());
}

TEST(Recorder, AppendContinuesNumbering) {
  Fixture fx;
  auto first = fx.recorder(RecordMode::NewRecording);
  auto a = feed(*first, test_media::video_stream({0, 1000}, 2000));
  first->finish();
  fx.settle();
  auto second = fx.recorder(RecordMode::Append);
  auto b = feed(*second, test_media::video_stream({3000, 4000}, 5000, 100, 3000));
  auto first_numbered = std::find_if(b.begin(), b.end(), [](std::uint64_t p) { return p != 0; });
  ASSERT_NE(first_numbered, b.end());
  EXPECT_EQ(*first_numbered, a.back() + 1);
  second->finish();
  fx.settle();
  EXPECT_EQ(fx.store->segment_infos("live", "cam", 0, 100)->size(), 4u);
}

TEST(Recorder, ASlowDiskStopsRecordingNotLive) {
  Fixture fx;
  // Room for about one segment in the write queue; the writer never runs.
  auto rec = fx.recorder(RecordMode::NewRecording, 3000);
  auto frames = test_media::video_stream({0, 1000, 2000, 3000, 4000}, 5000, 100);
  std::vector<std::uint64_t> positions;
  for (const auto& f : frames) {
    media::Frame copy = *f;
    rec->record(copy);  // never blocks, whatever the writer does
    positions.push_back(copy.position);
    fx.owner.run();
  }
  EXPECT_TRUE(rec->failed());
  ASSERT_EQ(fx.listener.failures.size(), 1u);
  EXPECT_NE(fx.listener.failures[0].find("too slow"), std::string::npos);
  EXPECT_FALSE(fx.listener.full);
  // Frames after the failure are not numbered: they are not recorded.
  EXPECT_EQ(positions.back(), 0u);
  fx.settle();
  // What was queued before the failure is still stored.
  EXPECT_GE(fx.store->segment_infos("live", "cam", 0, 100)->size(), 1u);
}

TEST(Recorder, NothingReachesTheListenerAfterFinish) {
  Fixture fx;
  auto rec = fx.recorder(RecordMode::NewRecording);
  feed(*rec, test_media::video_stream({0, 1000, 2000}, 2500));
  rec->finish();
  fx.settle();
  EXPECT_TRUE(fx.listener.durable.empty());
  EXPECT_EQ(fx.store->segment_infos("live", "cam", 0, 100)->size(), 3u);
}

}  // namespace
}  // namespace rw::dvr
