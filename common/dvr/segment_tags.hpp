// The FLV tags inside a Segment: writing them (the Segmenter), walking them
// (the store's index, export, the DVR cursor) and turning them back into
// media frames for players.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/base/bytes.hpp"
#include "common/flv/tag.hpp"
#include "common/media/frame.hpp"
#include "proto/dvr.pb.h"

namespace rw::dvr {

flv::TagType tag_type_of(media::FrameKind kind);

// Appends one tag: 11-byte header (stream id 0), body, PreviousTagSize.
// body.size() must not exceed flv::kMaxTagBodySize.
void append_tag(std::string& out, flv::TagType type, std::uint32_t timestamp, ByteView body);

// One tag of a segment; body points into the segment's bytes.
struct TagView {
  flv::TagType type = flv::TagType::Script;
  std::uint32_t timestamp = 0;
  ByteView body;
  // A video tag a decoder can start from (not a sequence header).
  bool is_keyframe() const;
  // A codec header (AVC/HEVC configuration, AAC AudioSpecificConfig).
  bool is_sequence_header() const;
  // A script tag whose first value is the string "onMetaData".
  bool is_metadata() const;
};

// Walks the tags of Segment::tags in order, without copying:
//
//   TagWalker walk(segment.tags());
//   while (auto tag = walk.next()) use(*tag);
//   if (walk.failed()) the bytes are not whole tags;
//
// Stored segments were checked when written, so failed() after reading a
// segment back means corruption.
class TagWalker {
 public:
  explicit TagWalker(ByteView tags) : tags_(tags) {}
  explicit TagWalker(const std::string& tags) : tags_(as_bytes(tags)) {}
  explicit TagWalker(std::string&&) = delete;  // would walk a dead temporary

  std::optional<TagView> next();
  // Stopped early on a truncated tag, a type other than 8/9/18 or a wrong
  // PreviousTagSize.
  bool failed() const { return failed_; }
  // Offset of the next tag in the bytes.
  std::size_t offset() const { return pos_; }

 private:
  ByteView tags_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

// A media frame with a copy of the tag's body: audio and video marked as
// make_media_frame() marks them, onMetaData as Metadata, other script data
// as Data.
media::MutableFramePtr to_frame(const TagView& tag);

// What a player needs before a segment's first frame: its onMetaData,
// video and audio sequence headers (those present), stamped at its start.
std::vector<media::FramePtr> header_frames(const Segment& segment);

}  // namespace rw::dvr
