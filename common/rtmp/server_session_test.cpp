#include "common/rtmp/server_session.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "common/rtmp/aggregate.hpp"
#include "common/rtmp/chunk_decoder.hpp"
#include "common/rtmp/chunk_encoder.hpp"

namespace rw::rtmp {
namespace {

void fixed_random(std::span<std::uint8_t> out) {
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(i * 7 + 1);
}

SessionOptions test_options() {
  SessionOptions o;
  o.random = fixed_random;
  o.max_streams = 4;
  return o;
}

// The client side, built from the codec pieces: handshake bytes, then
// chunked messages; reads the server's replies back into messages.
class Client {
 public:
  Client() : handshake_({fixed_random, 0, 0}) { wire_ = handshake_.start(); }

  // Bytes the client has queued for the server.
  Bytes take() { return std::exchange(wire_, {}); }

  void command(const Command& c, std::uint32_t stream_id = 0, ObjectEncoding enc = ObjectEncoding::Amf0) {
    Message m = make_command(stream_id ? csid::kStreamCommand : csid::kCommand, stream_id, c, enc);
    encoder_.encode(m.header, m.payload, wire_);
  }
  void message(const Message& m) { encoder_.encode(m.header, m.payload, wire_); }

  // Feeds what the server sent: the handshake reply first, then chunks.
  std::vector<Message> receive(Bytes bytes) {
    ByteView in(bytes);
    if (!handshake_.done()) {
      auto r = handshake_.feed(in);
      EXPECT_FALSE(r.error);
      Bytes c2 = handshake_.take_output();
      wire_.insert(wire_.begin(), c2.begin(), c2.end());
      in = in.subspan(r.consumed);
    }
    std::vector<Message> out;
    auto r = decoder_.feed(in, out);
    EXPECT_FALSE(r.error);
    return out;
  }

 private:
  ClientHandshake handshake_;
  ChunkEncoder encoder_;
  ChunkDecoder decoder_;
  Bytes wire_;
};

Command connect_command(double encoding = 0) {
  amf::Object o{{"app", "live?token=abc"}, {"flashVer", "FMLE/3.0 (compatible; Lavf59.27.100)"},
                {"tcUrl", "rtmp://127.0.0.1:1935/live"}};
  if (encoding != 0) o.set("objectEncoding", encoding);
  return Command{"connect", 1, o, {}};
}

// Feeds everything, calling feed() again while it stops early (after
// max_messages_per_feed messages), as the connection does.
std::vector<SessionEvent> feed_all(ServerSession& s, const Bytes& bytes, std::optional<SessionError>* error = nullptr) {
  std::vector<SessionEvent> events;
  std::size_t at = 0;
  ServerSession::FeedResult r;
  do {
    r = s.feed(ByteView(bytes).subspan(at), events);
    at += r.consumed;
  } while (!r.error && r.consumed > 0 && at < bytes.size());
  if (error) *error = r.error;
  else EXPECT_FALSE(r.error) << (r.error ? r.error->detail : "");
  if (!r.error) {
    EXPECT_EQ(at, bytes.size());
  }
  return events;
}

std::vector<Command> commands_in(const std::vector<Message>& messages) {
  std::vector<Command> out;
  for (const auto& m : messages) {
    if (m.header.type != msg_type::kCommandAmf0 && m.header.type != msg_type::kCommandAmf3) continue;
    auto c = parse_command(m.payload, m.header.type, {});
    EXPECT_TRUE(c);
    if (c) out.push_back(*c);
  }
  return out;
}

const amf::Object& info_of(const Command& c) {
  static const amf::Object empty;
  if (c.args.empty() || !c.args[0].as_object()) return empty;
  return *c.args[0].as_object();
}

// Handshake and an accepted connect; returns the server's replies.
std::vector<Message> connect(ServerSession& server, Client& client, double encoding = 0) {
  client.receive(server.take_output());  // nothing yet
  feed_all(server, client.take());       // C0C1 -> S0S1S2
  client.receive(server.take_output());  // -> C2
  client.command(connect_command(encoding));
  auto events = feed_all(server, client.take());
  EXPECT_EQ(events.size(), 1u);
  EXPECT_TRUE(server.handshake_done());
  server.accept_connect(amf::Object{{"id", "abc"}});
  return client.receive(server.take_output());
}

TEST(ServerSession, ConnectEventCarriesAppAndQuery) {
  ServerSession server(test_options());
  Client client;
  feed_all(server, client.take());
  client.receive(server.take_output());
  client.command(connect_command());
  auto events = feed_all(server, client.take());
  ASSERT_EQ(events.size(), 1u);
  auto* c = std::get_if<ConnectEvent>(&events[0]);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->app, "live");
  EXPECT_EQ(c->app_query, "token=abc");
  EXPECT_EQ(c->tc_url, "rtmp://127.0.0.1:1935/live");
  EXPECT_EQ(c->encoding, ObjectEncoding::Amf0);
  EXPECT_EQ(c->transaction_id, 1);
}

TEST(ServerSession, AcceptSendsControlThenResult) {
  ServerSession server(test_options());
  Client client;
  auto replies = connect(server, client);
  ASSERT_GE(replies.size(), 5u);
  EXPECT_EQ(replies[0].header.type, msg_type::kWindowAckSize);
  EXPECT_EQ(replies[1].header.type, msg_type::kSetPeerBandwidth);
  EXPECT_EQ(replies[2].header.type, msg_type::kUserControl);
  EXPECT_EQ(replies[3].header.type, msg_type::kSetChunkSize);
  EXPECT_EQ(parse_u32_body(replies[3].payload), 4096u);
  auto cmds = commands_in(replies);
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].name, "_result");
  EXPECT_EQ(cmds[0].transaction_id, 1);
  ASSERT_TRUE(cmds[0].command_object.as_object());
  EXPECT_EQ(cmds[0].command_object.find("fmsVer")->as_string(), "FMS/3,5,7,7009");
  const amf::Object& info = info_of(cmds[0]);
  EXPECT_EQ(info.find("code")->as_string(), "NetConnection.Connect.Success");
  EXPECT_EQ(info.find("objectEncoding")->as_number(), 0);
  EXPECT_EQ(info.find("id")->as_string(), "abc");  // the application's extra field
  EXPECT_EQ(server.out_chunk_size(), 4096u);
  EXPECT_TRUE(server.connected());
}

