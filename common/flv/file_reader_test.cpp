#include "common/flv/file_reader.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <ostream>
#include <string>

namespace rw::flv {
namespace {

struct ReadResult {
  std::vector<Tag> tags;
  std::optional<ReadError> error;
  std::size_t consumed = 0;
};

// Feeds `data` in pieces cut at the given offsets (ascending).
ReadResult read_pieces(ByteView data, const std::vector<std::size_t>& cuts,
                       std::size_t max_tag_size = 16u << 20) {
  FileReader reader(max_tag_size);
  ReadResult r;
  std::size_t start = 0;
  auto feed_until = [&](std::size_t end) {
    auto result = reader.feed(data.subspan(start, end - start), r.tags);
    r.consumed += result.consumed;
    if (result.error) {
      EXPECT_TRUE(!r.error || *r.error == *result.error) << "the error changed";
      r.error = result.error;
    } else {
      EXPECT_FALSE(r.error) << "an error went away";
      EXPECT_EQ(result.consumed, end - start) << "without an error every byte is consumed";
    }
    start = end;
  };
  for (std::size_t cut : cuts) feed_until(cut);
  feed_until(data.size());
  return r;
}

ReadResult read_whole(ByteView data, std::size_t max_tag_size = 16u << 20) {
  return read_pieces(data, {}, max_tag_size);
}

// One line per tag, so that a mismatch shows which tag differs.
std::string describe(const std::vector<Tag>& tags) {
  std::string s;
  for (const auto& t : tags) {
    s += std::to_string(static_cast<int>(t.type)) + " @" + std::to_string(t.timestamp) + " " + to_hex(t.body) + "\n";
  }
  return s;
}

bool same_tags(const std::vector<Tag>& a, const std::vector<Tag>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].type != b[i].type || a[i].timestamp != b[i].timestamp || a[i].body != b[i].body) return false;
  }
  return true;
}

// Checks that every split of `data` into two pieces, and byte-by-byte
// feeding, gives the same tags, error and consumed count as one feed.
void expect_split_invariant(ByteView data, std::size_t max_tag_size = 16u << 20) {
  const ReadResult whole = read_whole(data, max_tag_size);
  for (std::size_t cut = 0; cut <= data.size(); ++cut) {
    ReadResult split = read_pieces(data, {cut}, max_tag_size);
    ASSERT_TRUE(same_tags(split.tags, whole.tags))
        << "split at " << cut << ":\n" << describe(split.tags) << "instead of\n" << describe(whole.tags);
    ASSERT_EQ(split.error, whole.error) << "split at " << cut;
    ASSERT_EQ(split.consumed, whole.consumed) << "split at " << cut;
  }
  std::vector<std::size_t> every_byte;
  for (std::size_t i = 1; i < data.size(); ++i) every_byte.push_back(i);
  ReadResult bytewise = read_pieces(data, every_byte, max_tag_size);
  EXPECT_TRUE(same_tags(bytewise.tags, whole.tags))
      << describe(bytewise.tags) << "instead of\n" << describe(whole.tags);
  EXPECT_EQ(bytewise.error, whole.error);
  EXPECT_EQ(bytewise.consumed, whole.consumed);
}

Bytes with_tags(Bytes file, std::initializer_list<Tag> tags) {
  for (const auto& t : tags) encode_tag(t.type, t.timestamp, t.body, file);
  return file;
}

const Bytes kAvcSequenceHeader = from_hex("17 00 000000 0164001effe1000a6764001eacd940a0");
const Bytes kAacSequenceHeader = from_hex("af 00 1210");

Bytes small_file() {
  return with_tags(encode_file_header(true, true),
                   {{TagType::Script, 0, from_hex("02000a6f6e4d65746144617461 0800000000 000009")},
                    {TagType::Video, 0, kAvcSequenceHeader},
                    {TagType::Audio, 0, kAacSequenceHeader},
                    {TagType::Video, 0, from_hex("17 01 000000 00000002 0910")},
                    {TagType::Audio, 23, from_hex("af 01 2110")},
                    {TagType::Video, 40, from_hex("27 01 000028 00000002 0930")},
                    {TagType::Video, 0x01000010, from_hex("27 01 000000 00")}});
}

