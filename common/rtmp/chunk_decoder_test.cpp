#include "common/rtmp/chunk_decoder.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace rw::rtmp {
namespace {

Bytes hex(std::string_view h) {
  Bytes b = from_hex(h);
  EXPECT_FALSE(b.empty() && !h.empty()) << "bad hex in test: " << h;
  return b;
}

// Bytes 0, 1, 2, ... (mod 256): payloads whose every offset is recognisable.
Bytes counting(std::size_t n, std::uint8_t start = 0) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(start + i);
  return b;
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Message msg(std::uint32_t csid, std::uint8_t type, std::uint32_t timestamp, std::uint32_t stream_id, Bytes payload) {
  Message m;
  m.header.csid = csid;
  m.header.type = type;
  m.header.timestamp = timestamp;
  m.header.stream_id = stream_id;
  m.header.length = static_cast<std::uint32_t>(payload.size());
  m.payload = std::move(payload);
  return m;
}

std::string describe(const Message& m) {
  std::ostringstream s;
  s << "{csid " << m.header.csid << " type " << int{m.header.type} << " ts " << m.header.timestamp << " sid "
    << m.header.stream_id << " len " << m.header.length << " payload " << to_hex(m.payload) << "}";
  return s.str();
}

std::string describe(const std::vector<Message>& v) {
  std::string s;
  for (const auto& m : v) s += describe(m) + "\n";
  return s;
}

bool same(const std::vector<Message>& a, const std::vector<Message>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!(a[i].header == b[i].header) || a[i].payload != b[i].payload) return false;
  }
  return true;
}

struct Decoded {
  std::vector<Message> messages;
  std::optional<ChunkError> error;
  std::uint32_t chunk_size = 0;
};

// Feeds `in` in pieces cut at `cuts` (ascending offsets), stopping at the
// first error. Checks that every byte is consumed when there is none.
Decoded decode_in_pieces(const Bytes& in, const std::vector<std::size_t>& cuts, ChunkDecoderLimits limits) {
  ChunkDecoder decoder(limits);
  Decoded d;
  std::size_t start = 0;
  std::size_t total = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t end = i < cuts.size() ? cuts[i] : in.size();
    auto r = decoder.feed(ByteView(in).subspan(start, end - start), d.messages);
    total += r.consumed;
    if (r.error) {
      d.error = r.error;
      // The decoder stays failed.
      std::vector<Message> more;
      auto again = decoder.feed(ByteView(in).subspan(end), more);
      EXPECT_EQ(again.error, r.error);
      EXPECT_EQ(again.consumed, 0u);
      EXPECT_TRUE(more.empty());
      break;
    }
    EXPECT_EQ(r.consumed, end - start) << "without an error everything is consumed";
    start = end;
  }
  if (!d.error) {
    EXPECT_EQ(decoder.bytes_consumed(), in.size());
  }
  EXPECT_EQ(decoder.bytes_consumed(), total);
  d.chunk_size = decoder.chunk_size();
  return d;
}

// Decodes `in` whole, split at every byte boundary and byte by byte, and
// checks that every way gives `expected` messages and error.
void expect_decodes(const Bytes& in, const std::vector<Message>& expected,
                    std::optional<ChunkError> expected_error = std::nullopt, ChunkDecoderLimits limits = {}) {
  std::vector<std::vector<std::size_t>> ways;
  ways.push_back({});
  for (std::size_t cut = 1; cut < in.size(); ++cut) ways.push_back({cut});
  std::vector<std::size_t> every;
  for (std::size_t cut = 1; cut < in.size(); ++cut) every.push_back(cut);
  ways.push_back(every);

  for (const auto& cuts : ways) {
    Decoded d = decode_in_pieces(in, cuts, limits);
    std::string how = cuts.empty() ? "whole" : cuts.size() == 1 ? "split at " + std::to_string(cuts[0]) : "byte by byte";
    EXPECT_TRUE(same(d.messages, expected)) << how << "\ngot:\n"
                                            << describe(d.messages) << "expected:\n"
                                            << describe(expected);
    EXPECT_EQ(d.error, expected_error) << how;
    if (::testing::Test::HasFailure()) return;  // one report is enough
  }
}

