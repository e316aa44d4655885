#include "common/media/frame.hpp"

#include "common/flv/tag.hpp"
#include "common/rtmp/chunk_encoder.hpp"

namespace rw::media {

MutableFramePtr make_media_frame(std::uint8_t message_type, std::uint32_t timestamp, Bytes&& payload) {
  auto frame = std::make_shared<Frame>();
  frame->timestamp = timestamp;
  if (message_type == rtmp::msg_type::kVideo) {
    frame->kind = FrameKind::Video;
    if (auto info = flv::parse_video(payload)) {
      frame->keyframe = info->is_keyframe();
      frame->sequence_header = info->sequence_header;
    }
  } else {
    frame->kind = FrameKind::Audio;
    if (auto info = flv::parse_audio(payload)) frame->sequence_header = info->sequence_header;
  }
  frame->payload = SharedBuffer(std::move(payload));
  return frame;
}

MutableFramePtr make_metadata_frame(std::uint32_t timestamp, Bytes&& amf0_body) {
  auto frame = std::make_shared<Frame>();
  frame->kind = FrameKind::Metadata;
  frame->timestamp = timestamp;
  frame->payload = SharedBuffer(std::move(amf0_body));
  return frame;
}

MutableFramePtr make_data_frame(std::uint32_t timestamp, Bytes&& amf0_body) {
  auto frame = std::make_shared<Frame>();
  frame->kind = FrameKind::Data;
  frame->timestamp = timestamp;
  frame->payload = SharedBuffer(std::move(amf0_body));
  return frame;
}

SharedBuffer chunk_frame(const Frame& frame, std::uint32_t stream_id, std::uint32_t chunk_size) {
  rtmp::MessageHeader header;
  header.csid = frame.chunk_stream();
  header.type = frame.message_type();
  header.timestamp = frame.timestamp;
  header.stream_id = stream_id;
  header.length = static_cast<std::uint32_t>(frame.payload.size());
  Bytes out;
  out.reserve(rtmp::encoded_size_full(header, chunk_size));
  rtmp::encode_message_full(header, frame.payload.view(), chunk_size, out);
  return SharedBuffer(std::move(out));
}

const SharedBuffer& ChunkedFrameCache::get(std::uint32_t stream_id, std::uint32_t chunk_size) {
  for (std::size_t i = 0; i < count_; ++i) {
    if (variants_[i].stream_id == stream_id && variants_[i].chunk_size == chunk_size) return variants_[i].bytes;
  }
  if (count_ < std::size(variants_)) {
    variants_[count_] = Variant{stream_id, chunk_size, chunk_frame(*frame_, stream_id, chunk_size)};
    return variants_[count_++].bytes;
  }
  // A fifth kind of player in one delivery is rare enough not to cache.
  overflow_ = chunk_frame(*frame_, stream_id, chunk_size);
  return overflow_;
}

}  // namespace rw::media
