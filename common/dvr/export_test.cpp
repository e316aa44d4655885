#include "common/dvr/export.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "common/amf/value.hpp"
#include "common/dvr/segment_tags.hpp"
#include "common/dvr/test_media.hpp"
#include "common/dvr/test_store.hpp"
#include "common/flv/file_reader.hpp"
#include "common/flv/file_writer.hpp"

namespace rw::dvr {
namespace {

using test_store::record;
using test_store::TempDir;

constexpr SegmenterOptions kOneSecond{.target_ms = 1000};

struct Exported {
  Bytes file;
  ExportSummary summary;
};

Exported export_range(const SegmentStore& store, std::string_view app, std::string_view name,
                      const ExportRange& range) {
  Exported out;
  auto summary = export_flv(store, app, name, range, [&](ByteView bytes) {
    out.file.insert(out.file.end(), bytes.begin(), bytes.end());
    return true;
  });
  EXPECT_TRUE(summary) << (summary ? "" : summary.error().message);
  if (summary) out.summary = *summary;
  return out;
}

ExportError::Code export_error(const SegmentStore& store, std::string_view name, const ExportRange& range) {
  auto summary = export_flv(store, "live", name, range, [](ByteView) { return true; });
  EXPECT_FALSE(summary);
  return summary ? ExportError::Code::NotFound : summary.error().code;
}

std::vector<flv::Tag> read_file(ByteView file) {
  flv::FileReader reader;
  std::vector<flv::Tag> tags;
  auto r = reader.feed(file, tags);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.consumed, file.size());
  return tags;
}

std::vector<double> numbers(const amf::Value* v) {
  std::vector<double> out;
  if (!v || !v->as_array()) {
    ADD_FAILURE() << "not an array";
    return out;
  }
  for (const auto& item : v->as_array()->dense) out.push_back(item.as_number(-1));
  return out;
}

bool is_keyframe(const flv::Tag& tag) {
  if (tag.type != flv::TagType::Video) return false;
  auto info = flv::parse_video(tag.body);
  return info && info->is_keyframe();
}

// Checks what a Flash player seeks with: onMetaData first, its filesize the
// file's size, its duration the last audio/video timestamp, and one
// keyframes entry per video keyframe whose file position is that tag's
// offset (found by walking the tags' own size fields) and whose time is
// its timestamp. Returns the metadata.
amf::Object check_seekable(ByteView file) {
  const auto tags = read_file(file);
  std::vector<std::size_t> offsets;
  for (std::size_t pos = flv::kFileHeaderSize + flv::kPreviousTagSizeSize; pos + flv::kTagHeaderSize <= file.size();
       pos += flv::kTagHeaderSize + get_u24be(file.data() + pos + 1) + flv::kPreviousTagSizeSize) {
    offsets.push_back(pos);
  }
  EXPECT_EQ(offsets.size(), tags.size());
  if (tags.empty() || offsets.size() != tags.size()) return {};
  EXPECT_EQ(tags[0].type, flv::TagType::Script);
  auto metadata = flv::metadata_from_script_tag(tags[0].body);
  EXPECT_TRUE(metadata);
  if (!metadata) return {};
  std::vector<double> times;
  std::vector<double> positions;
  std::uint32_t last = 0;
  for (std::size_t i = 1; i < tags.size(); ++i) {
    EXPECT_NE(tags[i].type, flv::TagType::Script) << "a second onMetaData";
    last = std::max(last, tags[i].timestamp);
    if (is_keyframe(tags[i])) {
      times.push_back(tags[i].timestamp / 1000.0);
      positions.push_back(static_cast<double>(offsets[i]));
    }
  }
  const amf::Value* keyframes = metadata->find("keyframes");
  EXPECT_TRUE(keyframes);
  if (!keyframes) return *metadata;
  EXPECT_EQ(numbers(keyframes->find("times")), times);
  EXPECT_EQ(numbers(keyframes->find("filepositions")), positions);
  const amf::Value* duration = metadata->find("duration");
  const amf::Value* filesize = metadata->find("filesize");
  EXPECT_TRUE(duration && filesize);
  if (duration) {
    EXPECT_DOUBLE_EQ(duration->as_number(-1), last / 1000.0);
  }
  if (filesize) {
    EXPECT_EQ(filesize->as_number(-1), static_cast<double>(file.size()));
  }
  return *metadata;
}

// Keyframes of real_frames(): 0 and 1000 ms of each 2200 ms loop.
std::vector<std::uint32_t> real_keyframes(int loops) {
  std::vector<std::uint32_t> out;
  for (int i = 0; i < loops; ++i) {
    out.push_back(static_cast<std::uint32_t>(i) * test_media::kRealLoopMs);
    out.push_back(static_cast<std::uint32_t>(i) * test_media::kRealLoopMs + 1000);
  }
  return out;
}

TEST(Export, WholeRecordingIsASeekableFile) {
  TempDir dir;
  auto store = SegmentStore::open(dir.path());
  ASSERT_TRUE(store);
  const auto frames = test_media::real_frames(5);
  record(**store, "live", "cam", frames, RecordMode::NewRecording, kOneSecond);

  const auto out = export_range(**store, "live", "cam", {});
  const amf::Object metadata = check_seekable(out.file);
  // The recording's own fields survive (ffmpeg wrote width and height).
  ASSERT_TRUE(metadata.find("width"));
  EXPECT_EQ(metadata.find("width")->as_number(-1), 160.0);

  const auto tags = read_file(out.file);
  // onMetaData, the two codec headers, then every recorded frame as it was.
  ASSERT_EQ(tags.size(), 3 + frames.size() - 3);
  EXPECT_EQ(tags[1].type, flv::TagType::Video);
  EXPECT_TRUE(flv::parse_video(tags[1].body)->sequence_header);
  EXPECT_EQ(tags[2].type, flv::TagType::Audio);
  EXPECT_TRUE(flv::parse_audio(tags[2].body)->sequence_header);
  for (std::size_t i = 3; i < tags.size(); ++i) {
    EXPECT_EQ(tags[i].timestamp, frames[i]->timestamp) << i;
    EXPECT_EQ(tags[i].body, frames[i]->payload.bytes()) << i;
  }
  EXPECT_EQ(out.summary.first_ms, 0u);
  EXPECT_EQ(out.summary.last_ms, 4 * test_media::kRealLoopMs + 2197);
  EXPECT_EQ(out.summary.keyframes, 10u);
  EXPECT_EQ(out.summary.tags, tags.size() - 1);
  EXPECT_EQ(out.summary.file_bytes, out.file.size());
}

TEST(Export, RangeStartsAtTheKeyframeAtOrBeforeItsStart) {
  TempDir dir;
  auto store = SegmentStore::open(dir.path());
  ASSERT_TRUE(store);
  record(**store, "live", "cam", test_media::real_frames(5), RecordMode::NewRecording, kOneSecond);

  // Keyframes at 0, 1000, 2200, 3200, 4400, 5400, 6600, 7600...: 3000
  // starts at 2200, and 2200 to 7000 holds five.
  const auto out = export_range(**store, "live", "cam", {.from_ms = 3000, .to_ms = 7000});
  check_seekable(out.file);
  EXPECT_EQ(out.summary.first_ms, 2200u);
  EXPECT_EQ(out.summary.keyframes, 5u);
  EXPECT_LE(out.summary.last_ms, 7000u);
  EXPECT_GT(out.summary.last_ms, 6900u);
  const auto tags = read_file(out.file);
  ASSERT_GT(tags.size(), 4u);
  EXPECT_TRUE(flv::parse_video(tags[1].body)->sequence_header);
  EXPECT_TRUE(flv::parse_audio(tags[2].body)->sequence_header);
  EXPECT_TRUE(is_keyframe(tags[3]));
  EXPECT_EQ(tags[3].timestamp, 0u);
  for (std::size_t i = 1; i < tags.size(); ++i) EXPECT_LE(tags[i].timestamp, 7000u - 2200u) << i;

  // Exactly on a keyframe.
  EXPECT_EQ(export_range(**store, "live", "cam", {.from_ms = 4400, .to_ms = 5000}).summary.first_ms, 4400u);
  // Past the end: the last keyframe on.
  const auto tail = export_range(**store, "live", "cam", {.from_ms = 60000});
  EXPECT_EQ(tail.summary.first_ms, real_keyframes(5).back());
  EXPECT_EQ(tail.summary.keyframes, 1u);
}

TEST(Export, BeforeTheWindowStartsAtItsFirstKeyframe) {
  TempDir dir;
  auto store = SegmentStore::open(dir.path());
  ASSERT_TRUE(store);
  const auto rec = record(**store, "live", "cam", test_media::real_frames(5), RecordMode::NewRecording, kOneSecond,
                          {.max_duration_ms = 4000});
  ASSERT_GT(rec.info.start_ms(), 0u);
  const auto out = export_range(**store, "live", "cam", {.from_ms = 0, .to_ms = rec.info.start_ms() + 1500});
  check_seekable(out.file);
  EXPECT_EQ(out.summary.first_ms, rec.info.start_ms());
  // A range wholly before the window holds nothing.
  EXPECT_EQ(export_error(**store, "cam", {.from_ms = 0, .to_ms = rec.info.start_ms() - 1}), ExportError::Code::Empty);
}

TEST(Export, HeadersInEffectAtTheStartComeFirstAndChangesFollow) {
  TempDir dir;
  auto store = SegmentStore::open(dir.path());
  ASSERT_TRUE(store);
  std::vector<media::FramePtr> frames{test_media::metadata(0, "one"), test_media::avc_header(0, 1),
                                      test_media::aac_header(0)};
  for (std::uint32_t t = 0; t < 5000; t += 100) {
    if (t == 2500) {
      frames.push_back(test_media::metadata(t, "two"));
      frames.push_back(test_media::avc_header(t, 2));
    }
    frames.push_back(t % 1000 == 0 ? test_media::keyframe(t) : test_media::inter(t));
    frames.push_back(test_media::aac(t + 50));
  }
  record(**store, "live", "h", frames, RecordMode::NewRecording, kOneSecond);
  const Bytes v1 = test_media::avc_header(0, 1)->payload.bytes();
  const Bytes v2 = test_media::avc_header(0, 2)->payload.bytes();

  // From 3000: the header and metadata of 2500 are in effect.
  auto late = export_range(**store, "live", "h", {.from_ms = 3000, .to_ms = 4000});
  auto metadata = check_seekable(late.file);
  ASSERT_TRUE(metadata.find("title"));
  EXPECT_EQ(metadata.find("title")->as_string(), "two");
  auto tags = read_file(late.file);
  EXPECT_EQ(tags[1].body, v2);

  // From 1000: the first header, then the new one where it came (the
  // mid-range onMetaData is left out: a file has one).
  auto early = export_range(**store, "live", "h", {.from_ms = 1000, .to_ms = 4000});
  metadata = check_seekable(early.file);
  EXPECT_EQ(metadata.find("title")->as_string(), "one");
  tags = read_file(early.file);
  EXPECT_EQ(tags[1].body, v1);
  std::size_t changes = 0;
  for (std::size_t i = 3; i < tags.size(); ++i) {
    if (tags[i].body == v2) {
      ++changes;
      EXPECT_EQ(tags[i].timestamp, 1500u);
    }
  }
  EXPECT_EQ(changes, 1u);
}

TEST(Export, AudioOnlyStartsAtTheFirstAudioFrameOfTheRange) {
  TempDir dir;
  auto store = SegmentStore::open(dir.path());
  ASSERT_TRUE(store);
  std::vector<media::FramePtr> frames{test_media::aac_header(0)};
  for (std::uint32_t t = 0; t < 5000; t += 23) frames.push_back(test_media::aac(t));
  record(**store, "live", "radio", frames, RecordMode::NewRecording, kOneSecond);
  const auto out = export_range(**store, "live", "radio", {.from_ms = 1000, .to_ms = 2000});
  check_seekable(out.file);
  EXPECT_EQ(out.summary.first_ms, 1012u);  // 44 * 23
  EXPECT_EQ(out.summary.last_ms, 1978u);   // 86 * 23
  EXPECT_EQ(out.summary.keyframes, 0u);
  const auto tags = read_file(out.file);
  ASSERT_EQ(tags.size(), 1 + 1 + 43u);  // onMetaData, the AAC header, 1012 to 1978
  EXPECT_TRUE(flv::parse_audio(tags[1].body)->sequence_header);
  EXPECT_EQ(tags[2].timestamp, 0u);
}

TEST(Export, Errors) {
  TempDir dir;
  auto store = SegmentStore::open(dir.path());
  ASSERT_TRUE(store);
  EXPECT_EQ(export_error(**store, "nobody", {}), ExportError::Code::NotFound);
  ASSERT_TRUE((*store)->begin_recording("live", "empty", RecordMode::NewRecording, 0));
  EXPECT_EQ(export_error(**store, "empty", {}), ExportError::Code::NotFound);
  record(**store, "live", "cam", test_media::real_frames(2), RecordMode::NewRecording, kOneSecond);
  EXPECT_EQ(export_error(**store, "cam", {.from_ms = 2000, .to_ms = 1000}), ExportError::Code::Empty);

  // A sink that fails (a full disk under the output file).
  int calls = 0;
  auto refused = export_flv(**store, "live", "cam", {}, [&](ByteView) { return ++calls < 2; });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ExportError::Code::Write);
}

