// RTMP messages as the chunk layer delivers and accepts them
// (docs/protocol.md, "Chunk stream").
#pragma once

#include <cstdint>

#include "common/base/bytes.hpp"

namespace rw::rtmp {

namespace msg_type {
inline constexpr std::uint8_t kSetChunkSize = 1;
inline constexpr std::uint8_t kAbort = 2;
inline constexpr std::uint8_t kAcknowledgement = 3;
inline constexpr std::uint8_t kUserControl = 4;
inline constexpr std::uint8_t kWindowAckSize = 5;
inline constexpr std::uint8_t kSetPeerBandwidth = 6;
inline constexpr std::uint8_t kAudio = 8;
inline constexpr std::uint8_t kVideo = 9;
inline constexpr std::uint8_t kDataAmf3 = 15;
inline constexpr std::uint8_t kSharedObjectAmf3 = 16;
inline constexpr std::uint8_t kCommandAmf3 = 17;
inline constexpr std::uint8_t kDataAmf0 = 18;
inline constexpr std::uint8_t kSharedObjectAmf0 = 19;
inline constexpr std::uint8_t kCommandAmf0 = 20;
inline constexpr std::uint8_t kAggregate = 22;
}  // namespace msg_type

// Chunk stream ids this server sends on. Control on 2 is fixed by the
// protocol; commands on 3 and 5 follow nginx-rtmp. Media and stream data
// (onMetaData) get chunk streams of their own because their chunked bytes
// are built once with full headers and shared among players, while the
// session compresses headers on the command chunk streams.
namespace csid {
inline constexpr std::uint32_t kControl = 2;
inline constexpr std::uint32_t kCommand = 3;
inline constexpr std::uint32_t kData = 4;
inline constexpr std::uint32_t kStreamCommand = 5;
inline constexpr std::uint32_t kAudio = 6;
inline constexpr std::uint32_t kVideo = 7;
}  // namespace csid

// The largest message the chunk header can describe (u24 length).
inline constexpr std::uint32_t kMaxMessageLength = 0xFFFFFF;

struct MessageHeader {
  std::uint32_t csid = csid::kCommand;
  std::uint8_t type = 0;
  std::uint32_t timestamp = 0;  // absolute; 32 bits, wraps
  std::uint32_t stream_id = 0;  // message stream id
  std::uint32_t length = 0;

  bool operator==(const MessageHeader&) const = default;
};

struct Message {
  MessageHeader header;
  Bytes payload;  // header.length bytes
};

}  // namespace rw::rtmp
