// The server side of one RTMP connection, sans-I/O.
//
// feed() takes bytes from the client and turns them into typed events
// (connect, publish, play, media...); the methods below queue replies, which
// take_output() hands to the socket layer. The session answers what the
// protocol fixes (handshake, acknowledgements, pings, createStream) by
// itself and leaves every decision (accept a connect, which stream to play)
// to the application, which answers through the methods below.
//
// Media sent to players does not pass through the session: the server
// shares one chunked copy of each frame among players (see
// encode_message_full). The session only fixes the outgoing chunk size and
// the chunk streams such frames use (csid::kAudio, kVideo, kData).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "common/amf/codec.hpp"
#include "common/amf/value.hpp"
#include "common/base/bytes.hpp"
#include "common/rtmp/chunk_decoder.hpp"
#include "common/rtmp/chunk_encoder.hpp"
#include "common/rtmp/command.hpp"
#include "common/rtmp/control.hpp"
#include "common/rtmp/handshake.hpp"
#include "common/rtmp/message.hpp"

namespace rw::rtmp {

struct SessionOptions {
  RandomFill random;                    // handshake randomness
  std::uint32_t handshake_time_ms = 0;  // S1 time field
  // Until the application lets the client publish (allow_publishing), it
  // may send commands and calls only: small messages. A publisher may send
  // media messages up to chunk_limits.max_message_size.
  ChunkDecoderLimits command_chunk_limits{128u << 10, 16, 256u << 10};
  ChunkDecoderLimits chunk_limits;
  amf::Limits amf_limits{32, 16'384, 1u << 20, 4u << 20};
  // feed() stops after this many messages and returns what it consumed, so
  // that one call's events stay few however small the peer's messages are.
  std::size_t max_messages_per_feed = 64;
  std::uint32_t out_chunk_size = 4096;
  std::uint32_t window_ack_size = 2'500'000;  // what we ask the client to acknowledge
  std::uint32_t peer_bandwidth = 2'500'000;
  std::size_t max_streams = 32;               // createStream per connection
  std::string fms_version = "FMS/3,5,7,7009";
};

// Events. Each command event carries the transaction id to answer with.

struct ConnectEvent {
  double transaction_id = 1;
  amf::Object command_object;      // app, flashVer, tcUrl, objectEncoding...
  std::vector<amf::Value> args;    // extra positional arguments (tokens, logins)
  std::string app;                 // command_object.app, without a "?query"
  std::string app_query;           // what followed '?' in app, if anything
  std::string tc_url;
  std::string flash_version;
  ObjectEncoding encoding = ObjectEncoding::Amf0;
};

// Answer with ServerSession::create_stream, in order with the connect reply.
struct CreateStreamEvent {
  double transaction_id = 0;
};

struct PublishEvent {
  std::uint32_t stream_id = 0;
  std::string name;  // as sent, query string included
  std::string type;  // live, record or append (appendWithGap reads as append)
};

// Where a play starts: start >= 0 is a recorded offset in ms.
inline constexpr double kPlayLiveOrRecorded = -2;
inline constexpr double kPlayLiveOnly = -1;

struct PlayEvent {
  std::uint32_t stream_id = 0;
  std::string name;
  // kPlayLiveOrRecorded, kPlayLiveOnly or a recorded offset in ms. librtmp
  // sends -1000 and ffmpeg -2000 (the ActionScript values times 1000): the
  // session turns those into -1 and -2.
  double start = kPlayLiveOrRecorded;
  double length = -1; // ms: -1 to the end, 0 one frame
  bool reset = true;
};

// play2 [{streamName, oldStreamName, start, len, offset, transition}].
struct Play2Event {
  std::uint32_t stream_id = 0;
  std::string name;
  std::string old_name;
  double start = -2;
  double length = -1;
  double offset = -1;  // resume offset in ms, when the client gave one
  std::string transition;
};

struct SeekEvent {
  std::uint32_t stream_id = 0;
  double ms = 0;
};

struct PauseEvent {
  std::uint32_t stream_id = 0;
  bool pause = true;
  double ms = 0;  // the client's playhead when it paused
};

struct ReceiveMediaEvent {
  std::uint32_t stream_id = 0;
  bool audio = true;   // receiveAudio; false: receiveVideo
  bool enabled = true;
};

// closeStream (the stream id stays valid) or deleteStream (it is released).
struct CloseStreamEvent {
  std::uint32_t stream_id = 0;
  bool deleted = false;
};

// Any other command: releaseStream, FCPublish, FCUnpublish, FCSubscribe,
// getStreamLength, DVR calls, custom methods. Answer with send_result or
// send_call_error when transaction_id is not 0.
struct CommandEvent {
  std::uint32_t stream_id = 0;
  Command command;
  std::uint8_t message_type = msg_type::kCommandAmf0;
};

// Audio, video or an aggregate (type 22) from a connected client. An
// aggregate comes whole and checked (AggregateReader::valid): whoever
// publishes it reads its sub-messages one at a time.
struct MediaEvent {
  Message message;
};

// A data message: @setDataFrame/onMetaData from a publisher, or anything
// else a client sends as type 18/15.
struct DataEvent {
  std::uint32_t stream_id = 0;
  std::uint32_t timestamp = 0;
  std::vector<amf::Value> values;
};

struct BufferLengthEvent {
  std::uint32_t stream_id = 0;
  std::uint32_t ms = 0;
};

// Something odd but harmless the client did, worth a log line (a malformed
// data message, a shared-object message, an unknown message type).
struct NoticeEvent {
  std::string text;
};

using SessionEvent = std::variant<ConnectEvent, CreateStreamEvent, PublishEvent, PlayEvent, Play2Event,
                                  SeekEvent, PauseEvent, ReceiveMediaEvent, CloseStreamEvent, CommandEvent,
                                  MediaEvent, DataEvent, BufferLengthEvent, NoticeEvent>;

enum class SessionErrorKind {
  Handshake,        // bad C0 version
  Chunk,            // the chunk stream is malformed or over a limit
  BadCommand,       // a command that is not valid AMF
  NotConnected,     // a command other than connect before connect was accepted
  TooManyStreams,   // createStream beyond max_streams
  Rejected,         // the application rejected the connect; close after sending the reply
};

struct SessionError {
  SessionErrorKind kind;
  std::string detail;  // for the log line
};

const char* to_string(SessionErrorKind kind);

class ServerSession {
 public:
  explicit ServerSession(SessionOptions options);

