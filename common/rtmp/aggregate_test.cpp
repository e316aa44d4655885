#include "common/rtmp/aggregate.hpp"

#include <gtest/gtest.h>

namespace rw::rtmp {
namespace {

Bytes hex(std::string_view h) { return from_hex(h); }

Message aggregate(std::uint32_t timestamp, std::string_view body_hex) {
  Message m;
  m.header.csid = 6;
  m.header.type = msg_type::kAggregate;
  m.header.timestamp = timestamp;
  m.header.stream_id = 1;
  m.payload = hex(body_hex);
  m.header.length = static_cast<std::uint32_t>(m.payload.size());
  return m;
}

struct Sub {
  std::uint8_t type;
  std::uint32_t timestamp;
  const char* payload;
};

std::vector<Message> read_all(const Message& agg) {
  AggregateReader reader(agg);
  std::vector<Message> out;
  Message m;
  while (reader.next(m)) out.push_back(m);
  return out;
}

void expect_split(const Message& agg, const std::vector<Sub>& expected) {
  ASSERT_TRUE(AggregateReader(agg).valid());
  const auto got = read_all(agg);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE("sub-message " + std::to_string(i));
    const Message& m = got[i];
    EXPECT_EQ(m.header.type, expected[i].type);
    EXPECT_EQ(m.header.timestamp, expected[i].timestamp);
    EXPECT_EQ(to_hex(m.payload), to_hex(hex(expected[i].payload)));
    EXPECT_EQ(m.header.length, m.payload.size());
    // The aggregate's chunk stream and message stream, not the tag's.
    EXPECT_EQ(m.header.csid, 6u);
    EXPECT_EQ(m.header.stream_id, 1u);
  }
}

TEST(AggregateReader, TimestampsBecomeAbsolute) {
  // Aggregate at 1000; tags at 100 and 110 (stream id field 0) -> 1000, 1010.
  expect_split(aggregate(1000,
                         "09 000003 000064 00 000000 aabbcc 0000000e"
                         "08 000002 00006e 00 000000 ddee 0000000d"),
               {{9, 1000, "aabbcc"}, {8, 1010, "ddee"}});
}

TEST(AggregateReader, TimestampHighByte) {
  // Tag timestamps 0x01000000 and 0x01000010 (high byte 01), aggregate 0x01000000.
  expect_split(aggregate(0x01000000,
                         "09 000001 000000 01 000000 aa 0000000c"
                         "09 000001 000010 01 000000 bb 0000000c"),
               {{9, 0x01000000, "aa"}, {9, 0x01000010, "bb"}});
}

TEST(AggregateReader, OffsetWrapsAt32Bits) {
  // First tag at 0xFFFFFFF0, aggregate at 5: offset 0x15; the second tag's
  // 0xFFFFFFF8 lands at 0x0D.
  expect_split(aggregate(5,
                         "08 000001 fffff0 ff 000000 aa 0000000c"
                         "08 000001 fffff8 ff 000000 bb 0000000c"),
               {{8, 5, "aa"}, {8, 0x0D, "bb"}});
}

TEST(AggregateReader, StreamIdFieldIsIgnored) {
  expect_split(aggregate(0, "12 000001 000000 00 000007 ff 0000000c"), {{18, 0, "ff"}});
}

TEST(AggregateReader, EmptyBodyAndEmptyTags) {
  expect_split(aggregate(0, ""), {});
  expect_split(aggregate(50, "08 000000 000000 00 000000 0000000b 09 000000 00000a 00 000000 0000000b"),
               {{8, 50, ""}, {9, 60, ""}});
}

TEST(AggregateReader, MissingLastBackPointerIsAccepted) {
  // nginx-rtmp accepts this too.
  expect_split(aggregate(0, "09 000001 000000 00 000000 aa 0000000c 09 000001 000001 00 000000 bb"),
               {{9, 0, "aa"}, {9, 1, "bb"}});
}

TEST(AggregateReader, MalformedBodies) {
  const char* bodies[] = {
      "09",                                          // truncated tag header
      "09 000003 000064 00 0000",                    // truncated tag header
      "09 000003 000064 00 000000 aabb",             // body shorter than its size
      "09 000010 000064 00 000000 aabbcc 0000000e",  // size runs past the end
      "09 000001 000000 00 000000 aa 0000",          // partial back-pointer
      "09 000001 000000 00 000000 aa 0000000c 08",   // trailing garbage
  };
  for (const char* body : bodies) {
    const Message agg = aggregate(0, body);
    AggregateReader reader(agg);
    EXPECT_FALSE(reader.valid()) << body;
    Message m;
    EXPECT_FALSE(reader.next(m)) << body << ": nothing of a malformed aggregate is delivered";
  }
}

TEST(AggregateReader, ManyEmptyTagsCostOneMessageAtATime) {
  // 8 MB of empty tags: read one by one, nothing accumulates.
  Message agg;
  agg.header = {6, msg_type::kAggregate, 0, 1, 0};
  const Bytes empty_tag = hex("09 000000 000000 00 000000 0000000b");
  for (int i = 0; i < 500'000; ++i) agg.payload.insert(agg.payload.end(), empty_tag.begin(), empty_tag.end());
  agg.header.length = static_cast<std::uint32_t>(agg.payload.size());
  AggregateReader reader(agg);
  ASSERT_TRUE(reader.valid());
  Message m;
  std::size_t count = 0;
  while (reader.next(m)) {
    ++count;
    EXPECT_TRUE(m.payload.empty());
  }
  EXPECT_EQ(count, 500'000u);
}

}  // namespace
}  // namespace rw::rtmp
