#include "common/server/bandwidth_probe.hpp"

#include <algorithm>

namespace rw::server {

using std::chrono::duration;
using std::chrono::milliseconds;

BandwidthProbe::BandwidthProbe(BandwidthSettings settings, double first_transaction, Clock::time_point now)
    : settings_(settings), next_transaction_(first_transaction), started_(now) {}

bool BandwidthProbe::paced_out(Clock::time_point now) const {
  if (settings_.max_rate_kbps == 0) return false;
  // Sent kbit may not run ahead of max_rate_kbps * elapsed ms / 1000.
  const double elapsed_ms = duration<double, std::milli>(now - measure_start_).count();
  const double next_kbit = static_cast<double>(sent_bytes_ + settings_.data_size) * 8 / 1000;
  return next_kbit > settings_.max_rate_kbps * elapsed_ms / 1000 + static_cast<double>(settings_.data_size) * 8 / 1000;
}

std::optional<BandwidthProbe::Call> BandwidthProbe::next(Clock::time_point now) {
  if (state(now) == State::Latency) {
    if (latency_sent_) return std::nullopt;
    latency_sent_ = true;
    latency_transaction_ = next_transaction_++;
    return Call{latency_transaction_, false};
  }
  if (state_ != State::Measuring) return std::nullopt;
  if (now >= measure_start_ + settings_.max_wait || in_flight_ >= kWindow || paced_out(now)) return std::nullopt;
  ++in_flight_;
  sent_bytes_ += settings_.data_size;
  return Call{next_transaction_++, true};
}

bool BandwidthProbe::answer(double transaction_id, Clock::time_point now) {
  if (state_ == State::Latency && latency_sent_ && transaction_id == latency_transaction_) {
    // At least 1 ms: a loopback answers in microseconds, and FMS's
    // clients divide by it.
    latency_ms_ = std::max(1.0, duration<double, std::milli>(now - started_).count());
    state_ = State::Measuring;
    measure_start_ = now;
    last_answer_ = now;
    return true;
  }
  if (state_ != State::Measuring) return false;
  // Ours: a payload call sent and not yet answered.
  if (transaction_id <= latency_transaction_ || transaction_id >= next_transaction_ || in_flight_ == 0) return false;
  --in_flight_;
  answered_bytes_ += settings_.data_size;
  last_answer_ = now;
  return true;
}

BandwidthProbe::State BandwidthProbe::state(Clock::time_point now) {
  if (state_ == State::Latency && now >= started_ + settings_.max_wait) state_ = State::Abandoned;
  if (state_ == State::Measuring) {
    const auto end = measure_start_ + settings_.max_wait;
    // The calls still in flight at the end get another max_wait to come.
    if ((now >= end && in_flight_ == 0) || now >= end + settings_.max_wait) state_ = State::Done;
  }
  return state_;
}

BandwidthProbe::Clock::time_point BandwidthProbe::wake_at(Clock::time_point now) const {
  if (state_ == State::Latency) return started_ + settings_.max_wait;
  const auto end = measure_start_ + settings_.max_wait;
  if (state_ != State::Measuring || now >= end) return end + settings_.max_wait;
  Clock::time_point wake = end;
  if (settings_.max_rate_kbps > 0 && in_flight_ < kWindow) {
    // When the pacing lets the next call go (see paced_out).
    const double due_ms = static_cast<double>(sent_bytes_) * 8 / settings_.max_rate_kbps;
    // Rounded up: a moment early, next() would still say no.
    wake = std::min(wake, measure_start_ + std::chrono::ceil<Clock::duration>(duration<double, std::milli>(due_ms)) +
                              Clock::duration(1));
  }
  return std::max(wake, now);
}

BandwidthProbe::Result BandwidthProbe::result() const {
  Result r;
  r.latency_ms = latency_ms_;
  r.delta_down_kbit = static_cast<double>(answered_bytes_) * 8 / 1000;
  r.delta_time_s = duration<double>(last_answer_ - measure_start_).count();
  if (r.delta_time_s > 0) r.kbps = r.delta_down_kbit / r.delta_time_s;
  return r;
}

}  // namespace rw::server
