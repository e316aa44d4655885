#include "tests/bench/flv_source.hpp"

#include <gtest/gtest.h>

#include "common/flv/tag.hpp"

namespace rw::bench {
namespace {

// A small FLV: metadata, AVC and AAC sequence headers, then frames, with
// timestamps starting at `first` (files cut from a longer stream do).
Bytes make_flv(std::uint32_t first = 0) {
  Bytes file = flv::encode_file_header(true, true);
  flv::encode_tag(flv::TagType::Script, first, from_hex("02000a6f6e4d65746144617461 05"), file);
  flv::encode_tag(flv::TagType::Video, first, from_hex("1700000000 01640028"), file);  // AVC sequence header
  flv::encode_tag(flv::TagType::Audio, first, from_hex("af00 1210"), file);            // AAC sequence header
  flv::encode_tag(flv::TagType::Video, first, from_hex("1701000000 aa"), file);        // keyframe
  flv::encode_tag(flv::TagType::Audio, first, from_hex("af01 01"), file);
  flv::encode_tag(flv::TagType::Audio, first + 23, from_hex("af01 02"), file);
  flv::encode_tag(flv::TagType::Video, first + 33, from_hex("2701000000 bb"), file);
  flv::encode_tag(flv::TagType::Audio, first + 46, from_hex("af01 03"), file);
  flv::encode_tag(flv::TagType::Video, first + 66, from_hex("2701000000 cc"), file);
  return file;
}

TEST(LoadFlv, ReadsTagsMarksConfigAndWrapsMetadata) {
  auto source = load_flv(make_flv());
  ASSERT_TRUE(source) << source.error();
  ASSERT_EQ(source->tags.size(), 9u);
  EXPECT_EQ(source->tags[0].type, 18);
  EXPECT_TRUE(source->tags[0].config);
  EXPECT_EQ(to_hex(source->tags[0].body), "02000d40736574446174614672616d65" "02000a6f6e4d6574614461746105")
      << "@setDataFrame, then the file's onMetaData";
  EXPECT_TRUE(source->tags[1].config);
  EXPECT_TRUE(source->tags[2].config);
  EXPECT_FALSE(source->tags[3].config);
  EXPECT_EQ(to_hex(source->tags[3].body), "1701000000aa");
  EXPECT_EQ(source->tags[8].timestamp, 66u);
  // Span 66 ms plus one video frame (33 ms).
  EXPECT_EQ(source->loop_period_ms, 99u);
}

TEST(LoadFlv, RebasesTimestampsToTheFirstTag) {
  auto source = load_flv(make_flv(100000));
  ASSERT_TRUE(source) << source.error();
  EXPECT_EQ(source->tags[0].timestamp, 0u);
  EXPECT_EQ(source->tags[6].timestamp, 33u);
  EXPECT_EQ(source->loop_period_ms, 99u);
}

TEST(LoadFlv, Errors) {
  EXPECT_FALSE(load_flv(from_hex("")));
  EXPECT_FALSE(load_flv(from_hex("464c56")));  // "FLV" and no more
  EXPECT_FALSE(load_flv(as_bytes("not an flv file at all")));
  Bytes only_config = flv::encode_file_header(true, true);
  flv::encode_tag(flv::TagType::Video, 0, from_hex("1700000000 01640028"), only_config);
  auto r = load_flv(only_config);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("no audio or video"), std::string::npos);
}

TEST(FlvLoop, SendsConfigOnceAndKeepsTimestampsIncreasing) {
  auto source = load_flv(make_flv(5000));
  ASSERT_TRUE(source);
  FlvLoop loop(*source);
  std::vector<std::string> seen;
  for (int i = 0; i < 9 + 6 + 6; ++i) {
    seen.push_back(std::to_string(loop.tag().type) + "@" + std::to_string(loop.timestamp()) +
                   (loop.tag().config ? "c" : ""));
    EXPECT_EQ(loop.due_ms(), static_cast<std::int64_t>(loop.timestamp()));
    loop.advance();
  }
  const std::vector<std::string> expected = {
      "18@0c", "9@0c", "8@0c", "9@0", "8@0", "8@23", "9@33", "8@46", "9@66",  // the file
      "9@99", "8@99", "8@122", "9@132", "8@145", "9@165",                     // again, media only
      "9@198", "8@198", "8@221", "9@231", "8@244", "9@264",
  };
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(loop.loops(), 3u);
}

}  // namespace
}  // namespace rw::bench
