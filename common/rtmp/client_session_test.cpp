#include "common/rtmp/client_session.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "common/rtmp/aggregate.hpp"
#include "common/rtmp/server_session.hpp"

namespace rw::rtmp {
namespace {

// Deterministic randomness (xorshift32), so a conversation can be recorded
// once and replayed byte for byte.
RandomFill seeded_random(std::uint32_t seed) {
  return [state = seed](std::span<std::uint8_t> out) mutable {
    for (auto& b : out) {
      state ^= state << 13;
      state ^= state >> 17;
      state ^= state << 5;
      b = static_cast<std::uint8_t>(state);
    }
  };
}

ClientOptions client_options() {
  ClientOptions o;
  o.random = seeded_random(7);
  o.handshake_time_ms = 1234;
  return o;
}

SessionOptions server_options() {
  SessionOptions o;
  o.random = seeded_random(11);
  return o;
}

ConnectParams connect_params() {
  ConnectParams p;
  p.app = "live";
  p.tc_url = "rtmp://127.0.0.1:1935/live";
  return p;
}

// C0+C1+C2 (client side) or S0+S1+S2 (server side).
constexpr std::size_t kHandshakeBytes = 1 + 2 * kHandshakeSize;

// Decodes one direction of a conversation after its handshake, so tests can
// assert what went over the wire.
class WireTap {
 public:
  void add(ByteView bytes) {
    while (!bytes.empty() && skip_ > 0) {
      const std::size_t n = std::min(skip_, bytes.size());
      skip_ -= n;
      bytes = bytes.subspan(n);
    }
    raw_.insert(raw_.end(), bytes.begin(), bytes.end());
    auto r = decoder_.feed(raw_, messages_);
    ASSERT_FALSE(r.error) << to_string(*r.error);
    raw_.erase(raw_.begin(), raw_.begin() + static_cast<std::ptrdiff_t>(r.consumed));
  }
  const std::vector<Message>& messages() const { return messages_; }
  std::vector<Message> of_type(std::uint8_t type) const {
    std::vector<Message> out;
    for (const auto& m : messages_) {
      if (m.header.type == type) out.push_back(m);
    }
    return out;
  }

 private:
  std::size_t skip_ = kHandshakeBytes;
  Bytes raw_;
  ChunkDecoder decoder_;
  std::vector<Message> messages_;
};

template <class T>
std::vector<T> events_of(const std::vector<ClientEvent>& events) {
  std::vector<T> out;
  for (const auto& e : events) {
    if (const T* t = std::get_if<T>(&e)) out.push_back(*t);
  }
  return out;
}

template <class T>
std::vector<T> events_of(const std::vector<SessionEvent>& events) {
  std::vector<T> out;
  for (const auto& e : events) {
    if (const T* t = std::get_if<T>(&e)) out.push_back(*t);
  }
  return out;
}

// A client and a real ServerSession joined in memory. With auto_answer the
// harness plays a tiny origin: it accepts connects (rejects app "reject"),
// creates streams, starts plays and publishes, and answers the calls
// "echo" (result with the arguments) and "fail" (error).
class Harness {
 public:
  explicit Harness(ClientOptions client_opts = client_options(), SessionOptions server_opts = server_options())
      : server(std::move(server_opts)), client(std::move(client_opts)) {}

  void pump() {
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      if (client.has_output()) {
        Bytes bytes = client.take_output();
        to_server.add(bytes);
        feed_server(bytes);
        moved = true;
      }
      if (server.has_output()) {
        Bytes bytes = server.take_output();
        to_client.add(bytes);
        feed_client(bytes);
        moved = true;
      }
      if (!moved) return;
    }
    FAIL() << "the conversation never went quiet";
  }

  // Connects and waits for the result.
  void connect(ConnectParams params = connect_params()) {
    client.connect(params);
    pump();
    ASSERT_TRUE(client.connected());
  }

  // Connects and creates a stream; returns its id.
  std::uint32_t connect_and_create_stream() {
    connect();
    const double txn = client.create_stream();
    pump();
    auto created = events_of<StreamCreatedEvent>(client_events);
    EXPECT_EQ(created.size(), 1u);
    if (created.empty()) return 0;
    EXPECT_EQ(created[0].transaction_id, txn);
    return created[0].stream_id;
  }

  ServerSession server;
  ClientSession client;
  WireTap to_server;
  WireTap to_client;
  std::vector<SessionEvent> server_events;
  std::vector<ClientEvent> client_events;
  std::optional<ClientError> client_error;
  bool auto_answer = true;

 private:
  // Both feed() a bounded batch of messages at a time: feed the rest.
  void feed_server(ByteView bytes) {
    while (!bytes.empty()) {
      std::vector<SessionEvent> events;
      auto r = server.feed(bytes, events);
      ASSERT_FALSE(r.error) << to_string(r.error->kind) << ": " << r.error->detail;
      ASSERT_GT(r.consumed, 0u);
      bytes = bytes.subspan(r.consumed);
      for (auto& e : events) {
        if (auto_answer) answer(e);
        server_events.push_back(std::move(e));
      }
    }
  }

  void feed_client(ByteView bytes) {
    while (!bytes.empty()) {
      auto r = client.feed(bytes, client_events);
      if (r.error) {
        client_error = r.error;
        return;
      }
      ASSERT_GT(r.consumed, 0u);
      bytes = bytes.subspan(r.consumed);
    }
  }

