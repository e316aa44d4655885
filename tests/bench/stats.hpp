// What the load tool measures, kept apart from the I/O so it can be tested.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace rw::bench {

// Percentiles over clients or events (nearest rank: p95 of 20 values is
// the 19th, p99 of 1000 the 990th).
struct Summary {
  std::size_t count = 0;
  double p50 = 0;
  double p95 = 0;
  double p99 = 0;
  double max = 0;
  double mean = 0;
};
Summary summarize(std::vector<double> values);

// One player's timing: how far it falls behind real time and the longest
// silence between two media messages.
//
// Lag is wall time since the first media message minus media time received
// since then. It is measured from the moment the player was furthest ahead:
// a server that starts a player with its GOP cache sends a second or two of
// media at once, which puts the player ahead of real time, and falling back
// from there to the live edge is not falling behind. `ahead_ms` says how
// far ahead that start took it.
//
// Times are microseconds on a steady clock; media timestamps are RTMP's
// 32-bit milliseconds (serial arithmetic: they may wrap, and audio and
// video may interleave slightly out of order).
class PlayerTimeline {
 public:
  void on_media(std::uint32_t timestamp_ms, std::int64_t now_us);
  // Accounts for the time since the last message: a player that stopped
  // receiving is behind, and that silence is a gap.
  void finish(std::int64_t now_us);

  bool started() const { return started_; }
  std::int64_t first_media_us() const { return first_wall_us_; }
  double lag_ms() const { return static_cast<double>(lag_us_) / 1000.0; }
  double max_lag_ms() const { return static_cast<double>(max_lag_us_) / 1000.0; }
  double max_gap_ms() const { return static_cast<double>(max_gap_us_) / 1000.0; }
  double ahead_ms() const { return static_cast<double>(-best_offset_us_) / 1000.0; }
  // Media time received since the first message, in ms.
  std::int64_t media_ms() const { return max_media_ms_; }

 private:
  void update_lag(std::int64_t now_us);

  bool started_ = false;
  std::int64_t first_wall_us_ = 0;
  std::int64_t last_wall_us_ = 0;
  std::uint32_t last_timestamp_ = 0;
  std::int64_t media_ms_ = 0;      // the last message's time, relative to the first
  std::int64_t max_media_ms_ = 0;  // the furthest media time reached
  std::int64_t best_offset_us_ = 0;  // min over time of (wall elapsed - media elapsed)
  std::int64_t lag_us_ = 0;
  std::int64_t max_lag_us_ = 0;
  std::int64_t max_gap_us_ = 0;
};

// How far a publisher runs behind its real-time schedule.
class ScheduleLag {
 public:
  // `oldest_unsent_due_us`: when the oldest frame not yet handed to the
  // socket was due (or a future time, or none, when nothing is late).
  void sample(std::int64_t now_us, std::int64_t oldest_unsent_due_us) {
    current_us_ = oldest_unsent_due_us < now_us ? now_us - oldest_unsent_due_us : 0;
    if (current_us_ > max_us_) max_us_ = current_us_;
  }
  double current_ms() const { return static_cast<double>(current_us_) / 1000.0; }
  double max_ms() const { return static_cast<double>(max_us_) / 1000.0; }

 private:
  std::int64_t current_us_ = 0;
  std::int64_t max_us_ = 0;
};

// Where a publisher's frames are: queued, handed to the socket, read by the
// server. The kernel's socket buffers hold seconds of a 1 Mbit/s stream,
// so a server that stops reading shows up late on the publisher's side
// unless we ask it: the publisher announces a small Window Ack Size, and a
// server that acknowledges every window shows how far its reading lags.
//
// Byte positions count everything the connection queued, handshake
// included; acknowledgements count chunk-stream bytes from the end of the
// handshake (32-bit, wrapping).
class PublishProgress {
 public:
  PublishProgress(std::uint32_t ack_window, std::uint64_t handshake_bytes)
      : ack_window_(ack_window), handshake_bytes_(handshake_bytes) {}

  // Frames up to byte `end` are queued; the oldest of them was due at due_us.
  void queued(std::uint64_t end, std::int64_t due_us) { batches_.push_back({end, due_us}); }
  // The socket has taken this many bytes in all.
  void sent(std::uint64_t bytes);
  // The server's latest Acknowledgement sequence number.
  void acknowledged(std::uint32_t sequence);

  // When the oldest frame that is late was due: one the socket has not
  // taken, or (once the server has acknowledged something) one a window
  // past the last acknowledgement, which the server would have
  // acknowledged had it read it. nullopt: nothing is outstanding.
  std::optional<std::int64_t> oldest_late_due() const;
  std::uint64_t acknowledged_bytes() const { return acked_; }

 private:
  struct Batch {
    std::uint64_t end = 0;
    std::int64_t due_us = 0;
  };
  void forget_done();

  std::uint32_t ack_window_;
  std::uint64_t handshake_bytes_;
  std::deque<Batch> batches_;
  std::uint64_t sent_ = 0;
  std::uint64_t acked_ = 0;  // position (handshake included) the server acknowledged
  std::uint32_t last_sequence_ = 0;
  bool acks_seen_ = false;
};

// Mbit/s of a byte counter between successive readings (progress lines).
class RateMeter {
 public:
  RateMeter(std::uint64_t bytes, std::int64_t now_us) : bytes_(bytes), at_us_(now_us) {}
  // Since the last reading (or construction); 0 when no time has passed.
  double mbit_per_s(std::uint64_t bytes, std::int64_t now_us) {
    const double seconds = static_cast<double>(now_us - at_us_) / 1e6;
    const double mbit = seconds > 0 ? static_cast<double>(bytes - bytes_) * 8 / seconds / 1e6 : 0;
    bytes_ = bytes;
    at_us_ = now_us;
    return mbit;
  }

 private:
  std::uint64_t bytes_;
  std::int64_t at_us_;
};

}  // namespace rw::bench
