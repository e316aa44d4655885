#include "common/rtmp/aggregate.hpp"

namespace rw::rtmp {

namespace {

// One sub-message's place in the body. Each is an FLV tag: type, size,
// timestamp (24 bits plus a high byte), stream id, body, then the previous
// tag size.
struct TagHeader {
  std::uint8_t type = 0;
  std::uint32_t timestamp = 0;
  ByteView body;
};

// Reads the tag at the reader's position; false when malformed.
bool read_tag(ByteReader& r, TagHeader& tag) {
  std::uint32_t size = 0;
  std::uint32_t timestamp = 0;
  std::uint8_t timestamp_high = 0;
  std::uint32_t stream_id = 0;
  if (!r.read_u8(tag.type) || !r.read_u24be(size) || !r.read_u24be(timestamp) || !r.read_u8(timestamp_high) ||
      !r.read_u24be(stream_id) || !r.read_bytes(size, tag.body)) {
    return false;
  }
  tag.timestamp = timestamp | static_cast<std::uint32_t>(timestamp_high) << 24;
  // nginx-rtmp also accepts an aggregate whose last back-pointer is
  // missing; its value is not checked (nothing depends on it).
  return r.at_end() || r.skip(4);
}

}  // namespace

AggregateReader::AggregateReader(const Message& aggregate) : aggregate_(aggregate) {
  ByteReader r(aggregate_.payload);
  TagHeader tag;
  while (!r.at_end()) {
    if (!read_tag(r, tag)) return;
  }
  valid_ = true;
}

bool AggregateReader::next(Message& out) {
  if (!valid_ || pos_ >= aggregate_.payload.size()) return false;
  ByteReader r(ByteView(aggregate_.payload).subspan(pos_));
  TagHeader tag;
  read_tag(r, tag);  // checked when the reader was made
  pos_ = aggregate_.payload.size() - r.remaining();
  if (first_) {
    offset_ = aggregate_.header.timestamp - tag.timestamp;
    first_ = false;
  }
  out.header.csid = aggregate_.header.csid;
  out.header.type = tag.type;
  out.header.timestamp = tag.timestamp + offset_;
  out.header.stream_id = aggregate_.header.stream_id;
  out.header.length = static_cast<std::uint32_t>(tag.body.size());
  out.payload.assign(tag.body.begin(), tag.body.end());
  return true;
}

}  // namespace rw::rtmp