  void answer(const SessionEvent& e) {
    if (auto* connect = std::get_if<ConnectEvent>(&e)) {
      if (connect->app == "reject") {
        server.reject_connect("NetConnection.Connect.Rejected", "go away");
      } else {
        server.accept_connect();
      }
    } else if (auto* create = std::get_if<CreateStreamEvent>(&e)) {
      server.create_stream(create->transaction_id);
    } else if (auto* play = std::get_if<PlayEvent>(&e)) {
      server.send_user_control(UserControlEvent::StreamBegin, play->stream_id);
      server.send_status(play->stream_id, "status", "NetStream.Play.Reset", "Playing and resetting " + play->name);
      server.send_status(play->stream_id, "status", "NetStream.Play.Start", "Started playing " + play->name);
    } else if (auto* publish = std::get_if<PublishEvent>(&e)) {
      server.send_status(publish->stream_id, "status", "NetStream.Publish.Start", publish->name + " is published");
    } else if (auto* command = std::get_if<CommandEvent>(&e)) {
      if (command->command.name == "echo") {
        server.send_result(command->command.transaction_id, command->command.args);
      } else if (command->command.name == "fail") {
        server.send_call_error(command->command.transaction_id, "no such thing");
      }
    }
  }
};

MessageHeader media_header(std::uint8_t type, std::uint32_t stream_id, std::uint32_t timestamp, std::size_t length) {
  MessageHeader h;
  h.csid = type == msg_type::kAudio ? csid::kAudio : type == msg_type::kVideo ? csid::kVideo : csid::kData;
  h.type = type;
  h.stream_id = stream_id;
  h.timestamp = timestamp;
  h.length = static_cast<std::uint32_t>(length);
  return h;
}

Bytes pattern(std::size_t size, std::uint8_t seed) {
  Bytes b(size);
  for (std::size_t i = 0; i < size; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 7);
  return b;
}

// --- Handshake and connect --------------------------------------------------

TEST(ClientSession, QueuesC0C1AtOnceAndHoldsCommandsBehindC2) {
  Harness h;
  ASSERT_TRUE(h.client.has_output());
  Bytes c0c1 = h.client.take_output();
  ASSERT_EQ(c0c1.size(), 1 + kHandshakeSize);
  EXPECT_EQ(c0c1[0], 0x03);
  EXPECT_EQ(get_u32be(c0c1.data() + 1), 1234u);  // time field
  EXPECT_NE(get_u32be(c0c1.data() + 5), 0u);     // a version: the digest handshake

  EXPECT_EQ(h.client.connect(connect_params()), 1.0);
  EXPECT_FALSE(h.client.has_output()) << "connect must wait for C2";

  std::vector<SessionEvent> server_events;
  auto fed = h.server.feed(c0c1, server_events);
  ASSERT_FALSE(fed.error);
  Bytes s0s1s2 = h.server.take_output();
  ASSERT_EQ(s0s1s2.size(), 1 + 2 * kHandshakeSize);
  auto r = h.client.feed(s0s1s2, h.client_events);
  ASSERT_FALSE(r.error);
  EXPECT_EQ(r.consumed, s0s1s2.size());
  EXPECT_TRUE(h.client.handshake_done());
  EXPECT_EQ(h.client.state(), ClientSession::State::Connecting);

  Bytes out = h.client.take_output();
  ASSERT_GT(out.size(), kHandshakeSize);
  EXPECT_EQ(out[kHandshakeSize], 0x03) << "the connect command follows C2 with a fmt-0 header on chunk stream 3";
  fed = h.server.feed(out, server_events);
  ASSERT_FALSE(fed.error) << fed.error->detail;
  auto connects = events_of<ConnectEvent>(server_events);
  ASSERT_EQ(connects.size(), 1u);
  EXPECT_EQ(connects[0].app, "live");
}

TEST(ClientSession, ConnectSendsTheUsualFieldsAndExtras) {
  Harness h;
  ConnectParams p = connect_params();
  p.flash_version = "FMLE/3.0 (compatible; FMSc/1.0)";
  p.extra_fields = amf::Object{{"type", "nonprivate"}, {"capabilities", 239}};
  p.args = {amf::Value("user"), amf::Value("secret")};
  h.connect(p);

  auto connects = events_of<ConnectEvent>(h.server_events);
  ASSERT_EQ(connects.size(), 1u);
  const ConnectEvent& c = connects[0];
  EXPECT_EQ(c.transaction_id, 1.0);
  EXPECT_EQ(c.app, "live");
  EXPECT_EQ(c.tc_url, "rtmp://127.0.0.1:1935/live");
  EXPECT_EQ(c.flash_version, "FMLE/3.0 (compatible; FMSc/1.0)");
  EXPECT_EQ(c.encoding, ObjectEncoding::Amf0);
  EXPECT_EQ(c.command_object.find("objectEncoding"), nullptr) << "not sent unless asked for";
  ASSERT_NE(c.command_object.find("type"), nullptr);
  EXPECT_EQ(c.command_object.find("type")->as_string(), "nonprivate");
  EXPECT_EQ(c.command_object.find("capabilities")->as_number(), 239) << "extra fields override defaults";
  EXPECT_EQ(c.command_object.find("fpad")->as_bool(true), false);
  EXPECT_EQ(c.command_object.find("videoFunction")->as_number(), 1);
  ASSERT_EQ(c.args.size(), 2u);
  EXPECT_EQ(c.args[1].as_string(), "secret");
}

TEST(ClientSession, ConnectedEventCarriesPropertiesAndInfo) {
  Harness h;
  h.connect();
  auto connected = events_of<ConnectedEvent>(h.client_events);
  ASSERT_EQ(connected.size(), 1u);
  EXPECT_EQ(connected[0].properties.find("fmsVer")->as_string(), "FMS/3,5,7,7009");
  EXPECT_EQ(connected[0].info.find("code")->as_string(), "NetConnection.Connect.Success");
  EXPECT_EQ(h.client.state(), ClientSession::State::Connected);
}

TEST(ClientSession, AnnouncesWindowAndChunkSizeOnceConnected) {
  ClientOptions o = client_options();
  o.out_chunk_size = 4096;
  o.window_ack_size = 3'000'000;
  Harness h(o);
  h.connect();
  EXPECT_EQ(h.client.out_chunk_size(), 4096u);
  const auto& wire = h.to_server.messages();
  ASSERT_GE(wire.size(), 3u);
  EXPECT_EQ(wire[0].header.type, msg_type::kCommandAmf0);  // connect
  EXPECT_EQ(wire[1].header.type, msg_type::kWindowAckSize);
  EXPECT_EQ(parse_u32_body(wire[1].payload), 3'000'000u);
  EXPECT_EQ(wire[2].header.type, msg_type::kSetChunkSize);
  EXPECT_EQ(parse_u32_body(wire[2].payload), 4096u);
}

TEST(ClientSession, AnnouncesNothingWhenTheDefaultsAreKept) {
  ClientOptions o = client_options();
  o.out_chunk_size = 128;
  o.window_ack_size = 0;
  Harness h(o);
  h.connect();
  EXPECT_EQ(h.client.out_chunk_size(), 128u);
  EXPECT_TRUE(h.to_server.of_type(msg_type::kSetChunkSize).empty());
  EXPECT_TRUE(h.to_server.of_type(msg_type::kWindowAckSize).empty());
}

TEST(ClientSession, AppliesTheServersChunkSize) {
  SessionOptions so = server_options();
  so.out_chunk_size = 60000;  // SRS's
  Harness h(client_options(), so);
  h.connect();
  EXPECT_EQ(h.client.in_chunk_size(), 60000u);
}

TEST(ClientSession, RejectedConnectReportsTheInfoObject) {
  Harness h;
  ConnectParams p = connect_params();
  p.app = "reject";
  h.client.connect(p);
  h.pump();
  auto failed = events_of<ConnectFailedEvent>(h.client_events);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].info.find("code")->as_string(), "NetConnection.Connect.Rejected");
  EXPECT_EQ(failed[0].info.find("description")->as_string(), "go away");
  EXPECT_EQ(h.client.state(), ClientSession::State::ConnectFailed);
  EXPECT_TRUE(events_of<ConnectedEvent>(h.client_events).empty());
  EXPECT_TRUE(h.to_server.of_type(msg_type::kSetChunkSize).empty()) << "nothing is announced after a rejection";
}

