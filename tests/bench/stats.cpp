#include "tests/bench/stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace rw::bench {

namespace {

double nearest_rank(const std::vector<double>& sorted, double percent) {
  const double rank = std::ceil(percent / 100.0 * static_cast<double>(sorted.size()));
  const std::size_t index = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

}  // namespace

Summary summarize(std::vector<double> values) {
  Summary s;
  s.count = values.size();
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.p50 = nearest_rank(values, 50);
  s.p95 = nearest_rank(values, 95);
  s.p99 = nearest_rank(values, 99);
  s.max = values.back();
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  return s;
}

void PlayerTimeline::on_media(std::uint32_t timestamp_ms, std::int64_t now_us) {
  if (!started_) {
    started_ = true;
    first_wall_us_ = now_us;
    last_wall_us_ = now_us;
    last_timestamp_ = timestamp_ms;
    return;
  }
  max_gap_us_ = std::max(max_gap_us_, now_us - last_wall_us_);
  last_wall_us_ = now_us;
  // Serial arithmetic: a difference over 2^31 is a step back.
  media_ms_ += static_cast<std::int32_t>(timestamp_ms - last_timestamp_);
  last_timestamp_ = timestamp_ms;
  max_media_ms_ = std::max(max_media_ms_, media_ms_);
  update_lag(now_us);
}

void PlayerTimeline::finish(std::int64_t now_us) {
  if (!started_) return;
  max_gap_us_ = std::max(max_gap_us_, now_us - last_wall_us_);
  update_lag(now_us);
}

void PlayerTimeline::update_lag(std::int64_t now_us) {
  const std::int64_t offset = (now_us - first_wall_us_) - max_media_ms_ * 1000;
  best_offset_us_ = std::min(best_offset_us_, offset);
  lag_us_ = offset - best_offset_us_;
  max_lag_us_ = std::max(max_lag_us_, lag_us_);
}

void PublishProgress::sent(std::uint64_t bytes) {
  sent_ = bytes;
  forget_done();
}

void PublishProgress::acknowledged(std::uint32_t sequence) {
  if (!acks_seen_) {
    acks_seen_ = true;
    acked_ = handshake_bytes_ + sequence;
  } else {
    // Serial arithmetic: the 32-bit sequence wraps every 4 GiB.
    acked_ += static_cast<std::uint32_t>(sequence - last_sequence_);
  }
  last_sequence_ = sequence;
  forget_done();
}

void PublishProgress::forget_done() {
  // Batches stay until acknowledged: acknowledgements may start late. A
  // server that never acknowledges leaves only the socket's view, for which
  // the recent batches suffice.
  constexpr std::size_t kMaxUnacknowledged = 4096;
  while (!batches_.empty() && batches_.front().end <= acked_) batches_.pop_front();
  while (!acks_seen_ && batches_.size() > kMaxUnacknowledged && batches_.front().end <= sent_) batches_.pop_front();
}

std::optional<std::int64_t> PublishProgress::oldest_late_due() const {
  // The first batch that ends at or after `position` (ends increase).
  auto first_ending_at = [this](std::uint64_t position) {
    return std::partition_point(batches_.begin(), batches_.end(),
                                [position](const Batch& b) { return b.end < position; });
  };
  std::optional<std::int64_t> oldest;
  // Not yet taken by the socket.
  if (auto it = first_ending_at(sent_ + 1); it != batches_.end()) oldest = it->due_us;
  // Sent a window past the last acknowledgement, and still not acknowledged.
  if (acks_seen_) {
    auto it = first_ending_at(acked_ + ack_window_);
    if (it != batches_.end() && it->end <= sent_ && (!oldest || it->due_us < *oldest)) oldest = it->due_us;
  }
  return oldest;
}

}  // namespace rw::bench