// --- basic header forms -------------------------------------------------

struct CsidCase {
  const char* basic_header;
  std::uint32_t csid;
};

TEST(ChunkDecoder, DecodesEveryBasicHeaderForm) {
  const CsidCase cases[] = {
      {"02", 2},         {"03", 3},         {"3f", 63},  // one byte
      {"0000", 64},      {"00ff", 319},                  // two bytes: 64 + b1
      {"010000", 64},    {"010001", 320},   {"01ffff", 65599},  // three bytes: 64 + b1 + b2 * 256
      {"013412", 0x1234 + 64},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.basic_header);
    // fmt 0: timestamp 0x000102, length 3, type 9, stream id 1 (little-endian).
    const Bytes in = concat({hex(c.basic_header), hex("000102 000003 09 01000000 aabbcc")});
    expect_decodes(in, {msg(c.csid, 9, 0x102, 1, hex("aabbcc"))});
  }
}

TEST(ChunkDecoder, ContinuationChunksUseTheSameBasicHeaderForm) {
  // csid 320 in the three-byte form, 130 bytes in chunks of 128.
  const Bytes payload = counting(130);
  const Bytes in = concat({hex("01 0001 000000 000082 08 00000000"), Bytes(payload.begin(), payload.begin() + 128),
                           hex("c1 0001"), Bytes(payload.begin() + 128, payload.end())});
  expect_decodes(in, {msg(320, 8, 0, 0, payload)});
}

// --- message header formats ---------------------------------------------

TEST(ChunkDecoder, Fmt0StreamIdIsLittleEndian) {
  expect_decodes(hex("03 123456 000001 14 01020304 ff"), {msg(3, 20, 0x123456, 0x04030201, hex("ff"))});
}

TEST(ChunkDecoder, Fmt1And2And3AreRelativeToThePreviousHeader) {
  const Bytes in = hex(
      "04 0003e8 000002 08 01000000 aabb"  // fmt 0: ts 1000, len 2, audio, stream 1
      "44 000014 000003 09 ccddee"         // fmt 1: delta 20, len 3, video
      "84 00000a 112233"                   // fmt 2: delta 10, same length and type
      "c4 445566");                        // fmt 3: new message, delta 10 again
  expect_decodes(in, {msg(4, 8, 1000, 1, hex("aabb")), msg(4, 9, 1020, 1, hex("ccddee")),
                      msg(4, 9, 1030, 1, hex("112233")), msg(4, 9, 1040, 1, hex("445566"))});
}

TEST(ChunkDecoder, Fmt3AfterFmt0ReappliesTheTimestampAsDelta) {
  // The spec, SRS and ffmpeg: after a fmt 0 the "delta" is its timestamp.
  expect_decodes(hex("05 000064 000001 08 00000000 aa c5 bb"),
                 {msg(5, 8, 100, 0, hex("aa")), msg(5, 8, 200, 0, hex("bb"))});
}

TEST(ChunkDecoder, ZeroLengthMessages) {
  expect_decodes(hex("03 000005 000000 12 01000000 c3 43 000001 000001 12 ff"),
                 {msg(3, 18, 5, 1, {}), msg(3, 18, 10, 1, {}), msg(3, 18, 11, 1, hex("ff"))});
}

TEST(ChunkDecoder, InterleavedChunkStreams) {
  // Audio on csid 4 between two chunks of a video message on csid 6.
  const Bytes video = counting(200);
  const Bytes in = concat({hex("06 000028 0000c8 09 01000000"), Bytes(video.begin(), video.begin() + 128),
                           hex("04 000028 000002 08 01000000 af01"), hex("c6"),
                           Bytes(video.begin() + 128, video.end())});
  expect_decodes(in, {msg(4, 8, 40, 1, hex("af01")), msg(6, 9, 40, 1, video)});
}

