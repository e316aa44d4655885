#include "common/media/live_feed.hpp"

#include <algorithm>

namespace rw::media {

LiveFeed::LiveFeed(std::uint32_t stream_id, std::uint32_t chunk_size, std::uint32_t keep_ms)
    : stream_id_(stream_id), chunk_size_(chunk_size), keep_ms_(keep_ms) {}

void LiveFeed::append(std::uint64_t sequence, const FramePtr& frame) {
  if (frame->kind == FrameKind::Video) seen_video_ = true;
  entries_.push_back(Entry{sequence, frame, chunk_frame(*frame, stream_id_, chunk_size_)});
  // Forget what no reader within keep_ms still needs (32-bit timestamps:
  // serial arithmetic).
  const std::uint32_t newest = frame->timestamp;
  while (entries_.size() > 1 &&
         static_cast<std::int32_t>(newest - entries_.front().frame->timestamp) > static_cast<std::int32_t>(keep_ms_)) {
    entries_.pop_front();
    ++first_index_;
  }
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

void LiveFeed::remove_reader(FeedReader* reader) { std::erase(readers_, reader); }

}  // namespace rw::media
