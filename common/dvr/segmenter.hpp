// Cuts a publisher's frames into DVR segments: when to cut, not how to
// store (SRS splits its DvrPlan from its DvrSegmenter the same way). Pure:
// no I/O, no clock, no threads; the caller passes the wall time along.
//
// The cut rule (docs/dvr.md, "How it is stored") is a pure function of timestamps,
// so that two origins fed the same stream cut the same segments:
//   - a segment starts at a video keyframe;
//   - the segment that starts at S ends before the first keyframe at or
//     after the boundary B = (floor(S / target_ms) + 1) * target_ms, that
//     is the next multiple of the target on the absolute media timeline.
//     Timestamps are 32-bit and wrap: B is computed modulo 2^32 and
//     "at or after" is serial arithmetic (int32_t(t - B) >= 0), so a cut
//     depends only on the segment's own start, never on history;
//   - in audio-only streams (no video seen), audio frames stand in for
//     keyframes;
//   - frames before the first keyframe are not recorded (a decoder could
//     not start there); codec headers and metadata seen before it are
//     carried as the first segment's "in effect" fields.
// Two segmenters fed the same stream from different keyframes converge on
// the same cuts (each cut is the first keyframe after some multiple of the
// target, and both chains advance by at least one multiple per cut).
//
// Safety valves for streams that never give a keyframe where one is due:
//   - a keyframe stamped before its segment's start (the publisher's clock
//     went back) starts a new segment;
//   - a segment reaching max_segment_bytes or max_segment_frames is cut
//     before the next frame, whatever it is: such a segment does not start
//     at a keyframe (its SegmentInfo lists no keyframe at its start), a
//     reader must look back. (A publisher sending tiny frames with one
//     timestamp would otherwise hold every frame it sends in memory: the
//     open segment and the hub's recording tail.)
//
// Audio first, video a moment later (ffmpeg and OBS often send the AAC
// header and a few audio frames before the first video keyframe): until a
// video frame or video_wait_ms of audio has been seen, whether the stream
// is audio-only is undecided, audio is kept in an open segment and nothing
// is cut. Video settles it: the kept audio is dropped (it came before the
// first keyframe). video_wait_ms of audio settles it the other way; video
// that starts later in an audio-only stream cuts a segment at its first
// keyframe, and from then on the stream is cut at keyframes.
//
// Usage (the Recorder; one owner, not thread-safe):
//   Segmenter seg(options, SegmenterStart::after(store.begin_recording(...)));
//   for each frame (a MutableFramePtr, before the hub shares it):
//     auto done = seg.push(*frame, wall_ms);
//     frame->position = seg.last_frame_position();
//     hub.publish(frame);
//     if (done) write on the store's thread: store.append_segment(..., *done, retention);
//   at unpublish: if (auto s = seg.flush()) append it; then end_recording.
// A segment costs one allocation (its tags buffer, reserved from the last
// segment's size) and one copy of each frame's body into it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/media/frame.hpp"
#include "proto/dvr.pb.h"

namespace rw::dvr {

struct SegmenterOptions {
  // The cut interval on the media timeline, ms (> 0).
  std::uint32_t target_ms = 2000;
  // Audio that may come before the first video frame without the stream
  // counting as audio-only.
  std::uint32_t video_wait_ms = 1000;
  // A segment is cut before the next frame once its tags reach this size,
  // keyframe or not (a stream without keyframes must not grow one segment
  // forever).
  std::size_t max_segment_bytes = 64u << 20;
  // The same by frames: real streams put a few hundred in a segment.
  std::size_t max_segment_frames = 16384;
};

// Where numbering starts: the recording the segments belong to and the
// sequence and frame position of the next segment. For an `append` this
// continues the stored recording.
struct SegmenterStart {
  std::uint64_t recording_id = 0;
  std::uint64_t next_sequence = 0;
  std::uint64_t next_position = 1;  // 0 is media::Frame::position's "not recorded"

