#include "common/flv/file_writer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <sys/wait.h>

#include "common/amf/codec.hpp"
#include "common/flv/file_reader.hpp"

namespace rw::flv {
namespace {

struct InputTag {
  TagType type;
  std::uint32_t timestamp;
  Bytes body;
};

// Both passes over the same tags, as an exporter would run them.
Bytes write_file(FileWriter& writer, const std::vector<InputTag>& tags) {
  for (const auto& t : tags) {
    auto planned = writer.plan(t.type, t.timestamp, t.body);
    EXPECT_TRUE(planned) << to_string(planned.error());
  }
  auto head = writer.begin();
  EXPECT_TRUE(head);
  if (!head) return {};
  Bytes file = std::move(*head);
  for (const auto& t : tags) {
    auto written = writer.write(t.type, t.timestamp, t.body, file);
    EXPECT_TRUE(written) << to_string(written.error());
  }
  EXPECT_TRUE(writer.finish());
  return file;
}

std::vector<Tag> read_all(ByteView file) {
  FileReader reader;
  std::vector<Tag> tags;
  auto result = reader.feed(file, tags);
  EXPECT_FALSE(result.error) << to_string(*result.error);
  EXPECT_EQ(result.consumed, file.size());
  return tags;
}

// The offset of every tag header, found by walking the file's own size
// fields (independently of the writer's arithmetic).
std::vector<std::size_t> tag_offsets(ByteView file) {
  std::vector<std::size_t> offsets;
  std::size_t pos = get_u32be(file.data() + 5) + kPreviousTagSizeSize;
  while (pos + kTagHeaderSize <= file.size()) {
    offsets.push_back(pos);
    pos += kTagHeaderSize + get_u24be(file.data() + pos + 1) + kPreviousTagSizeSize;
  }
  EXPECT_EQ(pos, file.size());
  return offsets;
}

std::vector<double> numbers(const amf::Value* array) {
  std::vector<double> out;
  if (!array || !array->as_array()) {
    ADD_FAILURE() << "not an array";
    return out;
  }
  for (const auto& v : array->as_array()->dense) out.push_back(v.as_number(-1));
  return out;
}

// Checks onMetaData against the file itself: filesize is the file's size and
// each keyframes.filepositions entry is the offset of a video keyframe tag
// whose timestamp is the matching keyframes.times entry, for every keyframe.
amf::Object check_seek_index(ByteView file) {
  const std::vector<Tag> tags = read_all(file);
  const std::vector<std::size_t> offsets = tag_offsets(file);
  EXPECT_EQ(tags.size(), offsets.size());
  if (tags.empty() || tags.size() != offsets.size()) return {};
  EXPECT_EQ(tags[0].type, TagType::Script);
  EXPECT_EQ(tags[0].timestamp, 0u);
  auto metadata = metadata_from_script_tag(tags[0].body);
  EXPECT_TRUE(metadata);
  if (!metadata) return {};

  std::vector<double> expected_times, expected_positions;
  std::uint32_t last_timestamp = 0;
  for (std::size_t i = 0; i < tags.size(); ++i) {
    if (tags[i].type != TagType::Script) last_timestamp = std::max(last_timestamp, tags[i].timestamp);
    if (tags[i].type != TagType::Video) continue;
    auto info = parse_video(tags[i].body);
    if (info && info->is_keyframe()) {
      expected_times.push_back(tags[i].timestamp / 1000.0);
      expected_positions.push_back(static_cast<double>(offsets[i]));
    }
  }
  const amf::Value* duration = metadata->find("duration");
  const amf::Value* filesize = metadata->find("filesize");
  const amf::Value* keyframes = metadata->find("keyframes");
  EXPECT_TRUE(duration && filesize && keyframes);
  if (!duration || !filesize || !keyframes) return *metadata;
  EXPECT_DOUBLE_EQ(duration->as_number(-1), last_timestamp / 1000.0);
  EXPECT_EQ(filesize->as_number(-1), static_cast<double>(file.size()));
  EXPECT_TRUE(keyframes->is_object());
  EXPECT_EQ(numbers(keyframes->find("times")), expected_times);
  EXPECT_EQ(numbers(keyframes->find("filepositions")), expected_positions);
  return *metadata;
}

// A property's number, or NaN when it is missing (no null dereference when
// a broken writer leaves it out).
double number_at(const amf::Object& o, std::string_view key) {
  const amf::Value* v = o.find(key);
  return v ? v->as_number(std::nan("")) : std::nan("");
}

std::vector<std::string> keys(const amf::Object& o) {
  std::vector<std::string> out;
  for (const auto& p : o.properties) out.push_back(p.key);
  return out;
}

// A recorded range starting at t0 = 5000: the codec headers (the video one
// recorded long before t0), keyframes at 5000, 6000 and 7000.
std::vector<InputTag> sample_range() {
  return {
      {TagType::Video, 4000, from_hex("17 00 000000 0164001effe1000a6764001eacd940a0")},
      {TagType::Audio, 5000, from_hex("af 00 1210")},
      {TagType::Video, 5000, from_hex("17 01 000000 00000003 658884")},
      {TagType::Audio, 5023, from_hex("af 01 211005")},
      {TagType::Video, 5040, from_hex("27 01 000028 00000002 419a")},
      {TagType::Script, 5050, from_hex("02 000a 6f6e437565506f696e74 05")},  // onCuePoint null
      {TagType::Video, 6000, from_hex("17 01 000000 00000004 65888400")},
      {TagType::Audio, 6010, from_hex("af 01 21")},
      {TagType::Video, 6040, from_hex("27 01 000000 00000001 41")},
      {TagType::Video, 7000, from_hex("17 01 000000 00000002 6588")},
      {TagType::Audio, 7001, from_hex("af 01 2110")},
      // A cue point after the last frame does not lengthen the clip.
      {TagType::Script, 7100, from_hex("02 000a 6f6e437565506f696e74 05")},
  };
}

TEST(FileWriter, ExactBytesForOneKeyframe) {
  FileWriter writer({});
  const Bytes body = from_hex("17 01 000000");
  ASSERT_TRUE(writer.plan(TagType::Video, 0, body));
  auto head = writer.begin();
  ASSERT_TRUE(head);
  // onMetaData: {duration: 0, filesize: 172, keyframes: {times: [0],
  // filepositions: [152]}}; 152 = 13 (header) + 11 + 124 + 4.
  EXPECT_EQ(to_hex(*head), to_hex(from_hex(
            "464c5601010000000900000000"
            "1200007c00000000000000"
            "02000a6f6e4d65746144617461"
            "0800000003"
            "00086475726174696f6e 000000000000000000"
            "000866696c6573697a65 004065800000000000"
            "00096b65796672616d6573 03"
            "000574696d6573 0a00000001 000000000000000000"
            "000d66696c65706f736974696f6e73 0a00000001 004063000000000000"
            "000009"
            "000009"
            "00000087")));
  Bytes file = *head;
  ASSERT_TRUE(writer.write(TagType::Video, 0, body, file));
  EXPECT_EQ(file.size(), 172u);
  EXPECT_EQ(writer.file_size(), 172u);
  EXPECT_EQ(to_hex(ByteView(file).subspan(152)), "09000005000000000000001701000000" "00000010");
}

TEST(FileWriter, IndexPointsAtKeyframeTags) {
  FileWriterOptions options;
  options.base_timestamp = 5000;
  FileWriter writer(options);
  const Bytes file = write_file(writer, sample_range());
  EXPECT_EQ(file.size(), writer.file_size());
  check_seek_index(file);

  const std::vector<Tag> tags = read_all(file);
  ASSERT_EQ(tags.size(), sample_range().size() + 1);
  auto metadata = metadata_from_script_tag(tags[0].body);
  ASSERT_TRUE(metadata);
  const amf::Value* keyframes = metadata->find("keyframes");
  ASSERT_TRUE(keyframes);
  EXPECT_EQ(numbers(keyframes->find("times")), (std::vector<double>{0, 1, 2}));
  EXPECT_DOUBLE_EQ(number_at(*metadata, "duration"), 2.001);
  // Each file position starts a video tag holding an AVC keyframe NALU.
  for (double position : numbers(keyframes->find("filepositions"))) {
    const auto p = static_cast<std::size_t>(position);
    ASSERT_LT(p + 13, file.size());
    EXPECT_EQ(file[p], 0x09);
    EXPECT_EQ(file[p + 11], 0x17);
    EXPECT_EQ(file[p + 12], 0x01);
  }
}

TEST(FileWriter, RebasesTimestampsToZero) {
  FileWriterOptions options;
  options.base_timestamp = 5000;
  FileWriter writer(options);
  const auto input = sample_range();
  const std::vector<Tag> tags = read_all(write_file(writer, input));
  ASSERT_EQ(tags.size(), input.size() + 1);
  for (std::size_t i = 0; i < input.size(); ++i) {
    const Tag& out = tags[i + 1];
    EXPECT_EQ(out.type, input[i].type);
    EXPECT_EQ(out.body, input[i].body);
    // The video sequence header recorded at 4000 lands at 0, not at -1000.
    const std::uint32_t expected = input[i].timestamp < 5000 ? 0 : input[i].timestamp - 5000;
    EXPECT_EQ(out.timestamp, expected) << "tag " << i;
  }
  EXPECT_EQ(writer.rebase(4999), 0u);
  EXPECT_EQ(writer.rebase(5000), 0u);
  EXPECT_EQ(writer.rebase(0x01000000), 0x01000000u - 5000);
}

TEST(FileWriter, KeepsCallerMetadataAndOverridesComputedFields) {
  FileWriterOptions options;
  options.base_timestamp = 5000;
  options.metadata.set("width", 320);
  options.metadata.set("duration", 999);
  options.metadata.set("height", 240);
  options.metadata.set("videocodecid", 7);
  options.metadata.set("filesize", 1);
  options.metadata.set("keyframes", amf::Object{{"times", amf::Array{}}});
  options.metadata.set("encoder", "Rewind");
  FileWriter writer(options);
  const Bytes file = write_file(writer, sample_range());
  amf::Object metadata = check_seek_index(file);
  // The caller's order is kept; replaced fields stay where they were.
  EXPECT_EQ(keys(metadata),
            (std::vector<std::string>{"width", "duration", "height", "videocodecid", "filesize", "keyframes", "encoder"}));
  EXPECT_EQ(number_at(metadata, "width"), 320);
  EXPECT_EQ(number_at(metadata, "height"), 240);
  EXPECT_EQ(number_at(metadata, "videocodecid"), 7);
  ASSERT_TRUE(metadata.find("encoder"));
  EXPECT_EQ(metadata.find("encoder")->as_string(), "Rewind");
  EXPECT_DOUBLE_EQ(number_at(metadata, "duration"), 2.001);
  EXPECT_EQ(number_at(metadata, "filesize"), static_cast<double>(file.size()));
}

TEST(FileWriter, ManyKeyframesOfManySizes) {
  // Enough keyframes and body sizes that any off-by-one in the metadata
  // size or the positions shows up.
  std::vector<InputTag> input;
  input.push_back({TagType::Video, 0, from_hex("17 00 000000 01640014")});
  for (std::uint32_t i = 0; i < 300; ++i) {
    Bytes body = from_hex(i % 3 == 0 ? "17 01 000000" : "27 01 000000");
    body.resize(body.size() + (i * 37) % 1000, static_cast<std::uint8_t>(i));
    input.push_back({TagType::Video, i * 40, std::move(body)});
    input.push_back({TagType::Audio, i * 40 + 3, Bytes(1 + i % 7, 0xaf)});
  }
  FileWriter writer({});
  const Bytes file = write_file(writer, input);
  amf::Object metadata = check_seek_index(file);
  const amf::Value* keyframes = metadata.find("keyframes");
  ASSERT_TRUE(keyframes);
  EXPECT_EQ(numbers(keyframes->find("times")).size(), 100u);
}

TEST(FileWriter, AudioOnlyHasEmptyIndex) {
  FileWriter writer({});
  const Bytes file = write_file(writer, {{TagType::Audio, 0, from_hex("af 00 1210")}, {TagType::Audio, 23, from_hex("af 01 21")}});
  FileReader reader;
  std::vector<Tag> tags;
  ASSERT_FALSE(reader.feed(file, tags).error);
  EXPECT_TRUE(reader.has_audio());
  EXPECT_FALSE(reader.has_video());
  amf::Object metadata = check_seek_index(file);
  const amf::Value* keyframes = metadata.find("keyframes");
  ASSERT_TRUE(keyframes);
  EXPECT_TRUE(numbers(keyframes->find("times")).empty());
  EXPECT_TRUE(numbers(keyframes->find("filepositions")).empty());
}

TEST(FileWriter, EmptyPlanWritesHeaderAndMetadataOnly) {
  FileWriter writer({});
  const Bytes file = write_file(writer, {});
  EXPECT_EQ(file.size(), writer.file_size());
  EXPECT_EQ(file[4], 0x00) << "no audio, no video flags";
  check_seek_index(file);
}

TEST(FileWriter, PlanWithExplicitKeyframeFlag) {
  // Pass 1 from an index: sizes and flags only, no bodies.
  FileWriter writer({});
  ASSERT_TRUE(writer.plan(TagType::Video, 0, 5, true));
  ASSERT_TRUE(writer.plan(TagType::Video, 40, 5, false));
  auto head = writer.begin();
  ASSERT_TRUE(head);
  Bytes file = *head;
  ASSERT_TRUE(writer.write(TagType::Video, 0, from_hex("17 01 000000"), file));
  ASSERT_TRUE(writer.write(TagType::Video, 40, from_hex("27 01 000000"), file));
  ASSERT_TRUE(writer.finish());
  check_seek_index(file);
}

TEST(FileWriter, OrderErrors) {
  FileWriter writer({});
  Bytes out;
  EXPECT_EQ(writer.write(TagType::Video, 0, from_hex("17"), out).error(), WriteError::NotStarted);
  ASSERT_TRUE(writer.plan(TagType::Video, 0, from_hex("17 01 000000")));
  ASSERT_TRUE(writer.plan(TagType::Audio, 10, from_hex("af 01")));
  EXPECT_EQ(writer.finish().error(), WriteError::Incomplete);
  ASSERT_TRUE(writer.begin());
  EXPECT_EQ(writer.begin().error(), WriteError::AlreadyStarted);
  EXPECT_EQ(writer.plan(TagType::Audio, 20, from_hex("af 01")).error(), WriteError::AlreadyStarted);
  EXPECT_EQ(writer.finish().error(), WriteError::Incomplete);

  // Wrong type, timestamp or size: refused without writing a byte.
  EXPECT_EQ(writer.write(TagType::Audio, 0, from_hex("17 01 000000"), out).error(), WriteError::PlanMismatch);
  EXPECT_EQ(writer.write(TagType::Video, 1, from_hex("17 01 000000"), out).error(), WriteError::PlanMismatch);
  EXPECT_EQ(writer.write(TagType::Video, 0, from_hex("17 01 0000"), out).error(), WriteError::PlanMismatch);
  EXPECT_TRUE(out.empty());

  ASSERT_TRUE(writer.write(TagType::Video, 0, from_hex("17 01 000000"), out));
  EXPECT_EQ(writer.finish().error(), WriteError::Incomplete);
  ASSERT_TRUE(writer.write(TagType::Audio, 10, from_hex("af 01"), out));
  EXPECT_TRUE(writer.finish());
  const std::size_t size = out.size();
  EXPECT_EQ(writer.write(TagType::Audio, 20, from_hex("af 01"), out).error(), WriteError::NotPlanned);
  EXPECT_EQ(out.size(), size);
}

TEST(FileWriter, BodyTooLarge) {
  FileWriter writer({});
  EXPECT_EQ(writer.plan(TagType::Video, 0, kMaxTagBodySize + 1, true).error(), WriteError::TooLarge);
  EXPECT_TRUE(writer.plan(TagType::Video, 0, kMaxTagBodySize, true));
}

TEST(FileWriter, ErrorNames) {
  EXPECT_STREQ(to_string(WriteError::NotStarted), "NotStarted");
  EXPECT_STREQ(to_string(WriteError::AlreadyStarted), "AlreadyStarted");
  EXPECT_STREQ(to_string(WriteError::NotPlanned), "NotPlanned");
  EXPECT_STREQ(to_string(WriteError::PlanMismatch), "PlanMismatch");
  EXPECT_STREQ(to_string(WriteError::TooLarge), "TooLarge");
  EXPECT_STREQ(to_string(WriteError::Incomplete), "Incomplete");
}

// "onMetaData", ECMA array {width: 160}.
constexpr const char* kOnMetaData = "02000a6f6e4d65746144617461 08 00000001 0005 7769647468 00 4064000000000000 000009";

TEST(MetadataFromScriptTag, EcmaArray) {
  auto metadata = metadata_from_script_tag(from_hex(kOnMetaData));
  ASSERT_TRUE(metadata);
  EXPECT_EQ(keys(*metadata), (std::vector<std::string>{"width"}));
  EXPECT_EQ(number_at(*metadata, "width"), 160);
}

TEST(MetadataFromScriptTag, SetDataFrameWrapper) {
  // What an RTMP publisher sends: "@setDataFrame" first.
  const Bytes body = from_hex(std::string("02000d40736574446174614672616d65") + kOnMetaData);
  auto metadata = metadata_from_script_tag(body);
  ASSERT_TRUE(metadata);
  EXPECT_EQ(number_at(*metadata, "width"), 160);
}

TEST(MetadataFromScriptTag, AnonymousObject) {
  // "onMetaData", {height: 120}
  auto metadata = metadata_from_script_tag(
      from_hex("02000a6f6e4d65746144617461 03 0006 686569676874 00 405e000000000000 000009"));
  ASSERT_TRUE(metadata);
  EXPECT_EQ(number_at(*metadata, "height"), 120);
}

TEST(MetadataFromScriptTag, RejectsOtherTags) {
  // onCuePoint {}
  EXPECT_FALSE(metadata_from_script_tag(from_hex("02000a6f6e437565506f696e74 03 000009")));
  // onMetaData followed by a number.
  EXPECT_FALSE(metadata_from_script_tag(from_hex("02000a6f6e4d65746144617461 00 0000000000000000")));
  // onMetaData and nothing else; a truncated array; no string at all.
  EXPECT_FALSE(metadata_from_script_tag(from_hex("02000a6f6e4d65746144617461")));
  EXPECT_FALSE(metadata_from_script_tag(from_hex("02000a6f6e4d65746144617461 08 00000001 0005 7769")));
  EXPECT_FALSE(metadata_from_script_tag(from_hex("00 4064000000000000")));
  EXPECT_FALSE(metadata_from_script_tag({}));
}

Bytes read_testdata(const char* name) {
  std::ifstream in(std::string(REWIND_FLV_TESTDATA_DIR) + "/" + name, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Exports the range [1000, end] of an ffmpeg-made file the way a DVR export
// would: the codec headers first, then every tag from the keyframe at 1000.
std::vector<InputTag> clip_of_testdata(amf::Object& metadata) {
  const Bytes data = read_testdata("avc_aac_2s.flv");
  EXPECT_FALSE(data.empty()) << "testdata/avc_aac_2s.flv is missing";
  std::vector<InputTag> headers, range;
  for (Tag& t : read_all(data)) {
    if (t.type == TagType::Script) {
      if (auto m = metadata_from_script_tag(t.body)) metadata = std::move(*m);
      continue;
    }
    const bool header = t.type == TagType::Video ? parse_video(t.body)->sequence_header
                                                 : parse_audio(t.body)->sequence_header;
    if (header) {
      headers.push_back({t.type, t.timestamp, std::move(t.body)});
    } else if (t.timestamp >= 1000) {
      range.push_back({t.type, t.timestamp, std::move(t.body)});
    }
  }
  EXPECT_EQ(headers.size(), 2u);
  headers.insert(headers.end(), range.begin(), range.end());
  return headers;
}

TEST(FileWriter, RewritesFfmpegFileRange) {
  FileWriterOptions options;
  options.base_timestamp = 1000;
  auto input = clip_of_testdata(options.metadata);
  EXPECT_EQ(number_at(options.metadata, "width"), 160);
  FileWriter writer(options);
  const Bytes file = write_file(writer, input);
  amf::Object metadata = check_seek_index(file);
  EXPECT_EQ(number_at(metadata, "width"), 160);
  EXPECT_EQ(number_at(metadata, "height"), 120);
  const amf::Value* keyframes = metadata.find("keyframes");
  ASSERT_TRUE(keyframes);
  EXPECT_EQ(numbers(keyframes->find("times")), (std::vector<double>{0}));
}

std::string run(const std::string& command, int& status) {
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) {
    status = -1;
    return output;
  }
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  status = ::pclose(pipe);
  return output;
}

// The exported clip must be a file real players read: ffprobe finds both
// streams, the duration, and decodes every packet without complaint.
TEST(FileWriter, FfprobeReadsExportedClip) {
  if (!std::filesystem::exists("/usr/bin/ffprobe")) GTEST_SKIP() << "no /usr/bin/ffprobe";
  FileWriterOptions options;
  options.base_timestamp = 1000;
  auto input = clip_of_testdata(options.metadata);
  FileWriter writer(options);
  const Bytes file = write_file(writer, input);
  const std::string path = ::testing::TempDir() + "rewind_flv_writer_clip.flv";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size()));
  }
  int status = 0;
  const std::string output =
      run("/usr/bin/ffprobe -v error -count_packets -show_entries "
          "stream=codec_name,nb_read_packets:format=duration -of default=nw=1 '" +
              path + "' 2>&1",
          status);
  std::filesystem::remove(path);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  EXPECT_EQ(output.find("rror"), std::string::npos) << output;