TEST(ClientSession, Amf3ConnectionSpeaksType17AfterConnect) {
  Harness h;
  ConnectParams p = connect_params();
  p.object_encoding = ObjectEncoding::Amf3;
  h.connect(p);
  auto connects = events_of<ConnectEvent>(h.server_events);
  ASSERT_EQ(connects.size(), 1u);
  EXPECT_EQ(connects[0].encoding, ObjectEncoding::Amf3);
  EXPECT_EQ(h.to_server.messages()[0].header.type, msg_type::kCommandAmf0) << "connect itself is AMF0";
  EXPECT_FALSE(h.to_client.of_type(msg_type::kCommandAmf3).empty()) << "the server answers in AMF3";

  const double txn = h.client.call("echo", {amf::Object{{"nested", amf::Object{{"x", 1}}}}});
  h.pump();
  auto calls = events_of<CommandEvent>(h.server_events);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].message_type, msg_type::kCommandAmf3);
  auto results = events_of<ResultEvent>(h.client_events);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].transaction_id, txn);
  ASSERT_EQ(results[0].values.size(), 1u);
  const amf::Value* nested = results[0].values[0].find("nested");
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ(nested->find("x")->as_number(), 1);
}

// --- Streams -----------------------------------------------------------------

TEST(ClientSession, CreateStreamsAreMatchedByTransaction) {
  Harness h;
  h.connect();
  const double first = h.client.create_stream();
  const double second = h.client.create_stream();
  EXPECT_NE(first, second);
  h.pump();
  auto created = events_of<StreamCreatedEvent>(h.client_events);
  ASSERT_EQ(created.size(), 2u);
  EXPECT_EQ(created[0].transaction_id, first);
  EXPECT_EQ(created[0].stream_id, 1u);
  EXPECT_EQ(created[1].transaction_id, second);
  EXPECT_EQ(created[1].stream_id, 2u);
  EXPECT_TRUE(events_of<ResultEvent>(h.client_events).empty()) << "createStream results are not generic results";
}

TEST(ClientSession, RefusedCreateStreamIsACallError) {
  SessionOptions so = server_options();
  so.max_streams = 1;
  Harness h(client_options(), so);
  h.connect();
  h.client.create_stream();
  const double refused = h.client.create_stream();
  h.pump();
  EXPECT_EQ(events_of<StreamCreatedEvent>(h.client_events).size(), 1u);
  auto errors = events_of<CallErrorEvent>(h.client_events);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].transaction_id, refused);
}

