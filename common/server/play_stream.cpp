#include "common/server/play_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/cluster/identity.hpp"
#include "common/dvr/segment_tags.hpp"
#include "common/media/stream_name.hpp"
#include "common/server/connection.hpp"
#include "common/server/segment_source.hpp"
#include "common/server/worker.hpp"

namespace rw::server {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// How far ahead of real time a cursor may send, whatever the player asks
// (rtmpdump asks for ten hours).
constexpr std::uint32_t kMinBufferMs = 500;
constexpr std::uint32_t kMaxBufferMs = 600'000;
constexpr auto kMaxSleep = 100ms;
constexpr auto kStoreRetry = 50ms;
constexpr auto kTailRetry = 200ms;
// Frames a cursor takes from the hub's tail at a time.
constexpr std::size_t kTailBatch = 256;
// Unpausing finds the next frame by position, starting this far before the
// last timestamp sent and walking at most this many segments.
constexpr std::uint32_t kResumeLookBackMs = 10'000;
constexpr int kResumeMaxSegments = 16;

std::int32_t ts_diff(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b); }

std::uint32_t to_media_ms(double ms) {
  if (!(ms > 0)) return 0;
  if (ms >= 4294967295.0) return 0xFFFFFFFFu;
  return static_cast<std::uint32_t>(ms);
}

