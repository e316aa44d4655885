#include "common/dvr/segment_store.hpp"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/status.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <sys/mount.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "common/dvr/segment_tags.hpp"
#include "common/dvr/test_media.hpp"
#include "common/dvr/test_store.hpp"
#include "common/flv/file_reader.hpp"

namespace rw::dvr {
namespace {

using test_store::record;
using test_store::TempDir;
using test_store::WriterProcess;

std::unique_ptr<SegmentStore> open_store(const std::string& dir, const StoreOptions& options = {}) {
  auto store = SegmentStore::open(dir, options);
  EXPECT_TRUE(store) << store.error().describe();
  return store ? std::move(*store) : nullptr;
}

StreamInfo info_of(const SegmentStore& store, std::string_view app, std::string_view name) {
  auto info = store.stream_info(app, name);
  EXPECT_TRUE(info && *info) << (info ? "no stream" : info.error().describe());
  return info && *info ? **info : StreamInfo();
}

std::vector<SegmentInfo> all_infos(const SegmentStore& store, std::string_view app, std::string_view name) {
  auto infos = store.segment_infos(app, name, 0, 1u << 20);
  EXPECT_TRUE(infos) << infos.error().describe();
  return infos ? *infos : std::vector<SegmentInfo>();
}

// The media frames of one segment: its headers, then its tags, read the way
// a player's FLV demuxer would (FileReader over a file header + the tags).
std::vector<flv::Tag> read_tags(const Segment& segment) {
  Bytes file = flv::encode_file_header(true, true);
  file.insert(file.end(), segment.tags().begin(), segment.tags().end());
  flv::FileReader reader;
  std::vector<flv::Tag> tags;
  auto r = reader.feed(file, tags);
  EXPECT_FALSE(r.error) << "segment " << segment.sequence();
  return tags;
}

// Every invariant between a stream's StreamInfo, its index and its
// segments: what a reader relies on after a crash.
void expect_consistent(const SegmentStore& store, std::string_view app, std::string_view name) {
  const StreamInfo info = info_of(store, app, name);
  const auto infos = all_infos(store, app, name);
  ASSERT_EQ(infos.size(), info.next_sequence() - info.first_sequence());
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < infos.size(); ++i) {
    const SegmentInfo& e = infos[i];
    ASSERT_EQ(e.sequence(), info.first_sequence() + i);
    auto segment = store.read_segment(app, name, e.sequence());
    ASSERT_TRUE(segment && *segment) << "segment " << e.sequence() << " is listed but not stored";
    const Segment& s = **segment;
    EXPECT_EQ(s.recording_id(), info.recording_id());
    EXPECT_EQ(s.start_ms(), e.start_ms());
    EXPECT_EQ(s.first_position(), e.first_position());
    EXPECT_EQ(read_tags(s).size(), e.frame_count());
    EXPECT_EQ(s.SerializeAsString().size(), e.size_bytes());
    if (i + 1 < infos.size()) {
      EXPECT_EQ(e.first_position() + e.frame_count(), infos[i + 1].first_position());
    }
    bytes += e.size_bytes();
  }
  EXPECT_EQ(bytes, info.total_bytes());
  if (!infos.empty()) {
    EXPECT_EQ(info.start_ms(), infos.front().start_ms());
    EXPECT_EQ(info.end_ms(), infos.back().start_ms() + infos.back().duration_ms());
    EXPECT_EQ(info.next_position(), infos.back().first_position() + infos.back().frame_count());
  }
}

// Keyframes every second, segments of one second, about 1.2 KB each.
std::vector<media::FramePtr> one_second_gops(std::uint32_t seconds, std::uint32_t start_ms = 0) {
  std::vector<std::uint32_t> keys;
  for (std::uint32_t s = 0; s < seconds; ++s) keys.push_back(start_ms + s * 1000);
  return test_media::video_stream(keys, start_ms + seconds * 1000, 100, start_ms);
}
constexpr SegmenterOptions kOneSecond{.target_ms = 1000};

TEST(SegmentStore, WriteAndReadBack) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  const auto frames = test_media::real_frames(3);
  const auto rec = record(*store, "live", "cam1", frames, RecordMode::NewRecording, kOneSecond);
  ASSERT_EQ(rec.segments.size(), 6u);

