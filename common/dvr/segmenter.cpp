#include "common/dvr/segmenter.hpp"

#include <utility>

#include "common/dvr/segment_tags.hpp"

namespace rw::dvr {

Segmenter::Segmenter(const SegmenterOptions& options, const SegmenterStart& start)
    : options_(options),
      recording_id_(start.recording_id),
      next_sequence_(start.next_sequence),
      next_position_(start.next_position) {
  if (options_.target_ms == 0) options_.target_ms = 1;
}

bool Segmenter::cut_due(std::uint32_t timestamp) const {
  // A cut point stamped before the segment's start means the publisher's
  // clock went back: waiting for the boundary could take forever.
  return timestamp_diff(timestamp, boundary_) >= 0 || timestamp_diff(timestamp, segment_.start_ms()) < 0;
}

void Segmenter::remember_header(const media::Frame& frame) {
  const auto body = as_chars(frame.payload.view());
  if (frame.kind == media::FrameKind::Metadata) {
    metadata_.assign(body);
  } else if (frame.sequence_header && frame.kind == media::FrameKind::Video) {
    video_header_.assign(body);
  } else if (frame.sequence_header && frame.kind == media::FrameKind::Audio) {
    audio_header_.assign(body);
  }
}

void Segmenter::open(const media::Frame& frame, std::int64_t wall_ms) {
  segment_.Clear();
  segment_.set_recording_id(recording_id_);
  segment_.set_sequence(next_sequence_);
  segment_.set_start_ms(frame.timestamp);
  segment_.set_first_position(next_position_);
  segment_.set_wall_start_ms(wall_ms);
  segment_.set_video_header(video_header_);
  segment_.set_audio_header(audio_header_);
  segment_.set_metadata(metadata_);
  // Segments of one stream are about the same size: one allocation, not a
  // doubling series of copies.
  segment_.mutable_tags()->reserve(expected_size_ + expected_size_ / 4);
  const std::uint64_t boundary =
      (static_cast<std::uint64_t>(frame.timestamp) / options_.target_ms + 1) * options_.target_ms;
  boundary_ = static_cast<std::uint32_t>(boundary);  // modulo 2^32: compared serially
  last_timestamp_ = frame.timestamp;
  open_ = true;
  append(frame);
}

void Segmenter::append(const media::Frame& frame) {
  last_frame_position_ = kind_ == Kind::Undecided ? 0 : segment_.first_position() + segment_.frame_count();
  append_tag(*segment_.mutable_tags(), tag_type_of(frame.kind), frame.timestamp, frame.payload.view());
  segment_.set_frame_count(segment_.frame_count() + 1);
  if (timestamp_diff(frame.timestamp, last_timestamp_) > 0) last_timestamp_ = frame.timestamp;
}

Segment Segmenter::close(std::optional<std::uint32_t> next_start) {
  std::int32_t duration = timestamp_diff(last_timestamp_, segment_.start_ms());
  if (next_start && timestamp_diff(*next_start, segment_.start_ms()) >= 0) {
    duration = timestamp_diff(*next_start, segment_.start_ms());
  }
  segment_.set_duration_ms(duration > 0 ? static_cast<std::uint32_t>(duration) : 0);
  next_sequence_ += 1;
  next_position_ += segment_.frame_count();
  expected_size_ = segment_.tags().size();
  open_ = false;
  Segment done = std::move(segment_);
  segment_.Clear();
  return done;
}

std::optional<Segment> Segmenter::cut_and_open(const media::Frame& frame, std::int64_t wall_ms) {
  std::optional<Segment> done;
  if (open_) done = close(frame.timestamp);
  open(frame, wall_ms);
  return done;
}

std::optional<Segment> Segmenter::push(const media::Frame& frame, std::int64_t wall_ms) {
  last_frame_position_ = 0;
  if (frame.payload.size() > flv::kMaxTagBodySize) {
    ++dropped_;
    return std::nullopt;
  }
  const bool is_video = frame.kind == media::FrameKind::Video;
  const bool is_audio = frame.kind == media::FrameKind::Audio;
  const bool is_header = frame.kind == media::FrameKind::Metadata || ((is_video || is_audio) && frame.sequence_header);
  if (is_header) remember_header(frame);

  if (is_video && kind_ != Kind::Video) {
    if (kind_ == Kind::Undecided && open_) {
      // Audio that came before the first video frame: not playable from a
      // keyframe, so not recorded.
      dropped_ += segment_.frame_count();
      segment_.Clear();
      open_ = false;
    }
    // From an audio-only stream: the open segment goes on with audio until
    // the first keyframe cuts it.
    kind_ = Kind::Video;
    awaiting_keyframe_ = true;
  }

  if (open_ && (segment_.tags().size() >= options_.max_segment_bytes ||
                segment_.frame_count() >= options_.max_segment_frames)) {
    if (kind_ == Kind::Undecided) kind_ = Kind::AudioOnly;
    awaiting_keyframe_ = false;
    return cut_and_open(frame, wall_ms);
  }

  if (is_header || !(is_video || is_audio)) {
    // Metadata, codec headers and other script data ride along in the open
    // segment; between segments only their "in effect" values are kept.
    if (open_) {
      append(frame);
    } else if (!is_header) {
      ++dropped_;
    }
    return std::nullopt;
  }

  if (is_video) {
    if (frame.keyframe) {
      if (awaiting_keyframe_ || !open_ || cut_due(frame.timestamp)) {
        awaiting_keyframe_ = false;
        return cut_and_open(frame, wall_ms);
      }
    } else if (awaiting_keyframe_) {
      ++dropped_;
      return std::nullopt;
    }
    append(frame);
    return std::nullopt;
  }

  // Audio.
  switch (kind_) {
    case Kind::Video:
      if (open_) {
        append(frame);
      } else {
        ++dropped_;
      }
      return std::nullopt;
    case Kind::Undecided:
      if (!open_) {
        open(frame, wall_ms);
        return std::nullopt;
      }
      if (timestamp_diff(frame.timestamp, segment_.start_ms()) < static_cast<std::int64_t>(options_.video_wait_ms)) {
        append(frame);
        return std::nullopt;
      }
      // No video after video_wait_ms of audio: cut like any audio-only stream.
      kind_ = Kind::AudioOnly;
      [[fallthrough]];
    case Kind::AudioOnly:
      if (!open_ || cut_due(frame.timestamp)) return cut_and_open(frame, wall_ms);
      append(frame);
      return std::nullopt;
  }
  return std::nullopt;
}

void Segmenter::renumber(const SegmenterStart& start) {
  recording_id_ = start.recording_id;
  next_sequence_ = start.next_sequence;
  next_position_ = start.next_position;
  if (open_) {
    segment_.set_recording_id(recording_id_);
    segment_.set_sequence(next_sequence_);
    segment_.set_first_position(next_position_);
  }
}

std::optional<Segment> Segmenter::flush() {
  if (!open_) return std::nullopt;
  if (kind_ == Kind::Undecided) kind_ = Kind::AudioOnly;  // it ended before any video came
  return close(std::nullopt);
}

}  // namespace rw::dvr
