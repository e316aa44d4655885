#include "common/dvr/segment_tags.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "common/dvr/test_media.hpp"
#include "common/flv/file_reader.hpp"

namespace rw::dvr {
namespace {

std::string hex_string(std::string_view hex) {
  const Bytes b = from_hex(hex);
  return {b.begin(), b.end()};
}

std::vector<TagView> walk_all(const std::string& tags, bool& failed) {
  std::vector<TagView> out;
  TagWalker walk(tags);
  while (auto tag = walk.next()) out.push_back(*tag);
  failed = walk.failed();
  return out;
}

TEST(SegmentTags, AppendTagWritesAnFlvTag) {
  std::string out;
  append_tag(out, flv::TagType::Video, 0x12345678, from_hex("1701000000aa"));
  // type 9, size 6, timestamp low 24 bits 345678 then extension 12, stream
  // id 0, body, PreviousTagSize 17.
  EXPECT_EQ(to_hex(as_bytes(out)), "09000006345678120000001701000000aa00000011");
  append_tag(out, flv::TagType::Script, 0, {});
  EXPECT_EQ(to_hex(as_bytes(out)).substr(42), "12000000000000000000000000000b");
}

TEST(SegmentTags, WalkerReadsBackWhatWasAppended) {
  std::string tags;
  append_tag(tags, flv::TagType::Video, 0x01000000, from_hex("1701000000"));  // needs the extension byte
  append_tag(tags, flv::TagType::Audio, 23, from_hex("af0001"));
  append_tag(tags, flv::TagType::Script, 40, from_hex("02000a6f6e4d65746144617461"));
  bool failed = true;
  const auto views = walk_all(tags, failed);
  EXPECT_FALSE(failed);
  ASSERT_EQ(views.size(), 3u);
  EXPECT_EQ(views[0].type, flv::TagType::Video);
  EXPECT_EQ(views[0].timestamp, 0x01000000u);
  EXPECT_TRUE(views[0].is_keyframe());
  EXPECT_EQ(views[1].type, flv::TagType::Audio);
  EXPECT_EQ(views[1].timestamp, 23u);
  EXPECT_EQ(to_hex(views[1].body), "af0001");
  EXPECT_TRUE(views[2].is_metadata());
  EXPECT_FALSE(views[2].is_keyframe());

  // The same bytes are an FLV file body: FileReader agrees.
  const Bytes file_header = flv::encode_file_header(true, true);
  Bytes file(file_header.begin(), file_header.end());
  file.insert(file.end(), tags.begin(), tags.end());
  flv::FileReader reader;
  std::vector<flv::Tag> parsed;
  auto r = reader.feed(file, parsed);
  EXPECT_FALSE(r.error);
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[0].timestamp, 0x01000000u);
}

TEST(SegmentTags, WalkerFailsOnEveryTruncation) {
  std::string tags;
  append_tag(tags, flv::TagType::Video, 100, from_hex("2701000000bbcc"));
  append_tag(tags, flv::TagType::Audio, 110, from_hex("af01dd"));
  const std::size_t first_end = 11 + 7 + 4;
  for (std::size_t cut = 0; cut < tags.size(); ++cut) {
    bool failed = false;
    const auto views = walk_all(tags.substr(0, cut), failed);
    if (cut == 0 || cut == first_end) {
      EXPECT_FALSE(failed) << cut;  // a whole number of tags
      EXPECT_EQ(views.size(), cut == 0 ? 0u : 1u);
    } else {
      EXPECT_TRUE(failed) << cut;
      EXPECT_EQ(views.size(), cut < first_end ? 0u : 1u) << cut;
    }
  }
}

TEST(SegmentTags, WalkerRejectsBadTypeAndPreviousTagSize) {
  bool failed = false;
  // Tag type 7 (not audio, video or script).
  walk_all(hex_string("0700000100000000000000aa0000000c"), failed);
  EXPECT_TRUE(failed);
  // PreviousTagSize 13 where 12 belongs.
  walk_all(hex_string("0800000100000000000000aa0000000d"), failed);
  EXPECT_TRUE(failed);
  const auto views = walk_all(hex_string("0800000100000000000000aa0000000c"), failed);
  EXPECT_FALSE(failed);
  EXPECT_EQ(views.size(), 1u);
}

TEST(SegmentTags, WalkerStaysInsideDamagedBytes) {
  // Segments come from upstream servers too: damaged bytes end the walk
  // (failed) or are consumed whole, and no body reaches past the end.
  std::string whole;
  for (const auto& f : test_media::real_frames(1)) append_tag(whole, tag_type_of(f->kind), f->timestamp, f->payload.view());
  std::mt19937 random(7);
  int failures = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string damaged = whole.substr(0, random() % (whole.size() + 1));
    for (int k = 0; k < 3 && !damaged.empty(); ++k) damaged[random() % damaged.size()] = static_cast<char>(random());
    const ByteView bytes = as_bytes(damaged);
    TagWalker walk(bytes);
    while (auto tag = walk.next()) {
      ASSERT_GE(tag->body.data(), bytes.data());
      ASSERT_LE(tag->body.data() + tag->body.size(), bytes.data() + bytes.size());
      ASSERT_TRUE(to_frame(*tag));
    }
    EXPECT_LE(walk.offset(), bytes.size());
    if (walk.failed()) {
      ++failures;
    } else {
      EXPECT_EQ(walk.offset(), bytes.size());
    }
  }
  EXPECT_GT(failures, 2000);  // most damage is detected...
  EXPECT_LT(failures, 3000);  // ...and some (a flipped body byte) cannot be
}