TEST(ServerSession, Amf3ClientGetsAmf3Replies) {
  ServerSession server(test_options());
  Client client;
  auto replies = connect(server, client, 3);
  auto cmds = commands_in(replies);
  ASSERT_EQ(cmds.size(), 1u);
  const Message* result = nullptr;
  for (const auto& m : replies) {
    if (m.header.type == msg_type::kCommandAmf3) result = &m;
  }
  ASSERT_TRUE(result);
  EXPECT_EQ(result->payload[0], 0x00);
  EXPECT_EQ(info_of(cmds[0]).find("objectEncoding")->as_number(), 3);
  // The info object travels as AMF3 (switch marker 0x11, object marker 0x0A).
  bool switched = false;
  for (std::size_t i = 0; i + 1 < result->payload.size(); ++i) {
    if (result->payload[i] == 0x11 && result->payload[i + 1] == 0x0A) switched = true;
  }
  EXPECT_TRUE(switched);
}

TEST(ServerSession, RejectSendsErrorAndEndsTheSession) {
  ServerSession server(test_options());
  Client client;
  feed_all(server, client.take());
  client.receive(server.take_output());
  client.command(connect_command());
  feed_all(server, client.take());
  server.reject_connect("NetConnection.Connect.Rejected", "go away", amf::Value(amf::Object{{"reason", "banned"}}));
  auto cmds = commands_in(client.receive(server.take_output()));
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].name, "_error");
  EXPECT_EQ(info_of(cmds[0]).find("code")->as_string(), "NetConnection.Connect.Rejected");
  EXPECT_EQ(info_of(cmds[0]).find("description")->as_string(), "go away");
  EXPECT_EQ(info_of(cmds[0]).find("application")->find("reason")->as_string(), "banned");
  std::vector<SessionEvent> events;
  auto r = server.feed(Bytes{1, 2, 3}, events);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, SessionErrorKind::Rejected);
}