  for (const auto& s : rec.segments) {
    auto read = store->read_segment("live", "cam1", s.sequence());
    ASSERT_TRUE(read && *read);
    EXPECT_EQ((*read)->SerializeAsString(), s.SerializeAsString());
    auto raw = store->read_segment_bytes("live", "cam1", s.sequence());
    ASSERT_TRUE(raw && *raw);
    EXPECT_EQ(as_chars((*raw)->view()), s.SerializeAsString());
  }
  EXPECT_FALSE(*store->read_segment("live", "cam1", 6));
  EXPECT_FALSE(*store->read_segment("live", "nobody", 0));

  const StreamInfo& info = rec.info;
  EXPECT_EQ(info.app(), "live");
  EXPECT_EQ(info.name(), "cam1");
  EXPECT_FALSE(info.live());
  EXPECT_EQ(info.first_sequence(), 0u);
  EXPECT_EQ(info.next_sequence(), 6u);
  EXPECT_EQ(info.next_position(), 1 + frames.size() - 3);  // from 1; headers before the first keyframe are fields
  EXPECT_EQ(info.start_ms(), 0u);
  EXPECT_EQ(info.recording_start_ms(), 0u);
  EXPECT_EQ(info.end_ms(), 2 * 2200 + 2197u);  // the last frame
  EXPECT_EQ(info.last_timestamp_ms(), 2 * 2200 + 2197u);
  EXPECT_EQ(info.record_start_wall_ms(), 1'000'000);
  EXPECT_EQ(info.last_update_wall_ms(), 1'000'000 + static_cast<std::int64_t>(frames.size()));
  EXPECT_EQ(info.video_header(), rec.segments.back().video_header());
  EXPECT_EQ(info.audio_header(), rec.segments.back().audio_header());
  EXPECT_EQ(info.metadata(), rec.segments.back().metadata());

  const auto infos = all_infos(*store, "live", "cam1");
  ASSERT_EQ(infos.size(), 6u);
  const std::vector<std::vector<std::uint32_t>> keyframes{{0}, {1000}, {2200}, {3200}, {4400}, {5400}};
  for (std::size_t i = 0; i < infos.size(); ++i) {
    EXPECT_EQ(infos[i].sequence(), i);
    EXPECT_EQ(infos[i].start_ms(), rec.segments[i].start_ms());
    EXPECT_EQ(infos[i].duration_ms(), rec.segments[i].duration_ms());
    EXPECT_EQ(infos[i].frame_count(), rec.segments[i].frame_count());
    EXPECT_EQ(infos[i].wall_start_ms(), rec.segments[i].wall_start_ms());
    EXPECT_EQ(std::vector<std::uint32_t>(infos[i].keyframe_ms().begin(), infos[i].keyframe_ms().end()), keyframes[i]);
  }
  expect_consistent(*store, "live", "cam1");

  // Listing from the middle, and limited.
  auto some = store->segment_infos("live", "cam1", 2, 3);
  ASSERT_TRUE(some);
  ASSERT_EQ(some->size(), 3u);
  EXPECT_EQ(some->front().sequence(), 2u);
  EXPECT_TRUE(store->segment_infos("live", "cam1", 6, 10)->empty());
  EXPECT_TRUE(store->segment_infos("live", "nobody", 0, 10)->empty());
}

TEST(SegmentStore, AppendContinuesTheRecordingAndRecordStartsOver) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  const auto first = record(*store, "live", "show", one_second_gops(5), RecordMode::NewRecording, kOneSecond);
  ASSERT_EQ(first.info.next_sequence(), 5u);

  // The Recorder shifts an append's timestamps past last_timestamp_ms.
  const std::uint32_t resume_at = first.info.last_timestamp_ms() + 1000;
  const auto second =
      record(*store, "live", "show", one_second_gops(3, resume_at), RecordMode::Append, kOneSecond);
  EXPECT_EQ(second.info.recording_id(), first.info.recording_id());
  EXPECT_EQ(second.info.record_start_wall_ms(), first.info.record_start_wall_ms());
  ASSERT_EQ(second.segments.size(), 3u);
  EXPECT_EQ(second.segments.front().sequence(), 5u);
  EXPECT_EQ(second.segments.front().first_position(), first.info.next_position());
  EXPECT_EQ(second.info.next_sequence(), 8u);
  EXPECT_EQ(second.info.start_ms(), 0u);
  EXPECT_EQ(second.info.end_ms(), resume_at + 2950);
  EXPECT_EQ(all_infos(*store, "live", "show").size(), 8u);
  expect_consistent(*store, "live", "show");

  const auto third = record(*store, "live", "show", one_second_gops(2), RecordMode::NewRecording, kOneSecond);
  EXPECT_GT(third.info.recording_id(), first.info.recording_id());
  EXPECT_EQ(third.info.first_sequence(), 0u);
  EXPECT_EQ(third.info.next_sequence(), 2u);
  EXPECT_EQ(third.segments.front().first_position(), 1u);
  const auto infos = all_infos(*store, "live", "show");
  ASSERT_EQ(infos.size(), 2u);
  // The old recording's segments are gone, not merely unlisted.
  EXPECT_FALSE(*store->read_segment("live", "show", 5));
  auto reused = store->read_segment("live", "show", 0);
  ASSERT_TRUE(reused && *reused);
  EXPECT_EQ((*reused)->recording_id(), third.info.recording_id());
  expect_consistent(*store, "live", "show");
}