TEST(SegmentTags, ToFrameRestoresKinds) {
  std::string tags;
  const auto key = test_media::keyframe(5);
  const auto header = test_media::avc_header(0);
  const auto aac_header = test_media::aac_header(0);
  const auto meta = test_media::metadata(0, "x");
  const auto cue = test_media::cue_point(9, "c");
  for (const auto& f : {key, header, aac_header, meta, cue}) {
    append_tag(tags, tag_type_of(f->kind), f->timestamp, f->payload.view());
  }
  std::vector<media::FramePtr> frames;
  TagWalker walk(tags);
  while (auto tag = walk.next()) frames.push_back(to_frame(*tag));
  ASSERT_EQ(frames.size(), 5u);
  EXPECT_EQ(frames[0]->kind, media::FrameKind::Video);
  EXPECT_TRUE(frames[0]->keyframe);
  EXPECT_EQ(frames[0]->timestamp, 5u);
  EXPECT_EQ(frames[0]->payload.bytes(), key->payload.bytes());
  EXPECT_TRUE(frames[1]->sequence_header);
  EXPECT_EQ(frames[2]->kind, media::FrameKind::Audio);
  EXPECT_TRUE(frames[2]->sequence_header);
  EXPECT_EQ(frames[3]->kind, media::FrameKind::Metadata);
  EXPECT_EQ(frames[4]->kind, media::FrameKind::Data);
  EXPECT_EQ(frames[4]->payload.bytes(), cue->payload.bytes());
}

TEST(SegmentTags, HeaderFramesComeFromTheSegmentFields) {
  Segment segment;
  segment.set_start_ms(4000);
  EXPECT_TRUE(header_frames(segment).empty());
  const auto header = test_media::avc_header(0);
  segment.set_video_header(std::string(as_chars(header->payload.view())));
  segment.set_metadata(std::string(as_chars(test_media::metadata(0, "t")->payload.view())));
  const auto frames = header_frames(segment);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0]->kind, media::FrameKind::Metadata);
  EXPECT_EQ(frames[1]->kind, media::FrameKind::Video);
  EXPECT_TRUE(frames[1]->sequence_header);
  EXPECT_EQ(frames[1]->timestamp, 4000u);
  EXPECT_EQ(frames[1]->payload.bytes(), header->payload.bytes());
}

}  // namespace
}  // namespace rw::dvr
