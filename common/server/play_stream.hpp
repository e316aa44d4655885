// A connection playing a live stream: follows the stream's hub and queues
// each frame's shared chunked bytes for the player.
#pragma once

#include <memory>

#include "common/media/stream_hub.hpp"
#include "common/server/net_stream.hpp"

namespace rw::server {

class PlayStream final : public NetStream, public media::LiveSubscriber {
 public:
  // Answers the play: Play.Reset/Play.Start and the stream's first frames,
  // or Play.StreamNotFound and nullptr.
  static std::unique_ptr<PlayStream> start(Connection& connection, std::uint32_t stream_id,
                                           const std::string& raw_name, double start, double length, bool reset);
  PlayStream(Connection& connection, std::uint32_t stream_id, std::string name,
             std::shared_ptr<media::StreamHub> hub);
  ~PlayStream() override;

  bool is_publisher() const override { return false; }
  void on_pause(const rtmp::PauseEvent& event) override;
  void on_receive_media(const rtmp::ReceiveMediaEvent& event) override;
  void on_close() override;

  // media::LiveSubscriber
  void on_publish_start() override;
  void on_frame(media::ChunkedFrameCache& frame) override;
  void on_unpublish() override;

 private:
  void subscribe();
  void unsubscribe();
  void send_start(const media::StartState& state);
  // Queues a frame built for this player alone (start frames, restamped headers).
  void send_own(const media::Frame& frame, std::uint32_t timestamp);
  void queue(const SharedBuffer& bytes, const media::Frame& frame, std::uint32_t timestamp);
  void send_status(std::string_view level, std::string_view code, std::string_view description);

  std::shared_ptr<media::StreamHub> hub_;
  bool subscribed_ = false;
  bool paused_ = false;
  bool receive_audio_ = true;
  bool receive_video_ = true;
  bool has_video_ = false;
  bool waiting_for_keyframe_ = true;  // no video until a keyframe
};

}  // namespace rw::server
