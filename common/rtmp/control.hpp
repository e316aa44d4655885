// Protocol control messages and user control events (docs/protocol.md, "Chunk stream"):
// builders that return a ready Message and a parser for user control bodies.
#pragma once

#include <cstdint>
#include <optional>

#include "common/rtmp/message.hpp"

namespace rw::rtmp {

enum class UserControlEvent : std::uint16_t {
  StreamBegin = 0,
  StreamEof = 1,
  StreamDry = 2,
  SetBufferLength = 3,
  StreamIsRecorded = 4,
  PingRequest = 6,
  PingResponse = 7,
  SwfVerifyRequest = 26,
  SwfVerifyResponse = 27,
  BufferEmpty = 31,
  BufferReady = 32,
};

struct UserControl {
  UserControlEvent event{};
  std::uint32_t value = 0;   // stream id, or the ping timestamp
  std::uint32_t extra = 0;   // SetBufferLength: buffer length in ms
};

enum class PeerBandwidthLimit : std::uint8_t { Hard = 0, Soft = 1, Dynamic = 2 };

Message make_set_chunk_size(std::uint32_t size);
Message make_abort(std::uint32_t csid);
Message make_acknowledgement(std::uint32_t sequence);
Message make_window_ack_size(std::uint32_t size);
Message make_set_peer_bandwidth(std::uint32_t window, PeerBandwidthLimit limit);
Message make_user_control(const UserControl& uc);

// Parses a type-4 body; nullopt when it is too short for its event.
std::optional<UserControl> parse_user_control(ByteView body);
// Parses a u32 control body (types 1, 2, 3, 5); nullopt when short.
std::optional<std::uint32_t> parse_u32_body(ByteView body);

}  // namespace rw::rtmp