TEST(ServerSession, StreamCommandsBecomeTypedEvents) {
  ServerSession server(test_options());
  Client client;
  connect(server, client);
  client.command({"createStream", 2, amf::Null{}, {}});
  auto events = feed_all(server, client.take());
  ASSERT_EQ(events.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<CreateStreamEvent>(events[0]));
  EXPECT_EQ(server.create_stream(2), 1u);
  auto cmds = commands_in(client.receive(server.take_output()));
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].args.at(0).as_number(), 1);

  client.command({"publish", 0, amf::Null{}, {"cam?key=1", "append"}}, 1);
  client.command({"play", 0, amf::Null{}, {"test", 20000.0, -1.0, false}}, 1);
  client.command({"play", 0, amf::Null{}, {"bare"}}, 1);
  client.command({"play", 0, amf::Null{}, {"ffmpeg", -2000.0}}, 1);
  client.command({"play", 0, amf::Null{}, {"rtmpdump", -1000.0}}, 1);
  client.command({"seek", 0, amf::Null{}, {5000.0}}, 1);
  client.command({"pause", 0, amf::Null{}, {true, 1234.0}}, 1);
  client.command({"receiveVideo", 0, amf::Null{}, {false}}, 1);
  client.command({"play2", 0, amf::Null{}, {amf::Object{{"streamName", "hd"}, {"oldStreamName", "sd"},
                                                         {"start", 1000.0}, {"offset", 7.5}, {"transition", "resume"}}}},
                 1);
  client.command({"closeStream", 0, amf::Null{}, {}}, 1);
  client.command({"deleteStream", 0, amf::Null{}, {1.0}});
  client.command({"FCPublish", 3, amf::Null{}, {"cam"}});
  events = feed_all(server, client.take());
  ASSERT_EQ(events.size(), 12u);
  EXPECT_EQ(std::get<PlayEvent>(events[3]).start, kPlayLiveOrRecorded);
  EXPECT_EQ(std::get<PlayEvent>(events[4]).start, kPlayLiveOnly);
  events.erase(events.begin() + 3, events.begin() + 5);
  auto& pub = std::get<PublishEvent>(events[0]);
  EXPECT_EQ(pub.stream_id, 1u);
  EXPECT_EQ(pub.name, "cam?key=1");
  EXPECT_EQ(pub.type, "append");
  auto& play = std::get<PlayEvent>(events[1]);
  EXPECT_EQ(play.name, "test");
  EXPECT_EQ(play.start, 20000);
  EXPECT_FALSE(play.reset);
  auto& bare = std::get<PlayEvent>(events[2]);
  EXPECT_EQ(bare.start, -2);
  EXPECT_EQ(bare.length, -1);
  EXPECT_EQ(std::get<SeekEvent>(events[3]).ms, 5000);
  EXPECT_TRUE(std::get<PauseEvent>(events[4]).pause);
  EXPECT_EQ(std::get<PauseEvent>(events[4]).ms, 1234);
  EXPECT_FALSE(std::get<ReceiveMediaEvent>(events[5]).audio);
  EXPECT_FALSE(std::get<ReceiveMediaEvent>(events[5]).enabled);
  auto& play2 = std::get<Play2Event>(events[6]);
  EXPECT_EQ(play2.name, "hd");
  EXPECT_EQ(play2.old_name, "sd");
  EXPECT_EQ(play2.transition, "resume");
  EXPECT_EQ(play2.offset, 7.5);
  EXPECT_FALSE(std::get<CloseStreamEvent>(events[7]).deleted);
  EXPECT_TRUE(std::get<CloseStreamEvent>(events[8]).deleted);
  EXPECT_FALSE(server.stream_exists(1));
  auto& fc = std::get<CommandEvent>(events[9]);
  EXPECT_EQ(fc.command.name, "FCPublish");
  EXPECT_EQ(fc.command.args.at(0).as_string(), "cam");
}

TEST(ServerSession, CommandBeforeConnectIsRefused) {
  ServerSession server(test_options());
  Client client;
  feed_all(server, client.take());
  client.receive(server.take_output());
  client.command({"createStream", 2, amf::Null{}, {}});
  std::optional<SessionError> error;
  feed_all(server, client.take(), &error);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind, SessionErrorKind::NotConnected);
  auto cmds = commands_in(client.receive(server.take_output()));
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].name, "_error");
}

