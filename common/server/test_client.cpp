#include "common/server/test_client.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rw::server::testing {

namespace {

rtmp::ClientOptions client_options() {
  rtmp::ClientOptions o;
  o.random = [state = std::uint32_t{0x12345678}](std::span<std::uint8_t> out) mutable {
    for (auto& b : out) {
      state ^= state << 13;
      state ^= state >> 17;
      state ^= state << 5;
      b = static_cast<std::uint8_t>(state);
    }
  };
  o.handshake_version = 0;  // the simple handshake: nothing here tests digests
  return o;
}

}  // namespace

TestClient::TestClient(std::uint16_t port) : session_(client_options()) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    error_ = std::string("TCP connect: ") + std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    closed_ = true;
    return;
  }
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

TestClient::~TestClient() { close(); }

void TestClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  closed_ = true;
}

void TestClient::reset() {
  if (fd_ < 0) return;
  const linger hard{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  close();
}

bool TestClient::flush() {
  while (connected() && session_.has_output()) {
    Bytes out = session_.take_output();
    std::size_t at = 0;
    while (at < out.size()) {
      const ssize_t n = ::send(fd_, out.data() + at, out.size() - at, MSG_NOSIGNAL);
      if (n <= 0) {
        error_ = std::string("send: ") + std::strerror(errno);
        closed_ = true;
        return false;
      }
      at += static_cast<std::size_t>(n);
    }
  }
  return connected();
}

void TestClient::on_event(const rtmp::ClientEvent& event) {
  if (const auto* m = std::get_if<rtmp::StreamMessageEvent>(&event)) {
    const std::uint8_t type = m->message.header.type;
    if (type == rtmp::msg_type::kAudio || type == rtmp::msg_type::kVideo) ++media_;
    if (type == rtmp::msg_type::kVideo) video_timestamps_.push_back(m->message.header.timestamp);
  } else if (const auto* s = std::get_if<rtmp::StatusEvent>(&event)) {
    statuses_.push_back(s->code);
  }
}

bool TestClient::pump(std::chrono::milliseconds timeout) {
  return read_until([](const rtmp::ClientEvent&) { return false; }, timeout) || connected();
}

bool TestClient::read_until(const std::function<bool(const rtmp::ClientEvent&)>& done,
                            std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::uint8_t buffer[16384];
  for (;;) {
    if (!flush()) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (!reading_) {
      ::usleep(static_cast<useconds_t>(std::min<long>(left.count(), 10) * 1000));
      continue;
    }
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 100)));
    if (ready <= 0) continue;
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) {
      error_ = n == 0 ? "server closed the connection" : std::string("recv: ") + std::strerror(errno);
      closed_ = true;
      return false;
    }
    ByteView data(buffer, static_cast<std::size_t>(n));
    bool found = false;
    while (!data.empty()) {
      events_.clear();
      auto r = session_.feed(data, events_);
      data = data.subspan(r.consumed);
      for (const auto& e : events_) {
        on_event(e);
        if (!found && done(e)) found = true;
      }
      if (r.error) {
        error_ = std::string("protocol error: ") + r.error->detail;
        close();
        return false;
      }
      if (r.consumed == 0) break;
    }
    if (found) return flush();
  }
}

bool TestClient::connect(const std::string& app) {
  if (!connected()) return false;
  rtmp::ConnectParams params;
  params.app = app;
  params.tc_url = "rtmp://127.0.0.1/" + app;
  session_.connect(params);
  bool ok = false;
  const bool answered = read_until(
      [&](const rtmp::ClientEvent& e) {
        if (std::holds_alternative<rtmp::ConnectedEvent>(e)) ok = true;
        return std::holds_alternative<rtmp::ConnectedEvent>(e) || std::holds_alternative<rtmp::ConnectFailedEvent>(e);
      },
      std::chrono::seconds(5));
  if (answered && !ok) error_ = "connect rejected";
  return ok;
}

std::uint32_t TestClient::create_stream() {
  session_.create_stream();
  std::uint32_t id = 0;
  read_until(
      [&](const rtmp::ClientEvent& e) {
        if (const auto* c = std::get_if<rtmp::StreamCreatedEvent>(&e)) id = c->stream_id;
        return id != 0 || std::holds_alternative<rtmp::CallErrorEvent>(e);
      },
      std::chrono::seconds(5));
  return id;
}

bool TestClient::wait_for_status(const std::string& success) {
  bool ok = false;
  read_until(
      [&](const rtmp::ClientEvent& e) {
        const auto* s = std::get_if<rtmp::StatusEvent>(&e);
        if (!s) return false;
        ok = s->code == success;
        return ok || s->level == "error";
      },
      std::chrono::seconds(5));
  return ok;
}

bool TestClient::play(std::uint32_t stream_id, const std::string& name) {
  session_.set_buffer_length(stream_id, 1000);
  session_.play(stream_id, name, -2, -1, true);
  return wait_for_status("NetStream.Play.Start");
}

bool TestClient::publish(std::uint32_t stream_id, const std::string& name) {
  session_.publish(stream_id, name, "live");
  return wait_for_status("NetStream.Publish.Start");
}

void TestClient::send_media(std::uint32_t stream_id, std::uint8_t type, std::uint32_t timestamp, ByteView payload) {
  session_.send_media(stream_id, type, timestamp, payload);
  flush();
}

void TestStream::send_headers(TestClient& publisher, std::uint32_t stream_id) {
  const Bytes avc_header{0x17, 0x00, 0, 0, 0, 0x01, 0x42, 0xC0, 0x1E, 0xFF};
  const Bytes aac_header{0xAF, 0x00, 0x12, 0x10};
  publisher.send_media(stream_id, rtmp::msg_type::kVideo, 0, avc_header);
  publisher.send_media(stream_id, rtmp::msg_type::kAudio, 0, aac_header);
}

void TestStream::send_next(TestClient& publisher, std::uint32_t stream_id) {
  const std::uint32_t ts = frame * 33;
  Bytes video(1200, 0x55);
  video[0] = frame % gop == 0 ? 0x17 : 0x27;
  video[1] = 0x01;
  video[2] = video[3] = video[4] = 0;
  publisher.send_media(stream_id, rtmp::msg_type::kVideo, ts, video);
  Bytes audio(200, 0x66);
  audio[0] = 0xAF;
  audio[1] = 0x01;
  publisher.send_media(stream_id, rtmp::msg_type::kAudio, ts, audio);
  ++frame;
}

}  // namespace rw::server::testing
