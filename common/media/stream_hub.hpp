// One live stream: its publisher, what a new player needs first (metadata,
// codec sequence headers, the frames since the latest keyframe) and its
// subscribers on every worker thread.
//
// Threads: the publisher calls publish() on its own thread. Subscribers
// live on worker threads; the hub keeps one Fanout per worker thread and
// hands each event to it once, by posting to that thread, so a frame costs
// one post per thread, not one per player. Events carry a sequence number:
// a subscriber that joined with a snapshot skips the events the snapshot
// already covered.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/media/frame.hpp"
#include "common/media/live_feed.hpp"

namespace rw::media {

// Runs functions on one worker thread.
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void post(std::function<void()> fn) = 0;
  // A feed on this thread got frames: its readers have something to write.
  virtual void feed_grew(const std::shared_ptr<LiveFeed>& feed) { (void)feed; }
};

// A player (or a downstream server) following a live stream. Called only
// on the thread of the executor it subscribed with.
class LiveSubscriber {
 public:
  virtual ~LiveSubscriber() = default;
  // A publisher started; the next frames are its metadata, sequence headers
  // and media.
  virtual void on_publish_start() = 0;
  // Each frame, unless the subscriber reads the feed instead.
  virtual void on_frame(ChunkedFrameCache& frame) = 0;
  virtual void on_unpublish() = 0;
};

// How a subscriber that reads its thread's feed wants frames chunked.
struct FeedOptions {
  std::uint32_t stream_id = 1;
  std::uint32_t chunk_size = 4096;
  // What the feed keeps for readers that fall behind (see LiveFeed).
  std::uint32_t keep_ms = 5000;
  std::size_t keep_bytes = 8u << 20;
};

struct HubOptions {
  // The cache of frames since the latest keyframe gives up (until the next
  // keyframe) beyond these, so a stream without keyframes cannot grow it.
  std::size_t gop_max_frames = 4096;
  std::size_t gop_max_bytes = 32u << 20;
};

// What a player needs when it joins.
struct StartState {
  bool publishing = false;
  FramePtr metadata;
  FramePtr video_header;
  FramePtr audio_header;
  std::vector<FramePtr> gop;  // from the latest keyframe on, audio included
  // For a feed reader: the feed, and the first event it reads from it
  // (earlier ones are in this snapshot). Null when the subscriber gets
  // callbacks (it asked to, or its stream id or chunk size differ from the
  // feed's on this thread).
  std::shared_ptr<LiveFeed> feed;
  std::uint64_t first_sequence = 0;
};

class StreamHub {
 public:
  StreamHub(std::string app, std::string name, HubOptions options);
  ~StreamHub();
  StreamHub(const StreamHub&) = delete;
  StreamHub& operator=(const StreamHub&) = delete;

  const std::string& app() const { return app_; }
  const std::string& name() const { return name_; }

  // --- Publisher side ------------------------------------------------------
  // False when the stream already has a publisher (Publish.BadName).
  bool start_publish();
  // Metadata and sequence headers are remembered for new players; every
  // frame goes to the subscribers. Mutable until here: a proxied stream
  // whose positions are anchored numbers it (see anchor()).
  void publish(MutableFramePtr frame);
  void stop_publish();
  bool publishing() const;
  // The current publisher's metadata and codec headers (null until sent).
  struct CodecState {
    FramePtr metadata;
    FramePtr video_header;
    FramePtr audio_header;
  };
  CodecState codec_state() const;
  // The keyframe a new player starts from (the GOP cache's first frame):
  // its timestamp and position, when it has one (a recorded stream, or an
  // anchored pull). A downstream server pulling the stream numbers its
  // frames from it (docs/cluster.md, "Catch-up into live").
  struct KeyframeAnchor {
    std::uint32_t timestamp = 0;
    std::uint64_t position = 0;
  };
  std::optional<KeyframeAnchor> gop_anchor() const;

  // --- Subscriber side (call on the subscriber's executor thread) -----------
  // With `feed`, the subscriber reads frames from its thread's LiveFeed
  // (StartState::feed) instead of getting on_frame for each.
  StartState subscribe(LiveSubscriber& subscriber, Executor& executor, const FeedOptions* feed = nullptr);
  void unsubscribe(LiveSubscriber& subscriber, Executor& executor);
  // A feed reader that now wants on_frame for each frame (a player that
  // filters audio or video), from the next frame delivered on its thread.
  void stop_reading_feed(LiveSubscriber& subscriber, Executor& executor);
  std::size_t subscriber_count() const;

  // --- Recording tail ----------------------------------------------------------
  // A recorded stream keeps the frames its recorder has not yet made
  // durable, so that a DVR cursor reaching the end of the store can go on
  // from exactly the next frame. Called by the publisher when it starts.
  void set_recorded(bool recorded, std::size_t max_tail_bytes);
  // Frames before `next_position` are in the store: the tail forgets them.
  void mark_durable(std::uint64_t next_position);

