#include "common/dvr/segmenter.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/dvr/segment_tags.hpp"
#include "common/dvr/test_media.hpp"

namespace rw::dvr {
namespace {

using test_media::aac;
using test_media::aac_header;
using test_media::avc_header;
using test_media::inter;
using test_media::keyframe;

struct Run {
  std::vector<Segment> segments;
  std::uint64_t dropped = 0;
};

// Feeds every frame (wall clock = 1000 + index) and flushes at the end.
Run run(const std::vector<media::FramePtr>& frames, const SegmenterOptions& options = {},
        const SegmenterStart& start = {}) {
  Segmenter segmenter(options, start);
  Run r;
  std::int64_t wall = 1000;
  for (const auto& frame : frames) {
    if (auto s = segmenter.push(*frame, wall++)) r.segments.push_back(std::move(*s));
  }
  if (auto s = segmenter.flush()) r.segments.push_back(std::move(*s));
  r.dropped = segmenter.dropped_frames();
  return r;
}

std::vector<std::uint32_t> starts(const std::vector<Segment>& segments) {
  std::vector<std::uint32_t> out;
  for (const auto& s : segments) out.push_back(s.start_ms());
  return out;
}

std::vector<std::uint32_t> durations(const std::vector<Segment>& segments) {
  std::vector<std::uint32_t> out;
  for (const auto& s : segments) out.push_back(s.duration_ms());
  return out;
}

std::vector<TagView> tags_of(const Segment& segment) {
  std::vector<TagView> out;
  TagWalker walk(segment.tags());
  while (auto tag = walk.next()) out.push_back(*tag);
  EXPECT_FALSE(walk.failed());
  return out;
}

// The first tag of each segment is a keyframe stamped at the segment's start.
void expect_keyframe_starts(const std::vector<Segment>& segments) {
  for (const auto& s : segments) {
    auto tags = tags_of(s);
    ASSERT_FALSE(tags.empty());
    EXPECT_TRUE(tags.front().is_keyframe()) << "segment " << s.sequence();
    EXPECT_EQ(tags.front().timestamp, s.start_ms());
  }
}

TEST(Segmenter, GopShorterThanTargetCutsAtTheFirstKeyframeAfterEachMultiple) {
  // Keyframes every second, target 2 s: every other keyframe starts a segment.
  auto r = run(test_media::video_stream({0, 1000, 2000, 3000, 4000, 5000, 6000}, 7000), {.target_ms = 2000});
  EXPECT_EQ(starts(r.segments), (std::vector<std::uint32_t>{0, 2000, 4000, 6000}));
  // The last one ends at its last frame (audio at 6950).
  EXPECT_EQ(durations(r.segments), (std::vector<std::uint32_t>{2000, 2000, 2000, 950}));
  expect_keyframe_starts(r.segments);
}

TEST(Segmenter, GopLongerThanTargetCutsAtEveryKeyframe) {
  // Keyframes every 3 s, target 2 s: from 3000 the boundary is 4000, so the
  // next cut is 6000, then from 6000 (boundary 8000) 9000.
  auto r = run(test_media::video_stream({0, 3000, 6000, 9000}, 10000), {.target_ms = 2000});
  EXPECT_EQ(starts(r.segments), (std::vector<std::uint32_t>{0, 3000, 6000, 9000}));
  EXPECT_EQ(durations(r.segments), (std::vector<std::uint32_t>{3000, 3000, 3000, 950}));
  expect_keyframe_starts(r.segments);
}

TEST(Segmenter, IrregularKeyframes) {
  // From 0: first keyframe >= 2000 is 2100; from 2100 (boundary 4000):
  // 4000 itself; from 4000 (boundary 6000): 7000; 7100 is before 8000.
  auto r = run(test_media::video_stream({0, 700, 1900, 2100, 2500, 3900, 4000, 4100, 7000, 7100}, 7500),
               {.target_ms = 2000});
  EXPECT_EQ(starts(r.segments), (std::vector<std::uint32_t>{0, 2100, 4000, 7000}));
  EXPECT_EQ(durations(r.segments), (std::vector<std::uint32_t>{2100, 1900, 3000, 450}));
  expect_keyframe_starts(r.segments);
}

TEST(Segmenter, BoundariesAreMultiplesOfTheAbsoluteTimeline) {
  // A stream that starts at 1500: the first boundary is 2000, not 3500.
  auto r = run(test_media::video_stream({1500, 2000, 2500, 3000, 3500, 4000, 4500}, 5000, 100, 1500),
               {.target_ms = 2000});
  EXPECT_EQ(starts(r.segments), (std::vector<std::uint32_t>{1500, 2000, 4000}));
}

TEST(Segmenter, KeyframeExactlyOnTheBoundaryCuts) {
  auto r = run(test_media::video_stream({0, 1999, 2000, 2001}, 2100, 1), {.target_ms = 2000});
  EXPECT_EQ(starts(r.segments), (std::vector<std::uint32_t>{0, 2000}));
}

TEST(Segmenter, TimestampWrapKeepsTheGrid) {
  // 1024 divides 2^32, so the grid is the same on both sides of the wrap:
  // the stream stamped from 2^32 - 4096 cuts where the same stream stamped
  // from 0 cuts, shifted.
  const std::uint32_t base = 0u - 4096u;
  std::vector<std::uint32_t> keys_at_zero;
  std::vector<std::uint32_t> keys_at_base;
  for (std::uint32_t t = 0; t < 9000; t += 300) {
    keys_at_zero.push_back(t);
    keys_at_base.push_back(base + t);
  }
  auto plain = run(test_media::video_stream(keys_at_zero, 9000, 50), {.target_ms = 1024});
  auto wrapped = run(test_media::video_stream(keys_at_base, base + 9000, 50, base), {.target_ms = 1024});
  ASSERT_EQ(plain.segments.size(), wrapped.segments.size());
  ASSERT_GT(plain.segments.size(), 7u);
  for (std::size_t i = 0; i < plain.segments.size(); ++i) {
    EXPECT_EQ(wrapped.segments[i].start_ms(), base + plain.segments[i].start_ms()) << i;
    EXPECT_EQ(wrapped.segments[i].duration_ms(), plain.segments[i].duration_ms()) << i;
  }
  // Some segment straddles the wrap, and none is cut short by it.
  bool straddles = false;
  for (const auto& s : wrapped.segments) straddles |= s.start_ms() > base && s.start_ms() + s.duration_ms() < 9000;
  EXPECT_TRUE(straddles);
}

TEST(Segmenter, TimestampWrapWithATargetThatDoesNotDivideIt) {
  const std::uint32_t base = 0u - 5000u;
  std::vector<std::uint32_t> keys;
  for (std::uint32_t t = 0; t < 12000; t += 500) keys.push_back(base + t);
  auto r = run(test_media::video_stream(keys, base + 12000, 100, base), {.target_ms = 2000});
  // Every segment spans between 2 and 2.5 s (the last ends at its last
  // frame): never 4 billion ms, never one that waits for a boundary past
  // the wrap.
  ASSERT_GE(r.segments.size(), 5u);
  for (std::size_t i = 0; i + 1 < r.segments.size(); ++i) {
    EXPECT_GE(r.segments[i].duration_ms(), 500u) << i;
    EXPECT_LE(r.segments[i].duration_ms(), 2500u) << i;
    EXPECT_EQ(r.segments[i].start_ms() + r.segments[i].duration_ms(), r.segments[i + 1].start_ms());
  }
  expect_keyframe_starts(r.segments);
}

TEST(Segmenter, AudioOnlyCutsAtTheFirstAudioFrameAfterEachMultiple) {
  std::vector<media::FramePtr> frames{aac_header(0)};
  for (std::uint32_t t = 0; t < 6500; t += 23) frames.push_back(aac(t));
  auto r = run(frames, {.target_ms = 2000});
  // 2001 = 87 * 23, 4002, 6003: the first frames at or after 2000, 4000, 6000.
  EXPECT_EQ(starts(r.segments), (std::vector<std::uint32_t>{0, 2001, 4002, 6003}));
  EXPECT_EQ(r.dropped, 0u);
  for (const auto& s : r.segments) EXPECT_EQ(s.audio_header(), std::string("\xaf\x00\x12\x10", 4));
}

TEST(Segmenter, AudioBeforeTheFirstVideoFrameIsNotRecorded) {
  // ffmpeg's order: AAC header and a few AAC frames, then video.
  std::vector<media::FramePtr> frames{aac_header(0), aac(0), aac(23), aac(46), avc_header(60), inter(60), keyframe(80)};
  for (std::uint32_t t = 100; t < 3000; t += 100) {
    frames.push_back(t % 1000 == 0 ? keyframe(t) : inter(t));
    frames.push_back(aac(t + 10));
  }
  auto r = run(frames, {.target_ms = 2000});
  EXPECT_EQ(starts(r.segments), (std::vector<std::uint32_t>{80, 2000}));
  EXPECT_EQ(r.dropped, 4u);  // three audio frames and the inter frame
  EXPECT_FALSE(r.segments[0].audio_header().empty());
  EXPECT_FALSE(r.segments[0].video_header().empty());
  expect_keyframe_starts(r.segments);
}

TEST(Segmenter, VideoThatStartsInAnAudioOnlyStreamCutsAtItsFirstKeyframe) {
  std::vector<media::FramePtr> frames{aac_header(0)};
  for (std::uint32_t t = 0; t < 3000; t += 25) frames.push_back(aac(t));
  frames.push_back(avc_header(3000));
  frames.push_back(inter(3000));  // undecodable: dropped
  frames.push_back(aac(3025));
  frames.push_back(keyframe(3100));
  frames.push_back(aac(3125));
  frames.push_back(inter(3200));
  auto r = run(frames, {.target_ms = 2000, .video_wait_ms = 1000});
  // Audio-only segments at 0 and 2000, then the keyframe cuts at once
  // (boundary 4000 notwithstanding).
  EXPECT_EQ(starts(r.segments), (std::vector<std::uint32_t>{0, 2000, 3100}));
  EXPECT_EQ(r.dropped, 1u);
  const auto tags = tags_of(r.segments[1]);
  ASSERT_GE(tags.size(), 2u);
  EXPECT_TRUE(tags[tags.size() - 2].is_sequence_header());  // the AVC header rode along
  EXPECT_EQ(tags.back().timestamp, 3025u);
  EXPECT_EQ(r.segments[2].video_header(), as_chars(avc_header(0)->payload.view()));
  expect_keyframe_starts({r.segments[2]});
}

TEST(Segmenter, ShortAudioOnlyRecordingIsFlushed) {
  // Shorter than video_wait_ms: still undecided at the end, kept.
  auto r = run({aac_header(0), aac(0), aac(23), aac(46)}, {.video_wait_ms = 1000});
  ASSERT_EQ(r.segments.size(), 1u);
  EXPECT_EQ(r.segments[0].frame_count(), 3u);
  EXPECT_EQ(r.segments[0].duration_ms(), 46u);
}

TEST(Segmenter, FramesBeforeTheFirstKeyframeAreNotRecorded) {
  std::vector<media::FramePtr> frames{test_media::metadata(0, "m"), avc_header(0)};
  for (std::uint32_t t = 0; t < 1000; t += 100) frames.push_back(inter(t));
  frames.push_back(test_media::cue_point(950, "early"));
  frames.push_back(keyframe(1000));
  frames.push_back(inter(1100));
  auto r = run(frames);
  ASSERT_EQ(r.segments.size(), 1u);
  EXPECT_EQ(r.segments[0].start_ms(), 1000u);
  EXPECT_EQ(r.segments[0].first_position(), 1u);  // positions start at 1
  EXPECT_EQ(r.segments[0].frame_count(), 2u);
  EXPECT_EQ(r.dropped, 11u);  // ten inter frames and the cue point
  // Metadata and header seen before it are in effect at its start.
  EXPECT_EQ(r.segments[0].metadata(), as_chars(test_media::metadata(0, "m")->payload.view()));
  EXPECT_EQ(r.segments[0].video_header(), as_chars(avc_header(0)->payload.view()));
}

TEST(Segmenter, HeadersChangingMidSegmentAreTagsThenInEffectForTheNext) {
  std::vector<media::FramePtr> frames{test_media::metadata(0, "one"), avc_header(0, 1), aac_header(0)};
  for (std::uint32_t t = 0; t < 4000; t += 100) {
    if (t == 2500) {
      frames.push_back(test_media::metadata(t, "two"));
      frames.push_back(avc_header(t, 2));
    }
    frames.push_back(t % 1000 == 0 ? keyframe(t) : inter(t));
  }
  auto r = run(frames, {.target_ms = 1000});
  ASSERT_EQ(starts(r.segments), (std::vector<std::uint32_t>{0, 1000, 2000, 3000}));
  const std::string v1(as_chars(avc_header(0, 1)->payload.view()));
  const std::string v2(as_chars(avc_header(0, 2)->payload.view()));
  const std::string m2(as_chars(test_media::metadata(0, "two")->payload.view()));
  EXPECT_EQ(r.segments[0].video_header(), v1);
  EXPECT_EQ(r.segments[2].video_header(), v1);
  EXPECT_EQ(r.segments[3].video_header(), v2);
  EXPECT_EQ(r.segments[3].metadata(), m2);
  for (const auto& s : r.segments) EXPECT_FALSE(s.audio_header().empty());
  // Segment 2 holds the new metadata and header as tags, where they came.
  const auto tags = tags_of(r.segments[2]);
  ASSERT_EQ(tags.size(), 12u);
  EXPECT_TRUE(tags[5].is_metadata());
  EXPECT_TRUE(tags[6].is_sequence_header());
  EXPECT_EQ(as_chars(tags[6].body), v2);
}

TEST(Segmenter, NumbersSegmentsAndFramesFromTheGivenStart) {
  auto frames = test_media::video_stream({0, 1000, 2000, 3000}, 4000);
  Segmenter segmenter({.target_ms = 1000}, {.recording_id = 7, .next_sequence = 10, .next_position = 500});
  std::vector<Segment> out;
  for (const auto& f : frames) {
    if (auto s = segmenter.push(*f, 0)) out.push_back(std::move(*s));
  }
  EXPECT_EQ(segmenter.next_sequence(), 13u);
  const std::uint64_t open_frames = segmenter.open_segment()->frame_count();
  if (auto s = segmenter.flush()) out.push_back(std::move(*s));
  ASSERT_EQ(out.size(), 4u);
  std::uint64_t position = 500;
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].recording_id(), 7u);
    EXPECT_EQ(out[i].sequence(), 10u + i);
    EXPECT_EQ(out[i].first_position(), position);
    EXPECT_EQ(out[i].frame_count(), tags_of(out[i]).size());
    position += out[i].frame_count();
  }
  EXPECT_EQ(out.back().frame_count(), open_frames);
  EXPECT_EQ(segmenter.next_sequence(), 14u);
  EXPECT_EQ(segmenter.next_position(), position);
  EXPECT_EQ(segmenter.open_segment(), nullptr);
}