TEST(ServerSession, MalformedCommandGetsErrorReplyAndCloses) {
  ServerSession server(test_options());
  Client client;
  connect(server, client);
  // A command whose name is followed by 100 nested objects: deeper than
  // the 32 allowed.
  Bytes body;
  amf::encode_amf0(amf::Value("call"), body);
  amf::encode_amf0(amf::Value(5.0), body);
  for (int i = 0; i < 100; ++i) {
    body.insert(body.end(), {0x03, 0x00, 0x01, 'a'});
  }
  Message m;
  m.header = {csid::kCommand, msg_type::kCommandAmf0, 0, 0, static_cast<std::uint32_t>(body.size())};
  m.payload = body;
  client.message(m);
  std::optional<SessionError> error;
  feed_all(server, client.take(), &error);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind, SessionErrorKind::BadCommand);
  EXPECT_NE(error->detail.find("depth"), std::string::npos) << error->detail;
  auto cmds = commands_in(client.receive(server.take_output()));
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].name, "_error");
  EXPECT_EQ(cmds[0].transaction_id, 5);  // the call's own id was readable
  EXPECT_EQ(info_of(cmds[0]).find("code")->as_string(), "NetConnection.Call.BadValue");
}

TEST(ServerSession, AnswersPingsAndAcknowledgesTheClientsWindow) {
  ServerSession server(test_options());
  Client client;
  connect(server, client);
  client.message(make_user_control({UserControlEvent::PingRequest, 0x01020304, 0}));
  client.message(make_window_ack_size(1000));
  feed_all(server, client.take());
  auto replies = client.receive(server.take_output());
  ASSERT_EQ(replies.size(), 1u);
  auto pong = parse_user_control(replies[0].payload);
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->event, UserControlEvent::PingResponse);
  EXPECT_EQ(pong->value, 0x01020304u);

  // 1200 bytes of audio: past the 1000-byte window, one acknowledgement.
  Message audio;
  audio.header = {csid::kAudio, msg_type::kAudio, 10, 1, 1200};
  audio.payload.assign(1200, 0xAF);
  client.message(audio);
  auto events = feed_all(server, client.take());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(std::get<MediaEvent>(events[0]).message.payload.size(), 1200u);
  replies = client.receive(server.take_output());
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].header.type, msg_type::kAcknowledgement);
  EXPECT_EQ(parse_u32_body(replies[0].payload), server.bytes_received());
}

TEST(ServerSession, DataMessagesAndAggregates) {
  ServerSession server(test_options());
  Client client;
  connect(server, client);
  client.message(make_data(csid::kData, 1, 0,
                           {amf::Value("@setDataFrame"), amf::Value("onMetaData"), amf::Object{{"width", 640.0}}}));
  // An aggregate of one video and one audio sub-message at 1000 and 1010,
  // stamped 5000: the sub-messages become 5000 and 5010.
  Bytes agg;
  auto sub = [&](std::uint8_t type, std::uint32_t ts, Bytes body) {
    agg.push_back(type);
    agg.push_back(0);
    agg.push_back(0);
    agg.push_back(static_cast<std::uint8_t>(body.size()));
    agg.push_back(static_cast<std::uint8_t>(ts >> 16));
    agg.push_back(static_cast<std::uint8_t>(ts >> 8));
    agg.push_back(static_cast<std::uint8_t>(ts));
    agg.push_back(0);
    agg.insert(agg.end(), {0, 0, 0});
    agg.insert(agg.end(), body.begin(), body.end());
    std::uint32_t back = 11 + static_cast<std::uint32_t>(body.size());
    agg.insert(agg.end(), {0, 0, 0, static_cast<std::uint8_t>(back)});
  };
  sub(msg_type::kVideo, 1000, {0x17, 0x01, 0, 0, 0});
  sub(msg_type::kAudio, 1010, {0xAF, 0x01});
  Message m;
  m.header = {csid::kVideo, msg_type::kAggregate, 5000, 1, static_cast<std::uint32_t>(agg.size())};
  m.payload = agg;
  client.message(m);
  auto events = feed_all(server, client.take());
  ASSERT_EQ(events.size(), 2u);
  auto& data = std::get<DataEvent>(events[0]);
  ASSERT_EQ(data.values.size(), 3u);
  EXPECT_EQ(data.values[0].as_string(), "@setDataFrame");
  EXPECT_EQ(data.values[2].find("width")->as_number(), 640);
  // The aggregate comes whole; its publisher reads it one sub-message at a time.
  const Message& whole = std::get<MediaEvent>(events[1]).message;
  EXPECT_EQ(whole.header.type, msg_type::kAggregate);
  AggregateReader reader(whole);
  Message video, audio, none;
  ASSERT_TRUE(reader.next(video));
  ASSERT_TRUE(reader.next(audio));
  EXPECT_FALSE(reader.next(none));
  EXPECT_EQ(video.header.timestamp, 5000u);
  EXPECT_EQ(audio.header.timestamp, 5010u);
  EXPECT_EQ(audio.header.type, msg_type::kAudio);
}

