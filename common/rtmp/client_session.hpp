// The client side of one RTMP connection, sans-I/O.
//
// One NetConnection that can carry many streams and calls at once, the way
// an FMS ProxyStream's upstream connection does: the relay's upstream
// client, the load tool and tests all drive it.
//
// The session queues C0+C1 when it is made. feed() takes bytes from the
// server and turns them into typed events (connected, stream created,
// onStatus, call results, media...); the methods below queue commands and
// media, which take_output() hands to the socket layer. Methods may be
// called before the handshake has finished: their bytes wait behind C2.
// The session answers what the protocol fixes by itself: PingRequest with
// PingResponse, and an Acknowledgement per Window Ack Size the server asked
// for; the decoder applies the server's Set Chunk Size.
//
// Transaction ids are the handle for everything that gets an answer:
// connect, create_stream and call return theirs, and the matching
// ConnectedEvent / StreamCreatedEvent / ResultEvent / CallErrorEvent carries
// it back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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

struct ClientOptions {
  RandomFill random;                    // handshake randomness
  std::uint32_t handshake_time_ms = 0;  // C1 time field
  // C1 version; non-zero sends a digest (complex handshake), zero a simple
  // one. The default is what Flash Player 9 wrote.
  std::uint32_t handshake_version = 0x80000702;
  ChunkDecoderLimits chunk_limits;
  amf::Limits amf_limits{32, 16'384, 1u << 20, 4u << 20};
  // feed() stops after this many messages (see ClientSession::feed), so a
  // server sending a flood of tiny messages costs a few events per call.
  std::size_t max_messages_per_feed = 64;
  // Announced with Set Chunk Size once connected; 128 (the protocol's
  // default) announces nothing.
  std::uint32_t out_chunk_size = 4096;
  // Announced with Window Ack Size once connected (what librtmp does), so
  // the server acknowledges what a publisher sends; 0 announces nothing.
  std::uint32_t window_ack_size = 2'500'000;
};

struct ConnectParams {
  std::string app;        // "live", or "live?token=..." as the server expects it
  std::string tc_url;     // rtmp://host:port/app
  std::string flash_version = "LNX 9,0,124,2";  // what ffmpeg sends when playing
  // objectEncoding in the command object; AMF3 also makes the session send
  // its later commands as type 17, as Flash Player does.
  std::optional<ObjectEncoding> object_encoding;
  // More command object fields (swfUrl, pageUrl, type: "nonprivate"...);
  // they override the defaults (fpad, capabilities, codecs).
  amf::Object extra_fields;
  // Positional arguments after the command object (logins, tokens).
  std::vector<amf::Value> args;
};

// Events.

// connect's _result: the server's properties (fmsVer, capabilities) and
// its info object (code NetConnection.Connect.Success, objectEncoding...).
struct ConnectedEvent {
  amf::Object properties;
  amf::Object info;
};

// connect's _error (NetConnection.Connect.Rejected, InvalidApp...): the
// server closes the connection next.
struct ConnectFailedEvent {
  amf::Object info;
};

// createStream's _result. (An _error arrives as a CallErrorEvent.)
struct StreamCreatedEvent {
  double transaction_id = 0;
  std::uint32_t stream_id = 0;
};

// onStatus on a stream (or on the connection, stream id 0).
struct StatusEvent {
  std::uint32_t stream_id = 0;
  std::string level;  // status, warning, error
  std::string code;   // NetStream.Play.Start...
  std::string description;
  amf::Object info;   // the whole info object (details, clientid...)
};

// _result of a call().
struct ResultEvent {
  double transaction_id = 0;
  amf::Value command_object;
  std::vector<amf::Value> values;
};

// _error of a call() or of create_stream(); values[0] is usually an info
// object with level error and code NetConnection.Call.Failed.
struct CallErrorEvent {
  double transaction_id = 0;
  amf::Value command_object;
  std::vector<amf::Value> values;
};

// A command the server sent that answers nothing of ours: onBWDone,
// onFCPublish, onBWCheck, a script's client.call. Answer with send_result
// or send_call_error when transaction_id is not 0.
struct ServerCallEvent {
  std::uint32_t stream_id = 0;
  Command command;
};

// Audio, video, a data message (type 18/15: onMetaData,
// |RtmpSampleAccess, onPlayStatus) or an aggregate (type 22, which FMS and
// Wowza send recorded streams as) on a stream, as it came. An aggregate is
// checked but not split: read it with AggregateReader, one sub-message at
// a time. Data messages are not parsed here: parse_data() them when they
// matter, so media flows without AMF work.
struct StreamMessageEvent {
  Message message;
};

// A user control event other than PingRequest (which the session answers):
// StreamBegin, StreamEOF, StreamDry, StreamIsRecorded, BufferEmpty...
struct ServerControlEvent {
  UserControl control;
};

// Something odd but harmless the server did, worth a log line.
struct ClientNoticeEvent {
  std::string text;
};

using ClientEvent = std::variant<ConnectedEvent, ConnectFailedEvent, StreamCreatedEvent, StatusEvent, ResultEvent,
                                 CallErrorEvent, ServerCallEvent, StreamMessageEvent, ServerControlEvent,
                                 ClientNoticeEvent>;

enum class ClientErrorKind {
  Handshake,   // bad S0, or an S1 digest that does not verify
  Chunk,       // the chunk stream is malformed or over a limit
  BadCommand,  // a command that is not valid AMF
};
const char* to_string(ClientErrorKind kind);

struct ClientError {
  ClientErrorKind kind;
  std::string detail;  // for the log line
};

class ClientSession {
 public:
  // Queues C0+C1.
  explicit ClientSession(ClientOptions options);

