// A connection publishing a live stream: turns its media into frames for
// the stream's hub and, when its application records, for a Recorder.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>

#include "common/dvr/recorder.hpp"
#include "common/media/stream_hub.hpp"
#include "common/server/net_stream.hpp"

namespace rw::server {

class PublishStream final : public NetStream, public dvr::RecorderListener {
 public:
  // Answers the publish: Publish.Start (and Record.Start when recorded), or
  // Publish.BadName (invalid name or already published) and nullptr.
  static boost::asio::awaitable<std::unique_ptr<PublishStream>> start(Connection& connection,
                                                                      const rtmp::PublishEvent& event);
  PublishStream(Connection& connection, std::uint32_t stream_id, std::string name, std::string type,
                std::shared_ptr<media::StreamHub> hub);
  ~PublishStream() override;

  bool is_publisher() const override { return true; }
  void on_media(rtmp::MediaEvent& event) override;
  void on_data(rtmp::DataEvent& event) override;
  void on_close() override;

  // DVRSetStreamInfo (FMLE's DVR button) starts and stops recording.
  boost::asio::awaitable<void> start_recording(dvr::RecordMode mode);
  void stop_recording();
  bool recording() const { return recorder_ && !recorder_->failed(); }

  // dvr::RecorderListener
  void on_recording_durable(std::uint64_t next_position) override;
  void on_recording_failed(const std::string& why, bool no_space) override;

 private:
  // Shifts the publisher's timestamps so that an append continues the
  // recorded timeline (an ffmpeg that reconnects starts again at 0).
  std::uint32_t timeline(std::uint32_t timestamp);
  void publish(media::MutableFramePtr frame);

  std::string type_;
  std::shared_ptr<media::StreamHub> hub_;
  std::shared_ptr<dvr::Recorder> recorder_;
  // For an append: where the recording ended; the first frame lands just after.
  std::optional<std::uint32_t> continue_after_;
  std::optional<std::uint32_t> timestamp_shift_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace rw::server
