// A stream's media time made monotonic, for limits that are "this much
// stream time": how far a player may fall behind, how much a feed keeps.
//
// RTMP timestamps are not a clock: they start again at 0 when a publisher
// reconnects (ffmpeg, OBS), jump when a DVR player seeks, wrap after 49.7
// days, and step back a little where audio and video interleave. Measured
// on raw timestamps, a republish from 0 after an hour would make every
// limit read "an hour ahead" until the new timestamps caught up (nothing
// trimmed, nobody skipped). This clock advances by each forward step
// between consecutive frames, ignores small steps back, and treats a large
// jump either way as a new timeline that continues where the clock is, as
// SRS's timestamp jitter correction does for its queues.
#pragma once

#include <cstdint>

namespace rw::media {

class MediaClock {
 public:
  // A step forward at most this long is media time passing (a sparse
  // stream, a slide show); longer is a jump.
  static constexpr std::uint32_t kMaxStepMs = 60'000;
  // A step back at most this long is audio and video interleaving.
  static constexpr std::uint32_t kMaxStepBackMs = 5'000;

  // The reading for the next frame, stamped `timestamp`, in arrival order.
  std::uint64_t advance(std::uint32_t timestamp) {
    if (!started_) {
      started_ = true;
      last_ = timestamp;
      return now_;
    }
    // Serial arithmetic: 32-bit timestamps wrap.
    const auto step = static_cast<std::int32_t>(timestamp - last_);
    if (step >= 0 && static_cast<std::uint32_t>(step) <= kMaxStepMs) {
      now_ += static_cast<std::uint32_t>(step);
      last_ = timestamp;
    } else if (step < 0 && static_cast<std::uint32_t>(-static_cast<std::int64_t>(step)) <= kMaxStepBackMs) {
      // Interleaving: keep measuring from the newest timestamp.
    } else {
      last_ = timestamp;  // a new timeline starts here, at the same reading
    }
    return now_;
  }
  std::uint64_t now() const { return now_; }

 private:
  bool started_ = false;
  std::uint32_t last_ = 0;  // the newest timestamp of the current timeline
  std::uint64_t now_ = 0;
};

}  // namespace rw::media