TEST(ClientSession, PlayGetsStatusControlAndMedia) {
  Harness h;
  const std::uint32_t id = h.connect_and_create_stream();
  ASSERT_EQ(id, 1u);
  h.client.set_buffer_length(id, 3000);
  h.client.play(id, "cam?token=1", -1, -1, true);
  h.pump();

  auto buffers = events_of<BufferLengthEvent>(h.server_events);
  ASSERT_EQ(buffers.size(), 1u);
  EXPECT_EQ(buffers[0].stream_id, id);
  EXPECT_EQ(buffers[0].ms, 3000u);
  auto plays = events_of<PlayEvent>(h.server_events);
  ASSERT_EQ(plays.size(), 1u);
  EXPECT_EQ(plays[0].stream_id, id);
  EXPECT_EQ(plays[0].name, "cam?token=1");
  EXPECT_EQ(plays[0].start, -1);
  EXPECT_EQ(plays[0].length, -1);
  EXPECT_TRUE(plays[0].reset);

  auto controls = events_of<ServerControlEvent>(h.client_events);
  ASSERT_EQ(controls.size(), 2u);  // StreamBegin 0 after connect, StreamBegin 1 for the play
  EXPECT_EQ(controls[1].control.event, UserControlEvent::StreamBegin);
  EXPECT_EQ(controls[1].control.value, id);
  auto statuses = events_of<StatusEvent>(h.client_events);
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[0].stream_id, id);
  EXPECT_EQ(statuses[0].code, "NetStream.Play.Reset");
  EXPECT_EQ(statuses[1].code, "NetStream.Play.Start");
  EXPECT_EQ(statuses[1].level, "status");
  EXPECT_EQ(statuses[1].description, "Started playing cam?token=1");
  EXPECT_EQ(statuses[1].info.find("code")->as_string(), "NetStream.Play.Start");

  // Media as an origin sends it: shared full-header chunks, and compressed
  // ones through the session.
  const Bytes video = pattern(10000, 1);
  const Bytes audio = pattern(300, 2);
  Bytes shared;
  encode_message_full(media_header(msg_type::kVideo, id, 40, video.size()), video, h.server.out_chunk_size(), shared);
  h.server.send_data(id, 0, {"onMetaData", amf::Object{{"width", 640}}});
  h.server.send_message(media_header(msg_type::kAudio, id, 23, audio.size()), audio);
  h.pump();
  auto r = h.client.feed(shared, h.client_events);
  ASSERT_FALSE(r.error);
  EXPECT_EQ(r.consumed, shared.size());

  auto media = events_of<StreamMessageEvent>(h.client_events);
  ASSERT_EQ(media.size(), 3u);
  EXPECT_EQ(media[0].message.header.type, msg_type::kDataAmf0);
  auto values = parse_data(media[0].message.payload, msg_type::kDataAmf0, {});
  ASSERT_TRUE(values);
  EXPECT_EQ((*values)[0].as_string(), "onMetaData");
  EXPECT_EQ(media[1].message.header.type, msg_type::kAudio);
  EXPECT_EQ(media[1].message.header.timestamp, 23u);
  EXPECT_EQ(media[1].message.payload, audio);
  EXPECT_EQ(media[2].message.header.type, msg_type::kVideo);
  EXPECT_EQ(media[2].message.header.stream_id, id);
  EXPECT_EQ(media[2].message.header.timestamp, 40u);
  EXPECT_EQ(media[2].message.payload, video);
}

TEST(ClientSession, StreamCommandsReachTheServer) {
  Harness h;
  const std::uint32_t id = h.connect_and_create_stream();
  h.client.seek(id, 5000);
  h.client.pause(id, true, 1234);
  h.client.pause(id, false, 1234);
  h.client.receive_audio(id, false);
  h.client.receive_video(id, true);
  h.client.close_stream(id);
  h.client.delete_stream(id);
  h.pump();

  auto seeks = events_of<SeekEvent>(h.server_events);
  ASSERT_EQ(seeks.size(), 1u);
  EXPECT_EQ(seeks[0].stream_id, id);
  EXPECT_EQ(seeks[0].ms, 5000);
  auto pauses = events_of<PauseEvent>(h.server_events);
  ASSERT_EQ(pauses.size(), 2u);
  EXPECT_TRUE(pauses[0].pause);
  EXPECT_EQ(pauses[0].ms, 1234);
  EXPECT_FALSE(pauses[1].pause);
  auto receives = events_of<ReceiveMediaEvent>(h.server_events);
  ASSERT_EQ(receives.size(), 2u);
  EXPECT_TRUE(receives[0].audio);
  EXPECT_FALSE(receives[0].enabled);
  EXPECT_FALSE(receives[1].audio);
  EXPECT_TRUE(receives[1].enabled);
  auto closes = events_of<CloseStreamEvent>(h.server_events);
  ASSERT_EQ(closes.size(), 2u);
  EXPECT_EQ(closes[0].stream_id, id);
  EXPECT_FALSE(closes[0].deleted);
  EXPECT_EQ(closes[1].stream_id, id);
  EXPECT_TRUE(closes[1].deleted);
  EXPECT_FALSE(h.server.stream_exists(id));

  // Stream commands travel on the stream; deleteStream on the connection.
  auto commands = h.to_server.of_type(msg_type::kCommandAmf0);
  ASSERT_GE(commands.size(), 2u);
  EXPECT_EQ(commands[commands.size() - 2].header.stream_id, id);  // closeStream
  EXPECT_EQ(commands.back().header.stream_id, 0u);                // deleteStream
}

TEST(ClientSession, PublishesMediaAndMetadata) {
  Harness h;
  const std::uint32_t id = h.connect_and_create_stream();
  h.client.publish(id, "cam", "record");
  h.pump();
  auto publishes = events_of<PublishEvent>(h.server_events);
  ASSERT_EQ(publishes.size(), 1u);
  EXPECT_EQ(publishes[0].name, "cam");
  EXPECT_EQ(publishes[0].type, "record");
  auto statuses = events_of<StatusEvent>(h.client_events);
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses[0].code, "NetStream.Publish.Start");

  const Bytes sequence_header = pattern(40, 3);
  const Bytes keyframe = pattern(10000, 4);  // three chunks at 4096
  const Bytes audio = pattern(200, 5);
  h.client.send_data(id, 0, {"@setDataFrame", "onMetaData", amf::Object{{"framerate", 30}}});
  EXPECT_TRUE(h.client.send_media(id, msg_type::kVideo, 0, sequence_header));
  EXPECT_TRUE(h.client.send_media(id, msg_type::kVideo, 0, keyframe));
  EXPECT_TRUE(h.client.send_media(id, msg_type::kAudio, 21, audio));
  EXPECT_TRUE(h.client.send_media(id, msg_type::kVideo, 33, keyframe));
  EXPECT_TRUE(h.client.send_media(id, msg_type::kVideo, 0x1000000, audio)) << "an extended timestamp";
  h.pump();

  auto data = events_of<DataEvent>(h.server_events);
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0].stream_id, id);
  ASSERT_EQ(data[0].values.size(), 3u);
  EXPECT_EQ(data[0].values[0].as_string(), "@setDataFrame");
  EXPECT_EQ(data[0].values[2].find("framerate")->as_number(), 30);
  auto media = events_of<MediaEvent>(h.server_events);
  ASSERT_EQ(media.size(), 5u);
  EXPECT_EQ(media[0].message.payload, sequence_header);
  EXPECT_EQ(media[1].message.payload, keyframe);
  EXPECT_EQ(media[2].message.header.type, msg_type::kAudio);
  EXPECT_EQ(media[2].message.header.timestamp, 21u);
  EXPECT_EQ(media[2].message.payload, audio);
  EXPECT_EQ(media[3].message.header.timestamp, 33u);
  EXPECT_EQ(media[3].message.header.stream_id, id);
  EXPECT_EQ(media[3].message.payload, keyframe);
  EXPECT_EQ(media[4].message.header.timestamp, 0x1000000u);
}

