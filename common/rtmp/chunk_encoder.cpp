#include "common/rtmp/chunk_encoder.hpp"

#include <algorithm>
#include <cassert>

namespace rw::rtmp {

namespace {

constexpr std::uint32_t kExtendedTimestampMarker = 0xFFFFFF;
constexpr std::size_t kMessageHeaderSize[3] = {11, 7, 3};

// csid 2..63 fit the first byte; up to 319 take one more byte, up to 65599
// two more (little-endian).
std::size_t basic_header_size(std::uint32_t csid) { return csid < 64 ? 1 : csid < 320 ? 2 : 3; }

std::size_t write_basic_header(std::uint8_t* p, unsigned fmt, std::uint32_t csid) {
  assert(csid >= 2 && csid <= 65599);
  const auto fmt_bits = static_cast<std::uint8_t>(fmt << 6);
  if (csid < 64) {
    p[0] = static_cast<std::uint8_t>(fmt_bits | csid);
    return 1;
  }
  const std::uint32_t rest = csid - 64;
  if (csid < 320) {
    p[0] = fmt_bits;
    p[1] = static_cast<std::uint8_t>(rest);
    return 2;
  }
  p[0] = static_cast<std::uint8_t>(fmt_bits | 1);
  p[1] = static_cast<std::uint8_t>(rest);
  p[2] = static_cast<std::uint8_t>(rest >> 8);
  return 3;
}

std::size_t chunk_count(std::size_t length, std::uint32_t chunk_size) {
  return length == 0 ? 1 : (length + chunk_size - 1) / chunk_size;
}

// Bytes taken by a message of `length` whose first header has the given fmt
// and timestamp field (absolute timestamp for fmt 0, delta for fmt 1 and 2).
std::size_t encoded_size(unsigned fmt, std::uint32_t csid, std::uint32_t timestamp_field, std::size_t length,
                         std::uint32_t chunk_size) {
  const std::size_t basic = basic_header_size(csid);
  const std::size_t extended = timestamp_field >= kExtendedTimestampMarker ? 4 : 0;
  return basic + kMessageHeaderSize[fmt] + extended + (chunk_count(length, chunk_size) - 1) * (basic + extended) +
         length;
}

// Appends a message as chunks: the first with a fmt 0, 1 or 2 header, the
// rest fmt 3. A timestamp field that does not fit 24 bits goes into the
// extended timestamp, repeated on every continuation chunk as Flash, FMS
// and ffmpeg do (decoders that follow SRS's rule accept both forms).
void encode_chunks(unsigned fmt, const MessageHeader& header, std::uint32_t timestamp_field, ByteView payload,
                   std::uint32_t chunk_size, Bytes& out) {
  assert(chunk_size > 0);
  assert(payload.size() == header.length);
  assert(payload.size() <= kMaxMessageLength);
  chunk_size = std::max<std::uint32_t>(chunk_size, 1);  // never loop forever on a bad setting
  const auto length = static_cast<std::uint32_t>(payload.size());
  const bool extended = timestamp_field >= kExtendedTimestampMarker;
  out.reserve(out.size() + encoded_size(fmt, header.csid, timestamp_field, length, chunk_size));

  std::uint8_t head[18];
  std::size_t n = write_basic_header(head, fmt, header.csid);
  put_u24be(head + n, extended ? kExtendedTimestampMarker : timestamp_field);
  n += 3;
  if (fmt <= 1) {
    put_u24be(head + n, length);
    head[n + 3] = header.type;
    n += 4;
  }
  if (fmt == 0) {
    for (int i = 0; i < 4; ++i) head[n++] = static_cast<std::uint8_t>(header.stream_id >> (8 * i));  // little-endian
  }
  if (extended) {
    put_u32be(head + n, timestamp_field);
    n += 4;
  }
  out.insert(out.end(), head, head + n);

  // Continuation header: fmt 3 basic header plus the repeated extended
  // timestamp.
  std::uint8_t continuation[7];
  std::size_t continuation_size = write_basic_header(continuation, 3, header.csid);
  if (extended) {
    put_u32be(continuation + continuation_size, timestamp_field);
    continuation_size += 4;
  }

  std::size_t offset = 0;
  for (;;) {
    const std::size_t take = std::min<std::size_t>(chunk_size, length - offset);
    out.insert(out.end(), payload.begin() + static_cast<std::ptrdiff_t>(offset),
               payload.begin() + static_cast<std::ptrdiff_t>(offset + take));
    offset += take;
    if (offset >= length) break;
    out.insert(out.end(), continuation, continuation + continuation_size);
  }
}

}  // namespace

void encode_message_full(const MessageHeader& header, ByteView payload, std::uint32_t chunk_size, Bytes& out) {
  encode_chunks(0, header, header.timestamp, payload, chunk_size, out);
}

std::size_t encoded_size_full(const MessageHeader& header, std::uint32_t chunk_size) {
  return encoded_size(0, header.csid, header.timestamp, header.length, std::max<std::uint32_t>(chunk_size, 1));
}

void ChunkEncoder::encode(const MessageHeader& header, ByteView payload, Bytes& out) {
  unsigned fmt = 0;
  std::uint32_t timestamp_field = header.timestamp;
  if (auto it = last_.find(header.csid); it != last_.end()) {
    const MessageHeader& previous = it->second;
    // Serial arithmetic: a "delta" of 2^31 or more means the timestamp went
    // backwards, which only a fmt 0 header can say.
    const std::uint32_t delta = header.timestamp - previous.timestamp;
    if (previous.stream_id == header.stream_id && delta < 0x80000000u) {
      fmt = previous.type == header.type && previous.length == header.length ? 2 : 1;
      timestamp_field = delta;
    }
  }
  encode_chunks(fmt, header, timestamp_field, payload, chunk_size_, out);
  last_[header.csid] = header;
}

}  // namespace rw::rtmp
