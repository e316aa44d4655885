// A media frame as it travels from a publisher (or the DVR store) to
// players: immutable and shared, so one copy serves every subscriber on
// every thread.
#pragma once

#include <cstdint>
#include <memory>

#include "common/base/bytes.hpp"
#include "common/base/shared_buffer.hpp"
#include "common/rtmp/message.hpp"

namespace rw::media {

// Metadata is onMetaData (remembered for new players); Data is any other
// script data a publisher sends (onCuePoint, onTextData), passed through.
enum class FrameKind : std::uint8_t { Audio, Video, Metadata, Data };

struct Frame {
  FrameKind kind = FrameKind::Video;
  std::uint32_t timestamp = 0;   // media time in ms (RTMP timestamps, 32-bit)
  SharedBuffer payload;          // the RTMP message body (= FLV tag body)
  bool keyframe = false;         // video a decoder can start from
  bool sequence_header = false;  // AVC/HEVC decoder configuration or AAC AudioSpecificConfig
  // Frame number in its stream's recording (consecutive across appends),
  // or 0 when the stream is not recorded. A DVR cursor hands over from the
  // store to live at a position, so nothing is skipped or sent twice.
  std::uint64_t position = 0;

  std::uint8_t message_type() const {
    switch (kind) {
      case FrameKind::Audio: return rtmp::msg_type::kAudio;
      case FrameKind::Video: return rtmp::msg_type::kVideo;
      case FrameKind::Metadata:
      case FrameKind::Data: return rtmp::msg_type::kDataAmf0;
    }
    return 0;
  }
  std::uint32_t chunk_stream() const {
    switch (kind) {
      case FrameKind::Audio: return rtmp::csid::kAudio;
      case FrameKind::Video: return rtmp::csid::kVideo;
      case FrameKind::Metadata:
      case FrameKind::Data: return rtmp::csid::kData;
    }
    return rtmp::csid::kData;
  }
};

using FramePtr = std::shared_ptr<const Frame>;

// What holding a frame costs in memory: its payload and about what the
// Frame, its shared payload buffer and their allocations take besides.
// Caches that hold frames (the GOP cache, a recording tail) count this,
// not just payload bytes: a publisher sending a flood of one-byte frames
// must hit their limits as soon as one sending large frames does.
inline constexpr std::size_t kFrameOverheadBytes = 160;
inline std::size_t memory_cost(const Frame& frame) { return frame.payload.size() + kFrameOverheadBytes; }

// The builders return a mutable frame so its owner can number it before
// sharing it (it converts to FramePtr).
using MutableFramePtr = std::shared_ptr<Frame>;

// Builds an audio or video frame, reading the FLV media header to mark
// keyframes and sequence headers.
MutableFramePtr make_media_frame(std::uint8_t message_type, std::uint32_t timestamp, Bytes&& payload);
// Builds the frame players get as onMetaData: the AMF0 body
// [onMetaData, object] (a publisher's @setDataFrame prefix removed).
MutableFramePtr make_metadata_frame(std::uint32_t timestamp, Bytes&& amf0_body);
// Builds a pass-through script data frame (an AMF0 body).
MutableFramePtr make_data_frame(std::uint32_t timestamp, Bytes&& amf0_body);

// The chunked bytes of one frame for one player: a type-0 header on the
// frame's chunk stream, then type-3 continuations at chunk_size.
SharedBuffer chunk_frame(const Frame& frame, std::uint32_t stream_id, std::uint32_t chunk_size);

// Builds a frame's chunked bytes at most once per (chunk size, stream id)
// while it is handed to many players, so that a frame costs one copy per
// thread however many players get it.
class ChunkedFrameCache {
 public:
  explicit ChunkedFrameCache(const FramePtr& frame) : frame_(frame) {}
  const FramePtr& frame() const { return frame_; }
  const SharedBuffer& get(std::uint32_t stream_id, std::uint32_t chunk_size);

 private:
  struct Variant {
    std::uint32_t stream_id;
    std::uint32_t chunk_size;
    SharedBuffer bytes;
  };
  const FramePtr& frame_;
  // Nearly always one entry (every player on stream 1 with our chunk size).
  Variant variants_[4];
  std::size_t count_ = 0;
  SharedBuffer overflow_;
};

}  // namespace rw::media
