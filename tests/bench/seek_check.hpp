// What `rewind-bench seek` checks and times, kept apart from the I/O so it
// can be tested: where each seek goes, what the server sends after
// NetStream.Seek.Notify, and the tally over all clients.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/base/bytes.hpp"
#include "tests/bench/stats.hpp"

namespace rw::bench {

// Milliseconds uniform in [0, range), from a seed and the client's index
// only: a run with the same seed seeks to the same places (and waits the
// same jitter) whatever the order the clients connect in.
class RandomMs {
 public:
  RandomMs(std::uint64_t seed, std::size_t client);
  // 0 for a range of 0.
  std::uint32_t next(std::uint32_t range_ms);

 private:
  std::uint64_t state_;
};

// What a media message is, as far as a seek is concerned.
enum class MediaKind {
  VideoHeader,  // AVC/HEVC decoder configuration, Enhanced RTMP SequenceStart
  Keyframe,     // a frame a decoder can start from
  InterFrame,
  AudioHeader,  // AAC AudioSpecificConfig, Enhanced RTMP audio SequenceStart
  AudioFrame,
  Other,        // data, video info/command and generated frames, end of sequence, unparsable
};

struct MediaClass {
  MediaKind kind = MediaKind::Other;
  // The codec needs its sequence header before a decoder can use this frame
  // (AVC, HEVC, AV1, VP9, AAC); Sorenson or MP3 frames need none.
  bool needs_header = false;
};

// type: the RTMP message type (8 audio, 9 video; anything else is Other).
MediaClass classify_media(std::uint8_t type, ByteView payload);

// What can be wrong with what a seek delivers (docs/protocol.md, "NetStream": after
// Seek.Notify, the sequence headers, then frames from the keyframe at or
// before the target). Each is counted at most once per seek.
enum class SeekViolation {
  KeyframeAfterTarget,            // landed after the target (and not on the recording's first keyframe)
  KeyframeBeforeSequenceHeader,   // the keyframe came before the video sequence header
  InterFrameBeforeKeyframe,       // inter frames came before the keyframe: a decoder shows garbage
  AudioBeforeSequenceHeader,      // AAC frames came before the AAC sequence header
  LaterKeyframeAtOrBeforeTarget,  // a later keyframe was also at or before the target: it landed too early
};
// Stable names, for the JSON report.
const char* to_string(SeekViolation violation);

// One seek, from sending it to the next seek: when Seek.Notify and the
// keyframe arrive, and whether what comes after Notify is in order.
// Media before Notify was on its way before the server read the seek and
// is only counted. Times are microseconds on a steady clock; timestamps
// are RTMP's 32-bit milliseconds, compared with serial arithmetic.
class SeekProbe {
 public:
  // from_ms: the last media timestamp played before the seek (for the
  // report: a stale frame shows as one near it). first_keyframe_ms: the
  // recording's first keyframe, where a target before it lands (Flash
  // players seek(0) to go back to the start); none if unknown, and then no
  // landing after the target is excused.
  SeekProbe(std::uint32_t target_ms, std::int64_t sent_us, std::uint32_t from_ms,
            std::optional<std::uint32_t> first_keyframe_ms);

  void on_notify(std::int64_t now_us);
  // True when this message is the keyframe the seek landed on.
  bool on_media(const MediaClass& media, std::uint32_t timestamp_ms, std::int64_t now_us);

  std::uint32_t target_ms() const { return target_ms_; }
  std::uint32_t from_ms() const { return from_ms_; }
  std::int64_t sent_us() const { return sent_us_; }
  bool notified() const { return notified_; }
  bool landed() const { return landed_; }
  // From sending the seek to Seek.Notify, and to the keyframe.
  double notify_ms() const { return static_cast<double>(notified_us_ - sent_us_) / 1000.0; }
  double keyframe_ms() const { return static_cast<double>(landed_us_ - sent_us_) / 1000.0; }
  std::uint32_t keyframe_timestamp() const { return keyframe_timestamp_; }
  // How far before the target the keyframe is (negative: after it).
  std::int32_t keyframe_before_target_ms() const;
  std::uint32_t stale_messages() const { return stale_messages_; }

  struct Violation {
    SeekViolation kind;
    std::uint32_t timestamp_ms;  // of the first message that showed it
  };
  const std::vector<Violation>& violations() const { return violations_; }

 private:
  void violate(SeekViolation kind, std::uint32_t timestamp_ms);

  std::uint32_t target_ms_;
  std::int64_t sent_us_;
  std::uint32_t from_ms_;
  std::optional<std::uint32_t> first_keyframe_ms_;
  bool notified_ = false;
  bool landed_ = false;
  bool video_header_seen_ = false;
  bool audio_header_seen_ = false;
  std::int64_t notified_us_ = 0;
  std::int64_t landed_us_ = 0;
  std::uint32_t keyframe_timestamp_ = 0;
  std::uint32_t stale_messages_ = 0;
  std::vector<Violation> violations_;
};

// Every seek of every client.
struct SeekTally {
  // Violation descriptions kept for the report, beyond the counts.
  static constexpr std::size_t kMaxExamples = 20;

  std::size_t sent = 0;
  std::size_t landed = 0;
  std::size_t failed = 0;
  std::map<std::string, std::size_t> failures;  // reason -> count
  std::size_t violations = 0;                   // seeks with at least one
  std::map<std::string, std::size_t> violation_kinds;
  std::vector<std::string> examples;            // "client 3 seek 2: target ..., keyframe ...: kind at ..."
  std::uint64_t stale_messages = 0;
  std::vector<double> keyframe_ms;
  std::vector<double> notify_ms;
  std::vector<double> keyframe_before_target_ms;

  void sent_one() { ++sent; }
  // A seek whose keyframe arrived. Its violations are final only at the
  // next seek (a later keyframe may still be at or before the target), so
  // call record_violations() then.
  void record_landing(const SeekProbe& probe);
  void record_violations(const SeekProbe& probe, std::size_t client, std::size_t seek);
  void record_failure(const std::string& reason);
};

}  // namespace rw::bench