TEST(Segmenter, RenumberAfterALostSegment) {
  Segmenter segmenter({.target_ms = 1000}, {.recording_id = 3, .next_sequence = 0, .next_position = 0});
  std::vector<Segment> out;
  for (const auto& f : test_media::video_stream({0, 1000, 2000}, 2500)) {
    if (auto s = segmenter.push(*f, 0)) out.push_back(std::move(*s));
  }
  ASSERT_EQ(out.size(), 2u);
  // The store refused segment 1: it still expects 1 at segment 1's position.
  segmenter.renumber({.recording_id = 3, .next_sequence = 1, .next_position = out[1].first_position()});
  EXPECT_EQ(segmenter.open_segment()->sequence(), 1u);
  EXPECT_EQ(segmenter.open_segment()->first_position(), out[1].first_position());
  auto last = segmenter.flush();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->sequence(), 1u);
  EXPECT_EQ(last->start_ms(), 2000u);
  EXPECT_EQ(segmenter.next_sequence(), 2u);
  EXPECT_EQ(segmenter.next_position(), out[1].first_position() + last->frame_count());
}

TEST(Segmenter, FramePositionsNameTheirStoredTags) {
  std::vector<media::FramePtr> frames{aac_header(0), aac(0), aac(23), avc_header(30), inter(30), keyframe(40)};
  const auto real = test_media::real_frames(2, 100);
  frames.insert(frames.end(), real.begin(), real.end());
  Segmenter segmenter({.target_ms = 1000});
  std::vector<Segment> segments;
  std::vector<std::uint64_t> positions;
  for (const auto& f : frames) {
    if (auto s = segmenter.push(*f, 0)) segments.push_back(std::move(*s));
    positions.push_back(segmenter.last_frame_position());
  }
  if (auto s = segmenter.flush()) segments.push_back(std::move(*s));
  // Held audio, headers, the inter frame before the first keyframe: 0.
  EXPECT_EQ(std::vector<std::uint64_t>(positions.begin(), positions.begin() + 6),
            (std::vector<std::uint64_t>{0, 0, 0, 0, 0, 1}));
  std::vector<TagView> stored;
  for (const auto& s : segments) {
    ASSERT_EQ(s.first_position(), stored.size() + 1);
    for (const auto& t : tags_of(s)) stored.push_back(t);
  }
  // From the keyframe on, every frame is recorded (the real file's headers
  // too: inside a segment they are tags like any other frame).
  std::uint64_t expected = 1;
  for (std::size_t i = 5; i < frames.size(); ++i) {
    ASSERT_EQ(positions[i], expected) << i;
    const TagView& tag = stored[positions[i] - 1];
    EXPECT_EQ(tag.timestamp, frames[i]->timestamp) << i;
    EXPECT_EQ(tag.body.size(), frames[i]->payload.size()) << i;
    ++expected;
  }
  EXPECT_EQ(expected, stored.size() + 1);
}

