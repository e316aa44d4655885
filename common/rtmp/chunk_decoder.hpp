// Reassembles RTMP messages from the chunk stream (docs/protocol.md, "Chunk stream").
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
#include "common/base/expected.hpp"
#include "common/rtmp/message.hpp"

namespace rw::rtmp {

enum class ChunkError {
  BadChunkSize,          // Set Chunk Size of 0 or with the top bit set
  MessageTooLarge,       // a message longer than Limits::max_message_size
  TooManyChunkStreams,   // more chunk streams with partial messages or state than allowed
  NoPreviousHeader,      // fmt 2 or 3 on a chunk stream never seen (fmt 1 is accepted: librtmp pings so)
  BufferedTooMuch,       // partial messages together exceed Limits::max_buffered_bytes
  BadControlMessage,     // a Set Chunk Size or Abort message with a short body
};
const char* to_string(ChunkError e);

struct ChunkDecoderLimits {
  std::uint32_t max_message_size = 8u << 20;
  std::size_t max_chunk_streams = 64;
  // The declared lengths of all messages being assembled at once. Memory
  // grows only as payload arrives, never beyond a message's length.
  std::size_t max_buffered_bytes = 9u << 20;
};

class ChunkDecoder {
 public:
  explicit ChunkDecoder(ChunkDecoderLimits limits = {});
  // Movable, not copyable: it keeps pointers into its own chunk stream map.
  ChunkDecoder(const ChunkDecoder&) = delete;
  ChunkDecoder& operator=(const ChunkDecoder&) = delete;
  ChunkDecoder(ChunkDecoder&&) = default;
  ChunkDecoder& operator=(ChunkDecoder&&) = default;

  struct FeedResult {
    std::size_t consumed = 0;
    std::optional<ChunkError> error;  // set: the stream is unusable, close the connection
  };
  // Consumes as many bytes as form whole chunks (or header parts it can keep)
  // and appends each completed message to `out`, stopping right after the
  // `max_messages`th: then `consumed` is less than the input, and the
  // caller feeds the rest once it has handled these. (A peer can complete
  // a message every two bytes; the bound keeps what one call builds small.)
  FeedResult feed(ByteView in, std::vector<Message>& out, std::size_t max_messages = SIZE_MAX);

  // New limits for messages that start from now on (a connection that
  // starts publishing may send larger messages than one that only calls).
  // A message being assembled that is over the new max_message_size makes
  // the next feed() fail with MessageTooLarge: a client that stopped
  // publishing keeps no large message half sent.
  void set_limits(const ChunkDecoderLimits& limits);
  const ChunkDecoderLimits& limits() const { return limits_; }

  // Incoming chunk size; starts at 128 and follows the peer's Set Chunk Size.
  std::uint32_t chunk_size() const { return chunk_size_; }
  // Total bytes consumed so far (for acknowledgements).
  std::uint64_t bytes_consumed() const { return bytes_consumed_; }

 private:
  // What the decoder remembers about one chunk stream: the last message
  // header (fmt 1, 2 and 3 are relative to it) and the message being
  // assembled on it.
  struct ChunkStream {
    MessageHeader header;             // last header; timestamp is absolute
    std::uint32_t timestamp_field = 0;  // last timestamp or delta as sent (extended value resolved):
                                        // what a fmt-3 new message adds again
    bool extended = false;            // that field was 0xFFFFFF, so an extended timestamp follows
    bool assembling = false;          // a message has started and is not complete
    Bytes payload;                    // the message being assembled, grown as it arrives
  };

  // The longest chunk header: 3-byte basic header, 11-byte message header,
  // 4-byte extended timestamp.
  static constexpr std::size_t kMaxChunkHeaderSize = 18;

  ChunkStream* find_stream(std::uint32_t csid);
  std::size_t header_bytes_needed(const std::uint8_t* p, std::size_t n);
  // Parses a complete chunk header (header_bytes_needed bytes are at p) and
  // returns how many bytes it took: four fewer when a continuation chunk's
  // peeked bytes turn out to be payload (old librtmp).
  Expected<std::size_t, ChunkError> parse_header(const std::uint8_t* p, std::vector<Message>& out);
  std::optional<ChunkError> start_message(ChunkStream& cs, std::vector<Message>& out);
  std::optional<ChunkError> complete_message(ChunkStream& cs, std::vector<Message>& out);
  // Appends chunk payload, growing the buffer geometrically but never past
  // the message's declared length.
  static void append_payload(ChunkStream& cs, const std::uint8_t* p, std::size_t n);

  ChunkDecoderLimits limits_;
  std::uint32_t chunk_size_ = 128;
  std::uint64_t bytes_consumed_ = 0;
  std::unordered_map<std::uint32_t, ChunkStream> streams_;
  // The last stream looked up: consecutive chunks are mostly on one csid.
  // Map nodes never move and are never erased, so the pointer stays valid.
  std::uint32_t cached_csid_ = 0;
  ChunkStream* cached_stream_ = nullptr;
  std::size_t buffered_bytes_ = 0;    // sum of the lengths of messages being assembled
  ChunkStream* current_ = nullptr;    // whose chunk payload is being read; null: expecting a header
  std::uint32_t chunk_remaining_ = 0;  // payload bytes left in the current chunk
  // Bytes consumed but not yet interpreted: a partial chunk header, or
  // peeked bytes that turned out to be payload.
  std::uint8_t pending_[kMaxChunkHeaderSize] = {};
  std::size_t pending_size_ = 0;
  std::optional<ChunkError> error_;   // sticky: the stream is unusable after an error
};

}  // namespace rw::rtmp
