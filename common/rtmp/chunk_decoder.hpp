// Reassembles RTMP messages from the chunk stream (PROTOCOL.md section 2).
//
// Sans-I/O: feed() takes whatever bytes arrived and returns how many it
// consumed; messages are appended to the caller's vector as they complete.
// Needing more bytes is a normal state. The decoder applies Set Chunk Size
// and Abort itself (they change how the following bytes are framed) and
// still delivers them, so the session can log and account for them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/base/bytes.hpp"
#include "common/rtmp/message.hpp"

namespace rw::rtmp {

enum class ChunkError {
  BadChunkSize,          // Set Chunk Size of 0 or with the top bit set
  MessageTooLarge,       // a message longer than Limits::max_message_size
  TooManyChunkStreams,   // more chunk streams with partial messages or state than allowed
  NoPreviousHeader,      // fmt 1, 2 or 3 on a chunk stream that never had fmt 0
  BufferedTooMuch,       // partial messages together exceed Limits::max_buffered_bytes
  BadControlMessage,     // a Set Chunk Size or Abort message with a short body
};
const char* to_string(ChunkError e);

struct ChunkDecoderLimits {
  std::uint32_t max_message_size = 8u << 20;
  std::size_t max_chunk_streams = 64;
  std::size_t max_buffered_bytes = 32u << 20;
};

class ChunkDecoder {
 public:
  explicit ChunkDecoder(ChunkDecoderLimits limits = {});

  struct FeedResult {
    std::size_t consumed = 0;
    std::optional<ChunkError> error;  // set: the stream is unusable, close the connection
  };
  // Consumes as many bytes as form whole chunks (or header parts it can keep)
  // and appends each completed message to `out`.
  FeedResult feed(ByteView in, std::vector<Message>& out);

  // Incoming chunk size; starts at 128 and follows the peer's Set Chunk Size.
  std::uint32_t chunk_size() const { return chunk_size_; }
  // Total bytes consumed so far (for acknowledgements).
  std::uint64_t bytes_consumed() const { return bytes_consumed_; }

 private:
  // Implementation state; free to change.
  struct ChunkStream;
  ChunkDecoderLimits limits_;
  std::uint32_t chunk_size_ = 128;
  std::uint64_t bytes_consumed_ = 0;
};

}  // namespace rw::rtmp
