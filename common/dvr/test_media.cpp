#include "common/dvr/test_media.hpp"

#include <fstream>
#include <iterator>

#include "common/amf/codec.hpp"
#include "common/dvr/segmenter.hpp"
#include "common/flv/file_reader.hpp"
#include "common/flv/tag.hpp"

namespace rw::dvr::test_media {
namespace {

Bytes filler(std::uint32_t timestamp, std::size_t size) {
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(timestamp * 31 + i);
  return out;
}

media::FramePtr avc(std::uint8_t first_byte, std::uint32_t timestamp, std::size_t size) {
  Bytes body{first_byte, 0x01, 0x00, 0x00, 0x00};
  const Bytes rest = filler(timestamp, size);
  body.insert(body.end(), rest.begin(), rest.end());
  return media::make_media_frame(rtmp::msg_type::kVideo, timestamp, std::move(body));
}

media::FramePtr script(std::uint32_t timestamp, std::string_view handler, std::string_view key,
                       std::string_view value, bool is_metadata) {
  Bytes body;
  amf::encode_amf0(amf::Value(handler), body);
  amf::Object object;
  object.set(std::string(key), amf::Value(value));
  amf::encode_amf0(amf::Value(std::move(object)), body);
  return is_metadata ? media::make_metadata_frame(timestamp, std::move(body))
                     : media::make_data_frame(timestamp, std::move(body));
}

}  // namespace

media::FramePtr keyframe(std::uint32_t timestamp, std::size_t size) { return avc(0x17, timestamp, size); }
media::FramePtr inter(std::uint32_t timestamp, std::size_t size) { return avc(0x27, timestamp, size); }

media::FramePtr avc_header(std::uint32_t timestamp, std::uint8_t version) {
  Bytes body{0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0x00, 0x04, 0x67, 0x42, version, 0x1e,
             0x01, 0x00, 0x02, 0x68, 0xce};
  return media::make_media_frame(rtmp::msg_type::kVideo, timestamp, std::move(body));
}

media::FramePtr aac_header(std::uint32_t timestamp) {
  return media::make_media_frame(rtmp::msg_type::kAudio, timestamp, Bytes{0xaf, 0x00, 0x12, 0x10});
}

media::FramePtr aac(std::uint32_t timestamp, std::size_t size) {
  Bytes body{0xaf, 0x01};
  const Bytes rest = filler(timestamp, size);
  body.insert(body.end(), rest.begin(), rest.end());
  return media::make_media_frame(rtmp::msg_type::kAudio, timestamp, std::move(body));
}

media::FramePtr metadata(std::uint32_t timestamp, std::string_view title) {
  return script(timestamp, "onMetaData", "title", title, true);
}

media::FramePtr cue_point(std::uint32_t timestamp, std::string_view name) {
  return script(timestamp, "onCuePoint", "name", name, false);
}

std::vector<media::FramePtr> video_stream(const std::vector<std::uint32_t>& keyframes, std::uint32_t end_ms,
                                          std::uint32_t frame_ms, std::uint32_t start_ms) {
  std::vector<media::FramePtr> frames{metadata(start_ms, "test"), avc_header(start_ms), aac_header(start_ms)};
  std::size_t next_key = 0;
  for (std::uint32_t t = start_ms; t != end_ms; t += frame_ms) {
    while (next_key < keyframes.size() && timestamp_diff(keyframes[next_key], t) < 0) ++next_key;
    const bool key = next_key < keyframes.size() && keyframes[next_key] == t;
    frames.push_back(key ? keyframe(t) : inter(t));
    frames.push_back(aac(t + frame_ms / 2));
  }
  return frames;
}

std::string real_file_path() { return std::string(REWIND_FLV_TESTDATA_DIR) + "/avc_aac_2s.flv"; }

std::vector<media::FramePtr> real_frames(int loops, std::uint32_t offset_ms) {
  std::ifstream in(real_file_path(), std::ios::binary);
  const Bytes file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  flv::FileReader reader;
  std::vector<flv::Tag> tags;
  if (auto r = reader.feed(file, tags); r.error) return {};

  std::vector<media::FramePtr> frames;
  auto to_frame = [](const flv::Tag& tag, std::uint32_t timestamp) -> media::FramePtr {
    Bytes body = tag.body;
    switch (tag.type) {
      case flv::TagType::Audio: return media::make_media_frame(rtmp::msg_type::kAudio, timestamp, std::move(body));
      case flv::TagType::Video: return media::make_media_frame(rtmp::msg_type::kVideo, timestamp, std::move(body));
      case flv::TagType::Script: return media::make_metadata_frame(timestamp, std::move(body));
    }
    return nullptr;
  };
  // Headers once...
  for (const auto& tag : tags) {
    const bool header = tag.type == flv::TagType::Script ||
                        (tag.type == flv::TagType::Video && flv::parse_video(tag.body)->sequence_header) ||
                        (tag.type == flv::TagType::Audio && flv::parse_audio(tag.body)->sequence_header);
    if (header) frames.push_back(to_frame(tag, offset_ms));
  }
  // ...then the media, looped (the end-of-sequence tag would end playback).
  for (int loop = 0; loop < loops; ++loop) {
    for (const auto& tag : tags) {
      if (tag.type == flv::TagType::Script) continue;
      if (tag.type == flv::TagType::Video) {
        auto info = flv::parse_video(tag.body);
        if (!info || info->sequence_header || info->end_of_sequence) continue;
      } else if (flv::parse_audio(tag.body)->sequence_header) {
        continue;
      }
      frames.push_back(to_frame(tag, offset_ms + static_cast<std::uint32_t>(loop) * kRealLoopMs + tag.timestamp));
    }
  }
  return frames;
}

}  // namespace rw::dvr::test_media
