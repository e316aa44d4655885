// A connection playing a stream, live or from the DVR store.
//
// Live: the stream's hub hands each frame's shared chunked bytes to the
// player. Recorded: a cursor reads stored segments and sends their frames
// paced to the player's buffer; when it reaches the end of the store while
// the stream is still published, it continues from the hub's recording
// tail at the next frame number, so the player goes on at the live edge
// without a gap or a duplicate. Pausing a recorded stream remembers the next
// frame number; unpausing resumes exactly there, time-shifted behind live.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "common/dvr/segment_store.hpp"
#include "common/media/stream_hub.hpp"
#include "common/server/live_puller.hpp"
#include "common/server/net_stream.hpp"

namespace rw::server {

class PlayStream final : public NetStream, public media::LiveSubscriber {
 public:
  struct Request {
    std::string raw_name;  // as the client sent it, query included
    double start = rtmp::kPlayLiveOrRecorded;
    double length = -1;    // ms; -1 to the end
    bool reset = true;
    // play2 with transition "resume": continue at this media time (ms).
    std::optional<double> resume_at_ms;
  };

  // Answers a play: the start sequence and the first frames, or
  // Play.StreamNotFound and nullptr.
  static boost::asio::awaitable<std::unique_ptr<PlayStream>> start(Connection& connection, std::uint32_t stream_id,
                                                                   const Request& request);
  PlayStream(Connection& connection, std::uint32_t stream_id, std::string name,
             std::shared_ptr<media::StreamHub> hub);
  ~PlayStream() override;

  bool is_publisher() const override { return false; }
  boost::asio::awaitable<void> on_seek(const rtmp::SeekEvent& event) override;
  boost::asio::awaitable<void> on_pause(const rtmp::PauseEvent& event) override;
  void on_receive_media(const rtmp::ReceiveMediaEvent& event) override;
  void on_buffer_length(std::uint32_t ms) override;
  void on_close() override;

  // media::LiveSubscriber
  void on_publish_start() override;
  void on_frame(media::ChunkedFrameCache& frame) override;
  void on_unpublish() override;

 private:
  enum class Mode {
    Live,      // following the hub (or waiting for a publisher)
    Recorded,  // a cursor plays stored segments
    Paused,
    Ended,     // played a finished recording to its end (a seek may go on)
  };

  // Recorded frames a cursor is playing: a stored segment's, or frames of
  // the hub's tail not stored yet.
  struct Cursor {
    std::vector<media::FramePtr> frames;
    std::size_t index = 0;  // next frame to send
  };

  // --- live --------------------------------------------------------------
  void subscribe_live();
  void unsubscribe();
  // Stops whatever sends frames now: the live subscription and any
  // cursor's pump (a pump ends when its generation is stale).
  void stop_sending();
  // Metadata and codec headers, then (with_gop) the frames since the
  // latest keyframe.
  void send_start(const media::StartState& state, bool with_gop = true);

  // --- recorded ----------------------------------------------------------
  // Positions the cursor at the keyframe at or before `target_ms` (or joins
  // live when the target is past the recorded tail of a live stream) and
  // sends metadata and sequence headers; false when the store has nothing
  // there (the caller reports it).
  boost::asio::awaitable<bool> open_at(std::uint32_t target_ms, bool exact_resume);
  // Continues recorded playback at the frame numbered position_.
  boost::asio::awaitable<bool> open_at_position();
  void start_pump();
  boost::asio::awaitable<void> pump(unsigned generation);
  // When retention deleted the segment numbered `sequence` (the player was
  // slower than the window), moves the cursor to the oldest one kept;
  // false when that segment is not gone (yet to be stored).
  boost::asio::awaitable<bool> skip_deleted(std::uint64_t sequence);
  void skip_to_first(std::uint64_t first_sequence);
  // Tries to hand over from the end of the store to the hub's tail.
  media::StreamHub::TailJoin::Result join_tail();
  void complete();
  // The stored segment's frames, numbered; positions the cursor at position_.
  void load(dvr::Segment&& segment);
  // The newest media time the pacing lets a cursor send now.
  std::uint32_t allowed_timestamp() const;

  // --- sending -----------------------------------------------------------
  // Queues a frame built for this player alone.
  void send_own(const media::Frame& frame, std::uint32_t timestamp);
  void send_frame(const media::FramePtr& frame);
  void queue(const SharedBuffer& bytes, const media::Frame& frame, std::uint32_t timestamp);
  void send_status(std::string_view level, std::string_view code, std::string_view description,
                   const amf::Object& extra = {});
  bool wants(const media::Frame& frame);
  bool recorded_here() const;

  std::shared_ptr<media::StreamHub> hub_;
  // At a relay or an edge: keeps the stream's upstream pull running.
  std::unique_ptr<PullLease> pull_;
  const std::string no_via_;  // a player's reads of recordings come through no other server
  Mode mode_ = Mode::Live;
  bool subscribed_ = false;
  bool reading_feed_ = false;  // live frames come from the thread's shared feed
  bool receive_audio_ = true;
  bool receive_video_ = true;
  bool has_video_ = false;
  bool waiting_for_keyframe_ = true;  // no video until a keyframe

  std::optional<Cursor> cursor_;
  std::uint64_t recording_id_ = 0;  // the recording a cursor plays (0: not known yet)
  std::uint64_t next_sequence_ = 0; // the stored segment after the cursor's
  std::uint64_t position_ = 0;          // number of the next recorded frame to send (0: unknown)
  std::uint32_t last_timestamp_ = 0;    // media time of the last frame sent
  std::optional<std::uint32_t> end_ms_; // play's len: stop here
  std::chrono::steady_clock::time_point pace_wall_{};
  std::uint32_t pace_media_ = 0;
  std::uint32_t buffer_ms_ = 3000;      // how far ahead of real time a cursor may send
  std::uint64_t bytes_sent_ = 0;        // media bytes of this play, for onPlayStatus
  unsigned generation_ = 0;             // a new cursor position ends the old pump
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace rw::server