TEST(ChunkDecoder, FullHeaderInsideAMessageContinuesIt) {
  // ffmpeg keeps assembling and ignores the repeated header's fields.
  const Bytes payload = counting(200);
  const Bytes in = concat({hex("03 000000 0000c8 14 00000000"), Bytes(payload.begin(), payload.begin() + 128),
                           hex("43 000000 0000c8 14"), Bytes(payload.begin() + 128, payload.end())});
  expect_decodes(in, {msg(3, 20, 0, 0, payload)});
}

TEST(ChunkDecoder, LibrtmpPingOnAFreshChunkStreamWithFmt1) {
  // librtmp's first ping on csid 2 uses fmt 1 (ossrs/srs#98): stream id and
  // base timestamp are taken as zero.
  expect_decodes(hex("42 000000 000006 04 0006 00000d0f"), {msg(2, 4, 0, 0, hex("0006 00000d0f"))});
}

// --- extended timestamps ------------------------------------------------

TEST(ChunkDecoder, ExtendedTimestampInFmt0) {
  expect_decodes(hex("03 ffffff 000002 09 01000000 01000000 aabb"), {msg(3, 9, 0x01000000, 1, hex("aabb"))});
}

TEST(ChunkDecoder, Timestamp0xFFFFFFItselfNeedsTheExtendedField) {
  expect_decodes(hex("03 ffffff 000001 09 01000000 00ffffff aa"), {msg(3, 9, 0xFFFFFF, 1, hex("aa"))});
}

TEST(ChunkDecoder, ExtendedTimestampRepeatedOnContinuationChunks) {
  // Flash, FMS, FMLE and ffmpeg: c3 is followed by the four bytes again.
  const Bytes payload = counting(300);
  const Bytes in = concat({hex("03 ffffff 00012c 09 01000000 01000000"), Bytes(payload.begin(), payload.begin() + 128),
                           hex("c3 01000000"), Bytes(payload.begin() + 128, payload.begin() + 256),
                           hex("c3 01000000"), Bytes(payload.begin() + 256, payload.end())});
  expect_decodes(in, {msg(3, 9, 0x01000000, 1, payload)});
}

TEST(ChunkDecoder, ExtendedTimestampNotRepeatedOnContinuationChunks) {
  // Old librtmp: c3 is followed by payload straight away.
  const Bytes payload = counting(300);
  const Bytes in = concat({hex("03 ffffff 00012c 09 01000000 01000000"), Bytes(payload.begin(), payload.begin() + 128),
                           hex("c3"), Bytes(payload.begin() + 128, payload.begin() + 256), hex("c3"),
                           Bytes(payload.begin() + 256, payload.end())});
  expect_decodes(in, {msg(3, 9, 0x01000000, 1, payload)});
}

TEST(ChunkDecoder, UnrepeatedExtendedTimestampWithShortLastChunkFollowedByNextHeader) {
  // Old librtmp, and the last chunk holds fewer than four bytes: the peeked
  // bytes run into the next chunk header.
  const Bytes payload = counting(130);
  const Bytes in = concat({hex("03 ffffff 000082 09 01000000 01000000"), Bytes(payload.begin(), payload.begin() + 128),
                           hex("c3"), Bytes(payload.begin() + 128, payload.end()), hex("04 000000 000001 08 00000000 ee")});
  expect_decodes(in, {msg(3, 9, 0x01000000, 1, payload), msg(4, 8, 0, 0, hex("ee"))});
}