TEST(SegmentStore, AppendToAnUnknownStreamStartsARecording) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  auto info = store->begin_recording("live", "new", RecordMode::Append, 5);
  ASSERT_TRUE(info);
  EXPECT_GT(info->recording_id(), 0u);
  EXPECT_EQ(info->next_sequence(), 0u);
  EXPECT_TRUE(info->live());
  EXPECT_EQ(info->record_start_wall_ms(), 5);
  // Empty: nothing to find, nothing to list.
  EXPECT_FALSE(*store->find_segment("live", "new", 0));
  EXPECT_TRUE(store->segment_infos("live", "new", 0, 10)->empty());
}

TEST(SegmentStore, RejectsSegmentsThatDoNotFollow) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  auto info = store->begin_recording("live", "s", RecordMode::NewRecording, 0);
  ASSERT_TRUE(info);
  Segmenter segmenter(kOneSecond, SegmenterStart::after(*info));
  std::vector<Segment> segments;
  for (const auto& f : one_second_gops(3)) {
    if (auto s = segmenter.push(*f, 0)) segments.push_back(std::move(*s));
  }
  ASSERT_EQ(segments.size(), 2u);

  auto expect_rejected = [&](const Segment& s, StoreError::Code code) {
    auto r = store->append_segment("live", "s", s, {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, code) << r.error().describe();
  };
  expect_rejected(segments[1], StoreError::Code::InvalidArgument);  // sequence 1 before 0
  Segment other = segments[0];
  other.set_recording_id(info->recording_id() + 1);
  expect_rejected(other, StoreError::Code::InvalidArgument);
  Segment shifted = segments[0];
  shifted.set_first_position(3);
  expect_rejected(shifted, StoreError::Code::InvalidArgument);
  Segment torn = segments[0];
  torn.mutable_tags()->pop_back();
  expect_rejected(torn, StoreError::Code::InvalidArgument);
  Segment miscounted = segments[0];
  miscounted.set_frame_count(miscounted.frame_count() + 1);
  expect_rejected(miscounted, StoreError::Code::InvalidArgument);
  Segment empty = segments[0];
  empty.clear_tags();
  empty.set_frame_count(0);
  expect_rejected(empty, StoreError::Code::InvalidArgument);
  // Nothing of that was written.
  EXPECT_EQ(info_of(*store, "live", "s").next_sequence(), 0u);
  EXPECT_FALSE(*store->read_segment("live", "s", 0));

  ASSERT_TRUE(store->append_segment("live", "s", segments[0], {}));
  ASSERT_TRUE(store->append_segment("live", "s", segments[1], {}));
  expect_rejected(segments[1], StoreError::Code::InvalidArgument);  // twice

  auto unknown = store->append_segment("live", "other", segments[0], {});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, StoreError::Code::NotFound);
  auto end_unknown = store->end_recording("live", "other", 0);
  ASSERT_FALSE(end_unknown);
  EXPECT_EQ(end_unknown.error().code, StoreError::Code::NotFound);
}