  // Every frame of the range is there: ffprobe counts neither the codec
  // headers nor the AVC end of sequence as packets.
  std::size_t video_frames = 0, audio_frames = 0;
  for (const auto& t : input) {
    if (t.type == TagType::Video) {
      auto info = parse_video(t.body);
      if (!info->sequence_header && !info->end_of_sequence) ++video_frames;
    } else if (t.type == TagType::Audio && !parse_audio(t.body)->sequence_header) {
      ++audio_frames;
    }
  }
  EXPECT_EQ(video_frames, 10u);
  EXPECT_NE(output.find("codec_name=h264\nnb_read_packets=" + std::to_string(video_frames) + "\n"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("codec_name=aac\nnb_read_packets=" + std::to_string(audio_frames) + "\n"),
            std::string::npos)
      << output;

  // ffmpeg's flv demuxer takes the duration from onMetaData.
  auto metadata = metadata_from_script_tag(read_all(file)[0].body);
  ASSERT_TRUE(metadata);
  const double duration = number_at(*metadata, "duration");
  const auto at = output.find("duration=");
  ASSERT_NE(at, std::string::npos) << output;
  EXPECT_NEAR(std::stod(output.substr(at + 9)), duration, 0.0015) << output;
}

}  // namespace
}  // namespace rw::flv