  // Continues the recording a StreamInfo (as begin_recording returns it)
  // describes.
  static SegmenterStart after(const StreamInfo& info) {
    return {info.recording_id(), info.next_sequence(), info.next_position()};
  }
};

class Segmenter {
 public:
  explicit Segmenter(const SegmenterOptions& options, const SegmenterStart& start = {});

  // Feeds the next frame in publish order, with the wall time it arrived
  // at. Returns the segment it completed, if any (at most one per frame:
  // the frame itself then starts the next segment).
  std::optional<Segment> push(const media::Frame& frame, std::int64_t wall_ms);

  // Ends the recording (unpublish): returns the open segment, its duration
  // the span up to its last frame. The next push() starts a new segment
  // numbered after it; headers stay in effect.
  std::optional<Segment> flush();

  // Numbers from `start` on: the open segment (if any) becomes
  // start.next_sequence at start.next_position. For a Recorder whose
  // append_segment failed (a full disk): the store's StreamInfo says what
  // it expects next, and recording goes on from the open segment.
  void renumber(const SegmenterStart& start);

  // The segment being filled, or nullptr between segments (before the first
  // keyframe). Its video_header/audio_header/metadata are those in effect
  // at its start.
  const Segment* open_segment() const { return open_ ? &segment_ : nullptr; }

  // The latest codec headers and onMetaData body seen (what a frame pushed
  // now would be decoded with); empty when none was seen.
  const std::string& video_header() const { return video_header_; }
  const std::string& audio_header() const { return audio_header_; }
  const std::string& metadata() const { return metadata_; }

  // The position push() gave the frame it was just fed, for
  // media::Frame::position: the frame is tag (position - first_position)
  // of segment sequence... once stored. 0 when the frame is not recorded
  // (dropped), or not yet known to be: audio held while it is undecided
  // whether the stream has video is recorded, if at all, at positions no
  // live frame carried (a cursor reads those from the store).
  std::uint64_t last_frame_position() const { return last_frame_position_; }

  // The sequence and position the next segment (after the open one, if any)
  // gets.
  std::uint64_t next_sequence() const { return next_sequence_; }
  std::uint64_t next_position() const { return next_position_ + (open_ ? segment_.frame_count() : 0); }

  // Frames not recorded: before the first keyframe, or too large for an
  // FLV tag.
  std::uint64_t dropped_frames() const { return dropped_; }

 private:
  enum class Kind : std::uint8_t { Undecided, AudioOnly, Video };

  bool cut_due(std::uint32_t timestamp) const;
  void open(const media::Frame& frame, std::int64_t wall_ms);
  void append(const media::Frame& frame);
  // Closes the open segment: duration up to `next_start` when given
  // (and not before the start), else up to its last frame.
  Segment close(std::optional<std::uint32_t> next_start);
  std::optional<Segment> cut_and_open(const media::Frame& frame, std::int64_t wall_ms);
  void remember_header(const media::Frame& frame);

  SegmenterOptions options_;
  std::uint64_t recording_id_;
  std::uint64_t next_sequence_;
  std::uint64_t next_position_;

  Kind kind_ = Kind::Undecided;
  // Video frames are dropped until a keyframe: before the first one, and
  // after video starts in a stream that was audio-only.
  bool awaiting_keyframe_ = true;
  bool open_ = false;
  Segment segment_;                  // the open segment (valid when open_)
  std::uint32_t boundary_ = 0;       // where the open segment may be cut
  std::uint32_t last_timestamp_ = 0;  // latest frame of the open segment (serially)
  std::size_t expected_size_ = 0;    // the last segment's size, to reserve for the next

  std::uint64_t last_frame_position_ = 0;

  std::string video_header_;
  std::string audio_header_;
  std::string metadata_;
  std::uint64_t dropped_ = 0;
};

// Serial comparison of 32-bit media timestamps: a - b as a signed distance
// (RFC 1982 style), valid while they are less than 2^31 ms (24.8 days)
// apart.
inline std::int32_t timestamp_diff(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b);
}

}  // namespace rw::dvr