TEST(Segmenter, HeldAudioGetsPositionsOnlyOnceTheStreamIsAudioOnly) {
  Segmenter segmenter({.target_ms = 2000, .video_wait_ms = 1000});
  std::vector<std::uint64_t> positions;
  for (std::uint32_t t = 0; t <= 1200; t += 100) {
    EXPECT_FALSE(segmenter.push(*aac(t), 0));
    positions.push_back(segmenter.last_frame_position());
  }
  // 0 to 900 held (undecided); at 1000 the stream is audio-only: the frame
  // is the 11th of the segment.
  EXPECT_EQ(positions, (std::vector<std::uint64_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11, 12, 13}));
  EXPECT_EQ(segmenter.open_segment()->first_position(), 1u);
}

TEST(Segmenter, TagsHoldEveryRecordedFrameInOrder) {
  const auto frames = test_media::real_frames(3);
  ASSERT_FALSE(frames.empty());
  auto r = run(frames, {.target_ms = 1000});
  std::vector<TagView> all;
  for (const auto& s : r.segments) {
    for (const auto& t : tags_of(s)) all.push_back(t);
  }
  // Real files start at a keyframe after the headers: nothing dropped.
  EXPECT_EQ(r.dropped, 0u);
  // Headers before the first keyframe are fields, not tags.
  ASSERT_EQ(all.size(), frames.size() - 3);
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& f = *frames[i + 3];
    EXPECT_EQ(all[i].type, tag_type_of(f.kind)) << i;
    EXPECT_EQ(all[i].timestamp, f.timestamp) << i;
    EXPECT_TRUE(std::equal(all[i].body.begin(), all[i].body.end(), f.payload.view().begin(), f.payload.view().end()))
        << i;
  }
  // Keyframes at 0, 1000, 2200, 3200, 4400, 5400.
  EXPECT_EQ(starts(r.segments), (std::vector<std::uint32_t>{0, 1000, 2200, 3200, 4400, 5400}));
  expect_keyframe_starts(r.segments);
  for (const auto& s : r.segments) {
    EXPECT_FALSE(s.metadata().empty());
    EXPECT_FALSE(s.video_header().empty());
    EXPECT_FALSE(s.audio_header().empty());
  }
}

