#include "tests/bench/seek_check.hpp"

#include <algorithm>

#include "common/flv/tag.hpp"
#include "common/rtmp/message.hpp"

namespace rw::bench {

namespace {

// splitmix64 (Steele, Lea and Flood): a full-period generator whose every
// output is well mixed, so neighbouring seeds give unrelated sequences.
std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// RTMP timestamps wrap at 2^32: a - b as the shorter way round.
std::int32_t ts_diff(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b); }

bool video_needs_header(const flv::VideoInfo& info) {
  switch (info.codec) {
    case flv::VideoCodec::Avc:
    case flv::VideoCodec::Hevc:
    case flv::VideoCodec::Av1:
    case flv::VideoCodec::Vp9: return true;
    default: return info.enhanced;
  }
}

}  // namespace

RandomMs::RandomMs(std::uint64_t seed, std::size_t client) : state_(seed) {
  // Mix the seed before the index goes in, so seed 1 client 2 and seed 2
  // client 1 differ.
  state_ = splitmix64(state_) ^ (static_cast<std::uint64_t>(client) * 0xd1b54a32d192ed03ULL);
}

std::uint32_t RandomMs::next(std::uint32_t range_ms) {
  const std::uint64_t bits = splitmix64(state_) >> 11;  // 53 bits: exact in a double
  const double unit = static_cast<double>(bits) * 0x1.0p-53;  // [0, 1)
  const auto target = static_cast<std::uint64_t>(unit * range_ms);
  // The product may round up to the range itself.
  return range_ms == 0 ? 0 : static_cast<std::uint32_t>(std::min<std::uint64_t>(target, range_ms - 1));
}

MediaClass classify_media(std::uint8_t type, ByteView payload) {
  MediaClass out;
  if (type == rtmp::msg_type::kVideo) {
    const auto info = flv::parse_video(payload);
    if (!info) return out;
    out.needs_header = video_needs_header(*info);
    if (info->sequence_header) {
      out.kind = MediaKind::VideoHeader;
    } else if (info->is_keyframe()) {
      out.kind = MediaKind::Keyframe;
    } else if (!info->end_of_sequence && (info->frame_type == flv::FrameType::Inter ||
                                          info->frame_type == flv::FrameType::DisposableInter)) {
      out.kind = MediaKind::InterFrame;
    }
  } else if (type == rtmp::msg_type::kAudio) {
    const auto info = flv::parse_audio(payload);
    if (!info) return out;
    out.needs_header = info->format == flv::AudioFormat::Aac || info->format == flv::AudioFormat::ExHeader;
    out.kind = info->sequence_header ? MediaKind::AudioHeader : MediaKind::AudioFrame;
  }
  return out;
}

const char* to_string(SeekViolation violation) {
  switch (violation) {
    case SeekViolation::KeyframeAfterTarget: return "keyframe after the target";
    case SeekViolation::KeyframeBeforeSequenceHeader: return "keyframe before the video sequence header";
    case SeekViolation::InterFrameBeforeKeyframe: return "inter frame before the keyframe";
    case SeekViolation::AudioBeforeSequenceHeader: return "audio before the audio sequence header";
    case SeekViolation::LaterKeyframeAtOrBeforeTarget: return "a later keyframe was also at or before the target";
  }
  return "?";
}

SeekProbe::SeekProbe(std::uint32_t target_ms, std::int64_t sent_us, std::uint32_t from_ms,
                     std::optional<std::uint32_t> first_keyframe_ms)
    : target_ms_(target_ms), sent_us_(sent_us), from_ms_(from_ms), first_keyframe_ms_(first_keyframe_ms) {}

void SeekProbe::on_notify(std::int64_t now_us) {
  if (notified_) return;  // a second Notify would be another seek's
  notified_ = true;
  notified_us_ = now_us;
}

bool SeekProbe::on_media(const MediaClass& media, std::uint32_t timestamp_ms, std::int64_t now_us) {
  if (!notified_) {
    if (media.kind != MediaKind::Other) ++stale_messages_;
    return false;
  }
  switch (media.kind) {
    case MediaKind::VideoHeader:
      video_header_seen_ = true;
      return false;
    case MediaKind::AudioHeader:
      audio_header_seen_ = true;
      return false;
    case MediaKind::AudioFrame:
      if (media.needs_header && !audio_header_seen_) violate(SeekViolation::AudioBeforeSequenceHeader, timestamp_ms);
      return false;
    case MediaKind::InterFrame:
      if (!landed_) violate(SeekViolation::InterFrameBeforeKeyframe, timestamp_ms);
      return false;
    case MediaKind::Other:
      return false;
    case MediaKind::Keyframe:
      break;
  }
  if (landed_) {
    // The server should have started from this one.
    if (ts_diff(timestamp_ms, keyframe_timestamp_) > 0 && ts_diff(timestamp_ms, target_ms_) <= 0) {
      violate(SeekViolation::LaterKeyframeAtOrBeforeTarget, timestamp_ms);
    }
    return false;
  }
  landed_ = true;
  landed_us_ = now_us;
  keyframe_timestamp_ = timestamp_ms;
  if (media.needs_header && !video_header_seen_) violate(SeekViolation::KeyframeBeforeSequenceHeader, timestamp_ms);
  const bool first_of_recording = first_keyframe_ms_ && timestamp_ms == *first_keyframe_ms_;
  if (ts_diff(timestamp_ms, target_ms_) > 0 && !first_of_recording) violate(SeekViolation::KeyframeAfterTarget, timestamp_ms);
  return true;
}

std::int32_t SeekProbe::keyframe_before_target_ms() const { return ts_diff(target_ms_, keyframe_timestamp_); }

void SeekProbe::violate(SeekViolation kind, std::uint32_t timestamp_ms) {
  for (const Violation& v : violations_) {
    if (v.kind == kind) return;
  }
  violations_.push_back({kind, timestamp_ms});
}

void SeekTally::record_landing(const SeekProbe& probe) {
  ++landed;
  keyframe_ms.push_back(probe.keyframe_ms());
  notify_ms.push_back(probe.notify_ms());
  keyframe_before_target_ms.push_back(probe.keyframe_before_target_ms());
  stale_messages += probe.stale_messages();
}

void SeekTally::record_violations(const SeekProbe& probe, std::size_t client, std::size_t seek) {
  if (probe.violations().empty()) return;
  ++violations;
  std::string kinds;
  for (const SeekProbe::Violation& v : probe.violations()) {
    ++violation_kinds[to_string(v.kind)];
    kinds += "; ";
    kinds += to_string(v.kind);
    kinds += " (at " + std::to_string(v.timestamp_ms) + " ms)";
  }
  if (examples.size() < kMaxExamples) {
    std::string example = "client " + std::to_string(client) + " seek " + std::to_string(seek) + ": from " +
                          std::to_string(probe.from_ms()) + " ms to target " + std::to_string(probe.target_ms()) +
                          " ms, ";
    example += probe.landed() ? "keyframe " + std::to_string(probe.keyframe_timestamp()) + " ms" : "no keyframe";
    examples.push_back(example + kinds);
  }
}

void SeekTally::record_failure(const std::string& reason) {
  ++failed;
  ++failures[reason];
}

}  // namespace rw::bench