TEST(FileReader, ReadsHandWrittenBytes) {
  // Header (audio+video), PreviousTagSize0, one audio tag with an extended
  // timestamp (0x01 << 24 | 0x000203), its PreviousTagSize, then a script
  // tag whose PreviousTagSize is missing (end of a truncated file).
  const Bytes data = from_hex(
      "464c5601 05 00000009 00000000"
      "08 000002 000203 01 000000 af01 0000000d"
      "12 000001 000000 00 000000 05");
  ReadResult r = read_whole(data);
  ASSERT_FALSE(r.error);
  ASSERT_EQ(r.tags.size(), 2u);
  EXPECT_EQ(r.tags[0].type, TagType::Audio);
  EXPECT_EQ(r.tags[0].timestamp, 0x01000203u);
  EXPECT_EQ(to_hex(r.tags[0].body), "af01");
  EXPECT_EQ(r.tags[1].type, TagType::Script);
  EXPECT_EQ(to_hex(r.tags[1].body), "05");
  EXPECT_EQ(r.consumed, data.size());
  expect_split_invariant(data);
}

TEST(FileReader, RoundTripsEncodedTags) {
  const Bytes data = small_file();
  FileReader reader;
  std::vector<Tag> tags;
  auto result = reader.feed(data, tags);
  ASSERT_FALSE(result.error);
  EXPECT_EQ(result.consumed, data.size());
  EXPECT_TRUE(reader.header_seen());
  EXPECT_TRUE(reader.has_audio());
  EXPECT_TRUE(reader.has_video());
  ASSERT_EQ(tags.size(), 7u);
  EXPECT_EQ(tags[1].type, TagType::Video);
  EXPECT_EQ(tags[1].body, kAvcSequenceHeader);
  EXPECT_EQ(tags[2].body, kAacSequenceHeader);
  EXPECT_EQ(tags[4].timestamp, 23u);
  EXPECT_EQ(tags[6].timestamp, 0x01000010u);
  // Encoding what was read gives the same bytes back.
  Bytes again = encode_file_header(true, true);
  for (const auto& t : tags) encode_tag(t.type, t.timestamp, t.body, again);
  EXPECT_EQ(again, data);
}

TEST(FileReader, EverySplitGivesTheSameTags) { expect_split_invariant(small_file()); }

TEST(FileReader, HeaderFlags) {
  for (auto [audio, video] : {std::pair{false, false}, {true, false}, {false, true}, {true, true}}) {
    FileReader reader;
    std::vector<Tag> tags;
    EXPECT_FALSE(reader.header_seen());
    auto result = reader.feed(encode_file_header(audio, video), tags);
    ASSERT_FALSE(result.error);
    EXPECT_TRUE(reader.header_seen());
    EXPECT_EQ(reader.has_audio(), audio);
    EXPECT_EQ(reader.has_video(), video);
    EXPECT_TRUE(tags.empty());
  }
}

TEST(FileReader, HeaderSeenOnlyOnceNineBytesArrived) {
  FileReader reader;
  std::vector<Tag> tags;
  const Bytes header = encode_file_header(true, true);
  ASSERT_FALSE(reader.feed(ByteView(header).first(8), tags).error);
  EXPECT_FALSE(reader.header_seen());
  ASSERT_FALSE(reader.feed(ByteView(header).subspan(8, 1), tags).error);
  EXPECT_TRUE(reader.header_seen());
}

TEST(FileReader, SkipsExtraHeaderBytes) {
  // DataOffset 13: four bytes of header extension before PreviousTagSize0.
  const Bytes data = from_hex(
      "464c5601 01 0000000d deadbeef 00000000"
      "09 000005 000064 00 000000 1701000000 00000010");
  ReadResult r = read_whole(data);
  ASSERT_FALSE(r.error);
  ASSERT_EQ(r.tags.size(), 1u);
  EXPECT_EQ(r.tags[0].type, TagType::Video);
  EXPECT_EQ(r.tags[0].timestamp, 100u);
  EXPECT_EQ(to_hex(r.tags[0].body), "1701000000");
  expect_split_invariant(data);
}

TEST(FileReader, IgnoresWrongPreviousTagSizesAndStreamIds) {
  const Bytes data = from_hex(
      "464c5601 05 00000009 12345678"
      "08 000001 000000 00 000001 2f ffffffff"
      "08 000001 000017 00 abcdef 2f 00000000");
  ReadResult r = read_whole(data);
  ASSERT_FALSE(r.error);
  ASSERT_EQ(r.tags.size(), 2u);
  EXPECT_EQ(r.tags[1].timestamp, 23u);
  expect_split_invariant(data);
}

