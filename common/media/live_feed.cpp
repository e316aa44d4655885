#include "common/media/live_feed.hpp"

#include <algorithm>
#include <utility>

namespace rw::media {

LiveFeed::LiveFeed(std::uint32_t stream_id, std::uint32_t chunk_size, std::uint32_t keep_ms, std::size_t keep_bytes)
    : stream_id_(stream_id), chunk_size_(chunk_size), keep_ms_(keep_ms), keep_bytes_(keep_bytes) {}

void LiveFeed::append(std::uint64_t sequence, const FramePtr& frame) {
  if (frame->kind == FrameKind::Video) seen_video_ = true;
  SharedBuffer bytes = chunk_frame(*frame, stream_id_, chunk_size_);
  const std::uint64_t size = bytes.size();
  entries_.push_back(Entry{sequence, frame, std::move(bytes), clock_.advance(frame->timestamp), appended_bytes_});
  appended_bytes_ += size;
  held_bytes_ += held_cost(entries_.back());
  // Forget what no reader within the limits still needs.
  while (entries_.size() > 1 &&
         (clock_.now() - entries_.front().clock > keep_ms_ || held_bytes_ > keep_bytes_)) {
    held_bytes_ -= held_cost(entries_.front());
    entries_.pop_front();
    ++first_index_;
  }
}

std::uint64_t LiveFeed::held_cost(const Entry& e) {
  // The entry and its chunked bytes, the feed's own; the frame's payload
  // is the hub's (its GOP cache, the publisher) as much as the feed's,
  // so only the frame's bookkeeping is counted here.
  return sizeof(Entry) + e.bytes.size() + kFrameOverheadBytes;
}

bool LiveFeed::resume_point(const Entry& e) const {
  const Frame& f = *e.frame;
  if (f.keyframe) return true;
  return f.kind == FrameKind::Audio && !f.sequence_header && !seen_video_;
}

std::uint64_t LiveFeed::next_resume_point(std::uint64_t from) const {
  for (std::uint64_t i = std::max(from, begin()); i < end(); ++i) {
    if (resume_point(at(i))) return i;
  }
  return end();
}

std::optional<std::uint64_t> LiveFeed::find(const FramePtr& frame) const {
  for (std::uint64_t i = end(); i > begin(); --i) {
    if (at(i - 1).frame == frame) return i - 1;
  }
  return std::nullopt;
}

void LiveFeed::notify_readers() {
  ++notifying_;
  // By index: readers may be added (at the end) or removed (nulled) meanwhile.
  for (std::size_t i = 0; i < readers_.size(); ++i) {
    if (FeedReader* reader = readers_[i]) reader->feed_ready();
  }
  if (--notifying_ == 0) std::erase(readers_, nullptr);
}

std::size_t LiveFeed::reader_count() const {
  return static_cast<std::size_t>(std::count_if(readers_.begin(), readers_.end(), [](auto* r) { return r; }));
}

void LiveFeed::remove_reader(FeedReader* reader) {
  auto it = std::find(readers_.begin(), readers_.end(), reader);
  if (it == readers_.end()) return;
  if (notifying_ > 0) {
    *it = nullptr;
  } else {
    readers_.erase(it);
  }
}

FeedRegistration::FeedRegistration(std::shared_ptr<LiveFeed> feed, FeedReader& reader)
    : feed_(std::move(feed)), reader_(&reader) {
  feed_->add_reader(reader_);
}

FeedRegistration::FeedRegistration(FeedRegistration&& other) noexcept
    : feed_(std::move(other.feed_)), reader_(std::exchange(other.reader_, nullptr)) {}

FeedRegistration& FeedRegistration::operator=(FeedRegistration&& other) noexcept {
  if (this != &other) {
    reset();
    feed_ = std::move(other.feed_);
    reader_ = std::exchange(other.reader_, nullptr);
  }
  return *this;
}

void FeedRegistration::reset() {
  if (feed_) feed_->remove_reader(reader_);
  feed_.reset();
  reader_ = nullptr;
}

}  // namespace rw::media