  struct FeedResult {
    std::size_t consumed = 0;
    std::optional<SessionError> error;  // set: flush the output, then close
  };
  // Consumes handshake and chunk bytes, appending events. Stops at the first
  // error (every later call returns it again), or after
  // max_messages_per_feed messages: then `consumed` is less than the input
  // and the caller feeds the rest after handling the events.
  FeedResult feed(ByteView in, std::vector<SessionEvent>& events);

  // The application accepted a publish: from now on the client may send
  // media messages up to chunk_limits.max_message_size.
  void allow_publishing() {
    decoder_.set_limits(options_.chunk_limits);
    publishing_ = true;
  }
  // The client no longer publishes anything: back to command_chunk_limits
  // (a message still being sent over them fails the connection).
  void restrict_to_commands() {
    if (!publishing_) return;
    decoder_.set_limits(options_.command_chunk_limits);
    publishing_ = false;
  }
  const amf::Limits& amf_limits() const { return options_.amf_limits; }
  // Raises (or lowers) the streams this connection may create: a relay's
  // or an edge's one connection carries every pull of an application.
  void set_max_streams(std::size_t max_streams) { options_.max_streams = max_streams; }

  // Bytes queued for the client. take_output moves them out.
  bool has_output() const { return !output_.empty(); }
  Bytes take_output() { return std::exchange(output_, {}); }
  // Appends the queued bytes to out (keeps the session's buffer capacity).
  void drain_output_to(Bytes& out);

  bool handshake_done() const { return handshake_.done(); }
  bool connected() const { return state_ == State::Connected; }
  const ConnectEvent& connect_info() const { return connect_; }
  ObjectEncoding object_encoding() const { return connect_.encoding; }
  std::uint32_t out_chunk_size() const { return encoder_.chunk_size(); }
  std::uint64_t bytes_received() const { return decoder_.bytes_consumed(); }
  bool stream_exists(std::uint32_t stream_id) const { return streams_.count(stream_id) != 0; }