TEST(ServerSession, MediaBeforeConnectIsDropped) {
  ServerSession server(test_options());
  Client client;
  feed_all(server, client.take());       // C0C1 -> S0S1S2
  client.receive(server.take_output());  // -> C2
  Message m;
  m.header = {csid::kVideo, msg_type::kAggregate, 0, 1, 15};
  m.payload = from_hex("09 000000 000000 00 000000 0000000b");
  client.message(m);
  m.header = {csid::kVideo, msg_type::kVideo, 0, 1, 2};
  m.payload = from_hex("1701");
  client.message(m);
  auto events = feed_all(server, client.take());
  ASSERT_EQ(events.size(), 2u);
  for (const auto& e : events) {
    ASSERT_TRUE(std::holds_alternative<NoticeEvent>(e));
    EXPECT_NE(std::get<NoticeEvent>(e).text.find("before connect"), std::string::npos);
  }
}

TEST(ServerSession, FeedStopsAfterABoundedNumberOfMessages) {
  // A peer can complete a message every two bytes; one feed() builds at
  // most max_messages_per_feed of them and leaves the rest of the input.
  SessionOptions options = test_options();
  options.max_messages_per_feed = 8;
  ServerSession server(options);
  Client client;
  connect(server, client);
  Bytes wire = client.take();
  // 100 one-byte audio messages on one chunk stream: a type-0 header, then
  // type-3 headers that start new messages with the same fields.
  const Bytes first = from_hex("04 000000 000001 08 01000000 af");
  wire.insert(wire.end(), first.begin(), first.end());
  for (int i = 1; i < 100; ++i) wire.insert(wire.end(), {0xC4, 0xAF});
  std::vector<SessionEvent> events;
  std::size_t at = 0, calls = 0, media = 0;
  while (at < wire.size()) {
    auto r = server.feed(ByteView(wire).subspan(at), events);
    ASSERT_FALSE(r.error);
    ASSERT_GT(r.consumed, 0u);
    EXPECT_LE(events.size(), 8u + 1);
    for (const auto& e : events) media += std::holds_alternative<MediaEvent>(e) ? 1 : 0;
    events.clear();
    at += r.consumed;
    ++calls;
  }
  EXPECT_EQ(media, 100u);
  EXPECT_GE(calls, 100u / 8);
}