TEST(SegmentStore, RetentionByDurationKeepsTheWindow) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  auto info = store->begin_recording("live", "r", RecordMode::NewRecording, 0);
  ASSERT_TRUE(info);
  Segmenter segmenter(kOneSecond, SegmenterStart::after(*info));
  const Retention retention{.max_duration_ms = 4500, .max_bytes = 0};
  for (const auto& f : one_second_gops(20)) {
    auto s = segmenter.push(*f, 0);
    if (!s) continue;
    auto updated = store->append_segment("live", "r", *s, retention);
    ASSERT_TRUE(updated) << updated.error().describe();
    const std::uint32_t window = updated->end_ms() - updated->start_ms();
    if (updated->end_ms() >= 4500) {
      // Covers 4.5 s, and dropping one more segment would not.
      EXPECT_GE(window, 4500u) << s->sequence();
      EXPECT_LT(window - 1000, 4500u) << s->sequence();
    } else {
      EXPECT_EQ(updated->first_sequence(), 0u);
    }
  }
  const StreamInfo last = info_of(*store, "live", "r");
  EXPECT_EQ(last.first_sequence(), 19u - 5u);  // 19 segments stored so far, 5 of them kept
  EXPECT_EQ(last.start_ms(), 14000u);
  EXPECT_EQ(last.recording_start_ms(), 0u);  // kept: the DVR length so far
  EXPECT_FALSE(*store->read_segment("live", "r", 13));
  EXPECT_TRUE(*store->read_segment("live", "r", 14));
  expect_consistent(*store, "live", "r");
}

TEST(SegmentStore, RetentionByBytesKeepsAtMostThat) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  auto info = store->begin_recording("live", "b", RecordMode::NewRecording, 0);
  ASSERT_TRUE(info);
  Segmenter segmenter(kOneSecond, SegmenterStart::after(*info));
  std::uint64_t segment_size = 0;
  std::uint64_t limit = 0;
  for (const auto& f : one_second_gops(20)) {
    auto s = segmenter.push(*f, 0);
    if (!s) continue;
    if (limit == 0) {
      segment_size = s->SerializeAsString().size();
      limit = segment_size * 7 / 2;  // room for three and a half
    }
    auto updated = store->append_segment("live", "b", *s, {.max_duration_ms = 0, .max_bytes = limit});
    ASSERT_TRUE(updated) << updated.error().describe();
    EXPECT_LE(updated->total_bytes(), limit);
    EXPECT_EQ(updated->next_sequence() - updated->first_sequence(), std::min<std::uint64_t>(3, s->sequence() + 1));
  }
  expect_consistent(*store, "live", "b");
}

TEST(SegmentStore, RetentionNeverDeletesTheNewestSegment) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  const auto rec = record(*store, "live", "tiny", one_second_gops(6), RecordMode::NewRecording, kOneSecond,
                          {.max_duration_ms = 1, .max_bytes = 1});
  EXPECT_EQ(rec.info.first_sequence(), 5u);
  EXPECT_EQ(rec.info.next_sequence(), 6u);
  EXPECT_EQ(all_infos(*store, "live", "tiny").size(), 1u);
  expect_consistent(*store, "live", "tiny");
}

TEST(SegmentStore, RetentionDropsManySegmentsAtOnce) {
  // A window shortened (a configuration change) drops 80 segments in one
  // append, by range.
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  record(*store, "live", "long", one_second_gops(80), RecordMode::NewRecording, kOneSecond);
  const auto rec = record(*store, "live", "long", one_second_gops(3, 80000), RecordMode::Append, kOneSecond,
                          {.max_duration_ms = 2000, .max_bytes = 0});
  // The first append (segment 80, 80000 to 81000) drops 0 to 78 at once:
  // 81000 - 79000 still covers 2 s. Then 79 goes; the last (82000 to its
  // last frame, 82950) leaves 80 (81000 to 82950 would be short).
  EXPECT_EQ(rec.info.first_sequence(), 80u);
  const auto infos = all_infos(*store, "live", "long");
  ASSERT_EQ(infos.size(), 3u);
  EXPECT_EQ(infos.front().sequence(), 80u);
  for (std::uint64_t seq = 0; seq < 80; ++seq) EXPECT_FALSE(*store->read_segment("live", "long", seq)) << seq;
  expect_consistent(*store, "live", "long");
}