TEST(FileReader, EmptyTagBody) {
  const Bytes data = from_hex(
      "464c5601 04 00000009 00000000"
      "08 000000 000001 00 000000 0000000b"
      "08 000001 000002 00 000000 af 0000000c");
  ReadResult r = read_whole(data);
  ASSERT_FALSE(r.error);
  ASSERT_EQ(r.tags.size(), 2u);
  EXPECT_TRUE(r.tags[0].body.empty());
  EXPECT_EQ(r.tags[0].timestamp, 1u);
  EXPECT_EQ(to_hex(r.tags[1].body), "af");
  expect_split_invariant(data);
}

TEST(FileReader, PartialTagWaitsForMoreBytes) {
  const Bytes data = small_file();
  FileReader reader;
  std::vector<Tag> tags;
  // Stop one byte short of the last tag's body (the last 4 bytes are its
  // PreviousTagSize).
  const std::size_t short_end = data.size() - 4 - 1;
  auto result = reader.feed(ByteView(data).first(short_end), tags);
  ASSERT_FALSE(result.error);
  EXPECT_EQ(result.consumed, short_end);
  EXPECT_EQ(tags.size(), 6u);
  result = reader.feed(ByteView(data).subspan(short_end, 1), tags);
  ASSERT_FALSE(result.error);
  EXPECT_EQ(tags.size(), 7u) << "a tag is emitted before its PreviousTagSize arrives";
}

struct ErrorCase {
  const char* name;
  const char* hex;
  ReadError error;
  std::size_t consumed;   // bytes up to the end of the offending header
  std::size_t tags_before;
};

const ErrorCase kErrorCases[] = {
    {"not_flv_signature", "464c5701 05 00000009 00000000", ReadError::NotFlv, 9, 0},
    {"http_response", "48545450 2f312e31 20", ReadError::NotFlv, 9, 0},
    {"data_offset_too_small", "464c5601 05 00000008 00000000", ReadError::BadHeader, 9, 0},
    {"data_offset_zero", "464c5601 05 00000000 00000000", ReadError::BadHeader, 9, 0},
    {"tag_type_7", "464c5601 05 00000009 00000000 07 000001 000000 00 000000 00", ReadError::BadTagType, 24, 0},
    // The Filter bit (0x20) marks an encrypted tag (Adobe Access).
    {"encrypted_audio", "464c5601 05 00000009 00000000 28 000001 000000 00 000000 00", ReadError::BadTagType, 24, 0},
    {"encrypted_video", "464c5601 05 00000009 00000000 29 000001 000000 00 000000 00", ReadError::BadTagType, 24, 0},
    {"reserved_bits", "464c5601 05 00000009 00000000 c9 000001 000000 00 000000 00", ReadError::BadTagType, 24, 0},
    {"bad_type_after_good_tag",
     "464c5601 05 00000009 00000000 08 000001 000000 00 000000 2f 0000000c 0f 000000 000000 00 000000",
     ReadError::BadTagType, 40, 1},
    {"tag_over_limit", "464c5601 05 00000009 00000000 09 000401 000000 00 000000 17", ReadError::TagTooLarge, 24, 0},
};

// Names the case in failure messages instead of dumping its bytes.
void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class FileReaderError : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(FileReaderError, Fails) {
  const ErrorCase& c = GetParam();
  const Bytes data = from_hex(c.hex);
  ASSERT_FALSE(data.empty());
  ReadResult r = read_whole(data, 1024);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(*r.error, c.error) << to_string(*r.error);
  EXPECT_EQ(r.consumed, c.consumed);
  EXPECT_EQ(r.tags.size(), c.tags_before);
  expect_split_invariant(data, 1024);
}

INSTANTIATE_TEST_SUITE_P(Vectors, FileReaderError, ::testing::ValuesIn(kErrorCases),
                         [](const auto& test) { return std::string(test.param.name); });

