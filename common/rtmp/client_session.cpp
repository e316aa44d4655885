#include "common/rtmp/client_session.hpp"

#include <algorithm>

#include "common/rtmp/aggregate.hpp"

namespace rw::rtmp {
namespace {

std::string field_string(const amf::Object& o, std::string_view key) {
  const amf::Value* v = o.find(key);
  return v ? std::string(v->as_string()) : std::string();
}

// The chunk stream a publisher's message goes on: one per kind, as ffmpeg
// and librtmp do, so audio and video headers compress independently.
std::uint32_t media_chunk_stream(std::uint8_t type) {
  switch (type) {
    case msg_type::kAudio: return csid::kAudio;
    case msg_type::kVideo: return csid::kVideo;
    default: return csid::kData;
  }
}

}  // namespace

const char* to_string(ClientErrorKind kind) {
  switch (kind) {
    case ClientErrorKind::Handshake: return "handshake";
    case ClientErrorKind::Chunk: return "chunk stream";
    case ClientErrorKind::BadCommand: return "bad command";
  }
  return "?";
}

ClientSession::ClientSession(ClientOptions options)
    : options_(std::move(options)),
      handshake_(ClientHandshake::Options{options_.random, options_.handshake_time_ms, options_.handshake_version}),
      decoder_(options_.chunk_limits) {
  output_ = handshake_.start();
}

ClientSession::FeedResult ClientSession::feed(ByteView in, std::vector<ClientEvent>& events) {
  FeedResult result;
  if (error_) {
    result.error = error_;
    return result;
  }
  if (state_ == State::Handshake) {
    auto hs = handshake_.feed(in);
    result.consumed += hs.consumed;
    if (hs.error) {
      error_ = ClientError{ClientErrorKind::Handshake, to_string(*hs.error)};
      state_ = State::Failed;
      result.error = error_;
      return result;
    }
    if (!handshake_.done()) return result;
    Bytes c2 = handshake_.take_output();
    output_.insert(output_.end(), c2.begin(), c2.end());
    output_.insert(output_.end(), held_.begin(), held_.end());
    held_ = Bytes{};
    state_ = connect_transaction_ != 0 ? State::Connecting : State::AwaitingConnect;
    in = in.subspan(hs.consumed);
  }

  auto chunks = decoder_.feed(in, messages_, options_.max_messages_per_feed);
  result.consumed += chunks.consumed;
  for (auto& message : messages_) {
    if (auto error = handle_message(std::move(message), events)) {
      messages_.clear();
      state_ = State::Failed;
      error_ = std::move(error);
      result.error = error_;
      return result;
    }
  }
  messages_.clear();
  maybe_acknowledge();
  if (chunks.error) {
    state_ = State::Failed;
    error_ = ClientError{ClientErrorKind::Chunk, to_string(*chunks.error)};
    result.error = error_;
  }
  return result;
}

void ClientSession::drain_output_to(Bytes& out) {
  out.insert(out.end(), output_.begin(), output_.end());
  output_.clear();
}

std::optional<ClientError> ClientSession::handle_message(Message&& message, std::vector<ClientEvent>& events) {
  switch (message.header.type) {
    case msg_type::kSetChunkSize:
    case msg_type::kAbort:
    case msg_type::kAcknowledgement:
    case msg_type::kUserControl:
    case msg_type::kWindowAckSize:
    case msg_type::kSetPeerBandwidth:
      handle_control(message, events);
      return std::nullopt;
    case msg_type::kAudio:
    case msg_type::kVideo:
    case msg_type::kDataAmf0:
    case msg_type::kDataAmf3:
      events.emplace_back(StreamMessageEvent{std::move(message)});
      return std::nullopt;
    case msg_type::kAggregate:
      // FMS and Wowza send recorded streams as aggregates.
      if (!AggregateReader(message).valid()) {
        events.emplace_back(ClientNoticeEvent{"dropped a malformed aggregate message"});
        return std::nullopt;
      }
      events.emplace_back(StreamMessageEvent{std::move(message)});
      return std::nullopt;
    case msg_type::kCommandAmf0:
    case msg_type::kCommandAmf3:
      return handle_command(std::move(message), events);
    case msg_type::kSharedObjectAmf0:
    case msg_type::kSharedObjectAmf3:
      events.emplace_back(ClientNoticeEvent{"ignored a shared object message (not supported)"});
      return std::nullopt;
    default:
      events.emplace_back(
          ClientNoticeEvent{"ignored a message of unknown type " + std::to_string(message.header.type)});
      return std::nullopt;
  }
}

void ClientSession::handle_control(const Message& message, std::vector<ClientEvent>& events) {
  switch (message.header.type) {
    case msg_type::kWindowAckSize:
      if (auto size = parse_u32_body(message.payload)) peer_window_ = *size;
      break;
    case msg_type::kAcknowledgement:
      if (auto sequence = parse_u32_body(message.payload)) {
        peer_acknowledged_ = *sequence;
        ++acknowledgements_received_;
      }
      break;
    case msg_type::kUserControl: {
      auto uc = parse_user_control(message.payload);
      if (!uc) {
        events.emplace_back(ClientNoticeEvent{"ignored a short user control message"});
        break;
      }
      if (uc->event == UserControlEvent::PingRequest) {
        // Servers (nginx-rtmp's ping, FMS) drop clients that don't answer.
        queue(make_user_control({UserControlEvent::PingResponse, uc->value, 0}));
        ++pings_answered_;
      } else {
        events.emplace_back(ServerControlEvent{*uc});
      }
      break;
    }
    default:
      // Set Chunk Size and Abort were applied by the decoder. Set Peer
      // Bandwidth limits how much we may send unacknowledged; like librtmp
      // and ffmpeg we don't throttle by it.
      break;
  }
}

std::optional<ClientError> ClientSession::handle_command(Message&& message, std::vector<ClientEvent>& events) {
  auto parsed = parse_command(message.payload, message.header.type, options_.amf_limits);
  if (!parsed) {
    return ClientError{ClientErrorKind::BadCommand,
                       std::string("malformed AMF command: ") + amf::to_string(parsed.error())};
  }
  Command& command = *parsed;
  if (command.name == "_result" || command.name == "_error") {
    const bool error = command.name == "_error";
    handle_reply(std::move(command), error, events);
    return std::nullopt;
  }
  if (command.name == "onStatus") {
    StatusEvent status;
    status.stream_id = message.header.stream_id;
    // [onStatus, 0, null, info]; a few servers put info in the command
    // object slot instead.
    if (!command.args.empty() && command.args[0].is_object()) {
      status.info = std::move(*command.args[0].as_object());
    } else if (command.command_object.is_object()) {
      status.info = std::move(*command.command_object.as_object());
    }
    status.level = field_string(status.info, "level");
    status.code = field_string(status.info, "code");
    status.description = field_string(status.info, "description");
    events.emplace_back(std::move(status));
    return std::nullopt;
  }
  events.emplace_back(ServerCallEvent{message.header.stream_id, std::move(command)});
  return std::nullopt;
}

void ClientSession::handle_reply(Command&& command, bool error, std::vector<ClientEvent>& events) {
  const double txn = command.transaction_id;
  if (txn == connect_transaction_ && state_ == State::Connecting) {
    amf::Object info;
    if (!command.args.empty() && command.args[0].is_object()) info = std::move(*command.args[0].as_object());
    if (error) {
      state_ = State::ConnectFailed;
      events.emplace_back(ConnectFailedEvent{std::move(info)});
      return;
    }
    amf::Object properties;
    if (auto* object = command.command_object.as_object()) properties = std::move(*object);
    on_connected();
    events.emplace_back(ConnectedEvent{std::move(properties), std::move(info)});
    return;
  }
  if (auto it = std::find(pending_create_streams_.begin(), pending_create_streams_.end(), txn);
      it != pending_create_streams_.end()) {
    pending_create_streams_.erase(it);
    if (!error) {
      // [_result, txn, null, id]: the first number is the stream id; a
      // number that is no stream id (NaN, -1, 1e300) fails the call.
      for (const auto& value : command.args) {
        if (!value.is_number()) continue;
        if (auto id = value.as_uint32()) {
          events.emplace_back(StreamCreatedEvent{txn, *id});
          return;
        }
        break;
      }
    }
    events.emplace_back(CallErrorEvent{txn, std::move(command.command_object), std::move(command.args)});
    return;
  }
  if (error) {
    events.emplace_back(CallErrorEvent{txn, std::move(command.command_object), std::move(command.args)});
  } else {
    events.emplace_back(ResultEvent{txn, std::move(command.command_object), std::move(command.args)});
  }
}

void ClientSession::on_connected() {
  state_ = State::Connected;
  command_encoding_ = requested_encoding_;
  if (options_.window_ack_size != 0) queue(make_window_ack_size(options_.window_ack_size));
  if (options_.out_chunk_size != 128 && options_.out_chunk_size != 0) {
    queue(make_set_chunk_size(options_.out_chunk_size));
    encoder_.set_chunk_size(options_.out_chunk_size);
  }
}

void ClientSession::maybe_acknowledge() {
  if (peer_window_ == 0) return;
  const std::uint64_t received = decoder_.bytes_consumed();
  if (received - last_ack_sent_at_ < peer_window_) return;
  queue(make_acknowledgement(static_cast<std::uint32_t>(received)));
  last_ack_sent_at_ = received;
  ++acknowledgements_sent_;
}

void ClientSession::queue(const MessageHeader& header, ByteView payload) {
  encoder_.encode(header, payload, handshake_.done() ? output_ : held_);
}

void ClientSession::send_command(std::uint32_t chunk_stream, std::uint32_t stream_id, const Command& command) {
  queue(make_command(chunk_stream, stream_id, command, command_encoding_));
}

void ClientSession::send_stream_command(std::uint32_t stream_id, std::string name, std::vector<amf::Value> args) {
  send_command(csid::kStreamCommand, stream_id, Command{std::move(name), 0, amf::Null{}, std::move(args)});
}

double ClientSession::next_transaction_id() { return ++last_transaction_; }

double ClientSession::connect(const ConnectParams& params) {
  // The fields ffmpeg and librtmp send; servers that check capabilities
  // (FMS) accept these.
  amf::Object object{{"app", params.app},
                     {"flashVer", params.flash_version},
                     {"tcUrl", params.tc_url},
                     {"fpad", false},
                     {"capabilities", 15},
                     {"audioCodecs", 4071},
                     {"videoCodecs", 252},
                     {"videoFunction", 1}};
  if (params.object_encoding) {
    object.set("objectEncoding", static_cast<double>(*params.object_encoding));
    requested_encoding_ = *params.object_encoding;
  }
  for (const auto& p : params.extra_fields.properties) object.set(p.key, p.value);

  connect_transaction_ = next_transaction_id();
  // connect itself is always AMF0 (type 20); objectEncoding only governs
  // what follows.
  queue(make_command(csid::kCommand, 0, Command{"connect", connect_transaction_, std::move(object), params.args},
                     ObjectEncoding::Amf0));
  if (state_ == State::AwaitingConnect) state_ = State::Connecting;
  return connect_transaction_;
}

double ClientSession::create_stream() {
  const double txn = next_transaction_id();
  pending_create_streams_.push_back(txn);
  send_command(csid::kCommand, 0, Command{"createStream", txn, amf::Null{}, {}});
  return txn;
}

double ClientSession::call(std::string_view name, std::vector<amf::Value> args, bool want_result) {
  const double txn = want_result ? next_transaction_id() : 0;
  send_command(csid::kCommand, 0, Command{std::string(name), txn, amf::Null{}, std::move(args)});
  return txn;
}

void ClientSession::send_result(double transaction_id, std::vector<amf::Value> values) {
  send_command(csid::kCommand, 0, Command{"_result", transaction_id, amf::Null{}, std::move(values)});
}

void ClientSession::send_call_error(double transaction_id, std::string_view description, std::string_view code) {
  send_command(csid::kCommand, 0,
               Command{"_error", transaction_id, amf::Null{}, {status_object("error", code, description)}});
}

void ClientSession::play(std::uint32_t stream_id, std::string_view name, double start, double length, bool reset) {
  send_stream_command(stream_id, "play", {name, start, length, reset});
}

void ClientSession::publish(std::uint32_t stream_id, std::string_view name, std::string_view type) {
  send_stream_command(stream_id, "publish", {name, type});
}

void ClientSession::seek(std::uint32_t stream_id, double ms) { send_stream_command(stream_id, "seek", {ms}); }

void ClientSession::pause(std::uint32_t stream_id, bool pause, double ms) {
  send_stream_command(stream_id, "pause", {pause, ms});
}

void ClientSession::receive_audio(std::uint32_t stream_id, bool enabled) {
  send_stream_command(stream_id, "receiveAudio", {enabled});
}

void ClientSession::receive_video(std::uint32_t stream_id, bool enabled) {
  send_stream_command(stream_id, "receiveVideo", {enabled});
}

void ClientSession::close_stream(std::uint32_t stream_id) { send_stream_command(stream_id, "closeStream", {}); }

void ClientSession::delete_stream(std::uint32_t stream_id) {
  send_command(csid::kCommand, 0, Command{"deleteStream", 0, amf::Null{}, {stream_id}});
}

void ClientSession::set_buffer_length(std::uint32_t stream_id, std::uint32_t ms) {
  queue(make_user_control({UserControlEvent::SetBufferLength, stream_id, ms}));
}

void ClientSession::ping(std::uint32_t value) { queue(make_user_control({UserControlEvent::PingRequest, value, 0})); }

bool ClientSession::send_media(std::uint32_t stream_id, std::uint8_t type, std::uint32_t timestamp,
                               ByteView payload) {
  if (payload.size() > kMaxMessageLength) return false;
  MessageHeader header;
  header.csid = media_chunk_stream(type);
  header.type = type;
  header.timestamp = timestamp;
  header.stream_id = stream_id;
  header.length = static_cast<std::uint32_t>(payload.size());
  queue(header, payload);
  return true;
}

void ClientSession::send_data(std::uint32_t stream_id, std::uint32_t timestamp,
                              const std::vector<amf::Value>& values) {
  queue(make_data(csid::kData, stream_id, timestamp, values));
}

}  // namespace rw::rtmp
