#include "common/rtmp/control.hpp"

#include <gtest/gtest.h>

#include "common/rtmp/chunk_encoder.hpp"

namespace rw::rtmp {
namespace {

Bytes hex(std::string_view h) { return from_hex(h); }

// Every builder: csid 2, message stream 0, timestamp 0, and the exact body.
struct BuilderCase {
  const char* name;
  Message message;
  std::uint8_t type;
  const char* body;
};

TEST(ControlMessages, BuildersMakeExactBodies) {
  const BuilderCase cases[] = {
      {"set chunk size 4096", make_set_chunk_size(4096), 1, "00001000"},
      {"set chunk size 60000", make_set_chunk_size(60000), 1, "0000ea60"},
      {"abort csid 4", make_abort(4), 2, "00000004"},
      {"acknowledgement", make_acknowledgement(0x01020304), 3, "01020304"},
      {"window ack size 2500000", make_window_ack_size(2500000), 5, "002625a0"},
      {"set peer bandwidth dynamic", make_set_peer_bandwidth(5000000, PeerBandwidthLimit::Dynamic), 6, "004c4b40 02"},
      {"set peer bandwidth hard", make_set_peer_bandwidth(2500000, PeerBandwidthLimit::Hard), 6, "002625a0 00"},
      {"stream begin 1", make_user_control({UserControlEvent::StreamBegin, 1, 0}), 4, "0000 00000001"},
      {"stream eof 1", make_user_control({UserControlEvent::StreamEof, 1, 0}), 4, "0001 00000001"},
      {"stream dry", make_user_control({UserControlEvent::StreamDry, 1, 0}), 4, "0002 00000001"},
      {"set buffer length 1: 3000 ms", make_user_control({UserControlEvent::SetBufferLength, 1, 3000}), 4,
       "0003 00000001 00000bb8"},
      {"stream is recorded 1", make_user_control({UserControlEvent::StreamIsRecorded, 1, 0}), 4, "0004 00000001"},
      {"ping request", make_user_control({UserControlEvent::PingRequest, 0x00000d0f, 0}), 4, "0006 00000d0f"},
      {"ping response", make_user_control({UserControlEvent::PingResponse, 0x00000d0f, 0}), 4, "0007 00000d0f"},
      {"buffer empty", make_user_control({UserControlEvent::BufferEmpty, 1, 0}), 4, "001f 00000001"},
      {"buffer ready", make_user_control({UserControlEvent::BufferReady, 1, 0}), 4, "0020 00000001"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(c.message.header.csid, 2u);
    EXPECT_EQ(c.message.header.stream_id, 0u);
    EXPECT_EQ(c.message.header.timestamp, 0u);
    EXPECT_EQ(c.message.header.type, c.type);
    EXPECT_EQ(to_hex(c.message.payload), to_hex(hex(c.body)));
    EXPECT_EQ(c.message.header.length, c.message.payload.size());
  }
}

TEST(ControlMessages, SetChunkSizeOnTheWire) {
  // What nginx-rtmp sends after connect.
  const Message m = make_set_chunk_size(4096);
  Bytes wire;
  encode_message_full(m.header, m.payload, 128, wire);
  EXPECT_EQ(to_hex(wire), "02000000000004010000000000001000");
}

struct ParseCase {
  const char* name;
  const char* body;
  std::optional<UserControl> expected;
};

TEST(UserControlParse, Events) {
  const ParseCase cases[] = {
      {"stream begin", "0000 00000001", UserControl{UserControlEvent::StreamBegin, 1, 0}},
      {"set buffer length", "0003 00000001 00000bb8", UserControl{UserControlEvent::SetBufferLength, 1, 3000}},
      {"ping request (librtmp)", "0006 00000d0f", UserControl{UserControlEvent::PingRequest, 0x0d0f, 0}},
      {"ping response", "0007 12345678", UserControl{UserControlEvent::PingResponse, 0x12345678, 0}},
      {"buffer ready", "0020 00000002", UserControl{UserControlEvent::BufferReady, 2, 0}},
      {"extra bytes are ignored", "0001 00000001 ffff", UserControl{UserControlEvent::StreamEof, 1, 0}},
      {"unknown event with a u32", "0063 00000005", UserControl{static_cast<UserControlEvent>(99), 5, 0}},
      {"swf verify request, type byte only", "001a 01", UserControl{UserControlEvent::SwfVerifyRequest, 0, 0}},
      {"swf verify request, bare", "001a", UserControl{UserControlEvent::SwfVerifyRequest, 0, 0}},
      {"empty", "", std::nullopt},
      {"one byte", "00", std::nullopt},
      {"stream begin without id", "0000", std::nullopt},
      {"stream begin, short id", "0000 000001", std::nullopt},
      {"set buffer length without length", "0003 00000001", std::nullopt},
      {"set buffer length, short length", "0003 00000001 000bb8", std::nullopt},
      {"ping without time", "0006 0000", std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto got = parse_user_control(hex(c.body));
    ASSERT_EQ(got.has_value(), c.expected.has_value());
    if (!got) continue;
    EXPECT_EQ(got->event, c.expected->event);
    EXPECT_EQ(got->value, c.expected->value);
    EXPECT_EQ(got->extra, c.expected->extra);
  }
}

TEST(UserControlParse, RoundTripsEveryBuilder) {
  const UserControl events[] = {
      {UserControlEvent::StreamBegin, 7, 0},     {UserControlEvent::StreamEof, 7, 0},
      {UserControlEvent::StreamDry, 7, 0},       {UserControlEvent::SetBufferLength, 7, 100},
      {UserControlEvent::StreamIsRecorded, 7, 0}, {UserControlEvent::PingRequest, 0xFFFFFFFF, 0},
      {UserControlEvent::PingResponse, 1, 0},    {UserControlEvent::BufferEmpty, 7, 0},
      {UserControlEvent::BufferReady, 7, 0},
  };
  for (const auto& uc : events) {
    const auto got = parse_user_control(make_user_control(uc).payload);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->event, uc.event);
    EXPECT_EQ(got->value, uc.value);
    EXPECT_EQ(got->extra, uc.extra);
  }
}

TEST(ParseU32Body, ReadsTheFirstFourBytes) {
  EXPECT_EQ(parse_u32_body(hex("00001000")), 4096u);
  EXPECT_EQ(parse_u32_body(hex("ffffffff 00")), 0xFFFFFFFFu);
  EXPECT_EQ(parse_u32_body(hex("001000")), std::nullopt);
  EXPECT_EQ(parse_u32_body({}), std::nullopt);
  EXPECT_EQ(parse_u32_body(make_window_ack_size(5000000).payload), 5000000u);
}

}  // namespace
}  // namespace rw::rtmp