TEST(FileReader, ErrorIsSticky) {
  FileReader reader;
  std::vector<Tag> tags;
  auto first = reader.feed(from_hex("464c5601 05 00000008 00000000"), tags);
  ASSERT_EQ(first.error, ReadError::BadHeader);
  // Even a valid file fed afterwards is refused.
  auto again = reader.feed(small_file(), tags);
  EXPECT_EQ(again.error, ReadError::BadHeader);
  EXPECT_EQ(again.consumed, 0u);
  EXPECT_TRUE(tags.empty());
}

TEST(FileReader, TagAtTheLimitIsAccepted) {
  Bytes data = encode_file_header(false, true);
  encode_tag(TagType::Video, 0, Bytes(100, 0x27), data);
  ReadResult at_limit = read_whole(data, 100);
  EXPECT_FALSE(at_limit.error);
  EXPECT_EQ(at_limit.tags.size(), 1u);
  ReadResult over = read_whole(data, 99);
  EXPECT_EQ(over.error, ReadError::TagTooLarge);
  EXPECT_TRUE(over.tags.empty());
}

TEST(FileReader, ErrorNames) {
  EXPECT_STREQ(to_string(ReadError::NotFlv), "NotFlv");
  EXPECT_STREQ(to_string(ReadError::BadHeader), "BadHeader");
  EXPECT_STREQ(to_string(ReadError::TagTooLarge), "TagTooLarge");
  EXPECT_STREQ(to_string(ReadError::BadTagType), "BadTagType");
}

Bytes read_testdata(const char* name) {
  std::ifstream in(std::string(REWIND_FLV_TESTDATA_DIR) + "/" + name, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// testdata/avc_aac_2s.flv: 2 s of 160x120 H.264 at 10 fps with a keyframe
// every 10 frames, and AAC, muxed by ffmpeg.
TEST(FileReader, ReadsFfmpegFile) {
  const Bytes data = read_testdata("avc_aac_2s.flv");
  ASSERT_FALSE(data.empty()) << "testdata/avc_aac_2s.flv is missing";
  ReadResult r = read_whole(data);
  ASSERT_FALSE(r.error);
  EXPECT_EQ(r.consumed, data.size());

  std::size_t script = 0, video = 0, audio = 0;
  std::vector<std::uint32_t> keyframe_times;
  const Tag* first_video = nullptr;
  const Tag* first_audio = nullptr;
  const Tag* last_video = nullptr;
  for (const auto& t : r.tags) {
    switch (t.type) {
      case TagType::Script: ++script; break;
      case TagType::Audio:
        ++audio;
        if (!first_audio) first_audio = &t;
        break;
      case TagType::Video: {
        ++video;
        if (!first_video) first_video = &t;
        last_video = &t;
        auto info = parse_video(t.body);
        ASSERT_TRUE(info);
        EXPECT_EQ(info->codec, VideoCodec::Avc);
        if (info->is_keyframe()) keyframe_times.push_back(t.timestamp);
        break;
      }
    }
  }
  EXPECT_EQ(script, 1u);
  EXPECT_EQ(r.tags.front().type, TagType::Script);
  // 20 frames between the AVC sequence header and ffmpeg's end of sequence.
  EXPECT_EQ(video, 22u);
  EXPECT_EQ(audio, 89u);
  EXPECT_EQ(keyframe_times, (std::vector<std::uint32_t>{0, 1000}));

  ASSERT_TRUE(first_video && first_audio && last_video);
  auto first_video_info = parse_video(first_video->body);
  ASSERT_TRUE(first_video_info);
  EXPECT_TRUE(first_video_info->sequence_header);
  EXPECT_EQ(first_video_info->frame_type, FrameType::Keyframe);
  auto first_audio_info = parse_audio(first_audio->body);
  ASSERT_TRUE(first_audio_info);
  EXPECT_EQ(first_audio_info->format, AudioFormat::Aac);
  EXPECT_TRUE(first_audio_info->sequence_header);
  auto last_video_info = parse_video(last_video->body);
  ASSERT_TRUE(last_video_info);
  EXPECT_TRUE(last_video_info->end_of_sequence);
  EXPECT_EQ(last_video->timestamp, 1900u);
}

TEST(FileReader, FfmpegFileEverySplit) {
  const Bytes data = read_testdata("avc_aac_2s.flv");
  ASSERT_FALSE(data.empty());
  expect_split_invariant(data);
}

}  // namespace
}  // namespace rw::flv