TEST(ChunkDecoder, ExtendedDeltaInFmt1And2) {
  expect_decodes(hex("03 00000a 000001 08 00000000 aa"
                     "43 ffffff 000001 08 01000000 bb"   // delta 0x01000000
                     "83 ffffff 02000000 cc"),           // delta 0x02000000
                 {msg(3, 8, 10, 0, hex("aa")), msg(3, 8, 0x0100000a, 0, hex("bb")),
                  msg(3, 8, 0x0300000a, 0, hex("cc"))});
}

TEST(ChunkDecoder, Fmt3NewMessageCarriesTheExtendedTimestampAgain) {
  // ffmpeg sends fmt 3 for a new message whenever the timestamp field
  // repeats, which is always 0xFFFFFF for big deltas: the four bytes after
  // it are the new delta.
  expect_decodes(hex("03 000000 000001 08 00000000 aa"
                     "43 ffffff 000001 08 01000000 bb"
                     "c3 01000010 cc"),
                 {msg(3, 8, 0, 0, hex("aa")), msg(3, 8, 0x01000000, 0, hex("bb")),
                  msg(3, 8, 0x02000010, 0, hex("cc"))});
}

TEST(ChunkDecoder, TimestampsWrapAt32Bits) {
  expect_decodes(hex("03 ffffff 000001 08 00000000 fffffff0 aa"
                     "83 000020 bb"),
                 {msg(3, 8, 0xFFFFFFF0, 0, hex("aa")), msg(3, 8, 0x10, 0, hex("bb"))});
}

// --- control messages handled by the decoder ----------------------------

TEST(ChunkDecoder, SetChunkSizeAppliesToTheFollowingChunks) {
  const Bytes payload = counting(300);
  const Bytes in = concat({hex("02 000000 000004 01 00000000 00001000"),  // Set Chunk Size 4096
                           hex("03 000000 00012c 14 00000000"), payload});
  Decoded d = decode_in_pieces(in, {}, {});
  EXPECT_EQ(d.chunk_size, 4096u);
  expect_decodes(in, {msg(2, 1, 0, 0, hex("00001000")), msg(3, 20, 0, 0, payload)});
}

TEST(ChunkDecoder, SetChunkSizeWhileAnotherChunkStreamIsMidMessage) {
  // csid 4 has sent 128 of 400 bytes; the rest comes in one 272-byte chunk
  // under the new size.
  const Bytes payload = counting(400);
  const Bytes in = concat({hex("04 000000 000190 09 01000000"), Bytes(payload.begin(), payload.begin() + 128),
                           hex("02 000000 000004 01 00000000 00000200"),  // 512
                           hex("c4"), Bytes(payload.begin() + 128, payload.end())});
  expect_decodes(in, {msg(2, 1, 0, 0, hex("00000200")), msg(4, 9, 0, 1, payload)});
}

TEST(ChunkDecoder, HugeChunkSizeIsAcceptedAndCostsNothing) {
  const Bytes payload = counting(1000);
  const Bytes in = concat({hex("02 000000 000004 01 00000000 7fffffff"), hex("03 000000 0003e8 09 00000000"), payload,
                           hex("43 000000 000001 08 ee")});
  expect_decodes(in, {msg(2, 1, 0, 0, hex("7fffffff")), msg(3, 9, 0, 0, payload), msg(3, 8, 0, 0, hex("ee"))});
}

TEST(ChunkDecoder, SetChunkSizeIsHonouredOnAnyChunkStream) {
  const Bytes payload = counting(200);
  const Bytes in = concat({hex("05 000000 000004 01 01000000 000000c8"), hex("03 000000 0000c8 09 00000000"), payload});
  expect_decodes(in, {msg(5, 1, 0, 1, hex("000000c8")), msg(3, 9, 0, 0, payload)});
}