TEST(ClientSession, RefusesAPayloadTooLongForTheChunkHeader) {
  Harness h;
  const std::uint32_t id = h.connect_and_create_stream();
  const Bytes huge(kMaxMessageLength + 1);
  h.client.take_output();
  EXPECT_FALSE(h.client.send_media(id, msg_type::kVideo, 0, huge));
  EXPECT_FALSE(h.client.has_output());
}

TEST(ClientSession, ServerAcknowledgesWhatAPublisherSends) {
  ClientOptions o = client_options();
  o.window_ack_size = 5000;
  Harness h(o);
  const std::uint32_t id = h.connect_and_create_stream();
  h.client.publish(id, "cam");
  h.pump();
  EXPECT_EQ(h.client.peer_acknowledged(), 0u);
  EXPECT_EQ(h.client.acknowledgements_received(), 0u);
  h.client.send_media(id, msg_type::kVideo, 0, pattern(12000, 1));
  h.pump();
  EXPECT_GE(h.client.peer_acknowledged(), 5000u);
  EXPECT_GE(h.client.acknowledgements_received(), 1u);
}

// --- Control -------------------------------------------------------------------

TEST(ClientSession, AnswersPingRequestsWithoutAnEvent) {
  Harness h;
  h.connect();
  const std::size_t controls_before = events_of<ServerControlEvent>(h.client_events).size();
  h.server.send_user_control(UserControlEvent::PingRequest, 0x01020304);
  h.pump();
  EXPECT_EQ(h.client.pings_answered(), 1u);
  EXPECT_EQ(events_of<ServerControlEvent>(h.client_events).size(), controls_before);
  auto controls = h.to_server.of_type(msg_type::kUserControl);
  ASSERT_EQ(controls.size(), 1u);
  EXPECT_EQ(to_hex(controls[0].payload), "000701020304");
  EXPECT_EQ(controls[0].header.csid, csid::kControl);
  EXPECT_EQ(controls[0].header.stream_id, 0u);
}

TEST(ClientSession, ReportsOtherUserControlEvents) {
  Harness h;
  h.connect();
  h.server.send_user_control(UserControlEvent::StreamIsRecorded, 1);
  h.server.send_user_control(UserControlEvent::StreamEof, 1);
  h.pump();
  auto controls = events_of<ServerControlEvent>(h.client_events);
  ASSERT_EQ(controls.size(), 3u);  // StreamBegin 0 from accept_connect first
  EXPECT_EQ(controls[0].control.event, UserControlEvent::StreamBegin);
  EXPECT_EQ(controls[1].control.event, UserControlEvent::StreamIsRecorded);
  EXPECT_EQ(controls[2].control.event, UserControlEvent::StreamEof);
  EXPECT_EQ(controls[2].control.value, 1u);
}

TEST(ClientSession, AcknowledgesEachWindowTheServerAskedFor) {
  SessionOptions so = server_options();
  so.window_ack_size = 3000;
  Harness h(client_options(), so);
  const std::uint32_t id = h.connect_and_create_stream();
  h.client.play(id, "cam");
  h.pump();
  EXPECT_EQ(h.client.acknowledgements_sent(), 0u) << "connect replies are far below 3000 bytes";

  std::uint64_t acked_through = 0;
  for (std::uint32_t i = 0; i < 10; ++i) {
    const Bytes frame = pattern(1000, static_cast<std::uint8_t>(i));
    h.server.send_message(media_header(msg_type::kVideo, id, i * 33, frame.size()), frame);
    h.pump();
    auto acks = h.to_server.of_type(msg_type::kAcknowledgement);
    if (!acks.empty()) acked_through = *parse_u32_body(acks.back().payload);
    // Never more than a window received without an acknowledgement.
    EXPECT_LT(h.client.bytes_received() - acked_through, 3000u);
  }
  auto acks = h.to_server.of_type(msg_type::kAcknowledgement);
  EXPECT_GE(acks.size(), 3u);
  EXPECT_EQ(acks.size(), h.client.acknowledgements_sent());
  EXPECT_EQ(*parse_u32_body(acks.back().payload), acked_through);
  EXPECT_LE(acked_through, h.client.bytes_received());
}

TEST(ClientSession, PassesAggregatesOnWholeForAggregateReader) {
  Harness h;
  const std::uint32_t id = h.connect_and_create_stream();
  // Two FLV-like tags: video at 500 and audio at 540; the aggregate's
  // timestamp 10000 makes them 10000 and 10040.
  const Bytes body = from_hex(
      "09 000003 0001f4 00 000000 aabbcc 0000000e"
      "08 000002 00021c 00 000000 ddee 0000000d");
  h.server.send_message({csid::kVideo, msg_type::kAggregate, 10000, id, static_cast<std::uint32_t>(body.size())},
                        body);
  h.pump();
  auto events = events_of<StreamMessageEvent>(h.client_events);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].message.header.type, msg_type::kAggregate);
  AggregateReader reader(events[0].message);
  std::vector<StreamMessageEvent> media(2);
  ASSERT_TRUE(reader.next(media[0].message));
  ASSERT_TRUE(reader.next(media[1].message));
  Message extra;
  EXPECT_FALSE(reader.next(extra));
  EXPECT_EQ(media[0].message.header.type, msg_type::kVideo);
  EXPECT_EQ(media[0].message.header.timestamp, 10000u);
  EXPECT_EQ(media[0].message.header.stream_id, id);
  EXPECT_EQ(to_hex(media[0].message.payload), "aabbcc");
  EXPECT_EQ(media[1].message.header.type, msg_type::kAudio);
  EXPECT_EQ(media[1].message.header.timestamp, 10040u);
  EXPECT_EQ(to_hex(media[1].message.payload), "ddee");
}

