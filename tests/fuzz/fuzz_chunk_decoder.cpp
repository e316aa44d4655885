// Feeds arbitrary bytes to a ChunkDecoder with small limits, whole and in
// pieces whose size is the input's first byte (0: byte by byte): both must
// give the same messages and the same error. Every message that comes out
// is then encoded again, alone with encode_message_full into a second
// decoder and in sequence with a ChunkEncoder (compressed headers) into a
// third: the same messages must come out of both.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

#include "common/rtmp/chunk_decoder.hpp"
#include "common/rtmp/chunk_encoder.hpp"
#include "tests/fuzz/alloc_budget.hpp"

namespace {

using rw::Bytes;
using rw::ByteView;
using namespace rw::rtmp;

void check(bool ok) {
  if (!ok) std::abort();
}

bool same(const Message& a, const Message& b) { return a.header == b.header && a.payload == b.payload; }

bool same(const std::vector<Message>& a, const std::vector<Message>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i], b[i])) return false;
  }
  return true;
}

ChunkDecoderLimits small_limits() {
  ChunkDecoderLimits limits;
  limits.max_message_size = 64 << 10;
  limits.max_chunk_streams = 8;
  limits.max_buffered_bytes = 128 << 10;
  return limits;
}

struct Decoded {
  std::vector<Message> messages;
  std::optional<ChunkError> error;
};

Decoded decode(ByteView input, std::size_t piece) {
  ChunkDecoder decoder(small_limits());
  Decoded d;
  std::size_t pos = 0;
  do {
    const ByteView part = input.subspan(pos, std::min(piece, input.size() - pos));
    const auto r = decoder.feed(part, d.messages);
    check(r.consumed <= part.size());
    if (r.error) {
      d.error = r.error;
      // Stays failed.
      std::vector<Message> more;
      const auto again = decoder.feed(input.subspan(pos), more);
      check(again.error == r.error && again.consumed == 0 && more.empty());
      break;
    }
    check(r.consumed == part.size());  // headers are kept, payload buffered: all is consumed
    pos += part.size();
  } while (pos < input.size());
  if (!d.error) check(decoder.bytes_consumed() == input.size());
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t piece = data[0] == 0 ? 1 : data[0];
  const ByteView input(data + 1, size - 1);

  // Payload is kept as it arrives, never reserved from a declared length:
  // what decoding holds is about the input, plus a first buffer per chunk
  // stream. The harness's own vector of messages is allowed on top: a
  // 1-byte fmt 3 header can complete a zero-length message, so it holds
  // sizeof(Message) per input byte (twice while it grows). The server is
  // not exposed to that: it decodes at most max_messages_per_feed messages
  // per feed.
  const rw::fuzz::AllocBudget budget;
  const Decoded whole = decode(input, input.size() + 1);
  const std::size_t output_vector = 2 * whole.messages.capacity() * sizeof(Message);
  budget.check(4 * size + small_limits().max_chunk_streams * 8192 + (64u << 10) + output_vector,
               "fuzz_chunk_decoder: decoding");
  const Decoded pieces = decode(input, piece);
  check(same(whole.messages, pieces.messages));
  check(whole.error == pieces.error);

  // Each message alone, fully encoded, into a decoder that follows the Set
  // Chunk Size messages among them.
  ChunkDecoder full_decoder(small_limits());
  for (const Message& m : whole.messages) {
    check(m.header.length == m.payload.size());
    check(m.header.length <= small_limits().max_message_size);
    Bytes wire;
    encode_message_full(m.header, m.payload, full_decoder.chunk_size(), wire);
    check(wire.size() == encoded_size_full(m.header, full_decoder.chunk_size()));
    std::vector<Message> out;
    const auto r = full_decoder.feed(wire, out);
    check(!r.error && r.consumed == wire.size());
    check(out.size() == 1 && same(out[0], m));
  }

  // All of them through one ChunkEncoder (fmt 1 and 2 headers, deltas).
  ChunkEncoder encoder;
  ChunkDecoder compressed_decoder(small_limits());
  Bytes wire;
  for (const Message& m : whole.messages) {
    encoder.encode(m.header, m.payload, wire);
    // The decoder applies a Set Chunk Size once it has read it; so does the
    // sender from the next message on.
    if (m.header.type == msg_type::kSetChunkSize) encoder.set_chunk_size(rw::get_u32be(m.payload.data()));
  }
  std::vector<Message> out;
  const auto r = compressed_decoder.feed(wire, out);
  check(!r.error && r.consumed == wire.size());
  check(same(out, whole.messages));
  return 0;
}
