// FLV tags and the media headers inside them (docs/protocol.md, "FLV").
// RTMP audio/video/data message bodies are FLV tag bodies, so the same
// parsing serves live streams, recordings and FLV files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "common/base/bytes.hpp"

namespace rw::flv {

enum class TagType : std::uint8_t { Audio = 8, Video = 9, Script = 18 };

inline constexpr std::size_t kFileHeaderSize = 9;
inline constexpr std::size_t kTagHeaderSize = 11;
inline constexpr std::size_t kPreviousTagSizeSize = 4;
inline constexpr std::size_t kMaxTagBodySize = 0xffffff;  // the u24 DataSize field

enum class VideoCodec : std::uint8_t {
  Unknown = 0,
  SorensonH263 = 2,
  ScreenVideo = 3,
  Vp6 = 4,
  Vp6Alpha = 5,
  ScreenVideo2 = 6,
  Avc = 7,
  Hevc = 12,  // also signalled by Enhanced RTMP FourCC 'hvc1'
  Av1 = 13,   // Enhanced RTMP FourCC 'av01'
  Vp9 = 14,   // Enhanced RTMP FourCC 'vp09'
};

enum class FrameType : std::uint8_t {
  Keyframe = 1,
  Inter = 2,
  DisposableInter = 3,
  GeneratedKeyframe = 4,
  InfoOrCommand = 5,
};

struct VideoInfo {
  VideoCodec codec = VideoCodec::Unknown;
  // InfoOrCommand also for Enhanced RTMP Metadata packets, whose frame type
  // the spec says to ignore.
  FrameType frame_type = FrameType::Inter;
  bool enhanced = false;          // Enhanced RTMP (high bit of the first byte)
  bool sequence_header = false;   // AVC/HEVC decoder configuration, or enhanced SequenceStart
  bool end_of_sequence = false;
  std::int32_t composition_time = 0;  // ms (AVC/HEVC), 0 otherwise

  // A frame a decoder can start from (a keyframe that is not a sequence header).
  bool is_keyframe() const { return frame_type == FrameType::Keyframe && !sequence_header && !end_of_sequence; }
};

enum class AudioFormat : std::uint8_t {
  LinearPcmPlatform = 0,
  Adpcm = 1,
  Mp3 = 2,
  LinearPcmLe = 3,
  Nellymoser16kMono = 4,
  Nellymoser8kMono = 5,
  Nellymoser = 6,
  G711ALaw = 7,
  G711MuLaw = 8,
  ExHeader = 9,  // Enhanced RTMP v2: an audio packet type and a FourCC follow
  Aac = 10,
  Speex = 11,
  Mp3_8k = 14,
  DeviceSpecific = 15,
};

// For ExHeader the low bits of the first byte are a packet type, so rate,
// sixteen_bit and stereo stay zero (the codec's own header carries them).
struct AudioInfo {
  AudioFormat format = AudioFormat::LinearPcmPlatform;
  std::uint8_t rate = 0;       // 0: 5.5 kHz, 1: 11 kHz, 2: 22 kHz, 3: 44 kHz
  bool sixteen_bit = false;
  bool stereo = false;
  // AAC AudioSpecificConfig, or an Enhanced RTMP audio SequenceStart.
  bool sequence_header = false;
};

// nullopt when the body is empty, too short for its codec's header, or uses
// a reserved frame type, sound format or packet type.
std::optional<VideoInfo> parse_video(ByteView body);
std::optional<AudioInfo> parse_audio(ByteView body);

struct Tag {
  TagType type = TagType::Script;
  std::uint32_t timestamp = 0;  // ms, 32 bits (24 + extension byte)
  Bytes body;
};

// FLV file header (9 bytes) plus PreviousTagSize0.
Bytes encode_file_header(bool has_audio, bool has_video);
// Appends an 11-byte tag header, the body and the PreviousTagSize.
// body.size() must not exceed kMaxTagBodySize.
void encode_tag(TagType type, std::uint32_t timestamp, ByteView body, Bytes& out);

}  // namespace rw::flv