TEST(ClientSession, MalformedAggregateIsANoticeNotAnError) {
  Harness h;
  h.connect();
  const Bytes body = from_hex("09 0000ff 000000 00 000000 aa");  // claims 255 bytes
  h.server.send_message({csid::kVideo, msg_type::kAggregate, 0, 1, static_cast<std::uint32_t>(body.size())}, body);
  h.pump();
  EXPECT_FALSE(h.client_error);
  EXPECT_EQ(events_of<ClientNoticeEvent>(h.client_events).size(), 1u);
  EXPECT_TRUE(events_of<StreamMessageEvent>(h.client_events).empty());
}

TEST(ClientSession, UnknownAndSharedObjectMessagesAreNotices) {
  Harness h;
  h.connect();
  const Bytes body = from_hex("0102");
  h.server.send_message({csid::kData, 99, 0, 0, 2}, body);
  h.server.send_message({csid::kData, msg_type::kSharedObjectAmf0, 0, 0, 2}, body);
  h.pump();
  EXPECT_FALSE(h.client_error);
  auto notices = events_of<ClientNoticeEvent>(h.client_events);
  ASSERT_EQ(notices.size(), 2u);
  EXPECT_NE(notices[0].text.find("99"), std::string::npos);
  EXPECT_NE(notices[1].text.find("shared object"), std::string::npos);
}

// --- Calls -------------------------------------------------------------------------

TEST(ClientSession, CallResultsAndErrorsAreMatchedByTransaction) {
  Harness h;
  h.connect();
  const double ok = h.client.call("echo", {"hello", 42});
  const double bad = h.client.call("fail", {});
  const double quiet = h.client.call("notify", {"x"}, false);
  EXPECT_EQ(quiet, 0);
  EXPECT_NE(ok, bad);
  EXPECT_GT(ok, 1) << "1 belongs to connect";
  h.pump();

  auto calls = events_of<CommandEvent>(h.server_events);
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].command.name, "echo");
  EXPECT_EQ(calls[0].command.transaction_id, ok);
  EXPECT_TRUE(calls[0].command.command_object.is_null());
  EXPECT_EQ(calls[2].command.transaction_id, 0);

  auto results = events_of<ResultEvent>(h.client_events);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].transaction_id, ok);
  ASSERT_EQ(results[0].values.size(), 2u);
  EXPECT_EQ(results[0].values[0].as_string(), "hello");
  EXPECT_EQ(results[0].values[1].as_number(), 42);
  auto errors = events_of<CallErrorEvent>(h.client_events);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].transaction_id, bad);
  ASSERT_EQ(errors[0].values.size(), 1u);
  EXPECT_EQ(errors[0].values[0].find("code")->as_string(), "NetConnection.Call.Failed");
}

TEST(ClientSession, ResultsAnsweredOutOfOrderStillMatch) {
  Harness h;
  h.connect();
  h.auto_answer = false;
  const double a = h.client.call("slow", {"a"});
  const double b = h.client.call("slow", {"b"});
  h.pump();
  auto calls = events_of<CommandEvent>(h.server_events);
  ASSERT_EQ(calls.size(), 2u);
  h.server.send_result(calls[1].command.transaction_id, {"for b"});
  h.server.send_result(calls[0].command.transaction_id, {"for a"});
  h.pump();
  auto results = events_of<ResultEvent>(h.client_events);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].transaction_id, b);
  EXPECT_EQ(results[0].values[0].as_string(), "for b");
  EXPECT_EQ(results[1].transaction_id, a);
  EXPECT_EQ(results[1].values[0].as_string(), "for a");
}

TEST(ClientSession, ServerCallsAreEventsTheClientCanAnswer) {
  Harness h;
  h.connect();
  h.server.send_call("onBWDone", {amf::Null{}, 8192});
  h.server.send_call("onBWCheck", {}, 7);
  h.server.send_status(0, "status", "NetConnection.Connect.Something", "on the connection");
  h.pump();
  auto calls = events_of<ServerCallEvent>(h.client_events);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].command.name, "onBWDone");
  EXPECT_EQ(calls[0].command.transaction_id, 0);
  ASSERT_EQ(calls[0].command.args.size(), 2u);
  EXPECT_EQ(calls[0].command.args[1].as_number(), 8192);
  EXPECT_EQ(calls[1].command.name, "onBWCheck");
  EXPECT_EQ(calls[1].command.transaction_id, 7);
  auto statuses = events_of<StatusEvent>(h.client_events);
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses[0].stream_id, 0u);

  h.client.send_result(7, {amf::Null{}});
  h.client.send_call_error(8, "not here");
  h.pump();
  auto replies = events_of<CommandEvent>(h.server_events);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].command.name, "_result");
  EXPECT_EQ(replies[0].command.transaction_id, 7);
  EXPECT_EQ(replies[1].command.name, "_error");
  EXPECT_EQ(replies[1].command.args[0].find("description")->as_string(), "not here");
}

TEST(ClientSession, StatusWithInfoInTheCommandObjectSlot) {
  Harness h;
  h.connect();
  const Command odd{"onStatus", 0, status_object("error", "NetStream.Play.StreamNotFound", "no"), {}};
  Message m = make_command(csid::kStreamCommand, 1, odd, ObjectEncoding::Amf0);
  h.server.send_message(m.header, m.payload);
  h.pump();
  auto statuses = events_of<StatusEvent>(h.client_events);
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses[0].stream_id, 1u);
  EXPECT_EQ(statuses[0].level, "error");
  EXPECT_EQ(statuses[0].code, "NetStream.Play.StreamNotFound");
}

