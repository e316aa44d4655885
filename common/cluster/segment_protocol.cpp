#include "common/cluster/segment_protocol.hpp"

#include <zlib.h>

#include <algorithm>

namespace rw::cluster {

bool is_segment_protocol_call(std::string_view name) {
  return name == kStreamInfoCall || name == kSegmentInfosCall || name == kFindSegmentCall || name == kSegmentCall;
}

amf::Value to_byte_array(const google::protobuf::MessageLite& message) {
  amf::ByteArray array;
  const std::string bytes = message.SerializeAsString();
  array.bytes.assign(bytes.begin(), bytes.end());
  return amf::Value(std::move(array));
}

bool parse_byte_array(const std::vector<amf::Value>& values, google::protobuf::MessageLite& out,
                      std::size_t max_bytes) {
  for (const amf::Value& v : values) {
    const auto* array = std::get_if<amf::ByteArray>(&v.storage());
    if (!array) continue;
    if (array->bytes.size() > max_bytes) return false;
    return out.ParseFromArray(array->bytes.data(), static_cast<int>(array->bytes.size()));
  }
  return false;
}

std::uint32_t crc32_of(ByteView bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes a uInt length: feed large inputs in pieces.
  constexpr std::size_t kPiece = 1u << 30;
  for (std::size_t at = 0; at < bytes.size(); at += kPiece) {
    const std::size_t n = std::min(kPiece, bytes.size() - at);
    crc = crc32(crc, bytes.data() + at, static_cast<uInt>(n));
  }
  return static_cast<std::uint32_t>(crc);
}

cluster::SegmentPage segment_page(ByteView segment, std::uint64_t recording_id, std::uint64_t sequence,
                                  std::uint64_t offset, std::size_t max_bytes) {
  cluster::SegmentPage page;
  page.set_recording_id(recording_id);
  page.set_sequence(sequence);
  page.set_offset(offset);
  page.set_total_size(segment.size());
  if (offset == 0) page.set_crc32(crc32_of(segment));
  if (offset < segment.size()) {
    const std::size_t n = std::min<std::size_t>(max_bytes, segment.size() - offset);
    page.set_data(reinterpret_cast<const char*>(segment.data() + offset), n);
  }
  return page;
}

SegmentAssembler::SegmentAssembler(const dvr::SegmentInfo& expected, std::uint64_t recording_id,
                                   const ProtocolLimits& limits)
    : expected_(expected), recording_id_(recording_id), limits_(limits) {}

SegmentAssembler::Step SegmentAssembler::add(const cluster::SegmentPage& page, std::string& why) {
  auto bad = [&](std::string reason) {
    why = std::move(reason);
    return Step::Bad;
  };
  if (page.recording_id() != recording_id_ || page.sequence() != expected_.sequence()) {
    return bad("a page of recording " + std::to_string(page.recording_id()) + " segment " +
               std::to_string(page.sequence()) + " where " + std::to_string(recording_id_) + "/" +
               std::to_string(expected_.sequence()) + " was asked for");
  }
  if (page.offset() != received_) {
    return bad("a page at offset " + std::to_string(page.offset()) + " where " + std::to_string(received_) +
               " was expected");
  }
  if (received_ == 0) {
    total_ = page.total_size();
    crc32_ = page.crc32();
    if (total_ > limits_.max_segment_bytes) {
      return bad("a segment of " + std::to_string(total_) + " bytes, over the limit of " +
                 std::to_string(limits_.max_segment_bytes));
    }
    // Not checked against the index's size: two origins fed the same
    // stream cut the same segments, but each stamps its own recording id
    // and wall clock into them, so a relay may serve a segment it cached
    // from one against the index of the other. What the segment holds is
    // checked once it is whole.
    bytes_.reserve(static_cast<std::size_t>(total_));
  } else if (page.total_size() != total_) {
    return bad("pages disagree on the segment's size");
  }
  if (page.data().size() > limits_.max_page_bytes || received_ + page.data().size() > total_) {
    return bad("a page of " + std::to_string(page.data().size()) + " bytes past the segment's end or the page limit");
  }
  if (page.data().empty() && received_ < total_) return bad("an empty page before the segment's end");
  bytes_.insert(bytes_.end(), page.data().begin(), page.data().end());
  received_ += page.data().size();
  if (received_ < total_) return Step::NeedMore;
  if (crc32_of(bytes_) != crc32_) return bad("the segment fails its checksum");
  if (!segment_.ParseFromArray(bytes_.data(), static_cast<int>(bytes_.size()))) {
    return bad("the segment does not parse");
  }
  if (segment_.sequence() != expected_.sequence() || segment_.first_position() != expected_.first_position() ||
      segment_.frame_count() != expected_.frame_count() || segment_.start_ms() != expected_.start_ms()) {
    return bad("the segment holds frames " + std::to_string(segment_.first_position()) + "+" +
               std::to_string(segment_.frame_count()) + " at " + std::to_string(segment_.start_ms()) +
               " ms where the index says " + std::to_string(expected_.first_position()) + "+" +
               std::to_string(expected_.frame_count()) + " at " + std::to_string(expected_.start_ms()) + " ms");
  }
  return Step::Complete;
}

bool index_page_consistent(const cluster::IndexPage& page, const ProtocolLimits& limits, std::size_t asked_for,
                           std::string& why) {
  if (static_cast<std::size_t>(page.segments_size()) > asked_for ||
      static_cast<std::size_t>(page.segments_size()) > limits.max_index_entries) {
    why = "more index entries than were asked for";
    return false;
  }
  if (page.segments_size() > 0 && !page.known()) {
    why = "index entries of a stream it does not know";
    return false;
  }
  const dvr::StreamInfo& stream = page.stream();
  for (int i = 0; i < page.segments_size(); ++i) {
    const dvr::SegmentInfo& e = page.segments(i);
    if (e.size_bytes() == 0 || e.size_bytes() > limits.max_segment_bytes) {
      why = "an index entry of " + std::to_string(e.size_bytes()) + " bytes";
      return false;
    }
    if (e.frame_count() == 0) {
      why = "an index entry without frames";
      return false;
    }
    if (e.sequence() < stream.first_sequence() || e.sequence() >= stream.next_sequence()) {
      why = "an index entry outside the stream's window";
      return false;
    }
    if (i > 0) {
      const dvr::SegmentInfo& before = page.segments(i - 1);
      if (e.sequence() != before.sequence() + 1 || e.first_position() != before.first_position() + before.frame_count()) {
        why = "index entries that do not follow on";
        return false;
      }
    }
  }
  return true;
}

}  // namespace rw::cluster
