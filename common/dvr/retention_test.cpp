#include "common/dvr/retention.hpp"

#include <gtest/gtest.h>

#include "common/dvr/test_media.hpp"
#include "common/dvr/test_store.hpp"

namespace rw::dvr {
namespace {

using test_store::TempDir;

constexpr SegmenterOptions kOneSecond{.target_ms = 1000};

std::vector<media::FramePtr> seconds_of_video(std::uint32_t seconds) {
  std::vector<std::uint32_t> keys;
  for (std::uint32_t s = 0; s < seconds; ++s) keys.push_back(s * 1000);
  return test_media::video_stream(keys, seconds * 1000, 100, 0);
}

StreamInfo info_of(const SegmentStore& store, std::string_view app, std::string_view name) {
  auto info = store.stream_info(app, name);
  EXPECT_TRUE(info && *info);
  return info && *info ? **info : StreamInfo();
}

std::unique_ptr<SegmentStore> open_store(const TempDir& dir) {
  auto store = SegmentStore::open(dir.path());
  EXPECT_TRUE(store) << store.error().describe();
  return store ? std::move(*store) : nullptr;
}

TEST(Retention, FinishedRecordingIsTrimmedToItsWindow) {
  // Recorded with a 60 s window; the application's window is now 5 s (a
  // restart with new settings): the recording that ended is trimmed too.
  TempDir dir;
  auto store = open_store(dir);
  test_store::record(*store, "live", "old", seconds_of_video(20), RecordMode::NewRecording, kOneSecond,
                     Retention{60'000, 0});
  ASSERT_EQ(info_of(*store, "live", "old").first_sequence(), 0u);
  auto pass = run_retention(*store, [](std::string_view) { return Retention{5000, 0}; }, 0);
  ASSERT_TRUE(pass) << pass.error().describe();
  ASSERT_EQ(pass->changes.size(), 1u);
  EXPECT_EQ(pass->changes[0].why, RetentionPass::Change::Why::Window);
  const StreamInfo after = info_of(*store, "live", "old");
  EXPECT_GE(after.end_ms() - after.start_ms(), 5000u);
  EXPECT_LT(after.end_ms() - after.start_ms(), 7000u);
  EXPECT_FALSE(*store->read_segment("live", "old", after.first_sequence() - 1));
  EXPECT_TRUE(*store->read_segment("live", "old", after.first_sequence()));
  EXPECT_EQ(pass->store_bytes, after.total_bytes());
  // A second pass finds nothing more to do.
  auto again = run_retention(*store, [](std::string_view) { return Retention{5000, 0}; }, 0);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->changes.empty());
}

TEST(Retention, ByteCapAppliesToFinishedRecordings) {
  TempDir dir;
  auto store = open_store(dir);
  test_store::record(*store, "live", "b", seconds_of_video(20), RecordMode::NewRecording, kOneSecond);
  const std::uint64_t before = info_of(*store, "live", "b").total_bytes();
  auto pass = run_retention(*store, [&](std::string_view) { return Retention{0, before / 4}; }, 0);
  ASSERT_TRUE(pass);
  EXPECT_LE(info_of(*store, "live", "b").total_bytes(), before / 4);
}

TEST(Retention, StoreCapDeletesTheLeastRecentlyUpdatedRecordingsFirst) {
  TempDir dir;
  auto store = open_store(dir);
  // Three finished recordings, recorded one after the other.
  for (const char* name : {"first", "second", "third"}) {
    test_store::record(*store, "live", name, seconds_of_video(10), RecordMode::NewRecording, kOneSecond);
  }
  // record() stamps the same wall times for each: make "second" the least
  // recently updated by stamping the others later.
  ASSERT_TRUE(store->end_recording("live", "first", 5'000'000));
  ASSERT_TRUE(store->end_recording("live", "third", 6'000'000));
  const std::uint64_t each = info_of(*store, "live", "first").total_bytes();
  auto pass = run_retention(*store, [](std::string_view) { return Retention{}; }, 2 * each + each / 2);
  ASSERT_TRUE(pass) << pass.error().describe();
  ASSERT_EQ(pass->changes.size(), 1u);
  EXPECT_EQ(pass->changes[0].why, RetentionPass::Change::Why::StoreCapDeleted);
  EXPECT_EQ(pass->changes[0].removed.bytes, each);
  EXPECT_LE(pass->store_bytes, 2 * each + each / 2);
  EXPECT_EQ(pass->changes[0].name, "second");
  auto streams = store->list_streams();
  ASSERT_TRUE(streams);
  EXPECT_EQ(streams->size(), 2u);
  EXPECT_FALSE(*store->stream_info("live", "second"));
}

TEST(Retention, StoreCapTrimsLiveRecordingsButKeepsTheirNewestSegment) {
  TempDir dir;
  auto store = open_store(dir);
  auto begun = store->begin_recording("live", "now", RecordMode::NewRecording, 0);
  ASSERT_TRUE(begun);
  Segmenter segmenter(kOneSecond, SegmenterStart::after(*begun));
  for (const auto& f : seconds_of_video(20)) {
    if (auto s = segmenter.push(*f, 0)) {
      ASSERT_TRUE(store->append_segment("live", "now", *s, {}));
    }
  }
  const StreamInfo live = info_of(*store, "live", "now");
  ASSERT_TRUE(live.live());
  auto pass = run_retention(*store, [](std::string_view) { return Retention{}; }, live.total_bytes() / 2);
  ASSERT_TRUE(pass);
  ASSERT_EQ(pass->changes.size(), 1u);
  EXPECT_EQ(pass->changes[0].why, RetentionPass::Change::Why::StoreCap);
  const StreamInfo after = info_of(*store, "live", "now");
  EXPECT_LE(after.total_bytes(), live.total_bytes() / 2);
  EXPECT_EQ(after.next_sequence(), live.next_sequence());
  // Even a cap below one segment leaves the newest one.
  ASSERT_TRUE(run_retention(*store, [](std::string_view) { return Retention{}; }, 1));
  const StreamInfo tiny = info_of(*store, "live", "now");
  EXPECT_EQ(tiny.first_sequence() + 1, tiny.next_sequence());
  EXPECT_TRUE(*store->read_segment("live", "now", tiny.first_sequence()));
  // Recording goes on after it.
  if (auto s = segmenter.flush()) {
    auto appended = store->append_segment("live", "now", *s, {});
    EXPECT_TRUE(appended) << appended.error().describe();
  }
}

TEST(Retention, LiveStreamsAreNotDeletedWhole) {
  TempDir dir;
  auto store = open_store(dir);
  ASSERT_TRUE(store->begin_recording("live", "x", RecordMode::NewRecording, 0));
  auto deleted = store->delete_stream("live", "x");
  ASSERT_FALSE(deleted);
  EXPECT_EQ(deleted.error().code, StoreError::Code::InvalidArgument);
}

}  // namespace
}  // namespace rw::dvr