TEST(SegmentStore, FindSegmentEdges) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  EXPECT_FALSE(*store->find_segment("live", "f", 0));  // unknown stream
  // Segments start at 1000, 2000, ..., 9000 (the stream starts at 1000).
  record(*store, "live", "f", one_second_gops(9, 1000), RecordMode::NewRecording, kOneSecond);
  auto at = [&](std::uint32_t ms) -> std::int64_t {
    auto found = store->find_segment("live", "f", ms);
    EXPECT_TRUE(found) << found.error().describe();
    return found && *found ? static_cast<std::int64_t>((*found)->start_ms()) : -1;
  };
  EXPECT_EQ(at(0), 1000);       // before the window: the first
  EXPECT_EQ(at(999), 1000);
  EXPECT_EQ(at(1000), 1000);    // exactly a start
  EXPECT_EQ(at(1999), 1000);
  EXPECT_EQ(at(2000), 2000);
  EXPECT_EQ(at(5500), 5000);
  EXPECT_EQ(at(9000), 9000);    // the last
  EXPECT_EQ(at(9950), 9000);
  EXPECT_EQ(at(60000), 9000);   // past the end: the last
  EXPECT_EQ(at(0xffffffffu), 1000);  // serially just before 0: before the window

  // After retention the window starts later.
  auto info = store->begin_recording("live", "f", RecordMode::Append, 0);
  ASSERT_TRUE(info);
  Segmenter segmenter(kOneSecond, SegmenterStart::after(*info));
  for (const auto& f : one_second_gops(2, 11000)) {
    if (auto s = segmenter.push(*f, 0)) {
      ASSERT_TRUE(store->append_segment("live", "f", *s, {.max_duration_ms = 3000}));
    }
  }
  // 12000 - 9000 covers 3 s, 12000 - 11000 would not.
  EXPECT_EQ(info_of(*store, "live", "f").start_ms(), 9000u);
  EXPECT_EQ(at(1500), 9000);
  EXPECT_EQ(at(10500), 9000);  // in the gap between the publishes: the segment before it
  EXPECT_EQ(at(11000), 11000);
}

TEST(SegmentStore, FindSegmentAcrossTheTimestampWrap) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  const std::uint32_t base = 0u - 3000u;
  record(*store, "live", "w", one_second_gops(7, base), RecordMode::NewRecording, kOneSecond);
  auto at = [&](std::uint32_t ms) -> std::uint32_t { return (*store->find_segment("live", "w", ms))->start_ms(); };
  EXPECT_EQ(at(base), base);
  EXPECT_EQ(at(base + 2500), base + 2000);
  EXPECT_EQ(at(500), 0u);         // after the wrap
  EXPECT_EQ(at(2100), 2000u);
  EXPECT_EQ(at(base - 100), base);  // before the window
  EXPECT_EQ(at(100000), 3000u);     // past the end
}

TEST(SegmentStore, ReopenMarksLiveStreamsOffline) {
  TempDir dir;
  std::uint64_t recording_id = 0;
  {
    auto store = open_store(dir.path());
    ASSERT_TRUE(store);
    auto info = store->begin_recording("live", "crashed", RecordMode::NewRecording, 7);
    ASSERT_TRUE(info);
    recording_id = info->recording_id();
    Segmenter segmenter(kOneSecond, SegmenterStart::after(*info));
    for (const auto& f : one_second_gops(4)) {
      if (auto s = segmenter.push(*f, 100)) {
        ASSERT_TRUE(store->append_segment("live", "crashed", *s, {}));
      }
    }
    record(*store, "live", "ended", one_second_gops(2));
    EXPECT_TRUE(info_of(*store, "live", "crashed").live());
    // Closed without end_recording, as a crash would leave it.
  }
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  const StreamInfo info = info_of(*store, "live", "crashed");
  EXPECT_FALSE(info.live());
  EXPECT_EQ(info.next_sequence(), 3u);
  EXPECT_EQ(info.last_update_wall_ms(), 100 + 1000);  // the last segment's end
  EXPECT_FALSE(info_of(*store, "live", "ended").live());
  expect_consistent(*store, "live", "crashed");
  // Recording ids are never reused.
  auto fresh = store->begin_recording("live", "fresh", RecordMode::NewRecording, 0);
  ASSERT_TRUE(fresh);
  EXPECT_GT(fresh->recording_id(), recording_id + 1);
}

TEST(SegmentStore, ReopenAfterWritesSeesEveryWholeWrite) {
  TempDir dir;
  std::vector<std::string> written;
  {
    auto store = open_store(dir.path());
    ASSERT_TRUE(store);
    const auto rec = record(*store, "live", "a", test_media::real_frames(4), RecordMode::NewRecording, kOneSecond,
                            {.max_duration_ms = 4000});
    for (const auto& s : rec.segments) written.push_back(s.SerializeAsString());
  }
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  expect_consistent(*store, "live", "a");
  const StreamInfo info = info_of(*store, "live", "a");
  EXPECT_EQ(info.next_sequence(), written.size());
  EXPECT_GT(info.first_sequence(), 0u);
  for (std::uint64_t seq = info.first_sequence(); seq < info.next_sequence(); ++seq) {
    EXPECT_EQ((*store->read_segment("live", "a", seq))->SerializeAsString(), written[seq]);
  }
}

