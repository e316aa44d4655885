#include "common/media/stream_hub.hpp"

#include <algorithm>
#include <optional>

namespace rw::media {

struct StreamHub::Event {
  enum class Type { PublishStart, Frame, Unpublish };
  Type type;
  std::uint64_t sequence;
  FramePtr frame;
};

// The subscribers of one hub on one worker thread. Only that thread
// touches `entries_` and the feed.
class StreamHub::Fanout {
 public:
  explicit Fanout(Executor& executor) : executor_(executor) {}
  Executor& executor() const { return executor_; }
  bool empty() const { return live_count_ == 0; }

  // The feed for readers with these options: the thread's feed, created by
  // its first reader; null when an existing feed is chunked differently.
  std::shared_ptr<LiveFeed> feed_for(const FeedOptions& options) {
    if (!feed_) {
      feed_ = std::make_shared<LiveFeed>(options.stream_id, options.chunk_size, options.keep_ms, options.keep_bytes);
    }
    if (feed_->stream_id() != options.stream_id || feed_->chunk_size() != options.chunk_size) return nullptr;
    return feed_;
  }

  void add(LiveSubscriber& subscriber, std::uint64_t first_sequence, bool reads_feed) {
    entries_.push_back({&subscriber, first_sequence, reads_feed});
    ++live_count_;
    if (reads_feed) ++readers_;
  }

  void remove(LiveSubscriber& subscriber) {
    for (auto& e : entries_) {
      if (e.subscriber == &subscriber) {
        if (e.reads_feed) --readers_;
        e.subscriber = nullptr;  // compacted after any delivery in progress
        --live_count_;
        break;
      }
    }
    if (readers_ == 0) feed_.reset();  // a new reader starts a fresh feed
    if (!delivering_) compact();
  }

  void stop_reading(LiveSubscriber& subscriber) {
    for (auto& e : entries_) {
      if (e.subscriber == &subscriber && e.reads_feed) {
        e.reads_feed = false;
        --readers_;
      }
    }
    // Nobody reads the feed now, so nothing is appended to it: a reader
    // joining later must start a fresh one, not find old frames with a gap
    // after them.
    if (readers_ == 0) feed_.reset();
  }

  void deliver(const Event& event) {
    delivering_ = true;
    std::optional<ChunkedFrameCache> chunks;
    if (event.frame) {
      // Readers take the frame from the feed: one append for all of them.
      if (feed_ && readers_ > 0) {
        feed_->append(event.sequence, event.frame);
        executor_.feed_grew(feed_);
      }
      if (readers_ < live_count_) chunks.emplace(event.frame);
    }
    // By index: a subscriber may join or leave from inside its callback.
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      Entry& e = entries_[i];
      if (!e.subscriber || event.sequence < e.first_sequence) continue;
      switch (event.type) {
        case Event::Type::PublishStart: e.subscriber->on_publish_start(); break;
        case Event::Type::Frame:
          if (!e.reads_feed) e.subscriber->on_frame(*chunks);
          break;
        case Event::Type::Unpublish: e.subscriber->on_unpublish(); break;
      }
    }
    delivering_ = false;
    compact();
  }

 private:
  struct Entry {
    LiveSubscriber* subscriber;
    std::uint64_t first_sequence;  // events before it were in the join snapshot
    bool reads_feed;
  };
  void compact() {
    std::erase_if(entries_, [](const Entry& e) { return e.subscriber == nullptr; });
  }

  Executor& executor_;
  std::vector<Entry> entries_;
  std::size_t live_count_ = 0;
  std::size_t readers_ = 0;
  std::shared_ptr<LiveFeed> feed_;
  bool delivering_ = false;
};

StreamHub::StreamHub(std::string app, std::string name, HubOptions options)
    : app_(std::move(app)), name_(std::move(name)), options_(options) {}

StreamHub::~StreamHub() = default;

