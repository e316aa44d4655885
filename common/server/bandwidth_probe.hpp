// FMS's native bandwidth detection (docs/applications.md, "Bandwidth
// detection"), as a state machine fed with times and answers: no sockets,
// no timers, so it is tested with made-up times.
//
// A client (Flash's NetConnection.call("checkBandwidth"), or a script for
// it) is sent onBWCheck calls and answers each with a _result, as FMS's
// clients do. The first call carries nothing and measures the round trip
// (the latency); then calls carrying `data_size` bytes each are kept in
// flight, kWindow at a time (paced to max_rate_kbps when set), for
// max_wait. The rate is what was answered over the time it took to
// answer: kbps = acknowledged kbit / seconds. The connection then calls
// onBWDone(kbps, deltaDown, deltaTime, latency).
//
// A client that never answers the first call (ffmpeg, rtmpdump: they know
// no onBWCheck) is left alone after max_wait: no onBWDone, nothing more.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace rw::server {

struct BandwidthSettings {
  bool enabled = true;
  std::uint32_t max_rate_kbps = 0;  // 0: as fast as the client answers
  std::size_t data_size = 16384;    // bytes per onBWCheck call
  std::chrono::milliseconds max_wait{2000};
};

class BandwidthProbe {
 public:
  using Clock = std::chrono::steady_clock;
  // Calls of payload in flight at once: enough to keep a link of a few
  // tens of Mbit/s with a few ms of round trip busy, few enough that a
  // probe holds little (kWindow * data_size bytes queued at most).
  static constexpr unsigned kWindow = 8;

  BandwidthProbe(BandwidthSettings settings, double first_transaction, Clock::time_point now);

  struct Call {
    double transaction_id;
    bool payload;  // false: the empty latency call
  };
  // The next call to send now, if any (call until it says none).
  std::optional<Call> next(Clock::time_point now);
  // An answer (a _result) to transaction_id: true when it was ours.
  bool answer(double transaction_id, Clock::time_point now);

  enum class State { Latency, Measuring, Done, Abandoned };
  // Done or Abandoned once the time is up (checked at `now`).
  State state(Clock::time_point now);
  // When state() or next() may change without an answer.
  Clock::time_point wake_at(Clock::time_point now) const;

  struct Result {
    double kbps = 0;
    double delta_down_kbit = 0;  // FMS's deltaDown: kbit answered
    double delta_time_s = 0;     // FMS's deltaTime
    double latency_ms = 0;
  };
  Result result() const;

 private:
  bool paced_out(Clock::time_point now) const;

  BandwidthSettings settings_;
  State state_ = State::Latency;
  double next_transaction_;
  double latency_transaction_ = 0;
  Clock::time_point started_;
  Clock::time_point measure_start_{};
  Clock::time_point last_answer_{};
  double latency_ms_ = 0;
  unsigned in_flight_ = 0;
  std::uint64_t sent_bytes_ = 0;
  std::uint64_t answered_bytes_ = 0;
  bool latency_sent_ = false;
};

}  // namespace rw::server