TEST(SegmentStore, ManyStreamsWithSlashesInTheirNames) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  // Pairs whose concatenations collide, and names full of separators.
  const std::vector<std::pair<std::string, std::string>> streams{
      {"live", "a/b"}, {"live/a", "b"}, {"live", "a"}, {"livea", ""}, {"liv", "ea/b"},
      {"live", "a/b/c/d"}, {"", "live"}, {"x", std::string("nul\0byte", 8)}, {"live", "/"}, {"live/", ""},
      {"latin1", "caf\xe9"}, {"\xff\xfe", "\xc3("}};
  for (std::size_t i = 0; i < streams.size(); ++i) {
    const auto& [app, name] = streams[i];
    record(*store, app, name, one_second_gops(static_cast<std::uint32_t>(i) + 2), RecordMode::NewRecording,
           kOneSecond);
  }
  auto listed = store->list_streams();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), streams.size());
  for (std::size_t i = 0; i < streams.size(); ++i) {
    const auto& [app, name] = streams[i];
    const StreamInfo info = info_of(*store, app, name);
    EXPECT_EQ(info.app(), app);
    EXPECT_EQ(info.name(), name);
    EXPECT_EQ(info.next_sequence(), i + 2) << app << " " << name;
    expect_consistent(*store, app, name);
  }
  // Ordered by app, then name.
  for (std::size_t i = 1; i < listed->size(); ++i) {
    const auto& a = (*listed)[i - 1];
    const auto& b = (*listed)[i];
    EXPECT_TRUE(a.app().size() < b.app().size() || (a.app().size() == b.app().size() && a.app() < b.app()) ||
                (a.app() == b.app() && a.name() < b.name()));
  }
}

TEST(SegmentStore, ConcurrentReadersWhileOneThreadWrites) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->begin_recording("live", "c", RecordMode::NewRecording, 0));
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::atomic<int> failures{0};

  std::thread writer([&] {
    auto info = store->stream_info("live", "c");
    Segmenter segmenter(kOneSecond, SegmenterStart::after(**info));
    for (const auto& f : test_media::real_frames(60)) {
      if (auto s = segmenter.push(*f, 0)) {
        if (!store->append_segment("live", "c", *s, {.max_duration_ms = 20000})) ++failures;
      }
    }
    done = true;
  });
  auto reader = [&](unsigned seed) {
    std::mt19937 random(seed);
    while (!done) {
      auto info = store->stream_info("live", "c");
      if (!info || !*info) {
        ++failures;
        continue;
      }
      const StreamInfo& i = **info;
      if (i.first_sequence() > i.next_sequence()) ++failures;
      if (i.next_sequence() == 0) continue;
      // A segment listed a moment ago may be deleted by now; one that is
      // read is whole.
      const std::uint64_t seq = i.first_sequence() + random() % (i.next_sequence() - i.first_sequence());
      auto segment = store->read_segment("live", "c", seq);
      if (!segment) {
        ++failures;
      } else if (*segment) {
        TagWalker walk((*segment)->tags());
        std::uint32_t count = 0;
        while (walk.next()) ++count;
        if (walk.failed() || count != (*segment)->frame_count()) ++failures;
      }
      auto found = store->find_segment("live", "c", static_cast<std::uint32_t>(random() % 140000));
      if (!found || !*found) ++failures;
      auto infos = store->segment_infos("live", "c", 0, 1000);
      if (!infos) {
        ++failures;
      } else {
        for (std::size_t k = 1; k < infos->size(); ++k) {
          if ((*infos)[k].sequence() != (*infos)[k - 1].sequence() + 1) ++failures;
        }
      }
      ++reads;
    }
  };
  std::thread r1(reader, 1);
  std::thread r2(reader, 2);
  writer.join();
  r1.join();
  r2.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(reads.load(), 10);
  expect_consistent(*store, "live", "c");
}