asio::awaitable<void> sleep_for(asio::steady_timer& timer, std::chrono::milliseconds d) {
  timer.expires_after(d);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace

asio::awaitable<std::unique_ptr<PlayStream>> PlayStream::start(Connection& connection, std::uint32_t stream_id,
                                                               const Request& request) {
  auto& session = connection.session();
  media::StreamName name = media::split_stream_name(request.raw_name);
  auto not_found = [&](const std::string& why) {
    session.send_status(stream_id, "error", "NetStream.Play.StreamNotFound", why,
                        amf::Object{{"details", name.name}});
    connection.flush_session();
    connection.emit(EventType::Error, name.name, "play refused: " + why);
  };
  if (std::string why = media::validate_stream_name(name.name); !why.empty()) {
    not_found(why);
    co_return nullptr;
  }
  // A downstream server's pull says which servers it went through: finding
  // our own id there means it went round a loop (docs/cluster.md, "Loops").
  const std::string& self = connection.context().options.server_id;
  const std::string downstream_via = cluster::via_of_query(name.query);
  if (const std::string& via = downstream_via; cluster::via_contains(via, self)) {
    const std::string why = "loop: the play of " + name.name + " came back to " + self + " through " + via;
    connection.log_line(LogLevel::Warn) << log_escape(why);
    not_found(why);
    co_return nullptr;
  }

  // At a relay or an edge the stream comes from upstream: the first player
  // waits for the upstream's answer to the pull.
  std::unique_ptr<PullLease> pull;
  if (LivePuller* puller = connection.context().puller; puller && puller->pulls(connection.app())) {
    const std::string app = connection.app();
    auto want = co_await puller->want(app, name.name, name.query, downstream_via);
    if (connection.closing()) co_return nullptr;
    if (!want.lease) {
      not_found(want.not_found);
      co_return nullptr;
    }
    pull = std::move(want.lease);
  }

  // Is there a recording of this stream? (A player's own reads came
  // through no other server: no via.)
  const std::string no_via;
  std::optional<dvr::StreamInfo> info;
  if (SegmentSource* dvr = connection.context().segments) {
    auto found = co_await dvr->stream_info(connection.app(), name.name, no_via);
    if (connection.closing()) co_return nullptr;
    if (found && *found) info = std::move(**found);
  }

  auto hub = connection.context().streams.acquire(connection.app(), name.name);
  auto stream = std::make_unique<PlayStream>(connection, stream_id, name.name, hub);
  stream->pull_ = std::move(pull);
  connection.limit_send_buffer();
  const bool live_now = hub->publishing();
  // A downstream server pulling a stream this server has never heard of
  // gets StreamNotFound, so that its player is told so instead of waiting
  // (docs/cluster.md, "Live"); a local player waits for a publisher, as FMS
  // has it.
  if (!downstream_via.empty() && !live_now && !info && !stream->pull_) {
    not_found("no stream " + name.name + " is published or recorded here");
    co_return nullptr;
  }

  // Where to start: FMS's rules for play's start argument.
  std::optional<std::uint32_t> recorded_from;
  bool exact = false;
  if (request.resume_at_ms && info) {
    recorded_from = to_media_ms(*request.resume_at_ms);
    exact = true;
  } else if (request.start >= 0) {
    if (!info) {
      not_found("no recording of " + name.name);
      co_return nullptr;
    }
    recorded_from = to_media_ms(request.start);
  } else if (request.start == rtmp::kPlayLiveOrRecorded && !live_now && info) {
    recorded_from = info->start_ms();
  }

  if (recorded_from) {
    session.send_user_control(rtmp::UserControlEvent::StreamIsRecorded, stream_id);
  }
  session.send_user_control(rtmp::UserControlEvent::StreamBegin, stream_id);
  if (request.reset) {
    stream->send_status("status", "NetStream.Play.Reset", "Playing and resetting " + name.name + ".");
  }
  // A downstream server learns whether the stream is live now: if so, it
  // waits for the first frames before answering its own player.
  amf::Object start_extra;
  if (!downstream_via.empty()) {
    start_extra.set("rewindLive", live_now);
    // And how the recording numbers the keyframe it starts from, so that
    // its own live frames line up with the segments at once.
    if (auto anchor = hub->gop_anchor()) {
      start_extra.set("rewindKeyframeMs", static_cast<double>(anchor->timestamp));
      start_extra.set("rewindPosition", static_cast<double>(anchor->position));
    }
  }
  stream->send_status("status", "NetStream.Play.Start", "Started playing " + name.name + ".", start_extra);
  // Two booleans: audio and video sample access. Players disagree on their
  // order, so both get the same value.
  session.send_data(stream_id, 0, {amf::Value("|RtmpSampleAccess"), amf::Value(true), amf::Value(true)});
  connection.flush_session();

  if (recorded_from) {
    auto alive = stream->alive_;
    bool opened = co_await stream->open_at(*recorded_from, exact);
    if (!*alive || connection.closing()) co_return nullptr;
    if (!opened) {
      not_found("nothing recorded at " + std::to_string(*recorded_from) + " ms of " + name.name);
      co_return nullptr;
    }
    if (request.length >= 0) stream->end_ms_ = *recorded_from + to_media_ms(request.length);
    stream->start_pump();
  } else {
    stream->subscribe_live();
  }
  connection.emit(EventType::Play, name.name,
                  recorded_from ? "recorded from " + std::to_string(*recorded_from) + " ms" : "live");
  co_return stream;
}

PlayStream::PlayStream(Connection& connection, std::uint32_t stream_id, std::string name,
                       std::shared_ptr<media::StreamHub> hub)
    : NetStream(connection, stream_id, std::move(name)), hub_(std::move(hub)) {}

PlayStream::~PlayStream() {
  *alive_ = false;
  unsubscribe();
  connection_.context().streams.release(hub_);
  connection_.emit(EventType::Stop, name_);
}

void PlayStream::send_status(std::string_view level, std::string_view code, std::string_view description,
                             const amf::Object& extra) {
  amf::Object info{{"details", name_}, {"clientid", static_cast<double>(connection_.id())}};
  for (const auto& p : extra.properties) info.set(p.key, p.value);
  connection_.session().send_status(stream_id_, level, code, description, info);
}

bool PlayStream::recorded_here() const { return connection_.context().segments != nullptr && position_ != 0; }

// --- live ---------------------------------------------------------------------

void PlayStream::subscribe_live() {
  mode_ = Mode::Live;
  cursor_.reset();
  ++generation_;
  if (subscribed_) return;
  // Players that take every frame read the thread's shared feed; one that
  // filters audio or video gets each frame and decides.
  const auto& options = connection_.context().options;
  // The feed keeps more than a player may lag (by time and by bytes), so
  // that a player over either limit is seen to be behind before its frames
  // are forgotten.
  media::FeedOptions feed{stream_id_, connection_.session().out_chunk_size(), options.out_queue.max_lag_ms + 1000,
                          2 * options.out_queue.max_bytes};
  const bool use_feed = receive_audio_ && receive_video_;
  media::StartState state = hub_->subscribe(*this, connection_.worker(), use_feed ? &feed : nullptr);
  subscribed_ = true;
  waiting_for_keyframe_ = true;
  // The frames since the latest keyframe are usually still in this thread's
  // feed: the player reads them from there, shared with every other player,
  // instead of queueing its own copy (a thousand joining players would
  // otherwise hold a thousand copies of the GOP).
  std::optional<std::uint64_t> gop_in_feed;
  if (state.publishing && state.feed && !state.gop.empty()) gop_in_feed = state.feed->find(state.gop.front());
  // Not when the GOP is already over the slow-player limits (a stream with
  // rare keyframes): joining there would count as a skip at once.
  if (gop_in_feed && (state.feed->lag_ms(*gop_in_feed) > options.out_queue.max_lag_ms ||
                      state.feed->bytes_from(*gop_in_feed) > options.out_queue.max_bytes)) {
    gop_in_feed.reset();
  }
  if (state.publishing) send_start(state, !gop_in_feed);
  if (state.feed) {
    reading_feed_ = true;
    if (gop_in_feed) {
      const std::uint64_t first = state.feed->at(*gop_in_feed).sequence;
      connection_.attach_feed(stream_id_, std::move(state.feed), first, false, gop_in_feed);
      // The keyframe goes out first: if the player later filters audio or
      // video and gets frames one by one, video goes on without a wait.
      waiting_for_keyframe_ = false;
      connection_.write_soon();
    } else {
      connection_.attach_feed(stream_id_, std::move(state.feed), state.first_sequence, waiting_for_keyframe_);
    }
  }
}

void PlayStream::unsubscribe() {
  if (!subscribed_) return;
  hub_->unsubscribe(*this, connection_.worker());
  subscribed_ = false;
  if (reading_feed_) {
    reading_feed_ = false;
    // What the feed still held for this player is dropped (a pause, a
    // seek): remember where it stopped.
    if (auto stop = connection_.detach_feed(stream_id_, false)) {
      position_ = stop->next_position;
      last_timestamp_ = stop->timestamp;
    }
    connection_.context().log.debug() << "conn=" << connection_.id() << " stream=" << name_
                                      << " left the live feed at position " << position_ << ", " << last_timestamp_
                                      << " ms";
  }
}

void PlayStream::stop_sending() {
  unsubscribe();
  ++generation_;
}

void PlayStream::send_start(const media::StartState& state, bool with_gop) {
  has_video_ = state.video_header != nullptr;
  waiting_for_keyframe_ = true;
  // Sequence headers go out stamped with the time of the first frame that
  // follows them, so a player's clock starts where the media does.
  // onMetaData goes at 0: ffmpeg's FLV demuxer (ffplay, ffprobe, VLC) reads
  // a script tag with any other timestamp as a subtitle stream.
  std::uint32_t start_time = 0;
  if (!state.gop.empty()) start_time = state.gop.front()->timestamp;
  else if (state.video_header) start_time = state.video_header->timestamp;
  else if (state.audio_header) start_time = state.audio_header->timestamp;
  if (state.metadata) send_own(*state.metadata, 0);
  if (state.video_header && receive_video_) send_own(*state.video_header, start_time);
  if (state.audio_header && receive_audio_) send_own(*state.audio_header, start_time);
  if (with_gop) {
    for (const auto& frame : state.gop) send_frame(frame);
  }
}

void PlayStream::on_frame(media::ChunkedFrameCache& chunks) {
  const media::Frame& frame = *chunks.frame();
  if (mode_ != Mode::Live || connection_.closing()) return;
  if (frame.position != 0) position_ = frame.position + 1;
  if (!wants(frame)) return;
  last_timestamp_ = frame.timestamp;
  queue(chunks.get(stream_id_, connection_.session().out_chunk_size()), frame, frame.timestamp);
}

void PlayStream::on_publish_start() {
  send_status("status", "NetStream.Play.PublishNotify", name_ + " is now published.");
  connection_.session().send_user_control(rtmp::UserControlEvent::StreamBegin, stream_id_);
  connection_.flush_session();
  has_video_ = false;
  waiting_for_keyframe_ = true;
  if (reading_feed_) connection_.feed_wait_for_keyframe(stream_id_);
}

void PlayStream::on_unpublish() {
  send_status("status", "NetStream.Play.UnpublishNotify", name_ + " is now unpublished.");
  connection_.session().send_user_control(rtmp::UserControlEvent::StreamEof, stream_id_);
  connection_.flush_session();
}

// --- recorded -----------------------------------------------------------------

void PlayStream::load(dvr::Segment&& segment) {
  Cursor cursor;
  dvr::TagWalker walk(segment.tags());
  std::uint64_t position = segment.first_position();
  while (auto tag = walk.next()) {
    media::MutableFramePtr frame = dvr::to_frame(*tag);
    if (!frame) continue;
    frame->position = position++;
    cursor.frames.push_back(std::move(frame));
  }
  if (position_ > segment.first_position()) {
    cursor.index = static_cast<std::size_t>(std::min<std::uint64_t>(position_ - segment.first_position(),
                                                                   cursor.frames.size()));
  } else if (position_ != 0 && position_ < segment.first_position()) {
    // Frames between were lost (retention deleted them): the player starts
    // again at this segment's keyframe, paced from there (or it would wait
    // out the gap).
    waiting_for_keyframe_ = true;
    pace_media_ = segment.start_ms();
    pace_wall_ = connection_.context().clock.now();
  }
  recording_id_ = segment.recording_id();
  next_sequence_ = segment.sequence() + 1;
  cursor_ = std::move(cursor);
}

std::uint32_t PlayStream::allowed_timestamp() const {
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(connection_.context().clock.now() - pace_wall_);
  return pace_media_ + static_cast<std::uint32_t>(elapsed.count()) + buffer_ms_;
}

asio::awaitable<bool> PlayStream::open_at(std::uint32_t target_ms, bool exact_resume) {
  SegmentSource* dvr = connection_.context().segments;
  if (!dvr) co_return false;
  auto alive = alive_;
  const std::string app = connection_.app();
  const std::string name = name_;
  auto info = co_await dvr->stream_info(app, name, no_via_);
  if (!*alive) co_return false;
  if (!info || !*info) co_return false;

  // Past what is stored of a stream still being recorded: the rest is at
  // the live edge.
  if (hub_->publishing() && (*info)->live() && ts_diff(target_ms, (*info)->end_ms()) > 0) {
    unsubscribe();
    subscribe_live();
    co_return true;
  }

  auto where = co_await dvr->find_segment(app, name, target_ms, no_via_);
  if (!*alive || !where || !*where) co_return false;
  const std::uint64_t sequence = (*where)->sequence();
  auto stored = co_await dvr->read_segment(app, name, sequence, no_via_);
  if (!*alive || !stored || !*stored) co_return false;

  stop_sending();
  dvr::Segment segment = std::move(**stored);
  // What a decoder needs first, in effect at this segment (load() takes
  // the tags, not these).
  const std::string metadata = segment.metadata();
  const std::string video_header = segment.video_header();
  const std::string audio_header = segment.audio_header();
  position_ = 0;
  load(std::move(segment));
  Cursor& cursor = *cursor_;
  if (cursor.frames.empty()) {
    cursor_.reset();
    co_return false;
  }

  // The keyframe at or before the target (its segment starts with one), or
  // for a resume the first frame at or after it.
  std::size_t index = 0;
  if (exact_resume) {
    while (index < cursor.frames.size() && ts_diff(cursor.frames[index]->timestamp, target_ms) < 0) ++index;
  } else {
    for (std::size_t i = 0; i < cursor.frames.size(); ++i) {
      const auto& f = *cursor.frames[i];
      if (ts_diff(f.timestamp, target_ms) > 0) break;
      if (f.keyframe || (f.kind == media::FrameKind::Audio && video_header.empty())) index = i;
    }
  }
  cursor.index = index;
  mode_ = Mode::Recorded;
  const std::uint32_t start_time =
      index < cursor.frames.size() ? cursor.frames[index]->timestamp : cursor.frames.back()->timestamp;
  position_ = index < cursor.frames.size() ? cursor.frames[index]->position : cursor.frames.back()->position + 1;
  const auto bytes = [](const std::string& s) { return Bytes(s.begin(), s.end()); };
  if (!metadata.empty() && !exact_resume) send_own(*media::make_metadata_frame(0, bytes(metadata)), 0);
  has_video_ = !video_header.empty();
  if (has_video_ && receive_video_) {
    send_own(*media::make_media_frame(rtmp::msg_type::kVideo, start_time, bytes(video_header)), start_time);
  }
  if (!audio_header.empty() && receive_audio_) {
    send_own(*media::make_media_frame(rtmp::msg_type::kAudio, start_time, bytes(audio_header)), start_time);
  }
  waiting_for_keyframe_ = !exact_resume;
  last_timestamp_ = start_time;
  pace_media_ = start_time;
  pace_wall_ = connection_.context().clock.now();
  connection_.flush_session();
  co_return true;
}

asio::awaitable<bool> PlayStream::open_at_position() {
  SegmentSource* dvr = connection_.context().segments;
  if (!dvr || position_ == 0) co_return false;
  const auto resume_here = [&] {
    ++generation_;
    mode_ = Mode::Recorded;
    pace_media_ = last_timestamp_;
    pace_wall_ = connection_.context().clock.now();
  };
  // Paused while playing the store: the cursor still holds the frame.
  if (cursor_ && cursor_->index < cursor_->frames.size() && cursor_->frames[cursor_->index]->position == position_) {
    resume_here();
    co_return true;
  }
  auto alive = alive_;
  const std::string app = connection_.app();
  const std::string name = name_;
  // The next frame's timestamp can be a little before the last one sent
  // (audio and video interleave), so start looking a few seconds earlier
  // and walk forward by position.
  const std::uint32_t around = last_timestamp_ > kResumeLookBackMs ? last_timestamp_ - kResumeLookBackMs : 0;
  auto where = co_await dvr->find_segment(app, name, around, no_via_);
  if (!*alive) co_return false;
  if (where && *where) {
    std::uint64_t sequence = (*where)->sequence();
    for (int step = 0; step < kResumeMaxSegments; ++step, ++sequence) {
      auto stored = co_await dvr->read_segment(app, name, sequence, no_via_);
      if (!*alive) co_return false;
      next_sequence_ = sequence;
      if (!stored || !*stored) break;
      const std::uint64_t first = (*stored)->first_position();
      const std::uint64_t end = first + (*stored)->frame_count();
      if (position_ < first) break;  // retention removed it
      if (position_ >= end) continue;
      load(std::move(**stored));
      resume_here();
      co_return true;
    }
  }
  // Not stored yet: the pump reads the hub's tail at the cursor's pace.
  if (!hub_->publishing()) co_return false;
  cursor_.reset();
  resume_here();
  co_return true;
}

media::StreamHub::TailJoin::Result PlayStream::join_tail() {
  auto join = hub_->subscribe_from(position_, *this, connection_.worker());
  if (join.result != media::StreamHub::TailJoin::Result::Joined) return join.result;
  subscribed_ = true;
  mode_ = Mode::Live;
  cursor_.reset();
  for (const auto& frame : join.frames) send_frame(frame);
  return join.result;
}

void PlayStream::start_pump() {
  if (mode_ != Mode::Recorded) return;
  asio::co_spawn(connection_.worker().io(), pump(generation_), asio::detached);
}

asio::awaitable<void> PlayStream::pump(unsigned generation) {
  auto alive = alive_;
  auto connection = connection_.shared_from_this();  // keeps the socket while we sleep
  SegmentSource* dvr = connection_.context().segments;
  asio::steady_timer timer(connection_.worker().io());
  const std::string app = connection_.app();
  const std::string name = name_;
  auto current = [&] { return *alive && generation == generation_ && mode_ == Mode::Recorded && !connection->closing(); };
  bool sent_any = false;

  while (current()) {
    if (!cursor_ || cursor_->index >= cursor_->frames.size()) {
      // The next stored segment.
      const std::uint64_t sequence = next_sequence_;
      auto stored = co_await dvr->read_segment(app, name, sequence, no_via_);
      if (!current()) co_return;
      if (stored && *stored && (recording_id_ == 0 || (*stored)->recording_id() == recording_id_)) {
        const std::uint64_t end = (*stored)->first_position() + (*stored)->frame_count();
        if (position_ >= end) {
          next_sequence_ = sequence + 1;  // sent already, from the tail
        } else {
          load(std::move(**stored));
        }
        continue;
      }
      // Not stored yet. Once the live edge is within the player's buffer,
      // it follows live; until then it reads the hub's tail at its pace.
      if (hub_->publishing()) {
        if (ts_diff(hub_->last_timestamp(), allowed_timestamp()) <= 0) {
          const auto joined = join_tail();
          if (joined == media::StreamHub::TailJoin::Result::Joined) {
            connection_.flush_session();
            co_return;
          }
          if (joined == media::StreamHub::TailJoin::Result::InStore) {
            // The store is about to have it, or retention took it already.
            const bool skipped = co_await skip_deleted(sequence);
            if (!current()) co_return;
            if (!skipped) co_await sleep_for(timer, kStoreRetry);
            continue;
          }
        } else {
          auto tail = hub_->read_tail(position_, kTailBatch);
          if (tail.result != media::StreamHub::TailJoin::Result::NotLive) {
            if (!tail.frames.empty()) {
              cursor_ = Cursor{std::move(tail.frames), 0};
            } else {
              // Stored meanwhile, nothing new yet, or taken by retention.
              const bool skipped = co_await skip_deleted(sequence);
              if (!current()) co_return;
              if (!skipped) co_await sleep_for(timer, kStoreRetry);
            }
            continue;
          }
        }
      }
      // Nobody is publishing: the end of the recording, its last segment
      // on its way to the store, or a segment retention deleted.
      auto info = co_await dvr->stream_info(app, name, no_via_);
      if (!current()) co_return;
      const bool gone = !info || !*info || (recording_id_ != 0 && (*info)->recording_id() != recording_id_);
      if (gone || (!(*info)->live() && sequence >= (*info)->next_sequence())) {
        complete();
        co_return;
      }
      if (sequence < (*info)->first_sequence()) {
        skip_to_first((*info)->first_sequence());
        continue;
      }
      co_await sleep_for(timer, kTailRetry);
      continue;
    }

    const media::FramePtr& frame = cursor_->frames[cursor_->index];
    if (end_ms_ && ts_diff(frame->timestamp, *end_ms_) > 0) {
      complete();
      co_return;
    }
    // Send no further ahead of real time than the player buffers.
    const std::int32_t early = ts_diff(frame->timestamp, allowed_timestamp());
    if (early > 0) {
      co_await sleep_for(timer, std::min<std::chrono::milliseconds>(std::chrono::milliseconds(early), kMaxSleep));
      continue;
    }
    // A player reading slower than the cursor sends makes the cursor
    // wait; the skip policy is for live players, not for one that chose
    // to read the recording (rtmpdump buffers ten hours).
    if (connection_.queue_near_limits(stream_id_, frame->timestamp)) {
      co_await sleep_for(timer, 20ms);
      continue;
    }
    media::FramePtr next_frame = frame;
    ++cursor_->index;
    send_frame(next_frame);
    if (!sent_any) {
      // The first frame at a new place (play, seek, unpause) is what the
      // viewer waits for: out at once, the rest with the write ticks.
      sent_any = true;
      connection_.write_soon();
    }
  }
}

asio::awaitable<bool> PlayStream::skip_deleted(std::uint64_t sequence) {
  SegmentSource* dvr = connection_.context().segments;
  auto alive = alive_;
  const std::string app = connection_.app();
  const std::string name = name_;
  auto info = co_await dvr->stream_info(app, name, no_via_);
  if (!*alive || !info || !*info) co_return false;
  if (recording_id_ != 0 && (*info)->recording_id() != recording_id_) co_return false;
  if (sequence >= (*info)->first_sequence()) co_return false;
  skip_to_first((*info)->first_sequence());
  co_return true;
}

void PlayStream::skip_to_first(std::uint64_t first_sequence) {
  // A player slower than retention (reading far behind live) wants a
  // segment that is gone: it goes on in the oldest one kept rather than
  // wait for it. Its position stays, so load() goes on at the next frame
  // not sent when that segment holds it (the frames came from the hub's
  // tail), or at the segment's keyframe when frames were lost between.
  connection_.context().log.debug() << "conn=" << connection_.id() << " stream=" << log_field(name_)
                                    << " segments " << next_sequence_ << ".." << first_sequence - 1
                                    << " were deleted by retention before they were played: going on in "
                                    << first_sequence;
  next_sequence_ = first_sequence;
  cursor_.reset();
}

void PlayStream::complete() {
  mode_ = Mode::Ended;
  cursor_.reset();
  ++generation_;
  auto& session = connection_.session();
  session.send_user_control(rtmp::UserControlEvent::StreamEof, stream_id_);
  // Play.Complete is a data message, not an onStatus (docs/protocol.md, "NetStream").
  amf::Object status = rtmp::status_object("status", "NetStream.Play.Complete", "");
  status.set("duration", static_cast<double>(last_timestamp_) / 1000.0);
  status.set("bytes", static_cast<double>(bytes_sent_));
  session.send_data(stream_id_, last_timestamp_, {amf::Value("onPlayStatus"), amf::Value(std::move(status))});
  send_status("status", "NetStream.Play.Stop", "Stopped playing " + name_ + ".");
  connection_.flush_session();
}

// --- commands -------------------------------------------------------------------

asio::awaitable<void> PlayStream::on_seek(const rtmp::SeekEvent& event) {
  auto alive = alive_;
  const auto asked = connection_.context().clock.now();
  auto& session = connection_.session();
  SegmentSource* dvr = connection_.context().segments;
  const std::string app = connection_.app();
  const std::string name = name_;
  std::optional<dvr::StreamInfo> info;
  if (dvr) {
    auto found = co_await dvr->stream_info(app, name, no_via_);
    if (!*alive) co_return;
    if (found && *found) info = std::move(**found);
  }
  if (!info) {
    send_status("error", "NetStream.Seek.Failed", name_ + " is not recorded: only its live edge can be played.");
    connection_.flush_session();
    co_return;
  }
  std::uint32_t target = to_media_ms(event.ms);
  const bool live = hub_->publishing() && info->live();
  const std::uint32_t window_start = info->start_ms();
  const std::uint32_t window_end = live ? hub_->last_timestamp() : info->end_ms();
  // Before the first frame of a recording nothing was deleted from (Flash
  // players seek(0) to go back to the start): the start. Before a window
  // retention has moved: that time is gone.
  if (ts_diff(target, window_start) < 0 && info->first_sequence() == 0) target = window_start;
  const bool before = ts_diff(target, window_start) < 0;
  if (before || (!live && ts_diff(target, window_end) > 0)) {
    // details: the nearest valid position, in seconds (NetStream time).
    const double valid = (before ? window_start : window_end) / 1000.0;
    send_status("error", "NetStream.Seek.InvalidTime",
                "Seeking to " + std::to_string(target) + " ms is outside the recorded window.",
                amf::Object{{"details", valid}});
    connection_.flush_session();
    co_return;
  }

  // Nothing more from the old place: a pump or live subscription still
  // running while the store is read would put old frames after Seek.Notify.
  stop_sending();
  cursor_.reset();
  connection_.drop_queued_media(stream_id_);
  // The sequence Flash players expect before the frames at the new place.
  session.send_user_control(rtmp::UserControlEvent::StreamEof, stream_id_);
  session.send_user_control(rtmp::UserControlEvent::StreamIsRecorded, stream_id_);
  session.send_user_control(rtmp::UserControlEvent::StreamBegin, stream_id_);
  send_status("status", "NetStream.Seek.Notify",
              "Seeking " + std::to_string(target) + " (stream ID: " + std::to_string(stream_id_) + ").");
  send_status("status", "NetStream.Play.Start", "Started playing " + name_ + ".");
  connection_.flush_session();
  end_ms_.reset();
  const bool opened = co_await open_at(target, false);
  if (!*alive) co_return;
  if (!opened) {
    send_status("error", "NetStream.Seek.Failed", "Nothing is recorded at " + std::to_string(target) + " ms.");
    connection_.flush_session();
    // Play on from where the seek left (retention may have removed the
    // target meanwhile).
    if (co_await open_at_position()) {
      if (*alive) start_pump();
    } else if (*alive && hub_->publishing()) {
      subscribe_live();
    }
    co_return;
  }
  // Its latency (rewind_dvr_seek_duration_seconds): until the first
  // segment at the new place is read.
  connection_.emit(EventType::Seek, name_, std::to_string(target) + " ms", connection_.context().clock.now() - asked);
  start_pump();
}

asio::awaitable<void> PlayStream::on_pause(const rtmp::PauseEvent& event) {
  auto alive = alive_;
  auto& session = connection_.session();
  if (event.pause) {
    if (mode_ == Mode::Paused) co_return;
    stop_sending();
    mode_ = Mode::Paused;
    send_status("status", "NetStream.Pause.Notify", "Pausing " + name_ + ".");
    session.send_user_control(rtmp::UserControlEvent::StreamEof, stream_id_);
    connection_.flush_session();
    connection_.emit(EventType::Pause, name_, std::to_string(last_timestamp_) + " ms");
    co_return;
  }
  if (mode_ != Mode::Paused) co_return;
  send_status("status", "NetStream.Unpause.Notify", "Unpausing " + name_ + ".");
  session.send_user_control(rtmp::UserControlEvent::StreamBegin, stream_id_);
  connection_.flush_session();
  connection_.emit(EventType::Unpause, name_, std::to_string(last_timestamp_) + " ms");
  // A recorded stream resumes exactly where it paused, behind live; a
  // stream that is not recorded can only resume at its live edge.
  if (position_ == 0 && connection_.context().segments != nullptr) {
    // At a relay or an edge, frames sent before the pull was numbered
    // (anchored) carry no position; the hub's tail may have numbered them
    // since (docs/cluster.md, "Catch-up into live").
    if (auto next = hub_->position_after(last_timestamp_)) position_ = *next;
  }
  if (recorded_here()) {
    const bool resumed = co_await open_at_position();
    if (!*alive) co_return;
    if (resumed) {
      start_pump();
      co_return;
    }
  }
  subscribe_live();
}

void PlayStream::on_receive_media(const rtmp::ReceiveMediaEvent& event) {
  if (reading_feed_ && !event.enabled) {
    // Filtering needs each frame: leave the shared feed, sending first
    // what it still holds for this player.
    hub_->stop_reading_feed(*this, connection_.worker());
    connection_.detach_feed(stream_id_, true);
    reading_feed_ = false;
  }
  if (event.audio) {
    receive_audio_ = event.enabled;
  } else {
    if (event.enabled && !receive_video_) waiting_for_keyframe_ = true;
    receive_video_ = event.enabled;
  }
}

void PlayStream::on_buffer_length(std::uint32_t ms) { buffer_ms_ = std::clamp(ms, kMinBufferMs, kMaxBufferMs); }

void PlayStream::on_close() {
  stop_sending();
  mode_ = Mode::Ended;
  send_status("status", "NetStream.Play.Stop", "Stopped playing " + name_ + ".");
  connection_.flush_session();
}

// --- sending ----------------------------------------------------------------------

bool PlayStream::wants(const media::Frame& frame) {
  switch (frame.kind) {
    case media::FrameKind::Audio:
      return receive_audio_;
    case media::FrameKind::Video:
      has_video_ = true;
      if (!receive_video_) return false;
      // A decoder needs a keyframe after its sequence header; until one
      // comes, inter frames would only show garbage.
      if (waiting_for_keyframe_ && !frame.sequence_header) {
        if (!frame.keyframe) return false;
        waiting_for_keyframe_ = false;
      }
      return true;
    case media::FrameKind::Metadata:
    case media::FrameKind::Data:
      return true;
  }
  return true;
}

void PlayStream::send_frame(const media::FramePtr& frame) {
  if (frame->position != 0) position_ = frame->position + 1;
  if (!wants(*frame)) return;
  last_timestamp_ = frame->timestamp;
  queue(media::chunk_frame(*frame, stream_id_, connection_.session().out_chunk_size()), *frame, frame->timestamp);
}

void PlayStream::send_own(const media::Frame& frame, std::uint32_t timestamp) {
  media::Frame restamped = frame;
  restamped.timestamp = timestamp;
  queue(media::chunk_frame(restamped, stream_id_, connection_.session().out_chunk_size()), frame, timestamp);
}

void PlayStream::queue(const SharedBuffer& bytes, const media::Frame& frame, std::uint32_t timestamp) {
  MediaTag tag;
  tag.stream_id = stream_id_;
  tag.timestamp = timestamp;
  tag.essential = frame.sequence_header || frame.kind == media::FrameKind::Metadata;
  tag.resume_point = frame.keyframe || (frame.kind == media::FrameKind::Audio && !has_video_);
  bytes_sent_ += frame.payload.size();
  if (connection_.send_media(bytes, tag) == OutQueue::Push::TooSlow) {
    connection_.close(CloseCause::SlowPlayer, "player too slow: fell more than " +
                      std::to_string(connection_.context().options.out_queue.max_lag_ms) +
                      " ms behind live again after skipping to keyframes");
  }
}

}  // namespace rw::server
