#include "common/admin/stream_codecs.hpp"

#include <boost/json/object.hpp>

#include "common/amf/codec.hpp"

namespace rw::admin {

namespace json = boost::json;

namespace {

// onMetaData's number `key`, or 0 (the encoder may not say).
double metadata_number(const media::FramePtr& metadata, std::string_view key) {
  if (!metadata) return 0;
  amf::Limits limits;
  limits.max_elements = 1024;
  auto values = amf::decode_amf0_all(metadata->payload.view(), limits);
  if (!values) return 0;
  for (const auto& v : *values) {
    if (const amf::Value* found = v.find(key)) return found->as_number();
  }
  return 0;
}

const char* avc_profile(unsigned idc) {
  switch (idc) {
    case 66: return "Baseline";
    case 77: return "Main";
    case 88: return "Extended";
    case 100: return "High";
    case 110: return "High 10";
    case 122: return "High 4:2:2";
    case 244: return "High 4:4:4";
  }
  return "Other";
}

const char* aac_profile(unsigned object_type) {
  switch (object_type) {
    case 1: return "Main";
    case 2: return "LC";
    case 3: return "SSR";
    case 5: return "HE";
    case 29: return "HEv2";
  }
  return "Other";
}

}  // namespace

json::value video_json(const media::StreamHub::CodecState& codec) {
  if (!codec.video_header) return nullptr;
  ByteView p = codec.video_header->payload.view();
  if (p.empty()) return nullptr;
  json::object video;
  const unsigned codec_id = p[0] & 0x0f;
  // FLV tag body: frame type and codec, AVCPacketType, composition time,
  // then the AVCDecoderConfigurationRecord (version, profile, compat, level).
  if (codec_id == 7) {
    video["codec"] = "H264";
    if (p.size() >= 9) {
      video["profile"] = avc_profile(p[6]);
      video["level"] = std::to_string(p[8] / 10) + "." + std::to_string(p[8] % 10);
    }
  } else if (codec_id == 12) {
    video["codec"] = "H265";
  } else {
    video["codec"] = "codec " + std::to_string(codec_id);
  }
  video["width"] = static_cast<std::int64_t>(metadata_number(codec.metadata, "width"));
  video["height"] = static_cast<std::int64_t>(metadata_number(codec.metadata, "height"));
  return video;
}

json::value audio_json(const media::StreamHub::CodecState& codec) {
  if (!codec.audio_header) return nullptr;
  ByteView p = codec.audio_header->payload.view();
  if (p.empty()) return nullptr;
  json::object audio;
  const unsigned format = p[0] >> 4;
  if (format == 10) {
    audio["codec"] = "AAC";
    // AudioSpecificConfig: object type (5 bits), frequency index (4),
    // channel configuration (4).
    if (p.size() >= 4) {
      static constexpr int kRates[] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                       22050, 16000, 12000, 11025, 8000,  7350};
      const unsigned object_type = p[2] >> 3;
      const unsigned rate_index = ((p[2] & 0x07) << 1) | (p[3] >> 7);
      audio["profile"] = aac_profile(object_type);
      audio["sample_rate"] = rate_index < std::size(kRates) ? kRates[rate_index] : 0;
      audio["channel"] = (p[3] >> 3) & 0x0f;
    }
  } else {
    audio["codec"] = format == 2 ? "MP3" : "format " + std::to_string(format);
    audio["sample_rate"] = static_cast<std::int64_t>(metadata_number(codec.metadata, "audiosamplerate"));
    audio["channel"] = (p[0] & 0x01) ? 2 : 1;
  }
  return audio;
}

}  // namespace rw::admin