bool StreamHub::start_publish() {
  std::lock_guard lock(mutex_);
  if (publishing_) return false;
  publishing_ = true;
  // A new publisher brings its own metadata and codec configuration.
  metadata_.reset();
  video_header_.reset();
  audio_header_.reset();
  gop_.clear();
  gop_bytes_ = 0;
  gop_valid_ = false;
  dispatch_locked(std::make_shared<const Event>(Event{Event::Type::PublishStart, ++sequence_, nullptr}));
  return true;
}

void StreamHub::publish(MutableFramePtr frame) {
  std::lock_guard lock(mutex_);
  if (!publishing_) return;
  last_timestamp_ = frame->timestamp;
  if (proxied_ && anchored_ && frame->position == 0) frame->position = last_position_ + 1;
  if (frame->position != 0) last_position_ = frame->position;
  if (recorded_ || proxied_) {
    tail_.push_back(frame);
    tail_bytes_ += memory_cost(*frame);
    // A store that falls this far behind loses the oldest frames from the
    // tail; cursors then wait for the store instead. A pull's tail keeps
    // only its last tail_keep_ms.
    while (!tail_.empty() &&
           (tail_bytes_ > max_tail_bytes_ ||
            (proxied_ && static_cast<std::int32_t>(frame->timestamp - tail_.front()->timestamp) >
                             static_cast<std::int32_t>(tail_keep_ms_)))) {
      tail_bytes_ -= memory_cost(*tail_.front());
      tail_.pop_front();
    }
  }
  if (frame->kind == FrameKind::Metadata) {
    metadata_ = frame;
  } else if (frame->sequence_header) {
    (frame->kind == FrameKind::Video ? video_header_ : audio_header_) = frame;
  } else if (frame->keyframe) {
    gop_.clear();
    gop_bytes_ = 0;
    gop_valid_ = true;
    gop_.push_back(frame);
    gop_bytes_ += memory_cost(*frame);
  } else if (gop_valid_) {
    gop_.push_back(frame);
    gop_bytes_ += memory_cost(*frame);
    if (gop_.size() > options_.gop_max_frames || gop_bytes_ > options_.gop_max_bytes) {
      gop_.clear();
      gop_bytes_ = 0;
      gop_valid_ = false;
    }
  }
  ++sequence_;
  // An ingest-only stream has no fanout: nothing to build.
  if (!fanouts_.empty()) {
    dispatch_locked(std::make_shared<const Event>(Event{Event::Type::Frame, sequence_, std::move(frame)}));
  }
}

void StreamHub::stop_publish() {
  std::lock_guard lock(mutex_);
  if (!publishing_) return;
  publishing_ = false;
  recorded_ = false;
  proxied_ = false;
  anchored_ = false;
  tail_.clear();
  tail_bytes_ = 0;
  gop_.clear();
  gop_bytes_ = 0;
  gop_valid_ = false;
  dispatch_locked(std::make_shared<const Event>(Event{Event::Type::Unpublish, ++sequence_, nullptr}));
}

StreamHub::CodecState StreamHub::codec_state() const {
  std::lock_guard lock(mutex_);
  return CodecState{metadata_, video_header_, audio_header_};
}

bool StreamHub::publishing() const {
  std::lock_guard lock(mutex_);
  return publishing_;
}

void StreamHub::dispatch_locked(const std::shared_ptr<const Event>& event) {
  for (const auto& fanout : fanouts_) {
    fanout->executor().post([fanout, event] { fanout->deliver(*event); });
  }
}

StartState StreamHub::subscribe(LiveSubscriber& subscriber, Executor& executor, const FeedOptions* feed) {
  std::lock_guard lock(mutex_);
  StartState state;
  state.publishing = publishing_;
  if (publishing_) {
    state.metadata = metadata_;
    state.video_header = video_header_;
    state.audio_header = audio_header_;
    if (gop_valid_) state.gop = gop_;
  }
  Fanout* fanout = find_fanout_locked(executor);
  if (!fanout) fanout = fanouts_.emplace_back(std::make_shared<Fanout>(executor)).get();
  if (feed) state.feed = fanout->feed_for(*feed);
  state.first_sequence = sequence_ + 1;
  add_subscriber_locked(subscriber, executor, state.feed != nullptr);
  return state;
}