// --- Errors -------------------------------------------------------------------------

TEST(ClientSession, BadS0IsAStickyHandshakeError) {
  ClientSession client(client_options());
  std::vector<ClientEvent> events;
  const Bytes s0 = from_hex("06");
  auto r = client.feed(s0, events);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, ClientErrorKind::Handshake);
  EXPECT_EQ(client.state(), ClientSession::State::Failed);
  r = client.feed(from_hex("03"), events);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, ClientErrorKind::Handshake);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_TRUE(events.empty());
}

TEST(ClientSession, S1ClaimingADigestItLacksFailsTheHandshake) {
  ClientSession client(client_options());
  std::vector<ClientEvent> events;
  Bytes s0s1(1 + kHandshakeSize, 0x5a);
  s0s1[0] = 0x03;
  auto r = client.feed(s0s1, events);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, ClientErrorKind::Handshake);
}

TEST(ClientSession, MalformedChunkStreamIsAnError) {
  Harness h;
  h.connect();
  // fmt 3 on chunk stream 40, which never had a header.
  auto r = h.client.feed(from_hex("e8 00 00 00"), h.client_events);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->kind, ClientErrorKind::Chunk);
  EXPECT_EQ(h.client.state(), ClientSession::State::Failed);
  r = h.client.feed(from_hex("02"), h.client_events);
  ASSERT_TRUE(r.error) << "errors are sticky";
  EXPECT_EQ(r.consumed, 0u);
}

TEST(ClientSession, MalformedCommandIsAnError) {
  Harness h;
  h.connect();
  const Bytes body = from_hex("02 0005 6f6e");  // a string cut short
  h.server.send_message({csid::kCommand, msg_type::kCommandAmf0, 0, 0, static_cast<std::uint32_t>(body.size())}, body);
  h.pump();
  ASSERT_TRUE(h.client_error);
  EXPECT_EQ(h.client_error->kind, ClientErrorKind::BadCommand);
}

TEST(ClientSession, EmptyCommandIsAnError) {
  Harness h;
  h.connect();
  h.server.send_message({csid::kStreamCommand, msg_type::kCommandAmf0, 0, 1, 0}, {});
  h.pump();
  ASSERT_TRUE(h.client_error);
  EXPECT_EQ(h.client_error->kind, ClientErrorKind::BadCommand);
}

TEST(ClientSession, ChunkLimitsApply) {
  ClientOptions o = client_options();
  o.chunk_limits.max_message_size = 1000;
  Harness h(o);
  h.connect();
  const Bytes big = pattern(2000, 1);
  h.server.send_message(media_header(msg_type::kVideo, 1, 0, big.size()), big);
  h.pump();
  ASSERT_TRUE(h.client_error);
  EXPECT_EQ(h.client_error->kind, ClientErrorKind::Chunk);
}

// --- Split feeding ---------------------------------------------------------------

// Small payloads in hex, large ones by size and FNV-1a hash.
std::string fingerprint(ByteView payload) {
  if (payload.size() <= 32) return to_hex(payload);
  std::uint32_t hash = 2166136261u;
  for (std::uint8_t b : payload) hash = (hash ^ b) * 16777619u;
  return std::to_string(payload.size()) + " bytes #" + std::to_string(hash);
}

std::string describe(const ClientEvent& event) {
  return std::visit(
      [](const auto& e) -> std::string {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, ConnectedEvent>) {
          return "connected " + amf::to_debug_string(e.properties) + " " + amf::to_debug_string(e.info);
        } else if constexpr (std::is_same_v<T, ConnectFailedEvent>) {
          return "connect failed " + amf::to_debug_string(e.info);
        } else if constexpr (std::is_same_v<T, StreamCreatedEvent>) {
          return "created " + std::to_string(e.transaction_id) + " " + std::to_string(e.stream_id);
        } else if constexpr (std::is_same_v<T, StatusEvent>) {
          return "status " + std::to_string(e.stream_id) + " " + amf::to_debug_string(e.info);
        } else if constexpr (std::is_same_v<T, ResultEvent> || std::is_same_v<T, CallErrorEvent>) {
          std::string s = std::is_same_v<T, ResultEvent> ? "result " : "error ";
          s += std::to_string(e.transaction_id);
          for (const auto& v : e.values) s += " " + amf::to_debug_string(v);
          return s;
        } else if constexpr (std::is_same_v<T, ServerCallEvent>) {
          return "call " + e.command.name + " " + std::to_string(e.command.transaction_id);
        } else if constexpr (std::is_same_v<T, StreamMessageEvent>) {
          const MessageHeader& m = e.message.header;
          return "message " + std::to_string(m.type) + " " + std::to_string(m.stream_id) + " " +
                 std::to_string(m.timestamp) + " " + fingerprint(e.message.payload);
        } else if constexpr (std::is_same_v<T, ServerControlEvent>) {
          return "control " + std::to_string(static_cast<int>(e.control.event)) + " " +
                 std::to_string(e.control.value);
        } else {
          return "notice " + e.text;
        }
      },
      event);
}

// What the client sent after its handshake, acknowledgements left out
// (their sequence numbers depend on how the input was split, by design).
std::vector<std::string> describe_wire(const WireTap& tap) {
  std::vector<std::string> out;
  for (const auto& m : tap.messages()) {
    if (m.header.type == msg_type::kAcknowledgement) continue;
    out.push_back(std::to_string(m.header.type) + " " + std::to_string(m.header.stream_id) + " " +
                  fingerprint(m.payload));
  }
  return out;
}

// A pipelined player: every command queued up front, as a relay does when
// it starts an upstream pull.
void start_pipelined_player(ClientSession& client) {
  client.connect(connect_params());
  client.create_stream();
  client.set_buffer_length(1, 1000);
  client.play(1, "cam", -2, -1, true);
  client.call("echo", {"x"});
}

struct Recording {
  Bytes server_bytes;  // everything the server sent, handshake included
  std::vector<std::string> events;
  std::vector<std::string> client_wire;
};

