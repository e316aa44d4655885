#include "common/rtmp/command.hpp"

#include <gtest/gtest.h>

namespace rw::rtmp {
namespace {

TEST(Command, Amf0RoundTrip) {
  Command c{"connect", 1, amf::Object{{"app", "live"}, {"objectEncoding", 0.0}}, {"extra", 2.0}};
  Message m = make_command(csid::kCommand, 0, c, ObjectEncoding::Amf0);
  EXPECT_EQ(m.header.type, msg_type::kCommandAmf0);
  EXPECT_EQ(m.header.length, m.payload.size());
  // "connect" as an AMF0 string, then the number 1.
  EXPECT_EQ(to_hex(ByteView(m.payload).first(19)), "020007636f6e6e656374" "003ff0000000000000");
  auto back = parse_command(m.payload, m.header.type, {});
  ASSERT_TRUE(back);
  EXPECT_EQ(back->name, "connect");
  EXPECT_EQ(back->transaction_id, 1);
  EXPECT_EQ(back->command_object, c.command_object);
  EXPECT_EQ(back->args, c.args);
}

TEST(Command, Amf3EncodingSwitchesObjectsOnly) {
  Command c{"_result", 4, amf::Null{}, {amf::Object{{"code", "X"}}, "plain"}};
  Message m = make_command(csid::kCommand, 0, c, ObjectEncoding::Amf3);
  EXPECT_EQ(m.header.type, msg_type::kCommandAmf3);
  ASSERT_FALSE(m.payload.empty());
  EXPECT_EQ(m.payload[0], 0x00);
  // name (AMF0 string), txn (AMF0 number), null (AMF0), then 0x11 + AMF3 object.
  std::size_t after_null = 1 + 3 + 7 + 9 + 1;
  ASSERT_GT(m.payload.size(), after_null + 1);
  EXPECT_EQ(m.payload[after_null - 1], 0x05);
  EXPECT_EQ(m.payload[after_null], 0x11);
  EXPECT_EQ(m.payload[after_null + 1], 0x0A);
  auto back = parse_command(m.payload, m.header.type, {});
  ASSERT_TRUE(back);
  EXPECT_EQ(back->args.at(0).find("code")->as_string(), "X");
  EXPECT_EQ(back->args.at(1).as_string(), "plain");
}

TEST(Command, ParsesBareNamesAndType17WithoutFormatByte) {
  Bytes body;
  amf::encode_amf0(amf::Value("onBWDone"), body);
  auto bare = parse_command(body, msg_type::kCommandAmf0, {});
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->name, "onBWDone");
  EXPECT_TRUE(bare->args.empty());
  auto no_format_byte = parse_command(body, msg_type::kCommandAmf3, {});
  ASSERT_TRUE(no_format_byte);
  EXPECT_EQ(no_format_byte->name, "onBWDone");
}

TEST(Command, RejectsNonStringNamesAndTruncation) {
  Bytes body;
  amf::encode_amf0(amf::Value(1.0), body);
  EXPECT_FALSE(parse_command(body, msg_type::kCommandAmf0, {}));
  Bytes good;
  amf::encode_amf0(amf::Value("play"), good);
  amf::encode_amf0(amf::Value(0.0), good);
  for (std::size_t n = 1; n < good.size(); ++n) {
    if (n == 7) continue;  // exactly the name: a valid bare command
    EXPECT_FALSE(parse_command(ByteView(good).first(n), msg_type::kCommandAmf0, {})) << n;
  }
}

TEST(Command, DataMessagesDecodeAllValues) {
  Message m = make_data(csid::kData, 1, 40, {amf::Value("onMetaData"), amf::Object{{"duration", 0.0}}});
  EXPECT_EQ(m.header.type, msg_type::kDataAmf0);
  EXPECT_EQ(m.header.timestamp, 40u);
  auto values = parse_data(m.payload, m.header.type, {});
  ASSERT_TRUE(values);
  ASSERT_EQ(values->size(), 2u);
  EXPECT_EQ((*values)[0].as_string(), "onMetaData");
}

TEST(Command, StatusObjectFields) {
  amf::Object s = status_object("error", "NetStream.Play.StreamNotFound", "no such stream");
  ASSERT_EQ(s.properties.size(), 3u);
  EXPECT_EQ(s.properties[0].key, "level");
  EXPECT_EQ(s.find("code")->as_string(), "NetStream.Play.StreamNotFound");
}

}  // namespace
}  // namespace rw::rtmp