TEST(ChunkDecoder, AbortDropsThePartialMessage) {
  const Bytes old_payload = counting(200);
  const Bytes new_payload = counting(200, 0x80);
  // 128 of 200 bytes on csid 4, then Abort csid 4: c4 now starts a new
  // 200-byte message (delta 0x10 from the fmt 0 timestamp) instead of
  // continuing the old one.
  const Bytes in = concat({hex("04 000010 0000c8 09 01000000"), Bytes(old_payload.begin(), old_payload.begin() + 128),
                           hex("02 000000 000004 02 00000000 00000004"), hex("c4"),
                           Bytes(new_payload.begin(), new_payload.begin() + 128), hex("c4"),
                           Bytes(new_payload.begin() + 128, new_payload.end())});
  expect_decodes(in, {msg(2, 2, 0, 0, hex("00000004")), msg(4, 9, 0x20, 1, new_payload)});

  const Bytes restart = concat({hex("04 000000 0000c8 09 01000000"), Bytes(old_payload.begin(), old_payload.begin() + 128),
                                hex("02 000000 000004 02 00000000 00000004"), hex("04 000007 000001 08 01000000 ee")});
  expect_decodes(restart, {msg(2, 2, 0, 0, hex("00000004")), msg(4, 8, 7, 1, hex("ee"))});
}

TEST(ChunkDecoder, AbortOfAnIdleOrUnknownChunkStreamIsHarmless) {
  expect_decodes(hex("02 000000 000004 02 00000000 00000009 03 000000 000001 08 00000000 aa"),
                 {msg(2, 2, 0, 0, hex("00000009")), msg(3, 8, 0, 0, hex("aa"))});
}

TEST(ChunkDecoder, AbortReleasesBufferedBytes) {
  ChunkDecoderLimits limits;
  limits.max_buffered_bytes = 250;
  const Bytes payload = counting(200);
  // Two 200-byte messages on csid 4 would exceed 250 together, but the
  // first is aborted.
  const Bytes in = concat({hex("04 000000 0000c8 09 01000000"), Bytes(payload.begin(), payload.begin() + 128),
                           hex("02 000000 000004 02 00000000 00000004"), hex("06 000000 0000c8 09 01000000"),
                           Bytes(payload.begin(), payload.begin() + 128), hex("c6"),
                           Bytes(payload.begin() + 128, payload.end())});
  expect_decodes(in, {msg(2, 2, 0, 0, hex("00000004")), msg(6, 9, 0, 1, payload)}, std::nullopt, limits);
}

// --- a real client ------------------------------------------------------

TEST(ChunkDecoder, FfmpegConnectAfterTheHandshake) {
  // ffmpeg (publishing) sends connect on csid 3 in 128-byte chunks: a
  // fmt-0 header, 128 bytes, c3, the remaining 11 bytes.
  const Bytes body = hex(
      "020007636f6e6e656374003ff00000000000000300036170700200046c697665"  // "connect", 1, {app: "live",
      "00047479706502000a6e6f6e707269766174650008666c617368566572020024"  // type: "nonprivate", flashVer:
      "464d4c452f332e302028636f6d70617469626c653b204c61766635392e32372e"  // "FMLE/3.0 (compatible; Lavf59.27.
      "313030290005746355726c02001a72746d703a2f2f3132372e302e302e313a31"  // 100)", tcUrl: "rtmp://127.0.0.1:1
      "3933352f6c697665000009");                                          // 935/live"}
  ASSERT_EQ(body.size(), 139u);
  const Bytes in = concat({hex("03 000000 00008b 14 00000000"), Bytes(body.begin(), body.begin() + 128), hex("c3"),
                           Bytes(body.begin() + 128, body.end())});
  expect_decodes(in, {msg(3, 20, 0, 0, body)});
}

// --- partial input ------------------------------------------------------

TEST(ChunkDecoder, KeepsAPartialHeaderAndConsumesIt) {
  ChunkDecoder decoder;
  std::vector<Message> out;
  const Bytes in = hex("03 000000 000001 14 00000000 ff");
  auto r = decoder.feed(ByteView(in).first(5), out);
  EXPECT_EQ(r.consumed, 5u);
  EXPECT_FALSE(r.error);
  EXPECT_TRUE(out.empty());
  r = decoder.feed(ByteView(in).subspan(5), out);
  EXPECT_EQ(r.consumed, in.size() - 5);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload, hex("ff"));
  EXPECT_EQ(decoder.bytes_consumed(), in.size());
}

