// One live stream's recent frames on one worker thread, chunked once for
// every player that reads them.
//
// Handing a frame to a thousand players this way is one append: each
// player's connection keeps only a FeedCursor and gathers the shared
// chunked bytes from it when it writes. Only the feed's thread touches it.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "common/base/shared_buffer.hpp"
#include "common/media/frame.hpp"

namespace rw::media {

// A connection reading feeds: told that a feed it reads has new frames.
class FeedReader {
 public:
  virtual ~FeedReader() = default;
  virtual void feed_ready() = 0;
};

class LiveFeed {
 public:
  struct Entry {
    std::uint64_t sequence = 0;  // the hub's event number
    FramePtr frame;
    SharedBuffer bytes;  // chunked for stream_id() at chunk_size()
  };

  // keep_ms: how much stream time the feed holds; a reader further behind
  // than that has lost frames and must skip to a resume point.
  LiveFeed(std::uint32_t stream_id, std::uint32_t chunk_size, std::uint32_t keep_ms);

  std::uint32_t stream_id() const { return stream_id_; }
  std::uint32_t chunk_size() const { return chunk_size_; }

  void append(std::uint64_t sequence, const FramePtr& frame);

  // Entries are numbered from 0 for the feed's life; [begin, end) are held.
  std::uint64_t begin() const { return first_index_; }
  std::uint64_t end() const { return first_index_ + entries_.size(); }
  const Entry& at(std::uint64_t index) const { return entries_[index - first_index_]; }
  bool empty() const { return entries_.empty(); }
  std::uint32_t newest_timestamp() const { return entries_.empty() ? 0 : entries_.back().frame->timestamp; }

  // The first entry at or after `from` a player can resume at after losing
  // frames: a video keyframe or, in a stream with no video, any audio
  // frame. end() when there is none yet. (Codec headers and metadata on the
  // way are still sent: see essential().)
  std::uint64_t next_resume_point(std::uint64_t from) const;
  bool resume_point(const Entry& e) const;
  // Codec configuration and metadata: a player that skips frames still
  // needs them.
  static bool essential(const Entry& e) {
    return e.frame->sequence_header || e.frame->kind == FrameKind::Metadata;
  }

  void add_reader(FeedReader* reader) { readers_.push_back(reader); }
  void remove_reader(FeedReader* reader);
  const std::vector<FeedReader*>& readers() const { return readers_; }

  // For the thread's executor: the feed already waits in its write batch.
  bool write_scheduled = false;

 private:
  const std::uint32_t stream_id_;
  const std::uint32_t chunk_size_;
  const std::uint32_t keep_ms_;
  std::deque<Entry> entries_;
  std::uint64_t first_index_ = 0;
  bool seen_video_ = false;
  std::vector<FeedReader*> readers_;
};

// A reader's place in a feed.
struct FeedCursor {
  std::shared_ptr<LiveFeed> feed;
  std::uint64_t next = 0;            // next entry to write
  std::uint32_t offset = 0;          // bytes of entry `next` already written
  std::uint64_t first_sequence = 0;  // earlier events reached the player another way (its join snapshot)
  bool waiting_for_resume = false;   // after a skip, write nothing before a resume point
};

}  // namespace rw::media