  struct FeedResult {
    std::size_t consumed = 0;
    std::optional<ClientError> error;  // set: close the connection
  };
  // Consumes handshake and chunk bytes, appending events. Stops at the
  // first error (every later call returns it again), or after
  // max_messages_per_feed messages: then `consumed` is less than the input
  // and the caller feeds the rest after handling the events.
  FeedResult feed(ByteView in, std::vector<ClientEvent>& events);

  // Bytes queued for the server. take_output moves them out.
  bool has_output() const { return !output_.empty(); }
  Bytes take_output() { return std::exchange(output_, {}); }
  // Appends the queued bytes to out (keeps the session's buffer capacity).
  void drain_output_to(Bytes& out);

  enum class State { Handshake, AwaitingConnect, Connecting, Connected, ConnectFailed, Failed };
  State state() const { return state_; }
  bool handshake_done() const { return handshake_.done(); }
  bool connected() const { return state_ == State::Connected; }
  std::uint32_t in_chunk_size() const { return decoder_.chunk_size(); }
  std::uint32_t out_chunk_size() const { return encoder_.chunk_size(); }
  // Chunk-stream bytes consumed (what acknowledgements count).
  std::uint64_t bytes_received() const { return decoder_.bytes_consumed(); }
  // The sequence number of the server's last Acknowledgement: how much of
  // what we sent it has taken (publishers can pace themselves by it).
  std::uint32_t peer_acknowledged() const { return peer_acknowledged_; }
  // How many Acknowledgements the server sent (0: peer_acknowledged() is
  // not a value it sent).
  std::uint64_t acknowledgements_received() const { return acknowledgements_received_; }
  std::uint64_t acknowledgements_sent() const { return acknowledgements_sent_; }
  std::uint64_t pings_answered() const { return pings_answered_; }

  // --- NetConnection ---------------------------------------------------------
  // [connect, txn, {app, flashVer, tcUrl, fpad, capabilities, audioCodecs,
  // videoCodecs, videoFunction, objectEncoding?, extra...}, args...] on
  // chunk stream 3; returns the transaction id (1, as every client uses).
  // Once it succeeds the session announces window_ack_size and
  // out_chunk_size.
  double connect(const ConnectParams& params);
  // Returns the transaction id that the StreamCreatedEvent will carry.
  double create_stream();
  // [name, txn, null, args...]; returns the transaction id, 0 when no reply
  // is wanted (the server sends none).
  double call(std::string_view name, std::vector<amf::Value> args, bool want_result = true);
  // Answers a ServerCallEvent: [_result, txn, null, values...].
  void send_result(double transaction_id, std::vector<amf::Value> values);
  // [_error, txn, null, {level error, code, description}].
  void send_call_error(double transaction_id, std::string_view description,
                       std::string_view code = "NetConnection.Call.Failed");