TEST(Export, WhileTheOriginWrites) {
  // A writer process records (flushing and compacting as it goes, with
  // retention deleting its oldest segments); the export reads a secondary.
  TempDir dir;
  test_store::WriterProcess writer(dir.path(), "record", "262144");
  ASSERT_GE(writer.wait_for(60), 0);
  for (int i = 0; i < 3; ++i) {
    auto store = SegmentStore::open_secondary(dir.path(), dir.sub("secondary-" + std::to_string(i)));
    ASSERT_TRUE(store) << store.error().describe();
    ASSERT_TRUE(test_store::catch_up_until_complete(**store, "live", "crash/test"));
    auto info = (*store)->stream_info("live", "crash/test");
    ASSERT_TRUE(info && *info);
    const auto out = export_range(**store, "live", "crash/test", {.from_ms = 0});
    check_seekable(out.file);
    EXPECT_EQ(out.summary.first_ms, (*info)->start_ms());
    EXPECT_GE(out.summary.last_ms + 1500, (*info)->end_ms());
    ASSERT_GE(writer.wait_for(40), 0);
  }
}

// ffprobe (Debian's ffmpeg package), when installed, reads the clip: no
// errors, the duration and the packets written.
TEST(Export, FfprobeReadsTheClip) {
  if (::access("/usr/bin/ffprobe", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/ffprobe";
  TempDir dir;
  auto store = SegmentStore::open(dir.sub("store"));
  ASSERT_TRUE(store);
  const auto frames = test_media::real_frames(8);
  record(**store, "live", "cam", frames, RecordMode::NewRecording, kOneSecond);
  const auto out = export_range(**store, "live", "cam", {.from_ms = 5000, .to_ms = 14000});
  const std::string path = dir.sub("clip.flv");
  {
    std::ofstream file(path, std::ios::binary);
    file.write(reinterpret_cast<const char*>(out.file.data()), static_cast<std::streamsize>(out.file.size()));
  }
  std::size_t video = 0;
  std::size_t audio = 0;
  for (const auto& tag : read_file(out.file)) {
    if (tag.type == flv::TagType::Video && !flv::parse_video(tag.body)->sequence_header) ++video;
    if (tag.type == flv::TagType::Audio && !flv::parse_audio(tag.body)->sequence_header) ++audio;
  }

  auto run = [](const std::string& command) {
    std::string output;
    std::FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) return output;
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
    ::pclose(pipe);
    return output;
  };
  // stderr joins stdout: any complaint fails the comparisons below.
  const std::string duration =
      run("/usr/bin/ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 " + path + " 2>&1");
  const double expected = (out.summary.last_ms - out.summary.first_ms) / 1000.0;
  EXPECT_NEAR(std::atof(duration.c_str()), expected, 0.1) << duration;
  const std::string packets = run("/usr/bin/ffprobe -v error -count_packets -show_entries "
                                  "stream=codec_type,nb_read_packets -of csv=p=0 " + path + " 2>&1");
  EXPECT_EQ(packets, "video," + std::to_string(video) + "\naudio," + std::to_string(audio) + "\n");
}

}  // namespace
}  // namespace rw::dvr
