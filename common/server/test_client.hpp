// A blocking RTMP client for the server layer's tests: a loopback socket
// driven by rtmp::ClientSession from the test's own thread, while the
// server under test runs on its workers. Test code only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/rtmp/client_session.hpp"

namespace rw::server::testing {

class TestClient {
 public:
  explicit TestClient(std::uint16_t port);
  ~TestClient();
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const { return fd_ >= 0 && !closed_; }
  // Why the connection ended or a wait failed.
  const std::string& error() const { return error_; }

  // Handshake and connect; false (and error()) when refused.
  bool connect(const std::string& app = "live");
  // createStream; 0 when it failed.
  std::uint32_t create_stream();
  // play, then waits for NetStream.Play.Start (or an error status).
  bool play(std::uint32_t stream_id, const std::string& name);
  // publish, then waits for NetStream.Publish.Start; false on BadName.
  bool publish(std::uint32_t stream_id, const std::string& name);
  // Sends audio (8) or video (9) now.
  void send_media(std::uint32_t stream_id, std::uint8_t type, std::uint32_t timestamp, ByteView payload);

  // Reads until `done` holds for an event, or the time is up, or the
  // server closed the connection. Every event is also offered to
  // on_event (counting media, statuses).
  bool read_until(const std::function<bool(const rtmp::ClientEvent&)>& done, std::chrono::milliseconds timeout);
  // Reads what is there within `timeout`, answering pings; false once
  // the server has closed the connection.
  bool pump(std::chrono::milliseconds timeout);

  std::uint64_t media_received() const { return media_; }
  // Timestamps of the video messages received, in order.
  const std::vector<std::uint32_t>& video_timestamps() const { return video_timestamps_; }
  const std::vector<std::string>& statuses() const { return statuses_; }

  // Stops answering pings (and reading): a half-open peer's silence.
  void stop_reading() { reading_ = false; }
  void resume_reading() { reading_ = true; }
  // Closes with a TCP reset, as a killed player does.
  void reset();
  void close();

 private:
  bool flush();
  void on_event(const rtmp::ClientEvent& event);
  // Reads until onStatus `success` (true) or an error status (false).
  bool wait_for_status(const std::string& success);

  int fd_ = -1;
  bool closed_ = false;
  bool reading_ = true;
  rtmp::ClientSession session_;
  std::vector<rtmp::ClientEvent> events_;
  std::uint64_t media_ = 0;
  std::vector<std::uint32_t> video_timestamps_;
  std::vector<std::string> statuses_;
  std::string error_;
};

// Frames of a small synthetic H.264 + AAC stream: a keyframe every
// `gop` video frames.
struct TestStream {
  std::uint32_t gop = 30;
  std::uint32_t frame = 0;
  // Sends the next video frame (and an audio frame) stamped 33 ms apart.
  void send_next(TestClient& publisher, std::uint32_t stream_id);
  void send_headers(TestClient& publisher, std::uint32_t stream_id);
};

}  // namespace rw::server::testing