  // --- NetStream (txn 0, null command object, on the stream) -----------------
  // start and length are milliseconds on the wire: start -2 live or
  // recorded, -1 live only, >= 0 recorded from there; length -1 to the end.
  void play(std::uint32_t stream_id, std::string_view name, double start = -2, double length = -1,
            bool reset = true);
  // type: live, record or append.
  void publish(std::uint32_t stream_id, std::string_view name, std::string_view type = "live");
  void seek(std::uint32_t stream_id, double ms);
  void pause(std::uint32_t stream_id, bool pause, double ms);
  void receive_audio(std::uint32_t stream_id, bool enabled);
  void receive_video(std::uint32_t stream_id, bool enabled);
  // Stops playing or publishing; the stream id stays usable.
  void close_stream(std::uint32_t stream_id);
  // Releases the stream id ([deleteStream, 0, null, id] on stream 0).
  void delete_stream(std::uint32_t stream_id);
  // User control SetBufferLength: servers such as FMS and SRS size their
  // sending by it; librtmp and ffmpeg send it after createStream.
  void set_buffer_length(std::uint32_t stream_id, std::uint32_t ms);
  // User control PingRequest: a server that is alive answers PingResponse
  // (a ServerControlEvent) with the same value.
  void ping(std::uint32_t value);

  // --- Publishing -------------------------------------------------------------
  // Audio (8), video (9) or data (18/15) on a stream, chunked at the
  // announced chunk size on the chunk stream for its type. False (nothing
  // queued) when the payload is over kMaxMessageLength.
  bool send_media(std::uint32_t stream_id, std::uint8_t type, std::uint32_t timestamp, ByteView payload);
  // [values...] as a type-18 data message, e.g. {"@setDataFrame",
  // "onMetaData", {...}}.
  void send_data(std::uint32_t stream_id, std::uint32_t timestamp, const std::vector<amf::Value>& values);

 private:
  std::optional<ClientError> handle_message(Message&& message, std::vector<ClientEvent>& events);
  std::optional<ClientError> handle_command(Message&& message, std::vector<ClientEvent>& events);
  void handle_control(const Message& message, std::vector<ClientEvent>& events);
  void handle_reply(Command&& command, bool error, std::vector<ClientEvent>& events);
  void on_connected();
  void maybe_acknowledge();
  void queue(const MessageHeader& header, ByteView payload);
  void queue(const Message& message) { queue(message.header, message.payload); }
  void send_command(std::uint32_t chunk_stream, std::uint32_t stream_id, const Command& command);
  void send_stream_command(std::uint32_t stream_id, std::string name, std::vector<amf::Value> args);
  double next_transaction_id();

  ClientOptions options_;
  State state_ = State::Handshake;
  ClientHandshake handshake_;
  ChunkDecoder decoder_;
  ChunkEncoder encoder_;
  Bytes output_;
  // Chunk-stream bytes queued before the handshake finished: they go out
  // after C2.
  Bytes held_;
  std::vector<Message> messages_;  // reused between feeds
  ObjectEncoding command_encoding_ = ObjectEncoding::Amf0;
  ObjectEncoding requested_encoding_ = ObjectEncoding::Amf0;
  double connect_transaction_ = 0;  // 0: connect not sent
  double last_transaction_ = 0;
  // createStream transactions not answered yet; few at a time.
  std::vector<double> pending_create_streams_;
  std::uint32_t peer_window_ = 0;       // the server's Window Ack Size; 0 = never acknowledge
  std::uint64_t last_ack_sent_at_ = 0;  // bytes_received() when we last acknowledged
  std::uint32_t peer_acknowledged_ = 0;
  std::uint64_t acknowledgements_received_ = 0;
  std::uint64_t acknowledgements_sent_ = 0;
  std::uint64_t pings_answered_ = 0;
  std::optional<ClientError> error_;    // sticky
};

}  // namespace rw::rtmp