// Runs a conversation with everything the client must handle (handshake,
// connect, createStream, status, a ping, chunk size 4096 with a
// multi-chunk message, extended timestamps, an aggregate, a call result,
// enough bytes for acknowledgements) and records the raw bytes the server
// sent.
Recording record_raw() {
  SessionOptions so = server_options();
  so.window_ack_size = 4000;
  ServerSession server(so);
  ClientSession client(client_options());
  start_pipelined_player(client);
  Recording rec;
  std::vector<ClientEvent> client_events;
  WireTap client_wire;
  auto answer = [&](std::vector<SessionEvent>& events) {
    for (auto& e : events) {
      if (auto* connect = std::get_if<ConnectEvent>(&e)) {
        (void)connect;
        server.accept_connect();
      } else if (auto* create = std::get_if<CreateStreamEvent>(&e)) {
        server.create_stream(create->transaction_id);
      } else if (auto* play = std::get_if<PlayEvent>(&e)) {
        server.send_user_control(UserControlEvent::StreamBegin, play->stream_id);
        server.send_status(play->stream_id, "status", "NetStream.Play.Start", "go");
        const Bytes big = pattern(9000, 9);
        server.send_data(play->stream_id, 0, {"onMetaData", amf::Object{{"duration", 0}}});
        server.send_message(media_header(msg_type::kVideo, play->stream_id, 0, big.size()), big);
        server.send_user_control(UserControlEvent::PingRequest, 77);
        server.send_message(media_header(msg_type::kAudio, play->stream_id, 0x1000010, 4), from_hex("af01aabb"));
        const Bytes aggregate = from_hex("09 000003 0001f4 00 000000 aabbcc 0000000e");
        server.send_message({csid::kVideo, msg_type::kAggregate, 0x1000020, play->stream_id,
                             static_cast<std::uint32_t>(aggregate.size())},
                            aggregate);
      } else if (auto* command = std::get_if<CommandEvent>(&e)) {
        server.send_result(command->command.transaction_id, command->command.args);
        server.send_call("onBWDone", {amf::Null{}});
      }
    }
    events.clear();
  };
  std::vector<SessionEvent> server_events;
  for (int round = 0; round < 100; ++round) {
    bool moved = false;
    if (client.has_output()) {
      Bytes b = client.take_output();
      client_wire.add(b);
      auto r = server.feed(b, server_events);
      EXPECT_FALSE(r.error);
      answer(server_events);
      moved = true;
    }
    if (server.has_output()) {
      Bytes b = server.take_output();
      rec.server_bytes.insert(rec.server_bytes.end(), b.begin(), b.end());
      auto r = client.feed(b, client_events);
      EXPECT_FALSE(r.error);
      moved = true;
    }
    if (!moved) break;
  }
  for (const auto& e : client_events) rec.events.push_back(describe(e));
  rec.client_wire = describe_wire(client_wire);
  EXPECT_GE(client.acknowledgements_sent(), 1u);
  EXPECT_EQ(client.pings_answered(), 1u);
  return rec;
}

// Replays the recorded server bytes into a fresh client in pieces.
Recording replay(const Bytes& server_bytes, const std::vector<std::size_t>& cuts) {
  ClientSession client(client_options());
  start_pipelined_player(client);
  std::vector<ClientEvent> events;
  WireTap wire;
  Recording rec;
  std::size_t at = 0;
  auto feed_to = [&](std::size_t end) {
    while (at < end) {
      auto r = client.feed(ByteView(server_bytes).subspan(at, end - at), events);
      EXPECT_FALSE(r.error);
      if (r.error) return;
      EXPECT_EQ(r.consumed, end - at);
      at += r.consumed;
      if (client.has_output()) wire.add(client.take_output());
    }
  };
  for (std::size_t cut : cuts) feed_to(cut);
  feed_to(server_bytes.size());
  if (client.has_output()) wire.add(client.take_output());
  for (const auto& e : events) rec.events.push_back(describe(e));
  rec.client_wire = describe_wire(wire);
  return rec;
}

TEST(ClientSession, SplitFeedingChangesNothing) {
  const Recording whole = record_raw();
  ASSERT_GT(whole.server_bytes.size(), kHandshakeBytes + 9000);
  // What the conversation must contain for the test to mean something.
  const std::string all = [&] {
    std::string s;
    for (const auto& e : whole.events) s += e + "\n";
    return s;
  }();
  EXPECT_NE(all.find("connected"), std::string::npos);
  EXPECT_NE(all.find("created 2.000000 "), std::string::npos) << all;
  EXPECT_NE(all.find("message 9 1 0 9000 bytes"), std::string::npos) << all;
  EXPECT_NE(all.find("NetStream.Play.Start"), std::string::npos);
  EXPECT_NE(all.find("message 8 1 16777232 af01aabb"), std::string::npos);
  EXPECT_NE(all.find("message 22 1 16777248 "), std::string::npos) << all;
  EXPECT_NE(all.find("result 3.000000 \"x\""), std::string::npos);
  EXPECT_NE(all.find("call onBWDone"), std::string::npos);

  EXPECT_EQ(replay(whole.server_bytes, {}).events, whole.events);
  for (std::size_t cut = 1; cut < whole.server_bytes.size(); ++cut) {
    const Recording split = replay(whole.server_bytes, {cut});
    ASSERT_EQ(split.events, whole.events) << "split at " << cut;
    ASSERT_EQ(split.client_wire, whole.client_wire) << "split at " << cut;
  }
  std::vector<std::size_t> every_byte;
  for (std::size_t i = 1; i < whole.server_bytes.size(); ++i) every_byte.push_back(i);
  const Recording bytewise = replay(whole.server_bytes, every_byte);
  EXPECT_EQ(bytewise.events, whole.events);
  EXPECT_EQ(bytewise.client_wire, whole.client_wire);
}

}  // namespace
}  // namespace rw::rtmp
