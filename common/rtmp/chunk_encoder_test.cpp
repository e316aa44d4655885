#include "common/rtmp/chunk_encoder.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/rtmp/chunk_decoder.hpp"
#include "common/rtmp/control.hpp"

namespace rw::rtmp {
namespace {

Bytes hex(std::string_view h) {
  Bytes b = from_hex(h);
  EXPECT_FALSE(b.empty() && !h.empty()) << "bad hex in test: " << h;
  return b;
}

MessageHeader header(std::uint32_t csid, std::uint8_t type, std::uint32_t timestamp, std::uint32_t stream_id,
                     std::uint32_t length) {
  MessageHeader h;
  h.csid = csid;
  h.type = type;
  h.timestamp = timestamp;
  h.stream_id = stream_id;
  h.length = length;
  return h;
}

std::string describe(const MessageHeader& h) {
  std::ostringstream s;
  s << "{csid " << h.csid << " type " << int{h.type} << " ts " << h.timestamp << " sid " << h.stream_id << " len "
    << h.length << "}";
  return s.str();
}

// --- encode_message_full: exact bytes ------------------------------------

struct FullCase {
  const char* name;
  MessageHeader header;
  const char* payload;
  std::uint32_t chunk_size;
  const char* expected;
};

TEST(EncodeMessageFull, ExactBytes) {
  const FullCase cases[] = {
      {"one chunk", header(3, 20, 0x000102, 1, 3), "aabbcc", 128, "03 000102 000003 14 01000000 aabbcc"},
      {"stream id little-endian", header(3, 9, 0, 0x04030201, 1), "ff", 128, "03 000000 000001 09 01020304 ff"},
      {"three chunks", header(3, 8, 5, 0, 10), "00112233445566778899", 4,
       "03 000005 00000a 08 00000000 00112233 c3 44556677 c3 8899"},
      {"exact multiple of the chunk size", header(4, 8, 0, 0, 8), "0011223344556677", 4,
       "04 000000 000008 08 00000000 00112233 c4 44556677"},
      {"empty payload", header(3, 20, 7, 0, 0), "", 128, "03 000007 000000 14 00000000"},
      {"extended timestamp repeated on continuation chunks", header(3, 9, 0x01020304, 1, 6), "aabbccddeeff", 4,
       "03 ffffff 000006 09 01000000 01020304 aabbccdd c3 01020304 eeff"},
      {"timestamp 0xFFFFFF is extended too", header(3, 9, 0xFFFFFF, 0, 1), "aa", 128,
       "03 ffffff 000001 09 00000000 00ffffff aa"},
      {"timestamp 0xFFFFFE is not", header(3, 9, 0xFFFFFE, 0, 1), "aa", 128, "03 fffffe 000001 09 00000000 aa"},
      {"csid 63", header(63, 8, 0, 0, 2), "aabb", 1, "3f 000000 000002 08 00000000 aa ff bb"},
      {"csid 64: two-byte form", header(64, 8, 0, 0, 2), "aabb", 1, "00 00 000000 000002 08 00000000 aa c0 00 bb"},
      {"csid 319: two-byte form", header(319, 8, 0, 0, 2), "aabb", 1, "00 ff 000000 000002 08 00000000 aa c0 ff bb"},
      {"csid 320: three-byte form", header(320, 8, 0, 0, 2), "aabb", 1,
       "01 0001 000000 000002 08 00000000 aa c1 0001 bb"},
      {"csid 65599: three-byte form", header(65599, 8, 0, 0, 2), "aabb", 1,
       "01 ffff 000000 000002 08 00000000 aa c1 ffff bb"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Bytes out = hex("5a");  // appends: what is there stays
    encode_message_full(c.header, hex(c.payload), c.chunk_size, out);
    EXPECT_EQ(to_hex(out), "5a" + to_hex(hex(c.expected)));
    EXPECT_EQ(encoded_size_full(c.header, c.chunk_size), out.size() - 1);
  }
}

TEST(EncodeMessageFull, SizeMatchesForManyShapes) {
  for (std::uint32_t csid : {2u, 63u, 64u, 319u, 320u, 65599u}) {
    for (std::uint32_t timestamp : {0u, 0xFFFFFEu, 0xFFFFFFu, 0xFFFFFFFFu}) {
      for (std::uint32_t length : {0u, 1u, 127u, 128u, 129u, 1000u}) {
        for (std::uint32_t chunk_size : {1u, 128u, 4096u, 0x7FFFFFFFu}) {
          const MessageHeader h = header(csid, 9, timestamp, 1, length);
          Bytes out;
          encode_message_full(h, Bytes(length, 0x42), chunk_size, out);
          EXPECT_EQ(out.size(), encoded_size_full(h, chunk_size)) << describe(h) << " chunk size " << chunk_size;
        }
      }
    }
  }
}

// --- ChunkEncoder: header compression ------------------------------------

TEST(ChunkEncoder, ChoosesTheSmallestHeaderFromThePreviousOne) {
  struct Step {
    const char* name;
    MessageHeader header;
    const char* payload;
    const char* expected;
  };
  const Step steps[] = {
      {"first on the csid: fmt 0", header(4, 8, 1000, 1, 2), "aabb", "04 0003e8 000002 08 01000000 aabb"},
      {"same stream, other length: fmt 1", header(4, 9, 1020, 1, 3), "ccddee", "44 000014 000003 09 ccddee"},
      {"same stream, type and length: fmt 2", header(4, 9, 1030, 1, 3), "112233", "84 00000a 112233"},
      {"same delta again: still fmt 2, never fmt 3", header(4, 9, 1040, 1, 3), "445566", "84 00000a 445566"},
      {"delta 0: fmt 2", header(4, 9, 1040, 1, 3), "778899", "84 000000 778899"},
      {"timestamp backwards: fmt 0", header(4, 9, 500, 1, 3), "aabbcc", "04 0001f4 000003 09 01000000 aabbcc"},
      {"other stream: fmt 0", header(4, 9, 600, 2, 3), "aabbcc", "04 000258 000003 09 02000000 aabbcc"},
      {"big delta: extended field", header(4, 9, 600 + 0x01000000, 2, 3), "ddeeff",
       "84 ffffff 01000000 ddeeff"},
      {"other csid is independent: fmt 0", header(5, 9, 0, 2, 3), "010203", "05 000000 000003 09 02000000 010203"},
  };
  ChunkEncoder encoder;
  for (const auto& s : steps) {
    SCOPED_TRACE(s.name);
    Bytes out;
    encoder.encode(s.header, hex(s.payload), out);
    EXPECT_EQ(to_hex(out), to_hex(hex(s.expected)));
  }
}

TEST(ChunkEncoder, ExtendedDeltaIsRepeatedOnContinuationChunks) {
  ChunkEncoder encoder;
  encoder.set_chunk_size(2);
  Bytes out;
  encoder.encode(header(3, 8, 0, 0, 1), hex("aa"), out);
  out.clear();
  encoder.encode(header(3, 8, 0x01000000, 0, 4), hex("01020304"), out);
  EXPECT_EQ(to_hex(out), to_hex(hex("43 ffffff 000004 08 01000000 0102 c3 01000000 0304")));
}

TEST(ChunkEncoder, TimestampWrapIsAForwardDelta) {
  ChunkEncoder encoder;
  Bytes out;
  encoder.encode(header(3, 8, 0xFFFFFFF0, 0, 1), hex("aa"), out);
  out.clear();
  encoder.encode(header(3, 8, 0x10, 0, 1), hex("bb"), out);
  EXPECT_EQ(to_hex(out), to_hex(hex("83 000020 bb")));
}

TEST(ChunkEncoder, NoteFullHeaderMakesTheNextHeaderRelative) {
  ChunkEncoder encoder;
  const MessageHeader first = header(6, 8, 100, 1, 2);
  Bytes shared;
  encode_message_full(first, hex("aabb"), encoder.chunk_size(), shared);
  encoder.note_full_header(first);
  Bytes out;
  encoder.encode(header(6, 8, 123, 1, 2), hex("ccdd"), out);
  EXPECT_EQ(to_hex(out), to_hex(hex("86 000017 ccdd")));
}

TEST(ChunkEncoder, UsesItsChunkSize) {
  ChunkEncoder encoder;
  EXPECT_EQ(encoder.chunk_size(), 128u);
  encoder.set_chunk_size(3);
  Bytes out;
  encoder.encode(header(3, 8, 0, 0, 5), hex("0102030405"), out);
  EXPECT_EQ(to_hex(out), to_hex(hex("03 000000 000005 08 00000000 010203 c3 0405")));
}

// --- round trips ---------------------------------------------------------

std::vector<Message> decode_all(const Bytes& wire, std::mt19937& rng) {
  ChunkDecoderLimits limits;
  limits.max_message_size = kMaxMessageLength;
  limits.max_chunk_streams = 1000;
  ChunkDecoder decoder(limits);
  std::vector<Message> out;
  std::size_t pos = 0;
  while (pos < wire.size()) {
    // Random piece sizes, mostly small so pieces cut headers too.
    const std::size_t piece = std::min<std::size_t>(wire.size() - pos, std::uniform_int_distribution<std::size_t>(1, 300)(rng));
    auto r = decoder.feed(ByteView(wire).subspan(pos, piece), out);
    EXPECT_FALSE(r.error) << to_string(*r.error);
    EXPECT_EQ(r.consumed, piece);
    if (r.error) break;
    pos += piece;
  }
  return out;
}

// Decoder(encoder(x)) == x for random message sequences: csids of every
// basic header form, timestamps that jump, go back, wrap and need the
// extended field, chunk sizes changed midway with Set Chunk Size.
TEST(ChunkRoundTrip, RandomSequencesThroughChunkEncoderAndFullEncoding) {
  std::mt19937 rng(20240611);
  const std::uint32_t csids[] = {2, 3, 4, 5, 63, 64, 200, 319, 320, 1000, 65599};
  const std::uint8_t types[] = {8, 9, 18, 20, 15, 17, 22, 4};
  auto pick = [&](auto& array) { return array[std::uniform_int_distribution<std::size_t>(0, std::size(array) - 1)(rng)]; };
  auto chance = [&](int percent) { return std::uniform_int_distribution<int>(0, 99)(rng) < percent; };

  for (int round = 0; round < 200; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ChunkEncoder encoder;
    Bytes wire;
    std::vector<Message> sent;
    std::vector<MessageHeader> previous_on_csid(std::size(csids));
    const bool use_full = round % 3 == 0;  // some rounds mix in encode_message_full

    const int count = std::uniform_int_distribution<int>(1, 60)(rng);
    for (int i = 0; i < count; ++i) {
      if (chance(5)) {
        // Change the chunk size the way a session does: announce, then use.
        const std::uint32_t size = chance(50) ? std::uniform_int_distribution<std::uint32_t>(1, 300)(rng)
                                              : std::uniform_int_distribution<std::uint32_t>(1, 0x7FFFFFFF)(rng);
        Message scs = make_set_chunk_size(size);
        scs.header.timestamp = sent.empty() ? 0 : sent.back().header.timestamp;
        encoder.encode(scs.header, scs.payload, wire);
        sent.push_back(scs);
        encoder.set_chunk_size(size);
        continue;
      }
      const std::size_t which = std::uniform_int_distribution<std::size_t>(0, std::size(csids) - 1)(rng);
      MessageHeader& prev = previous_on_csid[which];
      MessageHeader h;
      h.csid = csids[which];
      h.stream_id = chance(80) ? prev.stream_id : std::uniform_int_distribution<std::uint32_t>(0, 3)(rng);
      h.type = chance(60) ? prev.type : pick(types);
      if (h.type == msg_type::kSetChunkSize || h.type == msg_type::kAbort) h.type = msg_type::kAudio;
      if (h.type == 0) h.type = msg_type::kVideo;
      h.length = chance(50) ? prev.length : std::uniform_int_distribution<std::uint32_t>(0, chance(10) ? 5000 : 300)(rng);
      const int kind = std::uniform_int_distribution<int>(0, 9)(rng);
      if (kind < 6) h.timestamp = prev.timestamp + std::uniform_int_distribution<std::uint32_t>(0, 100)(rng);
      else if (kind == 6) h.timestamp = prev.timestamp - std::uniform_int_distribution<std::uint32_t>(1, 1000)(rng);
      else if (kind == 7) h.timestamp = prev.timestamp + std::uniform_int_distribution<std::uint32_t>(0xFFFFF0, 0x7FFFFFFF)(rng);
      else if (kind == 8) h.timestamp = 0xFFFFFFFF - std::uniform_int_distribution<std::uint32_t>(0, 50)(rng);
      else h.timestamp = static_cast<std::uint32_t>(rng());
      Bytes payload(h.length);
      for (auto& b : payload) b = static_cast<std::uint8_t>(rng());

      if (use_full && chance(30)) {
        encode_message_full(h, payload, encoder.chunk_size(), wire);
        encoder.note_full_header(h);
      } else {
        encoder.encode(h, payload, wire);
      }
      prev = h;
      sent.push_back(Message{h, std::move(payload)});
    }

    const std::vector<Message> got = decode_all(wire, rng);
    ASSERT_EQ(got.size(), sent.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].header, sent[i].header)
          << "message " << i << ": got " << describe(got[i].header) << " sent " << describe(sent[i].header);
      ASSERT_EQ(got[i].payload, sent[i].payload) << "message " << i;
    }
  }
}

TEST(ChunkRoundTrip, LargestMessage) {
  const MessageHeader h = header(7, 9, 0x12345678, 1, kMaxMessageLength);
  Bytes payload(kMaxMessageLength);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 7);
  Bytes wire;
  encode_message_full(h, payload, 60000, wire);
  EXPECT_EQ(wire.size(), encoded_size_full(h, 60000));

  ChunkDecoderLimits limits;
  limits.max_message_size = kMaxMessageLength;
  limits.max_buffered_bytes = kMaxMessageLength;
  ChunkDecoder decoder(limits);
  std::vector<Message> out;
  Bytes announce;
  const Message scs = make_set_chunk_size(60000);
  encode_message_full(scs.header, scs.payload, 128, announce);
  ASSERT_FALSE(decoder.feed(announce, out).error);
  auto r = decoder.feed(wire, out);
  ASSERT_FALSE(r.error);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].header, h);
  EXPECT_TRUE(out[1].payload == payload);
}

}  // namespace
}  // namespace rw::rtmp
