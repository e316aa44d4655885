#include "common/dvr/segment_tags.hpp"

#include <cassert>
#include <string_view>

namespace rw::dvr {
namespace {

constexpr std::size_t kTagOverhead = flv::kTagHeaderSize + flv::kPreviousTagSizeSize;

// AMF0 string marker, u16 length 10, "onMetaData".
constexpr std::string_view kOnMetaDataPrefix{"\x02\x00\x0a" "onMetaData", 13};

}  // namespace

flv::TagType tag_type_of(media::FrameKind kind) {
  switch (kind) {
    case media::FrameKind::Audio: return flv::TagType::Audio;
    case media::FrameKind::Video: return flv::TagType::Video;
    case media::FrameKind::Metadata:
    case media::FrameKind::Data: return flv::TagType::Script;
  }
  return flv::TagType::Script;
}

void append_tag(std::string& out, flv::TagType type, std::uint32_t timestamp, ByteView body) {
  assert(body.size() <= flv::kMaxTagBodySize);
  const auto size = static_cast<std::uint32_t>(body.size());
  std::uint8_t header[flv::kTagHeaderSize] = {};
  header[0] = static_cast<std::uint8_t>(type);
  put_u24be(header + 1, size);
  put_u24be(header + 4, timestamp & 0xffffff);
  header[7] = static_cast<std::uint8_t>(timestamp >> 24);  // TimestampExtended: the high byte
  // header[8..10]: StreamID, always 0
  std::uint8_t previous_tag_size[flv::kPreviousTagSizeSize];
  put_u32be(previous_tag_size, static_cast<std::uint32_t>(flv::kTagHeaderSize) + size);

  out.append(reinterpret_cast<const char*>(header), sizeof header);
  out.append(as_chars(body));
  out.append(reinterpret_cast<const char*>(previous_tag_size), sizeof previous_tag_size);
}

bool TagView::is_keyframe() const {
  if (type != flv::TagType::Video) return false;
  auto info = flv::parse_video(body);
  return info && info->is_keyframe();
}

bool TagView::is_sequence_header() const {
  if (type == flv::TagType::Video) {
    auto info = flv::parse_video(body);
    return info && info->sequence_header;
  }
  if (type == flv::TagType::Audio) {
    auto info = flv::parse_audio(body);
    return info && info->sequence_header;
  }
  return false;
}

bool TagView::is_metadata() const {
  return type == flv::TagType::Script && as_chars(body).starts_with(kOnMetaDataPrefix);
}

std::optional<TagView> TagWalker::next() {
  if (failed_ || pos_ == tags_.size()) return std::nullopt;
  const std::size_t left = tags_.size() - pos_;
  const std::uint8_t* p = tags_.data() + pos_;
  if (left < kTagOverhead) {
    failed_ = true;
    return std::nullopt;
  }
  const std::uint32_t size = get_u24be(p + 1);
  if (left < kTagOverhead + size || (p[0] != 8 && p[0] != 9 && p[0] != 18) ||
      get_u32be(p + flv::kTagHeaderSize + size) != flv::kTagHeaderSize + size) {
    failed_ = true;
    return std::nullopt;
  }
  TagView tag;
  tag.type = static_cast<flv::TagType>(p[0]);
  tag.timestamp = get_u24be(p + 4) | static_cast<std::uint32_t>(p[7]) << 24;
  tag.body = tags_.subspan(pos_ + flv::kTagHeaderSize, size);
  pos_ += kTagOverhead + size;
  return tag;
}

media::MutableFramePtr to_frame(const TagView& tag) {
  Bytes body(tag.body.begin(), tag.body.end());
  switch (tag.type) {
    case flv::TagType::Audio: return media::make_media_frame(rtmp::msg_type::kAudio, tag.timestamp, std::move(body));
    case flv::TagType::Video: return media::make_media_frame(rtmp::msg_type::kVideo, tag.timestamp, std::move(body));
    case flv::TagType::Script: break;
  }
  if (tag.is_metadata()) return media::make_metadata_frame(tag.timestamp, std::move(body));
  return media::make_data_frame(tag.timestamp, std::move(body));
}

std::vector<media::FramePtr> header_frames(const Segment& segment) {
  std::vector<media::FramePtr> frames;
  const auto copy = [](const std::string& s) { return Bytes(s.begin(), s.end()); };
  if (!segment.metadata().empty()) {
    frames.push_back(media::make_metadata_frame(segment.start_ms(), copy(segment.metadata())));
  }
  if (!segment.video_header().empty()) {
    frames.push_back(media::make_media_frame(rtmp::msg_type::kVideo, segment.start_ms(), copy(segment.video_header())));
  }
  if (!segment.audio_header().empty()) {
    frames.push_back(media::make_media_frame(rtmp::msg_type::kAudio, segment.start_ms(), copy(segment.audio_header())));
  }
  return frames;
}

}  // namespace rw::dvr
