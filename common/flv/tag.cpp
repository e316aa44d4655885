#include "common/flv/tag.hpp"

#include <cassert>
#include <cstring>

namespace rw::flv {
namespace {

constexpr std::uint32_t fourcc(char a, char b, char c, char d) {
  return static_cast<std::uint32_t>(static_cast<std::uint8_t>(a)) << 24 |
         static_cast<std::uint32_t>(static_cast<std::uint8_t>(b)) << 16 |
         static_cast<std::uint32_t>(static_cast<std::uint8_t>(c)) << 8 | static_cast<std::uint8_t>(d);
}

// Enhanced RTMP (veovera enhanced-rtmp v1/v2) VideoPacketType.
enum class ExVideoPacket : std::uint8_t {
  SequenceStart = 0,
  CodedFrames = 1,
  SequenceEnd = 2,
  CodedFramesX = 3,  // CodedFrames with an implied composition time of 0
  Metadata = 4,      // AMF colorInfo, not a picture
  Mpeg2TsSequenceStart = 5,
  Multitrack = 6,
  ModEx = 7,
};

// Enhanced RTMP v2 AudioPacketType.
enum class ExAudioPacket : std::uint8_t {
  SequenceStart = 0,
  CodedFrames = 1,
  SequenceEnd = 2,
  MultichannelConfig = 4,
  Multitrack = 5,
  ModEx = 7,
};

// AvMultitrackType OneTrack (ManyTracks = 1, ManyTracksManyCodecs = 2):
// only a single track goes without a size field.
constexpr std::uint8_t kOneTrack = 0;

// Legacy AVCPacketType (also used by the pre-enhanced HEVC codec id 12).
constexpr std::uint8_t kAvcSequenceHeader = 0;
constexpr std::uint8_t kAvcNalu = 1;
constexpr std::uint8_t kAvcEndOfSequence = 2;

std::int32_t sign_extend_24(std::uint32_t v) {
  return static_cast<std::int32_t>(v << 8) >> 8;
}

// Skips Enhanced RTMP v2 ModEx prefixes (a nanosecond timestamp offset,
// for now) and returns the packet type that follows them; nullopt when the
// body ends inside one. Each prefix is: size-1 (u8; 255 escapes to a u16
// size-1), the data, then a byte holding the ModEx type in its high nibble
// and the next packet type in its low nibble.
std::optional<std::uint8_t> skip_mod_ex(ByteReader& r, std::uint8_t packet_type, std::uint8_t mod_ex) {
  while (packet_type == mod_ex) {
    std::uint8_t size_minus_one = 0;
    if (!r.read_u8(size_minus_one)) return std::nullopt;
    std::size_t size = size_minus_one + 1u;
    if (size == 256) {
      std::uint16_t wide = 0;
      if (!r.read_u16be(wide)) return std::nullopt;
      size = wide + 1u;
    }
    std::uint8_t next = 0;
    if (!r.skip(size) || !r.read_u8(next)) return std::nullopt;
    packet_type = next & 0x0f;
  }
  return packet_type;
}

VideoCodec codec_from_fourcc(std::uint32_t code) {
  switch (code) {
    case fourcc('a', 'v', 'c', '1'): return VideoCodec::Avc;
    case fourcc('h', 'v', 'c', '1'): return VideoCodec::Hevc;
    case fourcc('a', 'v', '0', '1'): return VideoCodec::Av1;
    case fourcc('v', 'p', '0', '9'): return VideoCodec::Vp9;
    default: return VideoCodec::Unknown;  // vp08 and future codecs
  }
}

VideoCodec codec_from_legacy_id(std::uint8_t id) {
  switch (id) {
    case 2: return VideoCodec::SorensonH263;
    case 3: return VideoCodec::ScreenVideo;
    case 4: return VideoCodec::Vp6;
    case 5: return VideoCodec::Vp6Alpha;
    case 6: return VideoCodec::ScreenVideo2;
    case 7: return VideoCodec::Avc;
    // Not in Adobe's spec: Chinese CDNs and SRS/ffmpeg forks used id 12 for
    // HEVC before Enhanced RTMP existed; OBS and ffmpeg 6+ now use 'hvc1'.
    case 12: return VideoCodec::Hevc;
    default: return VideoCodec::Unknown;
  }
}

std::optional<VideoInfo> parse_enhanced_video(ByteReader& r, VideoInfo info, std::uint8_t first) {
  info.enhanced = true;
  auto packet_type = skip_mod_ex(r, first & 0x0f, static_cast<std::uint8_t>(ExVideoPacket::ModEx));
  if (!packet_type) return std::nullopt;
  auto packet = static_cast<ExVideoPacket>(*packet_type);

  // A command frame (start/end of client-side seeking) carries one command
  // byte and no FourCC.
  if (info.frame_type == FrameType::InfoOrCommand && packet != ExVideoPacket::Metadata) {
    std::uint8_t command = 0;
    if (!r.read_u8(command)) return std::nullopt;
    return info;
  }

  std::uint32_t code = 0;
  bool multitrack = false;
  std::uint8_t multitrack_type = kOneTrack;
  if (packet == ExVideoPacket::Multitrack) {
    std::uint8_t b = 0;
    if (!r.read_u8(b)) return std::nullopt;
    multitrack = true;
    multitrack_type = b >> 4;
    packet = static_cast<ExVideoPacket>(b & 0x0f);
    if (packet == ExVideoPacket::Multitrack || packet == ExVideoPacket::ModEx) return std::nullopt;
  }
  // The FourCC comes next either way: shared by all tracks, or (with
  // ManyTracksManyCodecs) the first track's own. The first track is the
  // default one by the spec's recommendation, so it describes the message.
  if (!r.read_u32be(code)) return std::nullopt;
  if (multitrack) {
    std::uint8_t track_id = 0;
    std::uint32_t track_size = 0;
    if (!r.read_u8(track_id)) return std::nullopt;
    if (multitrack_type != kOneTrack && !r.read_u24be(track_size)) return std::nullopt;
  }
  info.codec = codec_from_fourcc(code);

  switch (packet) {
    case ExVideoPacket::SequenceStart:
    case ExVideoPacket::Mpeg2TsSequenceStart:
      info.sequence_header = true;
      break;
    case ExVideoPacket::CodedFrames:
      // Only the H.264/H.265 FourCCs carry a composition time here.
      if (info.codec == VideoCodec::Avc || info.codec == VideoCodec::Hevc) {
        std::uint32_t cts = 0;
        if (!r.read_u24be(cts)) return std::nullopt;
        info.composition_time = sign_extend_24(cts);
      }
      break;
    case ExVideoPacket::CodedFramesX:
      break;
    case ExVideoPacket::SequenceEnd:
      info.end_of_sequence = true;
      break;
    case ExVideoPacket::Metadata:
      // The spec says to ignore the frame type of a Metadata packet: it is
      // no picture, so never a keyframe a player could start from.
      info.frame_type = FrameType::InfoOrCommand;
      break;
    default:
      return std::nullopt;
  }
  return info;
}

std::optional<VideoInfo> parse_legacy_video(ByteReader& r, VideoInfo info, std::uint8_t first) {
  info.codec = codec_from_legacy_id(first & 0x0f);
  if (info.frame_type == FrameType::InfoOrCommand) {
    // nginx-rtmp and Red5 send 0x57 0x00/0x01 around client-side seeks.
    std::uint8_t command = 0;
    if (!r.read_u8(command)) return std::nullopt;
    return info;
  }
  if (info.codec != VideoCodec::Avc && info.codec != VideoCodec::Hevc) return info;

  std::uint8_t packet_type = 0;
  std::uint32_t cts = 0;
  if (!r.read_u8(packet_type) || !r.read_u24be(cts)) return std::nullopt;
  switch (packet_type) {
    case kAvcSequenceHeader:
      info.sequence_header = true;
      break;
    case kAvcNalu:
      info.composition_time = sign_extend_24(cts);
      break;
    case kAvcEndOfSequence:
      info.end_of_sequence = true;
      break;
    default:
      return std::nullopt;
  }
  return info;
}

}  // namespace

std::optional<VideoInfo> parse_video(ByteView body) {
  ByteReader r(body);
  std::uint8_t first = 0;
  if (!r.read_u8(first)) return std::nullopt;
  std::uint8_t frame_type = (first >> 4) & 0x07;
  if (frame_type < static_cast<std::uint8_t>(FrameType::Keyframe) ||
      frame_type > static_cast<std::uint8_t>(FrameType::InfoOrCommand)) {
    return std::nullopt;  // 0, 6 and 7 are reserved
  }
  VideoInfo info;
  info.frame_type = static_cast<FrameType>(frame_type);
  if (first & 0x80) return parse_enhanced_video(r, info, first);
  return parse_legacy_video(r, info, first);
}

std::optional<AudioInfo> parse_audio(ByteView body) {
  ByteReader r(body);
  std::uint8_t first = 0;
  if (!r.read_u8(first)) return std::nullopt;
  std::uint8_t format = first >> 4;
  if (format == 12 || format == 13) return std::nullopt;  // reserved
  AudioInfo info;
  info.format = static_cast<AudioFormat>(format);

  if (info.format == AudioFormat::ExHeader) {
    auto packet_type = skip_mod_ex(r, first & 0x0f, static_cast<std::uint8_t>(ExAudioPacket::ModEx));
    if (!packet_type) return std::nullopt;
    auto packet = static_cast<ExAudioPacket>(*packet_type);
    if (packet == ExAudioPacket::Multitrack) {
      std::uint8_t b = 0;
      if (!r.read_u8(b)) return std::nullopt;
      packet = static_cast<ExAudioPacket>(b & 0x0f);
      if (packet == ExAudioPacket::Multitrack || packet == ExAudioPacket::ModEx) return std::nullopt;
    }
    switch (packet) {
      case ExAudioPacket::SequenceStart:
        info.sequence_header = true;
        break;
      case ExAudioPacket::CodedFrames:
      case ExAudioPacket::SequenceEnd:
      case ExAudioPacket::MultichannelConfig:
        break;
      default:
        return std::nullopt;
    }
    std::uint32_t code = 0;  // 'Opus', 'fLaC', 'ac-3', 'ec-3', '.mp3', 'mp4a'
    if (!r.read_u32be(code)) return std::nullopt;
    return info;
  }

  info.rate = (first >> 2) & 0x03;
  info.sixteen_bit = (first & 0x02) != 0;
  info.stereo = (first & 0x01) != 0;
  if (info.format == AudioFormat::Aac) {
    std::uint8_t packet_type = 0;
    if (!r.read_u8(packet_type)) return std::nullopt;
    if (packet_type > 1) return std::nullopt;  // 0 AudioSpecificConfig, 1 raw
    info.sequence_header = packet_type == 0;
  }
  return info;
}

Bytes encode_file_header(bool has_audio, bool has_video) {
  Bytes out;
  out.reserve(13);
  ByteWriter w(out);
  w.bytes(std::string_view("FLV"));
  w.u8(1);
  w.u8(static_cast<std::uint8_t>((has_audio ? 0x04 : 0) | (has_video ? 0x01 : 0)));
  w.u32be(9);  // DataOffset: the header's own size
  w.u32be(0);  // PreviousTagSize0
  return out;
}

void encode_tag(TagType type, std::uint32_t timestamp, ByteView body, Bytes& out) {
  assert(body.size() <= kMaxTagBodySize);
  const auto size = static_cast<std::uint32_t>(body.size());
  const std::size_t start = out.size();
  out.resize(start + kTagHeaderSize + body.size() + kPreviousTagSizeSize);
  std::uint8_t* p = out.data() + start;
  p[0] = static_cast<std::uint8_t>(type);
  put_u24be(p + 1, size);
  put_u24be(p + 4, timestamp & 0xffffff);
  p[7] = static_cast<std::uint8_t>(timestamp >> 24);  // TimestampExtended
  put_u24be(p + 8, 0);                                 // StreamID
  if (!body.empty()) std::memcpy(p + kTagHeaderSize, body.data(), body.size());
  put_u32be(p + kTagHeaderSize + body.size(), static_cast<std::uint32_t>(kTagHeaderSize) + size);
}

}  // namespace rw::flv