  // A proxied stream (a relay's or an edge's pull) is recorded upstream,
  // not here: its tail keeps the last keep_ms of frames (at most
  // max_bytes), numbered by the upstream's recording once anchored, so
  // that a DVR cursor reading the upstream's segments can go on in the
  // live frames at exactly the next frame (docs/cluster.md, "DVR through
  // the chain").
  void set_proxied_tail(std::size_t max_bytes, std::uint32_t keep_ms);
  // The upstream's recording says its next segment starts with the video
  // keyframe stamped `keyframe_ts`, numbered `position`: when the tail holds
  // that keyframe, it and every frame after it (and every frame to come)
  // take their numbers from there. False when the tail does not hold it.
  bool anchor(std::uint32_t keyframe_ts, std::uint64_t position);
  // The live frames no longer follow on from the numbered ones (the pull
  // lost its upstream): positions are unknown until anchored again.
  void unanchor();
  bool anchored() const;
  // The position of the frame after the latest numbered tail frame stamped
  // `timestamp`: where a player that was sent frames before the pull was
  // anchored (so without positions) goes on. Nullopt when the tail has none.
  std::optional<std::uint64_t> position_after(std::uint32_t timestamp) const;

  struct TailJoin {
    enum class Result {
      Joined,   // subscribed: `frames` continue from the position, then live frames follow
      InStore,  // the position is durable (or was dropped from the tail): read the store
      NotLive,  // no recorded publisher now
    };
    Result result = Result::NotLive;
    std::vector<FramePtr> frames;
  };
  // Subscribes starting at the frame numbered `position`, if the tail still
  // holds it (or it is the next frame to come).
  TailJoin subscribe_from(std::uint64_t position, LiveSubscriber& subscriber, Executor& executor);
  // Reads the tail without subscribing, for a cursor that plays behind live
  // at its own pace: up to `max` frames from `position` on. Result as for
  // subscribe_from (Joined meaning frames were read).
  TailJoin read_tail(std::uint64_t position, std::size_t max) const;
  // The newest frame's timestamp (the live edge) and position.
  std::uint32_t last_timestamp() const;
  std::uint64_t last_position() const;

 private:
  struct Event;
  class Fanout;

  // Posts the event to every fanout; called with mutex_ held so that each
  // thread sees events in sequence order.
  void dispatch_locked(const std::shared_ptr<const Event>& event);
  // Adds the subscriber to its thread's fanout; events after the current
  // sequence number reach it.
  // Returns the thread's fanout.
  Fanout& add_subscriber_locked(LiveSubscriber& subscriber, Executor& executor, bool reads_feed);
  Fanout* find_fanout_locked(Executor& executor);
  // Whether the tail holds the frame numbered `position`.
  bool tail_holds_locked(std::uint64_t position) const;

  const std::string app_;
  const std::string name_;
  const HubOptions options_;

  mutable std::mutex mutex_;
  bool publishing_ = false;
  std::uint64_t sequence_ = 0;
  FramePtr metadata_;
  FramePtr video_header_;
  FramePtr audio_header_;
  std::vector<FramePtr> gop_;
  std::size_t gop_bytes_ = 0;
  bool gop_valid_ = false;  // gop_ starts at a keyframe and is within limits
  std::uint32_t last_timestamp_ = 0;
  std::uint64_t last_position_ = 0;
  bool recorded_ = false;
  bool proxied_ = false;       // a pull: the tail is kept by time, positions come from anchor()
  bool anchored_ = false;      // proxied: frames get positions
  std::uint32_t tail_keep_ms_ = 0;
  std::deque<FramePtr> tail_;  // recorded frames not yet durable (or a pull's recent frames), by position
  std::size_t tail_bytes_ = 0;
  std::size_t max_tail_bytes_ = 0;
  std::vector<std::shared_ptr<Fanout>> fanouts_;
  std::size_t subscribers_ = 0;
};

// Live streams by application and name. A hub lives while anyone (a
// publisher or a player) holds it.
class StreamRegistry {
 public:
  explicit StreamRegistry(HubOptions options = {}) : options_(options) {}

  // The hub for app/name, created if needed; the caller holds it until
  // release().
  std::shared_ptr<StreamHub> acquire(const std::string& app, const std::string& name);
  void release(const std::shared_ptr<StreamHub>& hub);
  std::vector<std::shared_ptr<StreamHub>> hubs() const;

 private:
  struct Entry {
    std::shared_ptr<StreamHub> hub;
    std::size_t users = 0;
  };
  // Application and name apart: both may contain '/', so "a/b" + "c" and
  // "a" + "b/c" are different streams that one joined string would merge.
  using Key = std::pair<std::string, std::string>;
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };
  const HubOptions options_;
  mutable std::mutex mutex_;
  std::unordered_map<Key, Entry, KeyHash> entries_;
};

}  // namespace rw::media