TEST(Segmenter, WallStartIsTheArrivalOfTheFirstFrame) {
  auto r = run(test_media::video_stream({0, 1000}, 2000), {.target_ms = 1000});
  ASSERT_EQ(r.segments.size(), 2u);
  // Three header frames, then the keyframe at 0 (wall 1003); the keyframe
  // at 1000 is the 24th frame pushed (wall 1023).
  EXPECT_EQ(r.segments[0].wall_start_ms(), 1003);
  EXPECT_EQ(r.segments[1].wall_start_ms(), 1023);
}

TEST(Segmenter, SameInputSameSegments) {
  const auto frames = test_media::real_frames(4);
  auto a = run(frames, {.target_ms = 1500});
  auto b = run(frames, {.target_ms = 1500});
  ASSERT_EQ(a.segments.size(), b.segments.size());
  for (std::size_t i = 0; i < a.segments.size(); ++i) {
    EXPECT_EQ(a.segments[i].SerializeAsString(), b.segments[i].SerializeAsString()) << i;
  }
}

TEST(Segmenter, SegmentersJoiningLateConvergeOnTheSameCuts) {
  // Irregular GOPs (0.3 to 1.7 s), target 2 s: a segmenter that starts at
  // any keyframe soon cuts exactly where one that saw everything does.
  std::vector<std::uint32_t> keys;
  std::uint32_t t = 0;
  for (std::uint32_t i = 0; t < 60000; ++i) {
    keys.push_back(t);
    t += 300 + (i * 7919) % 1400 / 100 * 100;
  }
  const auto frames = test_media::video_stream(keys, 60000);
  const auto full = starts(run(frames, {.target_ms = 2000}).segments);
  for (std::size_t skip = 3; skip < frames.size() / 2; skip += 37) {
    const std::vector<media::FramePtr> late(frames.begin() + static_cast<std::ptrdiff_t>(skip), frames.end());
    const auto joined = starts(run(late, {.target_ms = 2000}).segments);
    ASSERT_GE(joined.size(), 3u);
    // From the joiner's third cut on, every cut is one the full run made.
    const auto from = std::find(full.begin(), full.end(), joined[2]);
    ASSERT_NE(from, full.end()) << "skip " << skip;
    EXPECT_EQ(std::vector<std::uint32_t>(from, full.end()), std::vector<std::uint32_t>(joined.begin() + 2, joined.end()))
        << "skip " << skip;
  }
}

