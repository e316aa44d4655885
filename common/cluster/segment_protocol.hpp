// The segment protocol between Rewind servers, sans-I/O (docs/cluster.md,
// "Segment protocol"): the names and arguments of the calls a relay or an
// edge makes upstream for a stream's index and segments, their answers
// (proto/cluster.proto messages in AMF3 ByteArrays), and the checks a
// receiver applies before anything reaches a player: pages in order, the
// size and checksum the first page announced, the index entry it holds,
// limits on what an upstream may send.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/amf/value.hpp"
#include "common/base/bytes.hpp"
#include "common/base/shared_buffer.hpp"
#include "proto/cluster.pb.h"

namespace rw::cluster {

// [name, txn, null, stream] -> IndexPage (known, stream)
inline constexpr std::string_view kStreamInfoCall = "rewindStreamInfo";
// [name, txn, null, stream, from_sequence, limit] -> IndexPage (segments)
inline constexpr std::string_view kSegmentInfosCall = "rewindSegmentInfos";
// [name, txn, null, stream, media_ms] -> IndexPage (at most one segment)
inline constexpr std::string_view kFindSegmentCall = "rewindFindSegment";
// [name, txn, null, stream, recording_id, sequence, offset, max_bytes] -> SegmentPage
inline constexpr std::string_view kSegmentCall = "rewindSegment";

bool is_segment_protocol_call(std::string_view name);

// What a receiver accepts from an upstream (settings: proxy.*).
struct ProtocolLimits {
  std::uint64_t max_segment_bytes = 64u << 20;
  std::uint32_t max_page_bytes = 1u << 20;   // asked for per rewindSegment
  std::uint32_t max_index_entries = 1024;    // per rewindSegmentInfos
};

// A protobuf message as the value a result carries.
amf::Value to_byte_array(const google::protobuf::MessageLite& message);
// Parses the first ByteArray among a result's values; false when there is
// none, it is over max_bytes, or it does not parse.
bool parse_byte_array(const std::vector<amf::Value>& values, google::protobuf::MessageLite& out,
                      std::size_t max_bytes);

// zlib's CRC-32 of the bytes.
std::uint32_t crc32_of(ByteView bytes);

// Serving: the page of a serialized segment that starts at `offset`, at
// most max_bytes long; the page at offset 0 carries the total size and
// the checksum.
cluster::SegmentPage segment_page(ByteView segment, std::uint64_t recording_id, std::uint64_t sequence,
                                  std::uint64_t offset, std::size_t max_bytes);

// Receiving: a segment from its pages, checked against the index entry the
// receiver holds for it.
class SegmentAssembler {
 public:
  SegmentAssembler(const dvr::SegmentInfo& expected, std::uint64_t recording_id, const ProtocolLimits& limits);

  enum class Step { NeedMore, Complete, Bad };
  // Takes the next page. Bad (with `why`) when it contradicts an earlier
  // page or the limits, the whole fails its checksum, does not parse or
  // holds other frames than the index entry says.
  Step add(const cluster::SegmentPage& page, std::string& why);
  // Where the next page starts (what to ask for).
  std::uint64_t next_offset() const { return received_; }
  // The serialized Segment, once add() said Complete.
  SharedBuffer take() { return SharedBuffer(std::move(bytes_)); }
  // The segment parsed, once add() said Complete.
  dvr::Segment& segment() { return segment_; }

 private:
  const dvr::SegmentInfo expected_;
  const std::uint64_t recording_id_;
  const ProtocolLimits limits_;
  std::uint64_t total_ = 0;
  std::uint32_t crc32_ = 0;
  std::uint64_t received_ = 0;
  Bytes bytes_;
  dvr::Segment segment_;
};

// Whether an index page is one a receiver may use: consecutive sequences
// in order, positions that follow on, sizes under the segment limit, no
// more entries than asked for. `why` says what is wrong.
bool index_page_consistent(const cluster::IndexPage& page, const ProtocolLimits& limits, std::size_t asked_for,
                           std::string& why);

}  // namespace rw::cluster
