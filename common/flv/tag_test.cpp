#include "common/flv/tag.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace rw::flv {
namespace {

// FourCCs as hex, to keep the vectors readable.
#define HVC1 "68766331"
#define AV01 "61763031"
#define VP09 "76703039"
#define AVC1 "61766331"
#define VP08 "76703038"
#define OPUS "4f707573"

struct VideoCase {
  const char* name;
  const char* hex;
  bool parses;
  VideoCodec codec = VideoCodec::Unknown;
  FrameType frame_type = FrameType::Inter;
  bool enhanced = false;
  bool sequence_header = false;
  bool end_of_sequence = false;
  std::int32_t composition_time = 0;
  bool keyframe = false;
};

const VideoCase kVideoCases[] = {
    // Legacy AVC: frame type << 4 | codec 7, AVCPacketType, s24 composition time.
    {"avc_sequence_header", "17 00 000000 0164001effe1", true, VideoCodec::Avc, FrameType::Keyframe, false, true},
    {"avc_keyframe_cts_200", "17 01 0000c8 00000002 0910", true, VideoCodec::Avc, FrameType::Keyframe, false, false,
     false, 200, true},
    {"avc_inter_negative_cts", "27 01 ffff9c 00000002 0910", true, VideoCodec::Avc, FrameType::Inter, false, false,
     false, -100},
    {"avc_disposable", "37 01 000000 00", true, VideoCodec::Avc, FrameType::DisposableInter},
    {"avc_end_of_sequence", "17 02 000000", true, VideoCodec::Avc, FrameType::Keyframe, false, false, true},
    {"avc_cts_truncated", "17 01 0000", false},
    {"avc_packet_type_only", "17", false},
    {"avc_reserved_packet_type", "17 03 000000", false},
    // Legacy HEVC with codec id 12 (pre-enhanced Chinese CDN convention).
    {"hevc_legacy_sequence_header", "1c 00 000000 01", true, VideoCodec::Hevc, FrameType::Keyframe, false, true},
    {"hevc_legacy_keyframe", "1c 01 000064 00000001 26", true, VideoCodec::Hevc, FrameType::Keyframe, false, false,
     false, 100, true},
    {"hevc_legacy_inter", "2c 01 000000 00000001 02", true, VideoCodec::Hevc, FrameType::Inter},
    // Video info/command frames (nginx-rtmp's seek markers): never keyframes.
    {"legacy_command_start_seek", "57 00", true, VideoCodec::Avc, FrameType::InfoOrCommand},
    {"legacy_command_without_byte", "57", false},
    // Other legacy codecs carry no packet type.
    {"sorenson_keyframe", "12 0000840088", true, VideoCodec::SorensonH263, FrameType::Keyframe, false, false, false, 0,
     true},
    {"vp6_inter_one_byte", "24", true, VideoCodec::Vp6, FrameType::Inter},
    {"unknown_legacy_codec", "18 00", true, VideoCodec::Unknown, FrameType::Keyframe, false, false, false, 0, true},
    {"reserved_frame_type_0", "07 01 000000", false},
    {"reserved_frame_type_6", "67 01 000000", false},
    {"empty", "", false},
    // Enhanced RTMP: 0x80 | frame type << 4 | packet type, then a FourCC.
    {"hvc1_sequence_start", "90 " HVC1 " 0101", true, VideoCodec::Hevc, FrameType::Keyframe, true, true},
    {"hvc1_coded_frames_keyframe", "91 " HVC1 " 000032 00000001 26", true, VideoCodec::Hevc, FrameType::Keyframe, true,
     false, false, 50, true},
    {"hvc1_coded_frames_negative_cts", "a1 " HVC1 " fffffe 00", true, VideoCodec::Hevc, FrameType::Inter, true, false,
     false, -2},
    {"hvc1_coded_frames_x_inter", "a3 " HVC1 " 00000001 02", true, VideoCodec::Hevc, FrameType::Inter, true},
    {"hvc1_coded_frames_x_keyframe", "93 " HVC1 " 00000001 26", true, VideoCodec::Hevc, FrameType::Keyframe, true,
     false, false, 0, true},
    {"hvc1_cts_truncated", "91 " HVC1 " 0000", false},
    {"hvc1_sequence_end", "92 " HVC1, true, VideoCodec::Hevc, FrameType::Keyframe, true, false, true},
    {"av01_sequence_start", "90 " AV01 " 81000c00", true, VideoCodec::Av1, FrameType::Keyframe, true, true},
    {"av01_mpeg2ts_sequence_start", "95 " AV01 " 80", true, VideoCodec::Av1, FrameType::Keyframe, true, true},
    // AV1 CodedFrames has no composition time: the OBUs start right away.
    {"av01_coded_frames_keyframe", "91 " AV01 " 12000a0b", true, VideoCodec::Av1, FrameType::Keyframe, true, false,
     false, 0, true},
    {"av01_coded_frames_inter", "a1 " AV01 " 1200", true, VideoCodec::Av1, FrameType::Inter, true},
    {"vp09_coded_frames_keyframe", "91 " VP09 " 8249", true, VideoCodec::Vp9, FrameType::Keyframe, true, false, false,
     0, true},
    {"avc1_coded_frames_cts", "91 " AVC1 " 0000c8 00000001 65", true, VideoCodec::Avc, FrameType::Keyframe, true,
     false, false, 200, true},
    {"vp08_unknown_codec", "a1 " VP08 " 00", true, VideoCodec::Unknown, FrameType::Inter, true},
    {"fourcc_truncated", "90 687663", false},
    {"reserved_packet_type_8", "98 " HVC1, false},
    // Metadata (colorInfo): the frame type is to be ignored, never a keyframe.
    {"hvc1_metadata", "94 " HVC1 " 0200096c6f6c", true, VideoCodec::Hevc, FrameType::InfoOrCommand, true},
    // An enhanced command frame has a command byte and no FourCC.
    {"enhanced_command_end_seek", "d1 01", true, VideoCodec::Unknown, FrameType::InfoOrCommand, true},
    {"enhanced_command_truncated", "d1", false},
    // ModEx prefix (3 bytes of nanosecond offset), then CodedFrames.
    {"mod_ex_then_coded_frames", "97 02 000102 01 " HVC1 " 000010 00", true, VideoCodec::Hevc, FrameType::Keyframe,
     true, false, false, 16, true},
    {"mod_ex_truncated", "97 02 0001", false},
    // A 256-byte ModEx is announced with 0xff and a u16 size-1: only checks
    // that the escape is read (0x0000 + 1 = 1 byte of data).
    {"mod_ex_wide_size", "97 ff 0000 aa 00 " AV01 " 00", true, VideoCodec::Av1, FrameType::Keyframe, true, true},
    // Multitrack: OneTrack, CodedFrames, shared FourCC, track id, cts.
    {"multitrack_one_track", "96 01 " HVC1 " 00 000005 00", true, VideoCodec::Hevc, FrameType::Keyframe, true, false,
     false, 5, true},
    // ManyTracks: a u24 track size follows the track id.
    {"multitrack_many_tracks_sequence_start", "96 10 " AV01 " 00 000002 8100", true, VideoCodec::Av1,
     FrameType::Keyframe, true, true},
    // ManyTracksManyCodecs: the first track's FourCC.
    {"multitrack_many_codecs", "a6 23 " VP09 " 00 000001 aa", true, VideoCodec::Vp9, FrameType::Inter, true},
    {"multitrack_nested", "96 06 " HVC1 " 00", false},
    {"multitrack_truncated_size", "96 13 " HVC1 " 00 0000", false},
};

// Names the case in failure messages instead of dumping its bytes.
void PrintTo(const VideoCase& c, std::ostream* os) { *os << c.name; }

class VideoHeader : public ::testing::TestWithParam<VideoCase> {};

TEST_P(VideoHeader, Parses) {
  const VideoCase& c = GetParam();
  Bytes body = from_hex(c.hex);
  ASSERT_EQ(body.empty(), std::string(c.hex).empty()) << "bad hex in the test vector";
  auto info = parse_video(body);
  ASSERT_EQ(info.has_value(), c.parses);
  if (!info) return;
  EXPECT_EQ(info->codec, c.codec);
  EXPECT_EQ(info->frame_type, c.frame_type);
  EXPECT_EQ(info->enhanced, c.enhanced);
  EXPECT_EQ(info->sequence_header, c.sequence_header);
  EXPECT_EQ(info->end_of_sequence, c.end_of_sequence);
  EXPECT_EQ(info->composition_time, c.composition_time);
  EXPECT_EQ(info->is_keyframe(), c.keyframe);
}

INSTANTIATE_TEST_SUITE_P(Vectors, VideoHeader, ::testing::ValuesIn(kVideoCases),
                         [](const auto& test) { return std::string(test.param.name); });

struct AudioCase {
  const char* name;
  const char* hex;
  bool parses;
  AudioFormat format = AudioFormat::LinearPcmPlatform;
  std::uint8_t rate = 0;
  bool sixteen_bit = false;
  bool stereo = false;
  bool sequence_header = false;
};

const AudioCase kAudioCases[] = {
    {"aac_audio_specific_config", "af 00 1210", true, AudioFormat::Aac, 3, true, true, true},
    {"aac_raw", "af 01 21100503", true, AudioFormat::Aac, 3, true, true, false},
    {"aac_mono_raw", "ae 01 21", true, AudioFormat::Aac, 3, true, false, false},
    {"aac_without_packet_type", "af", false},
    {"aac_reserved_packet_type", "af 02 00", false},
    {"mp3_44k_stereo", "2f fffb9064", true, AudioFormat::Mp3, 3, true, true},
    {"mp3_22k_mono", "2a fff3", true, AudioFormat::Mp3, 2, true, false},
    {"mp3_8k", "e2 ff", true, AudioFormat::Mp3_8k, 0, true, false},
    {"nellymoser_8k_mono", "52 00", true, AudioFormat::Nellymoser8kMono, 0, true, false},
    {"speex", "b2 00", true, AudioFormat::Speex, 0, true, false},
    {"pcm_alaw", "72 d5", true, AudioFormat::G711ALaw, 0, true, false},
    {"pcm_8bit_5k", "00 80", true, AudioFormat::LinearPcmPlatform, 0, false, false},
    {"reserved_format_12", "c0 00", false},
    {"reserved_format_13", "d0 00", false},
    {"empty", "", false},
    // Enhanced RTMP v2 audio: SoundFormat 9, packet type, FourCC.
    {"ex_opus_sequence_start", "90 " OPUS " 4f707573", true, AudioFormat::ExHeader, 0, false, false, true},
    {"ex_opus_coded_frames", "91 " OPUS " fc", true, AudioFormat::ExHeader},
    {"ex_fourcc_truncated", "90 4f7075", false},
    {"ex_reserved_packet_type", "93 " OPUS, false},
    {"ex_mod_ex_then_sequence_start", "97 00 ab 00 " OPUS, true, AudioFormat::ExHeader, 0, false, false, true},
    {"ex_multitrack_one_track_coded", "95 01 " OPUS " 00 fc", true, AudioFormat::ExHeader},
    {"ex_multitrack_truncated", "95", false},
};

// Names the case in failure messages instead of dumping its bytes.
void PrintTo(const AudioCase& c, std::ostream* os) { *os << c.name; }

class AudioHeader : public ::testing::TestWithParam<AudioCase> {};

TEST_P(AudioHeader, Parses) {
  const AudioCase& c = GetParam();
  Bytes body = from_hex(c.hex);
  ASSERT_EQ(body.empty(), std::string(c.hex).empty()) << "bad hex in the test vector";
  auto info = parse_audio(body);
  ASSERT_EQ(info.has_value(), c.parses);
  if (!info) return;
  EXPECT_EQ(info->format, c.format);
  EXPECT_EQ(info->rate, c.rate);
  EXPECT_EQ(info->sixteen_bit, c.sixteen_bit);
  EXPECT_EQ(info->stereo, c.stereo);
  EXPECT_EQ(info->sequence_header, c.sequence_header);
}

INSTANTIATE_TEST_SUITE_P(Vectors, AudioHeader, ::testing::ValuesIn(kAudioCases),
                         [](const auto& test) { return std::string(test.param.name); });

TEST(EncodeFileHeader, WritesSignatureFlagsOffsetAndPreviousTagSize0) {
  EXPECT_EQ(to_hex(encode_file_header(true, true)), "464c560105" "00000009" "00000000");
  EXPECT_EQ(to_hex(encode_file_header(true, false)), "464c560104" "00000009" "00000000");
  EXPECT_EQ(to_hex(encode_file_header(false, true)), "464c560101" "00000009" "00000000");
  EXPECT_EQ(to_hex(encode_file_header(false, false)), "464c560100" "00000009" "00000000");
}

TEST(EncodeTag, PutsTimestampHighByteInExtension) {
  Bytes out;
  encode_tag(TagType::Video, 0x01020304, from_hex("aabbcc"), out);
  // type, size, timestamp low 24 bits, extension, stream id, body, 11 + 3.
  EXPECT_EQ(to_hex(out), "09" "000003" "020304" "01" "000000" "aabbcc" "0000000e");
}

TEST(EncodeTag, AudioAndScriptTypes) {
  Bytes out;
  encode_tag(TagType::Audio, 1000, from_hex("af01"), out);
  EXPECT_EQ(to_hex(out), "08" "000002" "0003e8" "00" "000000" "af01" "0000000d");
  out.clear();
  encode_tag(TagType::Script, 0, {}, out);
  EXPECT_EQ(to_hex(out), "12" "000000" "000000" "00" "000000" "0000000b");
}

TEST(EncodeTag, AppendsAfterExistingBytes) {
  Bytes out = from_hex("ffee");
  encode_tag(TagType::Audio, 0xffffffff, from_hex("2f"), out);
  EXPECT_EQ(to_hex(out), "ffee" "08" "000001" "ffffff" "ff" "000000" "2f" "0000000c");
}

TEST(EncodeTag, LargeBodySizeAndPreviousTagSize) {
  Bytes body(0x012345, 0x5a);
  Bytes out;
  encode_tag(TagType::Video, 0, body, out);
  ASSERT_EQ(out.size(), 11u + body.size() + 4u);
  EXPECT_EQ(to_hex(ByteView(out).first(4)), "09012345");
  EXPECT_EQ(to_hex(ByteView(out).last(4)), "00012350");
}

}  // namespace
}  // namespace rw::flv