TEST(Segmenter, TimestampsGoingBackStartANewSegment) {
  // The publisher's clock restarts at 0 at 5 s: without the rule the
  // segment would wait 6 s of media for its boundary.
  std::vector<media::FramePtr> frames = test_media::video_stream({0, 1000, 2000, 3000, 4000, 5000}, 5500);
  for (std::uint32_t t = 0; t < 2500; t += 100) frames.push_back(t % 1000 == 0 ? keyframe(t) : inter(t));
  auto r = run(frames, {.target_ms = 2000});
  EXPECT_EQ(starts(r.segments), (std::vector<std::uint32_t>{0, 2000, 4000, 0, 2000}));
  // The segment before the jump ends at its own last frame.
  EXPECT_EQ(r.segments[2].duration_ms(), 1450u);
}

TEST(Segmenter, OversizedSegmentIsCutWhateverTheNextFrame) {
  // A stream that never sends another keyframe.
  std::vector<media::FramePtr> frames{keyframe(0, 100)};
  for (std::uint32_t t = 40; t < 4000; t += 40) frames.push_back(inter(t, 100));
  auto r = run(frames, {.target_ms = 1000, .max_segment_bytes = 2000});
  // 120 bytes a tag (11 + 105 + 4): the 17th tag makes 2040 >= 2000.
  ASSERT_GT(r.segments.size(), 5u);
  for (std::size_t i = 0; i + 1 < r.segments.size(); ++i) EXPECT_EQ(r.segments[i].frame_count(), 17u) << i;
  std::uint64_t total = 0;
  for (const auto& s : r.segments) total += s.frame_count();
  EXPECT_EQ(total, frames.size());
}

