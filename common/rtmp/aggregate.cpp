#include "common/rtmp/aggregate.hpp"

namespace rw::rtmp {

std::optional<std::vector<Message>> split_aggregate(const Message& aggregate) {
  std::vector<Message> messages;
  ByteReader r(aggregate.payload);
  bool first = true;
  std::uint32_t offset = 0;  // aggregate timestamp - first sub-message timestamp, mod 2^32
  while (!r.at_end()) {
    // Each sub-message is an FLV tag: type, size, timestamp (24 bits plus a
    // high byte), stream id (ignored: the aggregate's applies), body, then
    // the previous tag size.
    std::uint8_t type = 0;
    std::uint32_t size = 0;
    std::uint32_t timestamp = 0;
    std::uint8_t timestamp_high = 0;
    std::uint32_t stream_id = 0;
    ByteView body;
    if (!r.read_u8(type) || !r.read_u24be(size) || !r.read_u24be(timestamp) || !r.read_u8(timestamp_high) ||
        !r.read_u24be(stream_id) || !r.read_bytes(size, body)) {
      return std::nullopt;
    }
    timestamp |= static_cast<std::uint32_t>(timestamp_high) << 24;
    if (first) {
      offset = aggregate.header.timestamp - timestamp;
      first = false;
    }
    // nginx-rtmp also accepts an aggregate whose last back-pointer is
    // missing; its value is not checked (nothing depends on it).
    if (!r.at_end() && !r.skip(4)) return std::nullopt;

    Message m;
    m.header.csid = aggregate.header.csid;
    m.header.type = type;
    m.header.timestamp = timestamp + offset;
    m.header.stream_id = aggregate.header.stream_id;
    m.header.length = size;
    m.payload.assign(body.begin(), body.end());
    messages.push_back(std::move(m));
  }
  return messages;
}

}  // namespace rw::rtmp