TEST(StoreError, ConvertsRocksDbStatuses) {
  using Code = StoreError::Code;
  EXPECT_EQ(store_error(rocksdb::Status::NoSpace(), "x").code, Code::NoSpace);
  EXPECT_EQ(store_error(rocksdb::Status::IOError("While appending to file: 000004.log", "No space left on device"), "x")
                .code,
            Code::NoSpace);
  EXPECT_EQ(store_error(rocksdb::Status::IOError("lock"), "x").code, Code::IoError);
  EXPECT_EQ(store_error(rocksdb::Status::Corruption("bad block"), "x").code, Code::Corruption);
  EXPECT_EQ(store_error(rocksdb::Status::NotFound(), "x").code, Code::NotFound);
  EXPECT_EQ(store_error(rocksdb::Status::Busy(), "x").code, Code::Busy);
  EXPECT_EQ(store_error(rocksdb::Status::TryAgain(), "x").code, Code::Busy);
  EXPECT_EQ(store_error(rocksdb::Status::InvalidArgument(), "x").code, Code::InvalidArgument);
  EXPECT_EQ(store_error(rocksdb::Status::Aborted(), "x").code, Code::Other);
  const StoreError e = store_error(rocksdb::Status::IOError("disk"), "append_segment live/a");
  EXPECT_EQ(e.describe(), "IoError: append_segment live/a: IO error: disk");
}

TEST(SegmentStore, RefusesAnotherFormat) {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    ASSERT_TRUE(store);
  }
  {
    // Rewrite the marker with plain RocksDB, as a future version would.
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir.path(), &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "mformat", "rewind-dvr 99").ok());
    delete db;
  }
  auto store = SegmentStore::open(dir.path());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, StoreError::Code::NotSupported);
  EXPECT_NE(store.error().message.find("rewind-dvr 99"), std::string::npos);
}

TEST(SegmentStore, OneProcessAtATime) {
  TempDir dir;
  auto first = open_store(dir.path());
  ASSERT_TRUE(first);
  auto second = SegmentStore::open(dir.path());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, StoreError::Code::IoError) << second.error().describe();
}

// --- Another process: the crash test and secondary readers ---

TEST(SegmentStoreCrash, KilledWriterLeavesAConsistentStore) {
  TempDir dir;
  std::uint64_t recording_id = 0;
  std::uint64_t next_sequence = 0;
  // Killed six times while writing as fast as it can (with a 256 KB
  // memtable, so flushes and compactions are under way too), restarted
  // with `append` after each.
  for (int round = 0; round < 6; ++round) {
    WriterProcess writer(dir.path(), round == 0 ? "record" : "append", "262144");
    const std::int64_t reported = writer.wait_for(120 + 37 * round);
    ASSERT_GE(reported, 0) << "the writer stopped";
    writer.kill();

    auto store = open_store(dir.path());
    ASSERT_TRUE(store);
    const StreamInfo info = info_of(*store, "live", "crash/test");
    EXPECT_FALSE(info.live());
    // Every segment the child saw stored is there (and perhaps a few more
    // it stored before it could say so).
    EXPECT_GT(info.next_sequence(), static_cast<std::uint64_t>(reported));
    EXPECT_GT(info.first_sequence(), 0u);  // retention ran
    if (round > 0) {
      EXPECT_EQ(info.recording_id(), recording_id);
      EXPECT_GT(info.next_sequence(), next_sequence);
    }
    recording_id = info.recording_id();
    next_sequence = info.next_sequence();
    expect_consistent(*store, "live", "crash/test");
    // The appended timeline goes on after the old one.
    const auto infos = all_infos(*store, "live", "crash/test");
    for (std::size_t i = 1; i < infos.size(); ++i) {
      EXPECT_GT(timestamp_diff(infos[i].start_ms(), infos[i - 1].start_ms()), 0) << infos[i].sequence();
    }
  }
}