TEST(Segmenter, TinyFramesWithOneTimestampAreCutByCount) {
  // A publisher flooding one-byte audio frames all stamped 0: no timestamp
  // ever reaches a boundary (nor video_wait_ms), so only the frame cap
  // keeps the open segment, and the recording tail behind it, bounded.
  std::vector<media::FramePtr> frames;
  for (int i = 0; i < 1000; ++i) frames.push_back(aac(0, 1));
  auto r = run(frames, {.target_ms = 1000, .max_segment_frames = 64});
  ASSERT_EQ(r.segments.size(), 1000u / 64 + 1);
  for (std::size_t i = 0; i + 1 < r.segments.size(); ++i) EXPECT_EQ(r.segments[i].frame_count(), 64u) << i;
  EXPECT_EQ(r.dropped, 0u);
}

TEST(Segmenter, FrameTooLargeForFlvIsDropped) {
  auto huge = std::make_shared<media::Frame>();
  huge->kind = media::FrameKind::Video;
  huge->timestamp = 100;
  huge->payload = SharedBuffer(Bytes(flv::kMaxTagBodySize + 1, 0x27));
  auto r = run({keyframe(0), huge, inter(200)});
  ASSERT_EQ(r.segments.size(), 1u);
  EXPECT_EQ(r.segments[0].frame_count(), 2u);
  EXPECT_EQ(r.dropped, 1u);
}

