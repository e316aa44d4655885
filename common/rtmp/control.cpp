#include "common/rtmp/control.hpp"

namespace rw::rtmp {

namespace {

// Protocol control messages travel on csid 2, message stream 0, timestamp 0.
Message make_control(std::uint8_t type, Bytes body) {
  Message m;
  m.header.csid = csid::kControl;
  m.header.type = type;
  m.header.timestamp = 0;
  m.header.stream_id = 0;
  m.header.length = static_cast<std::uint32_t>(body.size());
  m.payload = std::move(body);
  return m;
}

Message make_u32_control(std::uint8_t type, std::uint32_t value) {
  Bytes body(4);
  put_u32be(body.data(), value);
  return make_control(type, std::move(body));
}

}  // namespace

Message make_set_chunk_size(std::uint32_t size) { return make_u32_control(msg_type::kSetChunkSize, size); }

Message make_abort(std::uint32_t csid) { return make_u32_control(msg_type::kAbort, csid); }

Message make_acknowledgement(std::uint32_t sequence) {
  return make_u32_control(msg_type::kAcknowledgement, sequence);
}

Message make_window_ack_size(std::uint32_t size) { return make_u32_control(msg_type::kWindowAckSize, size); }

Message make_set_peer_bandwidth(std::uint32_t window, PeerBandwidthLimit limit) {
  Bytes body(5);
  put_u32be(body.data(), window);
  body[4] = static_cast<std::uint8_t>(limit);
  return make_control(msg_type::kSetPeerBandwidth, std::move(body));
}

Message make_user_control(const UserControl& uc) {
  // Every event carries a u32 (stream id or ping time); SetBufferLength adds
  // the buffer length in ms.
  const bool has_extra = uc.event == UserControlEvent::SetBufferLength;
  Bytes body(has_extra ? 10 : 6);
  const auto event = static_cast<std::uint16_t>(uc.event);
  body[0] = static_cast<std::uint8_t>(event >> 8);
  body[1] = static_cast<std::uint8_t>(event);
  put_u32be(body.data() + 2, uc.value);
  if (has_extra) put_u32be(body.data() + 6, uc.extra);
  return make_control(msg_type::kUserControl, std::move(body));
}

std::optional<UserControl> parse_user_control(ByteView body) {
  ByteReader r(body);
  std::uint16_t event = 0;
  if (!r.read_u16be(event)) return std::nullopt;
  UserControl uc;
  uc.event = static_cast<UserControlEvent>(event);
  switch (uc.event) {
    case UserControlEvent::SwfVerifyRequest:
    case UserControlEvent::SwfVerifyResponse:
      // FMS sends the request with a one-byte type and librtmp answers with
      // 42 bytes of SWF hash: neither is a u32, and the session reads the
      // raw body if it cares. Take the u32 when there is one.
      r.read_u32be(uc.value);
      return uc;
    case UserControlEvent::SetBufferLength:
      if (!r.read_u32be(uc.value) || !r.read_u32be(uc.extra)) return std::nullopt;
      return uc;
    default:
      // Known u32 events, and events this code does not know (tolerated:
      // the caller ignores them).
      if (!r.read_u32be(uc.value)) return std::nullopt;
      return uc;
  }
}

std::optional<std::uint32_t> parse_u32_body(ByteView body) {
  ByteReader r(body);
  std::uint32_t v = 0;
  if (!r.read_u32be(v)) return std::nullopt;
  return v;
}

}  // namespace rw::rtmp