TEST(ChunkDecoder, MovedDecoderContinuesMidMessage) {
  // A session may be moved while a message (and a header) is half read.
  const Bytes payload = counting(200);
  const Bytes in = concat({hex("03 ffffff 0000c8 09 01000000 01000000"), Bytes(payload.begin(), payload.begin() + 128),
                           hex("c3 01000000"), Bytes(payload.begin() + 128, payload.end())});
  ChunkDecoder first;
  std::vector<Message> out;
  ASSERT_FALSE(first.feed(ByteView(in).first(100), out).error);
  ChunkDecoder second(std::move(first));
  ASSERT_FALSE(second.feed(ByteView(in).subspan(100, 46), out).error);  // ends inside the c3 header
  ChunkDecoder third;
  third = std::move(second);
  ASSERT_FALSE(third.feed(ByteView(in).subspan(146), out).error);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].header.timestamp, 0x01000000u);
  EXPECT_EQ(out[0].payload, payload);
  EXPECT_EQ(third.bytes_consumed(), in.size());
}

TEST(ChunkDecoder, EmptyFeedIsNotAnError) {
  ChunkDecoder decoder;
  std::vector<Message> out;
  auto r = decoder.feed({}, out);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_FALSE(r.error);
}

// --- errors and limits --------------------------------------------------

TEST(ChunkDecoder, BadChunkSize) {
  expect_decodes(hex("02 000000 000004 01 00000000 00000000"), {}, ChunkError::BadChunkSize);
  expect_decodes(hex("02 000000 000004 01 00000000 80000000"), {}, ChunkError::BadChunkSize);
  expect_decodes(hex("02 000000 000004 01 00000000 ffffffff"), {}, ChunkError::BadChunkSize);
  expect_decodes(hex("02 000000 000004 01 00000000 00000001 03 000000 000002 08 00000000 aa c3 bb"),
                 {msg(2, 1, 0, 0, hex("00000001")), msg(3, 8, 0, 0, hex("aabb"))});  // 1 is fine
}

TEST(ChunkDecoder, ShortSetChunkSizeOrAbortIsABadControlMessage) {
  expect_decodes(hex("02 000000 000003 01 00000000 000080"), {}, ChunkError::BadControlMessage);
  expect_decodes(hex("02 000000 000002 02 00000000 0003"), {}, ChunkError::BadControlMessage);
  expect_decodes(hex("02 000000 000000 01 00000000"), {}, ChunkError::BadControlMessage);
}

TEST(ChunkDecoder, MessagesBeforeAnErrorAreDelivered) {
  expect_decodes(hex("03 000000 000001 08 00000000 aa 02 000000 000004 01 00000000 00000000"),
                 {msg(3, 8, 0, 0, hex("aa"))}, ChunkError::BadChunkSize);
}

TEST(ChunkDecoder, MessageTooLargeAsSoonAsTheHeaderSaysSo) {
  ChunkDecoderLimits limits;
  limits.max_message_size = 100;
  // Only the header: the error must not wait for the payload.
  expect_decodes(hex("03 000000 000065 09 00000000"), {}, ChunkError::MessageTooLarge, limits);
  // fmt 1 announces a length too.
  expect_decodes(hex("03 000000 000001 09 00000000 aa 43 000000 000065 09"), {msg(3, 9, 0, 0, hex("aa"))},
                 ChunkError::MessageTooLarge, limits);
  // Exactly the limit is fine.
  const Bytes payload = counting(100);
  expect_decodes(concat({hex("03 000000 000064 09 00000000"), payload}), {msg(3, 9, 0, 0, payload)}, std::nullopt,
                 limits);
}