TEST(Segmenter, CuePointsRideAlongButNeverCut) {
  std::vector<media::FramePtr> frames{keyframe(0), test_media::cue_point(2500, "c"), inter(2600), keyframe(3000)};
  auto r = run(frames, {.target_ms = 2000});
  EXPECT_EQ(starts(r.segments), (std::vector<std::uint32_t>{0, 3000}));
  const auto tags = tags_of(r.segments[0]);
  ASSERT_EQ(tags.size(), 3u);
  EXPECT_EQ(tags[1].type, flv::TagType::Script);
  EXPECT_FALSE(tags[1].is_metadata());
}

TEST(Segmenter, FlushWithoutAnOpenSegmentAndAfterwards) {
  Segmenter segmenter({.target_ms = 1000});
  EXPECT_FALSE(segmenter.flush());
  EXPECT_FALSE(segmenter.push(*inter(0), 0));  // before any keyframe
  EXPECT_FALSE(segmenter.flush());
  EXPECT_FALSE(segmenter.push(*avc_header(0), 0));
  EXPECT_FALSE(segmenter.push(*keyframe(10), 0));
  ASSERT_NE(segmenter.open_segment(), nullptr);
  auto first = segmenter.flush();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->sequence(), 0u);
  EXPECT_EQ(first->duration_ms(), 0u);
  // A later publish of the same recording (the Recorder keeps the
  // segmenter for an append): numbering and headers go on.
  EXPECT_FALSE(segmenter.push(*keyframe(5000), 0));
  auto second = segmenter.flush();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->sequence(), 1u);
  EXPECT_EQ(second->first_position(), 2u);
  EXPECT_EQ(second->video_header(), as_chars(avc_header(0)->payload.view()));
  EXPECT_EQ(segmenter.video_header(), as_chars(avc_header(0)->payload.view()));
  EXPECT_TRUE(segmenter.audio_header().empty());
}

}  // namespace
}  // namespace rw::dvr
