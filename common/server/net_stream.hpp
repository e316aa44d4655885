// A NetStream of one connection (one message stream id): a publisher or a
// player. The connection routes the stream's commands and media here.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>

#include "common/rtmp/server_session.hpp"

namespace rw::server {

class Connection;

class NetStream {
 public:
  NetStream(Connection& connection, std::uint32_t stream_id, std::string name)
      : connection_(connection), stream_id_(stream_id), name_(std::move(name)) {}
  virtual ~NetStream() = default;
  NetStream(const NetStream&) = delete;
  NetStream& operator=(const NetStream&) = delete;

  std::uint32_t stream_id() const { return stream_id_; }
  const std::string& name() const { return name_; }

  virtual bool is_publisher() const = 0;
  virtual void on_media(rtmp::MediaEvent& event) { (void)event; }
  virtual void on_data(rtmp::DataEvent& event) { (void)event; }
  // Seeking and pausing may read the DVR store: the connection awaits them
  // before it handles the client's next event.
  virtual boost::asio::awaitable<void> on_seek(const rtmp::SeekEvent& event);
  virtual boost::asio::awaitable<void> on_pause(const rtmp::PauseEvent& event);
  virtual void on_receive_media(const rtmp::ReceiveMediaEvent& event) { (void)event; }
  virtual void on_buffer_length(std::uint32_t ms) { (void)ms; }
  // closeStream/deleteStream: say goodbye to the client as FMS does.
  virtual void on_close() {}

 protected:
  Connection& connection_;
  const std::uint32_t stream_id_;
  const std::string name_;
};

}  // namespace rw::server
