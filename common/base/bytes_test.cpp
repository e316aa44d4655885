#include "common/base/bytes.hpp"

#include <gtest/gtest.h>

#include "common/base/expected.hpp"
#include "common/base/log.hpp"
#include "common/base/shared_buffer.hpp"

namespace rw {
namespace {

TEST(ByteReader, ReadsBigAndLittleEndian) {
  Bytes data = from_hex("01 0203 040506 0708090a 0b0c0d0e");
  ByteReader r(data);
  std::uint8_t a = 0;
  std::uint16_t b = 0;
  std::uint32_t c = 0, d = 0, e = 0;
  ASSERT_TRUE(r.read_u8(a));
  ASSERT_TRUE(r.read_u16be(b));
  ASSERT_TRUE(r.read_u24be(c));
  ASSERT_TRUE(r.read_u32be(d));
  ASSERT_TRUE(r.read_u32le(e));
  EXPECT_EQ(a, 0x01);
  EXPECT_EQ(b, 0x0203);
  EXPECT_EQ(c, 0x040506u);
  EXPECT_EQ(d, 0x0708090au);
  EXPECT_EQ(e, 0x0e0d0c0bu);
  EXPECT_TRUE(r.at_end());
}

TEST(ByteReader, ShortReadLeavesPositionUnchanged) {
  Bytes data = from_hex("0102");
  ByteReader r(data);
  std::uint32_t v = 0;
  EXPECT_FALSE(r.read_u24be(v));
  EXPECT_EQ(r.position(), 0u);
  EXPECT_EQ(r.remaining(), 2u);
}

TEST(ByteWriter, RoundTripsDouble) {
  Bytes out;
  ByteWriter w(out);
  w.f64be(1935.5);
  EXPECT_EQ(to_hex(out), "409e3e0000000000");
  ByteReader r(out);
  double v = 0;
  ASSERT_TRUE(r.read_f64be(v));
  EXPECT_EQ(v, 1935.5);
}

TEST(Hex, RejectsBadDigitsAndOddLength) {
  EXPECT_TRUE(from_hex("0g").empty());
  EXPECT_TRUE(from_hex("abc").empty());
  EXPECT_EQ(from_hex("AB cd"), (Bytes{0xab, 0xcd}));
}

TEST(Expected, HoldsValueOrError) {
  Expected<int, std::string> ok = 5;
  Expected<int, std::string> bad = unexpected(std::string("nope"));
  EXPECT_TRUE(ok);
  EXPECT_EQ(*ok, 5);
  EXPECT_FALSE(bad);
  EXPECT_EQ(bad.error(), "nope");
}

TEST(Utf8, InvalidBytesBecomeReplacementCharacters) {
  EXPECT_EQ(to_valid_utf8("plain"), "plain");
  EXPECT_EQ(to_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xa5"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xa5");
  const std::string bad = "\xef\xbf\xbd";
  EXPECT_EQ(to_valid_utf8("a\xff" "b"), "a" + bad + "b");
  EXPECT_EQ(to_valid_utf8("\xc3"), bad) << "truncated";
  EXPECT_EQ(to_valid_utf8("\xc0\xaf"), bad + bad) << "overlong";
  EXPECT_EQ(to_valid_utf8("\xed\xa0\x80"), bad + bad + bad) << "a surrogate";
  EXPECT_EQ(to_valid_utf8("\xf4\x90\x80\x80"), bad + bad + bad + bad) << "past U+10FFFF";
}

TEST(SharedBuffer, SharesWithoutCopy) {
  SharedBuffer a(Bytes{1, 2, 3});
  SharedBuffer b = a;
  EXPECT_EQ(a.data(), b.data());
  EXPECT_EQ(b.size(), 3u);
}

TEST(Logger, SinkGetsWholeLinesAboveLevel) {
  std::vector<std::string> lines;
  Logger log(LogLevel::Info, [&](LogLevel, std::string_view s) { lines.emplace_back(s); });
  log.debug() << "hidden";
  log.info() << "conn=" << 7 << " app=live";
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "conn=7 app=live");
}

}  // namespace
}  // namespace rw
