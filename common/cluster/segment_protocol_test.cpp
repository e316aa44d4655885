#include "common/cluster/segment_protocol.hpp"

#include <gtest/gtest.h>

#include "common/amf/codec.hpp"

namespace rw::cluster {
namespace {

Bytes pattern(std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 31 + 7);
  return b;
}

dvr::SegmentInfo entry(std::uint64_t sequence, std::uint64_t size) {
  dvr::SegmentInfo e;
  e.set_sequence(sequence);
  e.set_size_bytes(size);
  e.set_frame_count(10);
  e.set_first_position(1 + sequence * 10);
  return e;
}

// A serialized segment of about `tag_bytes` that matches entry(sequence).
Bytes segment_bytes(std::uint64_t sequence, std::size_t tag_bytes) {
  dvr::Segment segment;
  segment.set_recording_id(9);
  segment.set_sequence(sequence);
  segment.set_frame_count(10);
  segment.set_first_position(1 + sequence * 10);
  const Bytes tags = pattern(tag_bytes);
  segment.set_tags(tags.data(), tags.size());
  const std::string wire = segment.SerializeAsString();
  return Bytes(wire.begin(), wire.end());
}

TEST(SegmentProtocol, MessagesTravelAsByteArraysThroughAmf0) {
  cluster::IndexPage page;
  page.set_known(true);
  page.mutable_stream()->set_name("cam");
  *page.add_segments() = entry(3, 1000);
  // As a _result's value, encoded and decoded the way commands are.
  Bytes wire;
  amf::encode_amf0(to_byte_array(page), wire);
  auto values = amf::decode_amf0_all(wire);
  ASSERT_TRUE(values);
  cluster::IndexPage back;
  ASSERT_TRUE(parse_byte_array(*values, back, 1u << 20));
  EXPECT_EQ(back.stream().name(), "cam");
  ASSERT_EQ(back.segments_size(), 1);
  EXPECT_EQ(back.segments(0).sequence(), 3u);
  // Too large, or no byte array at all: refused.
  EXPECT_FALSE(parse_byte_array(*values, back, 4));
  EXPECT_FALSE(parse_byte_array({amf::Value("text")}, back, 1u << 20));
}

TEST(SegmentProtocol, PagesReassembleAndAreChecked) {
  const Bytes segment = segment_bytes(5, 2500);
  const ProtocolLimits limits{1u << 20, 1000, 100};
  SegmentAssembler assembler(entry(5, segment.size()), 9, limits);
  std::string why;
  for (std::uint64_t offset = 0; offset < segment.size(); offset += 1000) {
    const auto page = segment_page(segment, 9, 5, assembler.next_offset(), 1000);
    EXPECT_EQ(page.offset(), offset);
    const auto step = assembler.add(page, why);
    ASSERT_NE(step, SegmentAssembler::Step::Bad) << why;
    EXPECT_EQ(step == SegmentAssembler::Step::Complete, offset + 1000 >= segment.size());
  }
  EXPECT_EQ(assembler.segment().first_position(), 51u);
  const SharedBuffer whole = assembler.take();
  EXPECT_EQ(whole.size(), segment.size());
  EXPECT_TRUE(std::equal(whole.view().begin(), whole.view().end(), segment.begin()));
}

TEST(SegmentProtocol, BadPagesAreRefused) {
  const Bytes segment = segment_bytes(5, 2000);
  const ProtocolLimits limits{1u << 20, 1000, 100};
  std::string why;
  auto whole = [&](SegmentAssembler& a, const Bytes& bytes) {
    SegmentAssembler::Step step = SegmentAssembler::Step::NeedMore;
    while (step == SegmentAssembler::Step::NeedMore) {
      step = a.add(segment_page(bytes, 9, 5, a.next_offset(), 1000), why);
    }
    return step;
  };
  auto first_page = [&](std::uint64_t recording, std::uint64_t sequence) {
    return segment_page(segment, recording, sequence, 0, 1000);
  };
  {
    SegmentAssembler a(entry(5, segment.size()), 9, limits);
    EXPECT_EQ(a.add(first_page(8, 5), why), SegmentAssembler::Step::Bad) << "another recording";
    EXPECT_NE(why.find("recording"), std::string::npos);
  }
  {
    // Whole and intact, but other frames than the index entry says.
    dvr::SegmentInfo other = entry(5, segment.size());
    other.set_frame_count(11);
    SegmentAssembler a(other, 9, limits);
    EXPECT_EQ(whole(a, segment), SegmentAssembler::Step::Bad);
    EXPECT_NE(why.find("index says"), std::string::npos) << why;
  }
  {
    // A checksum that matches bytes that are no segment.
    const Bytes junk = pattern(1500);
    SegmentAssembler a(entry(5, junk.size()), 9, limits);
    EXPECT_EQ(whole(a, junk), SegmentAssembler::Step::Bad);
    EXPECT_NE(why.find("parse"), std::string::npos) << why;
  }
  {
    SegmentAssembler a(entry(5, segment.size()), 9, limits);
    EXPECT_EQ(whole(a, segment), SegmentAssembler::Step::Complete) << why;
  }
  {
    SegmentAssembler a(entry(5, segment.size()), 9, limits);
    ASSERT_EQ(a.add(first_page(9, 5), why), SegmentAssembler::Step::NeedMore);
    auto skipped = segment_page(segment, 9, 5, 1500, 1000);
    EXPECT_EQ(a.add(skipped, why), SegmentAssembler::Step::Bad) << "a page out of order";
  }
  {
    // A byte changed on the way: the checksum catches it.
    Bytes changed = segment;
    changed[1010] ^= 1;
    SegmentAssembler a(entry(5, segment.size()), 9, limits);
    SegmentAssembler::Step step = SegmentAssembler::Step::NeedMore;
    while (step == SegmentAssembler::Step::NeedMore) {
      auto page = segment_page(changed, 9, 5, a.next_offset(), 1000);
      page.set_crc32(crc32_of(segment));  // the checksum of what was sent
      step = a.add(page, why);
    }
    EXPECT_EQ(step, SegmentAssembler::Step::Bad);
    EXPECT_NE(why.find("checksum"), std::string::npos) << why;
  }
  {
    const Bytes huge = segment_bytes(5, 4000);
    SegmentAssembler a(entry(5, huge.size()), 9, ProtocolLimits{3000, 1000, 100});
    EXPECT_EQ(a.add(segment_page(huge, 9, 5, 0, 1000), why), SegmentAssembler::Step::Bad) << "over the limit";
  }
  {
    SegmentAssembler a(entry(5, segment.size()), 9, limits);
    EXPECT_EQ(a.add(segment_page(segment, 9, 5, 0, 1500), why), SegmentAssembler::Step::Bad) << "page too large";
  }
}

TEST(SegmentProtocol, IndexPagesThatContradictThemselvesAreRefused) {
  const ProtocolLimits limits{1u << 20, 1000, 100};
  cluster::IndexPage page;
  page.set_known(true);
  page.mutable_stream()->set_first_sequence(2);
  page.mutable_stream()->set_next_sequence(10);
  *page.add_segments() = entry(3, 100);
  *page.add_segments() = entry(4, 100);
  std::string why;
  EXPECT_TRUE(index_page_consistent(page, limits, 10, why)) << why;
  EXPECT_FALSE(index_page_consistent(page, limits, 1, why)) << "more than asked for";
  cluster::IndexPage gap = page;
  gap.mutable_segments(1)->set_sequence(6);
  EXPECT_FALSE(index_page_consistent(gap, limits, 10, why));
  cluster::IndexPage outside = page;
  outside.mutable_segments(1)->set_sequence(11);
  EXPECT_FALSE(index_page_consistent(outside, limits, 10, why));
  cluster::IndexPage huge = page;
  huge.mutable_segments(0)->set_size_bytes(2u << 20);
  EXPECT_FALSE(index_page_consistent(huge, limits, 10, why));
  cluster::IndexPage unknown = page;
  unknown.set_known(false);
  EXPECT_FALSE(index_page_consistent(unknown, limits, 10, why));
}

}  // namespace
}  // namespace rw::cluster