StreamHub::Fanout* StreamHub::find_fanout_locked(Executor& executor) {
  for (auto& f : fanouts_) {
    if (&f->executor() == &executor) return f.get();
  }
  return nullptr;
}

StreamHub::Fanout& StreamHub::add_subscriber_locked(LiveSubscriber& subscriber, Executor& executor,
                                                    bool reads_feed) {
  Fanout* fanout = find_fanout_locked(executor);
  if (!fanout) fanout = fanouts_.emplace_back(std::make_shared<Fanout>(executor)).get();
  // Events up to sequence_ are in the snapshot or already happened.
  fanout->add(subscriber, sequence_ + 1, reads_feed);
  ++subscribers_;
  return *fanout;
}

void StreamHub::stop_reading_feed(LiveSubscriber& subscriber, Executor& executor) {
  std::lock_guard lock(mutex_);
  if (Fanout* fanout = find_fanout_locked(executor)) fanout->stop_reading(subscriber);
}

void StreamHub::set_recorded(bool recorded, std::size_t max_tail_bytes) {
  std::lock_guard lock(mutex_);
  recorded_ = recorded;
  max_tail_bytes_ = max_tail_bytes;
  if (!recorded) {
    tail_.clear();
    tail_bytes_ = 0;
  }
}

void StreamHub::set_proxied_tail(std::size_t max_bytes, std::uint32_t keep_ms) {
  std::lock_guard lock(mutex_);
  proxied_ = true;
  anchored_ = false;
  max_tail_bytes_ = max_bytes;
  tail_keep_ms_ = keep_ms;
}

bool StreamHub::anchor(std::uint32_t keyframe_ts, std::uint64_t position) {
  std::lock_guard lock(mutex_);
  if (!proxied_ || position == 0) return false;
  auto key = std::find_if(tail_.begin(), tail_.end(), [&](const FramePtr& f) {
    return f->kind == FrameKind::Video && f->keyframe && f->timestamp == keyframe_ts;
  });
  if (key == tail_.end()) return false;
  if (anchored_ && (*key)->position == position) return true;  // already so
  // Number the keyframe and what follows it; frames are shared and
  // immutable, so the tail holds numbered copies (same payload buffers),
  // and so does the GOP cache: a downstream server pulling the stream is
  // told the number of the keyframe it starts from (gop_anchor()).
  std::unordered_map<const Frame*, FramePtr> numbered;
  std::uint64_t next = position;
  for (auto it = key; it != tail_.end(); ++it) {
    if ((*it)->position == next) {
      ++next;
      continue;
    }
    auto copy = std::make_shared<Frame>(**it);
    copy->position = next++;
    numbered.emplace(it->get(), copy);
    *it = std::move(copy);
  }
  for (auto& frame : gop_) {
    if (auto n = numbered.find(frame.get()); n != numbered.end()) frame = n->second;
  }
  // Frames before the keyframe belong to the segment before it: unknown.
  for (auto it = tail_.begin(); it != key; ++it) {
    if ((*it)->position != 0) {
      auto copy = std::make_shared<Frame>(**it);
      copy->position = 0;
      *it = std::move(copy);
    }
  }
  last_position_ = next - 1;
  anchored_ = true;
  return true;
}

void StreamHub::unanchor() {
  std::lock_guard lock(mutex_);
  anchored_ = false;
}

std::optional<StreamHub::KeyframeAnchor> StreamHub::gop_anchor() const {
  std::lock_guard lock(mutex_);
  if (!publishing_ || !gop_valid_ || gop_.empty() || gop_.front()->position == 0) return std::nullopt;
  return KeyframeAnchor{gop_.front()->timestamp, gop_.front()->position};
}

std::optional<std::uint64_t> StreamHub::position_after(std::uint32_t timestamp) const {
  std::lock_guard lock(mutex_);
  for (auto it = tail_.rbegin(); it != tail_.rend(); ++it) {
    if ((*it)->position != 0 && (*it)->timestamp == timestamp) return (*it)->position + 1;
  }
  return std::nullopt;
}

bool StreamHub::anchored() const {
  std::lock_guard lock(mutex_);
  return anchored_;
}

