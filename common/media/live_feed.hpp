// One live stream's recent frames on one worker thread, chunked once for
// every player that reads them.
//
// Handing a frame to a thousand players this way is one append: each
// player's connection keeps only a FeedCursor and gathers the shared
// chunked bytes from it when it writes. Only the feed's thread touches it.
//
// A feed keeps `keep_ms` of stream time (on a MediaClock, so a republish
// that starts again at timestamp 0 does not stop the trimming) and at most
// `keep_bytes`; a reader whose next entry was trimmed has lost frames and
// must skip to a resume point. Entries are always whole messages to a
// reader: a connection that wrote part of one moves the rest into its own
// queue (docs/architecture.md, "Slow players"), so trimming never cuts a
// message a player has begun.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "common/base/shared_buffer.hpp"
#include "common/media/frame.hpp"
#include "common/media/media_clock.hpp"

namespace rw::media {

// A connection reading feeds: told that a feed it reads has new frames.
class FeedReader {
 public:
  virtual ~FeedReader() = default;
  virtual void feed_ready() = 0;
};

class FeedRegistration;

class LiveFeed {
 public:
  struct Entry {
    std::uint64_t sequence = 0;  // the hub's event number
    FramePtr frame;
    SharedBuffer bytes;          // chunked for stream_id() at chunk_size()
    std::uint64_t clock = 0;     // the feed's MediaClock at this frame
    std::uint64_t bytes_before = 0;  // chunked bytes appended before this entry
  };

  LiveFeed(std::uint32_t stream_id, std::uint32_t chunk_size, std::uint32_t keep_ms, std::size_t keep_bytes);
  LiveFeed(const LiveFeed&) = delete;
  LiveFeed& operator=(const LiveFeed&) = delete;

  std::uint32_t stream_id() const { return stream_id_; }
  std::uint32_t chunk_size() const { return chunk_size_; }

  void append(std::uint64_t sequence, const FramePtr& frame);

  // Entries are numbered from 0 for the feed's life; [begin, end) are held.
  std::uint64_t begin() const { return first_index_; }
  std::uint64_t end() const { return first_index_ + entries_.size(); }
  const Entry& at(std::uint64_t index) const { return entries_[index - first_index_]; }
  bool empty() const { return entries_.empty(); }
  // How far entry `index` is behind the newest: in stream time, and in
  // bytes still to write from it on.
  std::uint64_t lag_ms(std::uint64_t index) const { return clock_.now() - at(index).clock; }
  std::uint64_t bytes_from(std::uint64_t index) const { return appended_bytes_ - at(index).bytes_before; }
  // Memory held now: chunked bytes and what each entry costs besides.
  std::size_t held_bytes() const { return static_cast<std::size_t>(held_bytes_); }

  // The entry holding `frame`, searched from the newest back: a joining
  // player finds the latest keyframe here and reads from it, shared,
  // rather than queueing its own copy of the frames since.
  std::optional<std::uint64_t> find(const FramePtr& frame) const;

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

  // Calls feed_ready() on every reader. A reader may join or leave (its
  // own registration or another's) from inside the call.
  void notify_readers();
  std::size_t reader_count() const;

  // For the thread's executor: the feed already waits in its write batch.
  bool write_scheduled = false;

 private:
  friend class FeedRegistration;
  static std::uint64_t held_cost(const Entry& e);
  void add_reader(FeedReader* reader) { readers_.push_back(reader); }
  void remove_reader(FeedReader* reader);

  const std::uint32_t stream_id_;
  const std::uint32_t chunk_size_;
  const std::uint32_t keep_ms_;
  const std::size_t keep_bytes_;
  std::deque<Entry> entries_;
  std::uint64_t first_index_ = 0;
  MediaClock clock_;
  std::uint64_t appended_bytes_ = 0;
  std::uint64_t held_bytes_ = 0;
  bool seen_video_ = false;
  // Null slots are readers that left during notify_readers().
  std::vector<FeedReader*> readers_;
  int notifying_ = 0;
};

// A reader's membership of a feed, owned by whoever reads: made by joining,
// ended by destruction on every path (a failed write, a close, a pause), so
// a feed never calls a reader that has gone.
class FeedRegistration {
 public:
  FeedRegistration() = default;
  FeedRegistration(std::shared_ptr<LiveFeed> feed, FeedReader& reader);
  FeedRegistration(FeedRegistration&& other) noexcept;
  FeedRegistration& operator=(FeedRegistration&& other) noexcept;
  FeedRegistration(const FeedRegistration&) = delete;
  FeedRegistration& operator=(const FeedRegistration&) = delete;
  ~FeedRegistration() { reset(); }

  // Leaves the feed now.
  void reset();
  LiveFeed* feed() const { return feed_.get(); }
  explicit operator bool() const { return feed_ != nullptr; }

 private:
  std::shared_ptr<LiveFeed> feed_;
  FeedReader* reader_ = nullptr;
};

// A reader's place in a feed.
struct FeedCursor {
  FeedRegistration registration;
  std::uint64_t next = 0;            // next entry to write
  std::uint64_t first_sequence = 0;  // earlier events reached the player another way (its join snapshot)
  bool waiting_for_resume = false;   // after a skip, write nothing before a resume point

  LiveFeed& feed() const { return *registration.feed(); }
};

}  // namespace rw::media
