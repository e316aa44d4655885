#include "common/server/out_queue.hpp"

namespace rw::server {

void OutQueue::push(Entry&& e) {
  if (count_ == ring_.size()) {
    std::vector<Entry> bigger(ring_.empty() ? 16 : ring_.size() * 2);
    for (std::size_t i = 0; i < count_; ++i) bigger[i] = std::move(at(i));
    ring_ = std::move(bigger);
    head_ = 0;
  }
  bytes_ += e.bytes.size() - e.offset;
  ring_[(head_ + count_) & (ring_.size() - 1)] = std::move(e);
  ++count_;
}

void OutQueue::push_control(SharedBuffer bytes) {
  if (bytes.empty()) return;
  push(Entry{std::move(bytes), 0, false, true, 0, 0});
}

media::MediaClock& OutQueue::clock_of(std::uint32_t stream_id) {
  for (auto& c : clocks_) {
    if (c.stream_id == stream_id) return c.clock;
  }
  return clocks_.emplace_back(StreamClock{stream_id, {}}).clock;
}

std::uint64_t OutQueue::lag_ms(std::uint32_t stream_id, std::uint32_t timestamp) const {
  for (std::size_t i = 0; i < count_; ++i) {
    const Entry& e = at(i);
    if (!e.media || e.essential || e.stream_id != stream_id) continue;
    // What the stream's clock would read for the new frame.
    for (const auto& c : clocks_) {
      if (c.stream_id != stream_id) continue;
      media::MediaClock next = c.clock;
      return next.advance(timestamp) - e.clock;
    }
  }
  return 0;
}

bool OutQueue::over_limits(const MediaTag& tag, std::size_t incoming_bytes) const {
  return memory() + incoming_bytes + sizeof(Entry) > options_.max_bytes ||
         lag_ms(tag.stream_id, tag.timestamp) > options_.max_lag_ms;
}

template <typename Pred>
void OutQueue::drop_unstarted(Pred drop) {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    Entry& e = at(i);
    if (e.offset == 0 && drop(e)) {
      bytes_ -= e.bytes.size();
      continue;
    }
    if (kept != i) at(kept) = std::move(e);
    ++kept;
  }
  for (std::size_t i = kept; i < count_; ++i) at(i) = Entry{};
  count_ = kept;
  if (count_ == 0) head_ = 0;
}

void OutQueue::drop_unsent_media(std::uint32_t stream_id) {
  drop_unstarted([stream_id](const Entry& e) { return e.media && e.stream_id == stream_id; });
  waiting_for_resume_ = false;  // what comes next starts at a keyframe
}

OutQueue::Push OutQueue::push_media(SharedBuffer bytes, const MediaTag& tag) {
  if (tag.essential) {
    // Headers and metadata carry the timestamps of others (onMetaData goes
    // at 0): they do not move the stream's clock.
    push(Entry{std::move(bytes), 0, true, true, tag.stream_id, 0});
    return Push::Queued;
  }
  if (waiting_for_resume_) {
    if (!tag.resume_point) return Push::Dropped;
    waiting_for_resume_ = false;
  }
  if (over_limits(tag, bytes.size())) {
    drop_unstarted([](const Entry& e) { return e.media && !e.essential; });
    if (++skips_ > options_.max_skips) return Push::TooSlow;
    if (!tag.resume_point) {
      waiting_for_resume_ = true;
      return Push::Skipped;
    }
  }
  const std::uint64_t clock = clock_of(tag.stream_id).advance(tag.timestamp);
  push(Entry{std::move(bytes), 0, true, false, tag.stream_id, clock});
  return Push::Queued;
}

void OutQueue::push_started(SharedBuffer bytes, std::uint32_t offset, const MediaTag& tag) {
  // Marked essential: the skip policy must not cut a message in half.
  push(Entry{std::move(bytes), offset, true, true, tag.stream_id, 0});
}

std::size_t OutQueue::gather(std::span<ByteView> out) const {
  std::size_t n = 0;
  for (; n < out.size() && n < count_; ++n) {
    const Entry& e = at(n);
    out[n] = e.bytes.view().subspan(e.offset);
  }
  return n;
}

void OutQueue::consume(std::size_t n) {
  while (n > 0 && count_ > 0) {
    Entry& e = at(0);
    std::size_t left = e.bytes.size() - e.offset;
    if (n < left) {
      e.offset += static_cast<std::uint32_t>(n);
      bytes_ -= n;
      return;
    }
    n -= left;
    bytes_ -= left;
    e = Entry{};
    head_ = (head_ + 1) & (ring_.size() - 1);
    --count_;
  }
  if (count_ == 0) {
    head_ = 0;
    skips_ = 0;  // caught up: the player earns its skips back
  }
}

}  // namespace rw::server
