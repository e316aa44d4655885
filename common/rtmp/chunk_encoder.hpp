// Splits messages into chunks (docs/protocol.md, "Chunk stream").
#pragma once

#include <cstdint>
#include <unordered_map>

#include "common/base/bytes.hpp"
#include "common/rtmp/message.hpp"

namespace rw::rtmp {

// Appends one message in chunks of chunk_size, with a full type-0 header on
// the first chunk and type-3 headers after it, repeating the extended
// timestamp on continuation chunks as Flash and FMS do. Needs no state, so
// the bytes can be built once and shared by every player with the same
// chunk size.
void encode_message_full(const MessageHeader& header, ByteView payload, std::uint32_t chunk_size, Bytes& out);

// The number of bytes encode_message_full appends.
std::size_t encoded_size_full(const MessageHeader& header, std::uint32_t chunk_size);

// A per-connection encoder that compresses headers: type 1 when only the
// stream id repeats, type 2 when length and type repeat too. It never starts
// a message with a type-3 header (nginx-rtmp reads that differently from
// SRS and ffmpeg) and falls back to type 0 when the timestamp goes
// backwards.
class ChunkEncoder {
 public:
  std::uint32_t chunk_size() const { return chunk_size_; }
  // Takes effect for messages encoded after the call; send Set Chunk Size
  // first.
  void set_chunk_size(std::uint32_t size) { chunk_size_ = size; }

  void encode(const MessageHeader& header, ByteView payload, Bytes& out);

  // Records that bytes built by encode_message_full were sent for this
  // header, so the next compressed header on its chunk stream is relative
  // to it.
  void note_full_header(const MessageHeader& header) { last_[header.csid] = header; }

 private:
  std::uint32_t chunk_size_ = 128;
  std::unordered_map<std::uint32_t, MessageHeader> last_;
};

}  // namespace rw::rtmp