TEST(SegmentStoreSecondary, ReadsWhileThePrimaryWrites) {
  TempDir dir;
  WriterProcess writer(dir.path(), "record", "262144");
  ASSERT_GE(writer.wait_for(30), 0);
  for (int i = 0; i < 6; ++i) {
    auto store = SegmentStore::open_secondary(dir.path(), dir.sub("secondary-" + std::to_string(i)));
    ASSERT_TRUE(store) << store.error().describe();
    EXPECT_TRUE((*store)->read_only());
    for (int pass = 0; pass < 3; ++pass) {
      ASSERT_TRUE(test_store::catch_up_until_complete(**store, "live", "crash/test"));
      const StreamInfo info = info_of(**store, "live", "crash/test");
      EXPECT_TRUE(info.live());
      EXPECT_GT(info.next_sequence(), 0u);
      // What the view lists, it reads, while the primary goes on writing,
      // flushing, compacting and deleting.
      expect_consistent(**store, "live", "crash/test");
      // Catching up follows the primary, in steps (the WAL it tails is
      // switched at each flush).
      const auto before = info.next_sequence();
      for (int tries = 0; tries < 100 && info_of(**store, "live", "crash/test").next_sequence() == before; ++tries) {
        ASSERT_GE(writer.wait_for(5), 0);
        ASSERT_TRUE((*store)->catch_up());
      }
      EXPECT_GT(info_of(**store, "live", "crash/test").next_sequence(), before);
    }
  }
  auto secondary = SegmentStore::open_secondary(dir.path(), dir.sub("secondary-w"));
  ASSERT_TRUE(secondary);
  auto write = (*secondary)->begin_recording("live", "x", RecordMode::NewRecording, 0);
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error().code, StoreError::Code::ReadOnly);
}

TEST(SegmentStoreSecondary, NeedsAStore) {
  TempDir dir;
  auto store = SegmentStore::open_secondary(dir.sub("nothing"), dir.sub("secondary"));
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, StoreError::Code::NotFound);
}

// Disk full, for real: a small tmpfs (needs root to mount; skipped
// otherwise).
TEST(SegmentStore, DiskFullIsNoSpaceAndRecoversOnTheNextPublish) {
  TempDir dir;
  const std::string mount_point = dir.sub("small");
  std::filesystem::create_directories(mount_point);
  if (::mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=16m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno) << ")";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mount_point};

  // Space that can be freed later. A new store takes about 6 MB of the
  // 16 (RocksDB preallocates its MANIFEST and WAL).
  const std::string filler = mount_point + "/filler";
  {
    std::ofstream out(filler, std::ios::binary);
    const std::string mb(1u << 20, 'x');
    for (int i = 0; i < 5; ++i) out << mb;
  }
  {
    auto store = open_store(mount_point + "/dvr", {.block_cache_bytes = 1u << 20,
                                                   .write_buffer_bytes = 1u << 20,
                                                   .min_free_bytes = 2u << 20});
    ASSERT_TRUE(store);
    auto info = store->begin_recording("live", "full", RecordMode::NewRecording, 0);
    ASSERT_TRUE(info) << info.error().describe();
    Segmenter segmenter(kOneSecond, SegmenterStart::after(*info));
    std::optional<StoreError> failure;
    for (std::uint32_t t = 0; t < 300000 && !failure; t += 1000) {
      auto s = segmenter.push(*test_media::keyframe(t, 700000), 0);
      if (!s) continue;
      auto r = store->append_segment("live", "full", *s, {});
      if (!r) failure = r.error();
    }
    // Segments of 700 KB: the store refuses once less than 2 MB is free,
    // before RocksDB itself fails a write.
    ASSERT_TRUE(failure) << "16 MB took 200 MB";
    EXPECT_EQ(failure->code, StoreError::Code::NoSpace) << failure->describe();
    EXPECT_NE(failure->message.find("keeping 2 MB free"), std::string::npos) << failure->describe();

    // Space again: RocksDB notices by itself (it polls free space every
    // few seconds after a full disk), and a publish then records again.
    std::filesystem::remove(filler);
    const auto freed = std::chrono::steady_clock::now();
    auto again = store->begin_recording("live", "full", RecordMode::NewRecording, 0);
    while (!again && std::chrono::steady_clock::now() - freed < std::chrono::seconds(30)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      again = store->begin_recording("live", "full", RecordMode::NewRecording, 0);
    }
    ASSERT_TRUE(again) << again.error().describe();
    std::printf("recording resumed %lld ms after space was freed\n",
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - freed)
                                           .count()));
    Segmenter fresh(kOneSecond, SegmenterStart::after(*again));
    int stored = 0;
    for (std::uint32_t t = 0; t < 3000; t += 1000) {
      if (auto s = fresh.push(*test_media::keyframe(t, 1000), 0)) {
        auto r = store->append_segment("live", "full", *s, {});
        EXPECT_TRUE(r) << r.error().describe();
        ++stored;
      }
    }
    EXPECT_EQ(stored, 2);
    expect_consistent(*store, "live", "full");
  }
}

}  // namespace
}  // namespace rw::dvr
