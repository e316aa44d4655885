// A connection publishing a live stream: turns its media into frames for
// the stream's hub.
#pragma once

#include <memory>

#include "common/media/stream_hub.hpp"
#include "common/server/net_stream.hpp"

namespace rw::server {

class PublishStream final : public NetStream {
 public:
  // Answers the publish: Publish.Start, or Publish.BadName (invalid name or
  // already published) and nullptr.
  static std::unique_ptr<PublishStream> start(Connection& connection, const rtmp::PublishEvent& event);
  PublishStream(Connection& connection, std::uint32_t stream_id, std::string name, std::string type,
                std::shared_ptr<media::StreamHub> hub);
  ~PublishStream() override;

  bool is_publisher() const override { return true; }
  void on_media(rtmp::MediaEvent& event) override;
  void on_data(rtmp::DataEvent& event) override;
  void on_close() override;

 private:
  std::string type_;
  std::shared_ptr<media::StreamHub> hub_;
};

}  // namespace rw::server