  // --- Connection replies ---------------------------------------------------
  // Window Ack Size, Set Peer Bandwidth, StreamBegin 0, Set Chunk Size, then
  // _result with the server properties and an info object whose fields
  // `extra_info` extends or overrides (MonaServer-style accept with fields).
  void accept_connect(const amf::Object& extra_info = {});
  // _error with NetConnection.Connect.Rejected (or another code such as
  // InvalidApp) and `description`; `application` goes into the info object
  // as FMS does. The next feed() reports SessionErrorKind::Rejected.
  // `extra_info` fields go into the info object too (a redirect's ex).
  void reject_connect(std::string_view code, std::string_view description,
                      std::optional<amf::Value> application = std::nullopt, const amf::Object& extra_info = {});
  // Creates a stream and answers createStream with its id; nullopt (and an
  // _error reply) when the connection has max_streams already.
  std::optional<std::uint32_t> create_stream(double transaction_id);
  // [_result, txn, null, values...]
  void send_result(double transaction_id, std::vector<amf::Value> values);
  // [_error, txn, null, {level error, code NetConnection.Call.Failed, description}]
  void send_call_error(double transaction_id, std::string_view description,
                       std::string_view code = "NetConnection.Call.Failed");
  // [_error, txn, null, info] with an info object of the caller's.
  void send_result_error(double transaction_id, amf::Object info);
  // A server-to-client call [name, txn, null, args...] (onBWDone, onFCPublish...).
  void send_call(std::string_view name, std::vector<amf::Value> args, double transaction_id = 0);

  // --- Stream replies --------------------------------------------------------
  // [onStatus, 0, null, {level, code, description, extra...}] on the stream.
  void send_status(std::uint32_t stream_id, std::string_view level, std::string_view code,
                   std::string_view description, const amf::Object& extra = {});
  void send_user_control(UserControlEvent event, std::uint32_t value);
  // A type-18 data message on the stream (|RtmpSampleAccess, onPlayStatus).
  void send_data(std::uint32_t stream_id, std::uint32_t timestamp, const std::vector<amf::Value>& values);
  // Any message, chunked with header compression on its chunk stream.
  void send_message(const MessageHeader& header, ByteView payload);
  // Tells the session that bytes made by encode_message_full for `header`
  // were queued, so later compressed headers on that chunk stream stay right.
  void note_full_header(const MessageHeader& header) { encoder_.note_full_header(header); }

 private:
  enum class State { Handshake, AwaitingConnect, ConnectPending, Connected, Rejected };

  FeedResult feed_some(ByteView in, std::vector<SessionEvent>& events);
  std::optional<SessionError> handle_message(Message&& message, std::vector<SessionEvent>& events);
  std::optional<SessionError> handle_command(Message&& message, std::vector<SessionEvent>& events);
  std::optional<SessionError> handle_control(const Message& message, std::vector<SessionEvent>& events);
  std::uint32_t command_stream(std::uint32_t stream_id);
  void maybe_acknowledge();
  void queue(const Message& message);
  void send_command(std::uint32_t chunk_stream, std::uint32_t stream_id, const Command& command);

  SessionOptions options_;
  State state_ = State::Handshake;
  ServerHandshake handshake_;
  ChunkDecoder decoder_;
  ChunkEncoder encoder_;
  Bytes output_;
  std::vector<Message> messages_;  // reused between feeds
  ConnectEvent connect_;
  std::set<std::uint32_t> streams_;
  std::uint32_t next_stream_id_ = 1;
  std::uint32_t peer_window_ = 0;      // the client's Window Ack Size; 0 = never acknowledge
  std::uint64_t last_ack_sent_at_ = 0; // bytes_received() when we last acknowledged
  std::optional<SessionError> error_;  // sticky once set
  bool publishing_ = false;            // chunk_limits apply, not command_chunk_limits
};

}  // namespace rw::rtmp
