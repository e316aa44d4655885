// The bytes waiting to be written to one connection, and the policy for a
// player that cannot keep up.
//
// Entries reference shared buffers (a frame's chunked bytes are shared by
// every player), so queueing a frame costs no copy. Control bytes (command
// replies, status) are never dropped. When the media of a stream waiting in
// the queue spans more than max_lag_ms of stream time, or the queue holds
// more than max_bytes (entries' own memory counted), the queue drops every media entry not yet started
// and skips to the next keyframe; a player that needs that more than
// max_skips times in a row (without the queue emptying in between) is too
// slow and is disconnected. Stream time is measured per stream on a
// media::MediaClock, so a republish that starts again at timestamp 0, or a
// seek, does not make the queue look empty of lag.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/base/bytes.hpp"
#include "common/base/shared_buffer.hpp"
#include "common/media/media_clock.hpp"

namespace rw::server {

struct OutQueueOptions {
  std::size_t max_bytes = 8u << 20;
  std::uint32_t max_lag_ms = 5000;
  unsigned max_skips = 3;
};

// What a media entry is, for the skip policy.
struct MediaTag {
  std::uint32_t stream_id = 0;
  std::uint32_t timestamp = 0;
  // A frame a player can resume from after a skip: a video keyframe, or any
  // audio frame of a stream without video.
  bool resume_point = false;
  // Codec configuration and metadata: never dropped, because frames after a
  // skip still need them.
  bool essential = false;
};

class OutQueue {
 public:
  explicit OutQueue(OutQueueOptions options = {}) : options_(options) {}

  enum class Push {
    Queued,
    Dropped,   // not queued: waiting for a resume point after a skip
    Skipped,   // the queue was cut back; this frame waits for a resume point too
    TooSlow,   // the player fell behind again and again: disconnect it
  };

  void push_control(SharedBuffer bytes);
  Push push_media(SharedBuffer bytes, const MediaTag& tag);
  // Queues the rest of a message whose first `offset` bytes were already
  // written from elsewhere (a shared feed): it must be finished, never dropped.
  void push_started(SharedBuffer bytes, std::uint32_t offset, const MediaTag& tag);
  // Drops the media of one stream not yet begun on the wire, headers and
  // metadata included (a seek: what follows brings its own).
  void drop_unsent_media(std::uint32_t stream_id);

  // After a skip: media is dropped until a resume point arrives.
  bool waiting_for_resume() const { return waiting_for_resume_; }
  // A resume point reached the player another way (written straight from
  // a shared feed): what is queued next follows it, so stop waiting.
  void resumed() { waiting_for_resume_ = false; }

  bool empty() const { return count_ == 0; }
  std::size_t bytes() const { return bytes_; }
  // Bytes to write plus what each entry costs in memory besides: what
  // max_bytes limits, so a flood of tiny messages meets it too.
  std::size_t memory() const { return bytes_ + count_ * sizeof(Entry); }
  std::size_t entries() const { return count_; }
  unsigned skips() const { return skips_; }
  // The stream time between the oldest droppable media of the stream still
  // waiting and a frame of it stamped `timestamp` queued now (0 when none
  // waits): what the skip policy compares with max_lag_ms.
  std::uint64_t lag_ms(std::uint32_t stream_id, std::uint32_t timestamp) const;
  const OutQueueOptions& options() const { return options_; }

  // Fills `out` with views of the queued bytes, oldest first; returns how
  // many it filled.
  std::size_t gather(std::span<ByteView> out) const;
  // Removes `n` written bytes from the front.
  void consume(std::size_t n);

 private:
  struct Entry {
    SharedBuffer bytes;
    std::uint32_t offset = 0;  // bytes of this entry already written
    bool media = false;
    bool essential = false;
    std::uint32_t stream_id = 0;
    std::uint64_t clock = 0;   // droppable media: its stream's clock reading
  };
  struct StreamClock {
    std::uint32_t stream_id;
    media::MediaClock clock;
  };
  Entry& at(std::size_t i) { return ring_[(head_ + i) & (ring_.size() - 1)]; }
  const Entry& at(std::size_t i) const { return ring_[(head_ + i) & (ring_.size() - 1)]; }
  void push(Entry&& e);
  bool over_limits(const MediaTag& tag, std::size_t incoming_bytes) const;
  media::MediaClock& clock_of(std::uint32_t stream_id);
  // Drops the entries not yet begun on the wire that `drop` selects.
  template <typename Pred>
  void drop_unstarted(Pred drop);

  OutQueueOptions options_;
  std::vector<Entry> ring_;  // power-of-two capacity, grown on demand
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::size_t bytes_ = 0;
  unsigned skips_ = 0;            // skips since the queue last ran empty
  bool waiting_for_resume_ = false;
  std::vector<StreamClock> clocks_;  // nearly always one stream
};

}  // namespace rw::server