void StreamHub::mark_durable(std::uint64_t next_position) {
  std::lock_guard lock(mutex_);
  while (!tail_.empty() && tail_.front()->position < next_position) {
    tail_bytes_ -= memory_cost(*tail_.front());
    tail_.pop_front();
  }
}

bool StreamHub::tail_holds_locked(std::uint64_t position) const {
  if (position == 0 || position > last_position_) return false;
  // The numbered frames are a run at the tail's end (a pull's frames before
  // its anchor have none): the first of them bounds what it holds.
  auto first = std::find_if(tail_.begin(), tail_.end(), [](const FramePtr& f) { return f->position != 0; });
  return first != tail_.end() && (*first)->position <= position;
}

StreamHub::TailJoin StreamHub::subscribe_from(std::uint64_t position, LiveSubscriber& subscriber,
                                             Executor& executor) {
  std::lock_guard lock(mutex_);
  TailJoin join;
  if (!publishing_ || !(recorded_ || (proxied_ && anchored_))) return join;  // NotLive
  const bool next_to_come = position == last_position_ + 1;
  const bool in_tail = tail_holds_locked(position);
  if (!next_to_come && !in_tail) {
    join.result = TailJoin::Result::InStore;
    return join;
  }
  for (const auto& frame : tail_) {
    if (frame->position >= position) join.frames.push_back(frame);
  }
  add_subscriber_locked(subscriber, executor, false);
  join.result = TailJoin::Result::Joined;
  return join;
}

StreamHub::TailJoin StreamHub::read_tail(std::uint64_t position, std::size_t max) const {
  std::lock_guard lock(mutex_);
  TailJoin read;
  if (!publishing_ || !(recorded_ || (proxied_ && anchored_))) return read;  // NotLive
  if (!tail_holds_locked(position)) {
    // Stored by now, or not published yet.
    read.result = position > last_position_ ? TailJoin::Result::Joined : TailJoin::Result::InStore;
    return read;
  }
  for (const auto& frame : tail_) {
    if (frame->position < position) continue;
    if (read.frames.size() >= max) break;
    read.frames.push_back(frame);
  }
  read.result = TailJoin::Result::Joined;
  return read;
}

std::uint32_t StreamHub::last_timestamp() const {
  std::lock_guard lock(mutex_);
  return last_timestamp_;
}

std::uint64_t StreamHub::last_position() const {
  std::lock_guard lock(mutex_);
  return last_position_;
}

void StreamHub::unsubscribe(LiveSubscriber& subscriber, Executor& executor) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(fanouts_.begin(), fanouts_.end(),
                         [&](const auto& f) { return &f->executor() == &executor; });
  if (it == fanouts_.end()) return;
  (*it)->remove(subscriber);
  --subscribers_;
  if ((*it)->empty()) fanouts_.erase(it);
}

std::size_t StreamHub::subscriber_count() const {
  std::lock_guard lock(mutex_);
  return subscribers_;
}

std::size_t StreamRegistry::KeyHash::operator()(const Key& k) const {
  const std::size_t a = std::hash<std::string>{}(k.first);
  const std::size_t b = std::hash<std::string>{}(k.second);
  return a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
}

std::shared_ptr<StreamHub> StreamRegistry::acquire(const std::string& app, const std::string& name) {
  std::lock_guard lock(mutex_);
  Entry& entry = entries_[Key{app, name}];
  if (!entry.hub) entry.hub = std::make_shared<StreamHub>(app, name, options_);
  ++entry.users;
  return entry.hub;
}

void StreamRegistry::release(const std::shared_ptr<StreamHub>& hub) {
  if (!hub) return;
  std::lock_guard lock(mutex_);
  auto it = entries_.find(Key{hub->app(), hub->name()});
  if (it == entries_.end() || it->second.hub != hub) return;
  if (--it->second.users == 0) entries_.erase(it);
}

std::vector<std::shared_ptr<StreamHub>> StreamRegistry::hubs() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<StreamHub>> out;
  out.reserve(entries_.size());
  for (const auto& [key, entry] : entries_) out.push_back(entry.hub);
  return out;
}

}  // namespace rw::media