TEST(ChunkDecoder, DefaultLimitAllowsTheLargestLegalMessageOnlyWhenRaised) {
  ChunkDecoderLimits limits;
  limits.max_message_size = kMaxMessageLength;
  limits.max_buffered_bytes = kMaxMessageLength;
  ChunkDecoder decoder(limits);
  std::vector<Message> out;
  auto r = decoder.feed(hex("03 000000 ffffff 09 00000000"), out);
  EXPECT_FALSE(r.error);
  ChunkDecoder strict;
  r = strict.feed(hex("03 000000 ffffff 09 00000000"), out);
  EXPECT_EQ(r.error, ChunkError::MessageTooLarge);
}

TEST(ChunkDecoder, NoPreviousHeader) {
  expect_decodes(hex("84 000001"), {}, ChunkError::NoPreviousHeader);
  expect_decodes(hex("c4"), {}, ChunkError::NoPreviousHeader);
  expect_decodes(hex("c0 05"), {}, ChunkError::NoPreviousHeader);  // csid 69, two-byte form
  // Known csid 3 does not make csid 4 known.
  expect_decodes(hex("03 000000 000001 08 00000000 aa c4"), {msg(3, 8, 0, 0, hex("aa"))},
                 ChunkError::NoPreviousHeader);
}

TEST(ChunkDecoder, TooManyChunkStreams) {
  ChunkDecoderLimits limits;
  limits.max_chunk_streams = 2;
  const Bytes two = hex("03 000000 000001 08 00000000 aa 04 000000 000001 08 00000000 bb");
  expect_decodes(two, {msg(3, 8, 0, 0, hex("aa")), msg(4, 8, 0, 0, hex("bb"))}, std::nullopt, limits);
  // Reusing known ones is fine; a third is not.
  expect_decodes(concat({two, hex("43 000001 000001 08 cc 05 000000 000001 08 00000000 dd")}),
                 {msg(3, 8, 0, 0, hex("aa")), msg(4, 8, 0, 0, hex("bb")), msg(3, 8, 1, 0, hex("cc"))},
                 ChunkError::TooManyChunkStreams, limits);
}

TEST(ChunkDecoder, BufferedTooMuch) {
  ChunkDecoderLimits limits;
  limits.max_buffered_bytes = 300;
  const Bytes payload = counting(200);
  // Two 200-byte messages one after the other: fine.
  const Bytes sequential = concat({hex("03 000000 0000c8 09 00000000"), Bytes(payload.begin(), payload.begin() + 128),
                                   hex("c3"), Bytes(payload.begin() + 128, payload.end()),
                                   hex("04 000000 0000c8 09 00000000"), Bytes(payload.begin(), payload.begin() + 128),
                                   hex("c4"), Bytes(payload.begin() + 128, payload.end())});
  expect_decodes(sequential, {msg(3, 9, 0, 0, payload), msg(4, 9, 0, 0, payload)}, std::nullopt, limits);
  // Both partial at once: 400 > 300, refused when the second one starts.
  const Bytes overlapping = concat({hex("03 000000 0000c8 09 00000000"), Bytes(payload.begin(), payload.begin() + 128),
                                    hex("04 000000 0000c8 09 00000000")});
  expect_decodes(overlapping, {}, ChunkError::BufferedTooMuch, limits);
}

TEST(ChunkErrorNames, AreDistinct) {
  const ChunkError all[] = {ChunkError::BadChunkSize,     ChunkError::MessageTooLarge, ChunkError::TooManyChunkStreams,
                            ChunkError::NoPreviousHeader, ChunkError::BufferedTooMuch, ChunkError::BadControlMessage};
  for (auto a : all) {
    for (auto b : all) {
      if (a != b) {
        EXPECT_STRNE(to_string(a), to_string(b));
      }
    }
  }
}

}  // namespace
}  // namespace rw::rtmp