TEST(ServerSession, PublisherLimitsOnlyWhilePublishing) {
  SessionOptions options = test_options();
  options.command_chunk_limits = {4096, 8, 8192};
  options.chunk_limits = {1u << 20, 64, 2u << 20};
  Message big;
  big.header = {csid::kVideo, msg_type::kVideo, 0, 1, 100'000};
  big.payload = Bytes(100'000, 0x27);

  // A pipelined encoder: publish, and its first keyframe right behind it
  // in the same read, before Publish.Start came back.
  {
    ServerSession server(options);
    Client client;
    connect(server, client);
    client.command(Command{"publish", 0, amf::Null{}, {amf::Value("cam"), amf::Value("live")}}, 1);
    client.message(big);
    const Bytes wire = client.take();
    std::vector<SessionEvent> events;
    auto r = server.feed(wire, events);
    ASSERT_FALSE(r.error);
    ASSERT_EQ(events.size(), 1u) << "the batch ends after the publish";
    ASSERT_TRUE(std::holds_alternative<PublishEvent>(events[0]));
    server.allow_publishing();  // what the application does
    events.clear();
    r = server.feed(ByteView(wire).subspan(r.consumed), events);
    ASSERT_FALSE(r.error) << r.error->detail;
    ASSERT_EQ(events.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<MediaEvent>(events[0]));
  }
  // Without an accepted publish the same message is refused.
  {
    ServerSession server(options);
    Client client;
    connect(server, client);
    client.message(big);
    std::optional<SessionError> error;
    feed_all(server, client.take(), &error);
    ASSERT_TRUE(error);
    EXPECT_NE(error->detail.find("too large"), std::string::npos) << error->detail;
  }
  // After publishing ends, back to the command limits: a large message
  // half sent then fails the connection.
  {
    ServerSession server(options);
    Client client;
    connect(server, client);
    server.allow_publishing();
    Bytes wire;
    encode_message_full(big.header, big.payload, 128, wire);
    std::vector<SessionEvent> events;
    auto r = server.feed(ByteView(wire).first(10'000), events);
    ASSERT_FALSE(r.error);
    server.restrict_to_commands();
    r = server.feed(ByteView(wire).subspan(10'000), events);
    ASSERT_TRUE(r.error);
    EXPECT_NE(r.error->detail.find("too large"), std::string::npos) << r.error->detail;
  }
}

TEST(ServerSession, DeleteStreamOfANonIdIsANotice) {
  ServerSession server(test_options());
  Client client;
  connect(server, client);
  for (double id : {std::nan(""), -1.0, 1e300, 2.5, 4294967296.0}) {
    client.command(Command{"deleteStream", 0, amf::Null{}, {amf::Value(id)}});
  }
  client.command(Command{"deleteStream", 0, amf::Null{}, {amf::Value(3.0)}});
  auto events = feed_all(server, client.take());
  ASSERT_EQ(events.size(), 6u);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(std::holds_alternative<NoticeEvent>(events[i])) << i;
  ASSERT_TRUE(std::holds_alternative<CloseStreamEvent>(events[5]));
  EXPECT_EQ(std::get<CloseStreamEvent>(events[5]).stream_id, 3u);
}

TEST(ServerSession, StreamLimitIsEnforced) {
  ServerSession server(test_options());  // max 4 streams
  Client client;
  connect(server, client);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(server.create_stream(10 + i));
  EXPECT_FALSE(server.create_stream(20));
  auto cmds = commands_in(client.receive(server.take_output()));
  ASSERT_EQ(cmds.size(), 5u);
  EXPECT_EQ(cmds[4].name, "_error");
}

TEST(ServerSession, StatusAndCallsUseTheRightShape) {
  ServerSession server(test_options());
  Client client;
  connect(server, client);
  server.send_status(1, "status", "NetStream.Play.Start", "Started playing test.", amf::Object{{"details", "test"}});
  server.send_call_error(7, "Method not found (fooBar).");
  server.send_call("onBWDone", {amf::Value(0.0)});
  auto replies = client.receive(server.take_output());
  auto cmds = commands_in(replies);
  ASSERT_EQ(cmds.size(), 3u);
  EXPECT_EQ(replies[0].header.stream_id, 1u);
  EXPECT_EQ(cmds[0].name, "onStatus");
  EXPECT_EQ(cmds[0].transaction_id, 0);
  EXPECT_TRUE(cmds[0].command_object.is_null());
  EXPECT_EQ(info_of(cmds[0]).find("code")->as_string(), "NetStream.Play.Start");
  EXPECT_EQ(info_of(cmds[0]).find("details")->as_string(), "test");
  EXPECT_EQ(cmds[1].name, "_error");
  EXPECT_EQ(cmds[1].transaction_id, 7);
  EXPECT_EQ(info_of(cmds[1]).find("code")->as_string(), "NetConnection.Call.Failed");
  EXPECT_EQ(cmds[2].name, "onBWDone");
}

TEST(ServerSession, SameEventsWhateverTheSplit) {
  // One client's whole conversation, fed in two parts at every split point.
  Client client;
  Bytes c0c1 = client.take();
  ServerSession reference(test_options());
  feed_all(reference, c0c1);
  client.receive(reference.take_output());
  client.command(connect_command());
  client.command({"createStream", 2, amf::Null{}, {}});
  client.command({"play", 0, amf::Null{}, {"test", -2.0}}, 1);
  Bytes rest = client.take();
  Bytes all = c0c1;
  all.insert(all.end(), rest.begin(), rest.end());

  auto count = [&](std::size_t split) {
    ServerSession s(test_options());
    std::vector<SessionEvent> events;
    auto r1 = s.feed(ByteView(all).first(split), events);
    auto r2 = s.feed(ByteView(all).subspan(split), events);
    EXPECT_FALSE(r1.error);
    EXPECT_FALSE(r2.error);
    EXPECT_EQ(r1.consumed + r2.consumed, all.size());
    return events.size();
  };
  for (std::size_t split = 0; split <= all.size(); ++split) {
    ASSERT_EQ(count(split), 3u) << "split at " << split;
  }
}

}  // namespace
}  // namespace rw::rtmp
