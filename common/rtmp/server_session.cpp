#include "common/rtmp/server_session.hpp"

#include "common/rtmp/aggregate.hpp"

namespace rw::rtmp {
namespace {

double number_arg(const std::vector<amf::Value>& args, std::size_t i, double fallback) {
  return i < args.size() && args[i].is_number() ? args[i].as_number() : fallback;
}

std::string string_arg(const std::vector<amf::Value>& args, std::size_t i) {
  return i < args.size() ? std::string(args[i].as_string()) : std::string();
}

// Negative play starts: -1 is live only, -2 live or recorded. librtmp
// (rtmpdump) sends -1000 for --live and ffmpeg sends -2000 or -1000, having
// multiplied the ActionScript values by 1000; treat those as the same.
double normalize_play_start(double start) {
  if (start >= 0) return start;
  if (start == -1 || start == -1000) return kPlayLiveOnly;
  return kPlayLiveOrRecorded;
}

// play's reset argument is a boolean, but old Flash-era players send a
// number (0/1/2/3 flags), so read both.
bool reset_arg(const std::vector<amf::Value>& args, std::size_t i) {
  if (i >= args.size()) return true;
  if (args[i].is_bool()) return args[i].as_bool();
  if (args[i].is_number()) return args[i].as_number() != 0;
  return true;
}

double readable_transaction_id(ByteView body, std::uint8_t type) {
  if (type == msg_type::kCommandAmf3 && !body.empty() && body[0] == 0x00) body = body.subspan(1);
  amf::Amf0Reader reader(body);
  auto name = reader.read();
  if (!name || !name->is_string()) return 0;
  auto txn = reader.read();
  return txn && txn->is_number() ? txn->as_number() : 0;
}

std::string field_string(const amf::Object& o, std::string_view key) {
  const amf::Value* v = o.find(key);
  return v ? std::string(v->as_string()) : std::string();
}

}  // namespace

const char* to_string(SessionErrorKind kind) {
  switch (kind) {
    case SessionErrorKind::Handshake: return "handshake";
    case SessionErrorKind::Chunk: return "chunk stream";
    case SessionErrorKind::BadCommand: return "bad command";
    case SessionErrorKind::NotConnected: return "not connected";
    case SessionErrorKind::TooManyStreams: return "too many streams";
    case SessionErrorKind::Rejected: return "rejected";
  }
  return "?";
}

ServerSession::ServerSession(SessionOptions options)
    : options_(std::move(options)),
      handshake_(ServerHandshake::Options{options_.random, options_.handshake_time_ms}),
      decoder_(options_.command_chunk_limits) {}

ServerSession::FeedResult ServerSession::feed(ByteView in, std::vector<SessionEvent>& events) {
  FeedResult result;
  if (error_) {
    result.error = error_;
    return result;
  }
  result = feed_some(in, events);
  // An error is the end: the caller flushes the reply and closes, and
  // nothing after it is read.
  if (result.error && result.error->kind != SessionErrorKind::Rejected) error_ = result.error;
  return result;
}

ServerSession::FeedResult ServerSession::feed_some(ByteView in, std::vector<SessionEvent>& events) {
  FeedResult result;
  if (state_ == State::Rejected) {
    result.error = SessionError{SessionErrorKind::Rejected, "connection was rejected"};
    return result;
  }
  if (state_ == State::Handshake) {
    auto hs = handshake_.feed(in);
    result.consumed += hs.consumed;
    Bytes reply = handshake_.take_output();
    output_.insert(output_.end(), reply.begin(), reply.end());
    if (hs.error) {
      result.error = SessionError{SessionErrorKind::Handshake, to_string(*hs.error)};
      return result;
    }
    if (!handshake_.done()) return result;
    state_ = State::AwaitingConnect;
    in = in.subspan(hs.consumed);
  }

  ChunkDecoder::FeedResult chunks;
  if (publishing_) {
    chunks = decoder_.feed(in, messages_, options_.max_messages_per_feed);
    result.consumed += chunks.consumed;
    for (auto& message : messages_) {
      if (auto error = handle_message(std::move(message), events)) {
        messages_.clear();
        result.error = std::move(error);
        return result;
      }
    }
    messages_.clear();
  } else {
    // One message at a time, and the batch ends after a publish: the
    // application decides on it (allow_publishing) before the next message
    // is read, so an encoder that sends its first keyframe right behind its
    // publish, without waiting for Publish.Start, gets the publisher's
    // limits for it.
    std::size_t decoded = 0;
    while (decoded < options_.max_messages_per_feed) {
      chunks = decoder_.feed(in, messages_, 1);
      result.consumed += chunks.consumed;
      in = in.subspan(chunks.consumed);
      if (messages_.empty()) break;
      ++decoded;
      if (auto error = handle_message(std::move(messages_.front()), events)) {
        messages_.clear();
        result.error = std::move(error);
        return result;
      }
      messages_.clear();
      if (chunks.error || (!events.empty() && std::holds_alternative<PublishEvent>(events.back()))) break;
    }
  }
  maybe_acknowledge();
  if (chunks.error) {
    std::string detail = to_string(*chunks.error);
    if (*chunks.error == ChunkError::MessageTooLarge || *chunks.error == ChunkError::BufferedTooMuch) {
      detail += " (limit " + std::to_string(decoder_.limits().max_message_size) + " bytes per message, " +
                std::to_string(decoder_.limits().max_buffered_bytes) + " in partial messages)";
    }
    result.error = SessionError{SessionErrorKind::Chunk, std::move(detail)};
  }
  return result;
}

void ServerSession::drain_output_to(Bytes& out) {
  out.insert(out.end(), output_.begin(), output_.end());
  output_.clear();
}

std::optional<SessionError> ServerSession::handle_message(Message&& message,
                                                          std::vector<SessionEvent>& events) {
  switch (message.header.type) {
    case msg_type::kSetChunkSize:
    case msg_type::kAbort:
    case msg_type::kAcknowledgement:
    case msg_type::kUserControl:
    case msg_type::kWindowAckSize:
    case msg_type::kSetPeerBandwidth:
      return handle_control(message, events);
    case msg_type::kAudio:
    case msg_type::kVideo:
    case msg_type::kAggregate:
      // Nobody publishes before connect: nothing to do with media yet.
      if (state_ != State::Connected) {
        events.emplace_back(NoticeEvent{"dropped a media message sent before connect"});
        return std::nullopt;
      }
      if (message.header.type == msg_type::kAggregate && !AggregateReader(message).valid()) {
        events.emplace_back(NoticeEvent{"dropped a malformed aggregate message"});
        return std::nullopt;
      }
      events.emplace_back(MediaEvent{std::move(message)});
      return std::nullopt;
    case msg_type::kDataAmf0:
    case msg_type::kDataAmf3: {
      auto values = parse_data(message.payload, message.header.type, options_.amf_limits);
      if (!values) {
        events.emplace_back(NoticeEvent{std::string("dropped a data message with malformed AMF: ") +
                                        amf::to_string(values.error())});
        return std::nullopt;
      }
      events.emplace_back(DataEvent{message.header.stream_id, message.header.timestamp, std::move(*values)});
      return std::nullopt;
    }
    case msg_type::kCommandAmf0:
    case msg_type::kCommandAmf3:
      return handle_command(std::move(message), events);
    case msg_type::kSharedObjectAmf0:
    case msg_type::kSharedObjectAmf3:
      events.emplace_back(NoticeEvent{"ignored a shared object message (not supported)"});
      return std::nullopt;
    default:
      events.emplace_back(
          NoticeEvent{"ignored a message of unknown type " + std::to_string(message.header.type)});
      return std::nullopt;
  }
}

std::optional<SessionError> ServerSession::handle_control(const Message& message,
                                                          std::vector<SessionEvent>& events) {
  switch (message.header.type) {
    case msg_type::kWindowAckSize:
      if (auto size = parse_u32_body(message.payload)) peer_window_ = *size;
      break;
    case msg_type::kUserControl: {
      auto uc = parse_user_control(message.payload);
      if (!uc) break;
      if (uc->event == UserControlEvent::PingRequest) {
        queue(make_user_control({UserControlEvent::PingResponse, uc->value, 0}));
      } else if (uc->event == UserControlEvent::SetBufferLength) {
        events.emplace_back(BufferLengthEvent{uc->value, uc->extra});
      }
      break;
    }
    default:
      // Set Chunk Size and Abort were applied by the decoder; the client's
      // acknowledgements and peer bandwidth need no answer.
      break;
  }
  return std::nullopt;
}

std::uint32_t ServerSession::command_stream(std::uint32_t stream_id) {
  // Clients play and publish on the id createStream gave them; a few old
  // ones assume stream 1 without asking. Accept such an id as created.
  if (stream_id != 0 && !streams_.count(stream_id) && streams_.size() < options_.max_streams) {
    streams_.insert(stream_id);
    if (stream_id >= next_stream_id_) next_stream_id_ = stream_id + 1;
  }
  return stream_id;
}

std::optional<SessionError> ServerSession::handle_command(Message&& message,
                                                          std::vector<SessionEvent>& events) {
  auto parsed = parse_command(message.payload, message.header.type, options_.amf_limits);
  if (!parsed) {
    std::string why = std::string("malformed AMF command: ") + amf::to_string(parsed.error());
    // Answer the call's transaction when its name and id at least were
    // readable, so the client can match the error to its call; else 0.
    send_call_error(readable_transaction_id(message.payload, message.header.type), why,
                    "NetConnection.Call.BadValue");
    return SessionError{SessionErrorKind::BadCommand, why};
  }
  Command& cmd = *parsed;
  const std::uint32_t stream_id = message.header.stream_id;

  if (state_ == State::AwaitingConnect) {
    if (cmd.name != "connect") {
      send_call_error(cmd.transaction_id, "connect first");
      return SessionError{SessionErrorKind::NotConnected, "'" + cmd.name + "' before connect"};
    }
    ConnectEvent connect;
    connect.transaction_id = cmd.transaction_id;
    if (auto* object = cmd.command_object.as_object()) connect.command_object = std::move(*object);
    connect.args = std::move(cmd.args);
    std::string app = field_string(connect.command_object, "app");
    if (auto q = app.find('?'); q != std::string::npos) {
      connect.app_query = app.substr(q + 1);
      app.resize(q);
    }
    // "live/" and "live" are the same application to every server.
    while (!app.empty() && app.back() == '/') app.pop_back();
    connect.app = std::move(app);
    connect.tc_url = field_string(connect.command_object, "tcUrl");
    connect.flash_version = field_string(connect.command_object, "flashVer");
    const amf::Value* encoding = connect.command_object.find("objectEncoding");
    connect.encoding = encoding && encoding->as_number() == 3 ? ObjectEncoding::Amf3 : ObjectEncoding::Amf0;
    connect_ = connect;
    state_ = State::ConnectPending;
    events.emplace_back(std::move(connect));
    return std::nullopt;
  }

  const std::string& name = cmd.name;
  if (name == "connect") {
    send_call_error(cmd.transaction_id, "already connected");
    return std::nullopt;
  }
  if (name == "createStream") {
    events.emplace_back(CreateStreamEvent{cmd.transaction_id});
  } else if (name == "publish") {
    PublishEvent e{command_stream(stream_id), string_arg(cmd.args, 0), string_arg(cmd.args, 1)};
    if (e.type.empty()) e.type = "live";
    events.emplace_back(std::move(e));
  } else if (name == "play") {
    PlayEvent e;
    e.stream_id = command_stream(stream_id);
    e.name = string_arg(cmd.args, 0);
    e.start = normalize_play_start(number_arg(cmd.args, 1, kPlayLiveOrRecorded));
    e.length = number_arg(cmd.args, 2, -1);
    e.reset = reset_arg(cmd.args, 3);
    events.emplace_back(std::move(e));
  } else if (name == "play2") {
    Play2Event e;
    e.stream_id = command_stream(stream_id);
    if (!cmd.args.empty()) {
      if (const amf::Object* o = cmd.args[0].as_object()) {
        e.name = field_string(*o, "streamName");
        e.old_name = field_string(*o, "oldStreamName");
        e.transition = field_string(*o, "transition");
        if (const amf::Value* v = o->find("start")) e.start = normalize_play_start(v->as_number(-2));
        if (const amf::Value* v = o->find("len")) e.length = v->as_number(-1);
        if (const amf::Value* v = o->find("offset")) e.offset = v->as_number(-1);
      }
    }
    events.emplace_back(std::move(e));
  } else if (name == "seek") {
    events.emplace_back(SeekEvent{command_stream(stream_id), number_arg(cmd.args, 0, 0)});
  } else if (name == "pause" || name == "pauseRaw") {
    bool pause = cmd.args.empty() || cmd.args[0].as_bool(true);
    events.emplace_back(PauseEvent{command_stream(stream_id), pause, number_arg(cmd.args, 1, 0)});
  } else if (name == "receiveAudio" || name == "receiveVideo") {
    bool enabled = cmd.args.empty() || cmd.args[0].as_bool(true);
    events.emplace_back(ReceiveMediaEvent{command_stream(stream_id), name == "receiveAudio", enabled});
  } else if (name == "closeStream") {
    events.emplace_back(CloseStreamEvent{stream_id, false});
  } else if (name == "deleteStream") {
    // [deleteStream, 0, null, id]; an id that is no stream id (NaN, -1,
    // 1e300) deletes nothing.
    std::optional<std::uint32_t> id = cmd.args.empty() ? std::optional<std::uint32_t>(stream_id)
                                                       : cmd.args[0].as_uint32();
    if (!id) {
      events.emplace_back(NoticeEvent{"ignored deleteStream of something that is not a stream id"});
    } else {
      streams_.erase(*id);
      events.emplace_back(CloseStreamEvent{*id, true});
    }
  } else {
    events.emplace_back(CommandEvent{stream_id, std::move(cmd), message.header.type});
  }
  return std::nullopt;
}

void ServerSession::maybe_acknowledge() {
  // Encoders such as FMLE stall when the server never acknowledges what
  // they sent, so acknowledge each window the client announced.
  if (peer_window_ == 0) return;
  std::uint64_t received = decoder_.bytes_consumed();
  if (received - last_ack_sent_at_ < peer_window_) return;
  queue(make_acknowledgement(static_cast<std::uint32_t>(received)));
  last_ack_sent_at_ = received;
}

void ServerSession::queue(const Message& message) { encoder_.encode(message.header, message.payload, output_); }

void ServerSession::send_message(const MessageHeader& header, ByteView payload) {
  encoder_.encode(header, payload, output_);
}

void ServerSession::send_command(std::uint32_t chunk_stream, std::uint32_t stream_id, const Command& command) {
  queue(make_command(chunk_stream, stream_id, command, connect_.encoding));
}

void ServerSession::accept_connect(const amf::Object& extra_info) {
  queue(make_window_ack_size(options_.window_ack_size));
  queue(make_set_peer_bandwidth(options_.peer_bandwidth, PeerBandwidthLimit::Dynamic));
  queue(make_user_control({UserControlEvent::StreamBegin, 0, 0}));
  queue(make_set_chunk_size(options_.out_chunk_size));
  encoder_.set_chunk_size(options_.out_chunk_size);

  amf::Object properties{{"fmsVer", options_.fms_version}, {"capabilities", 31}, {"mode", 1}};
  amf::Object info = status_object("status", "NetConnection.Connect.Success", "Connection succeeded.");
  info.set("objectEncoding", static_cast<double>(connect_.encoding));
  // FMS reports its version again in data.version; some Flash-era players
  // show it. fms_version is "FMS/3,5,7,7009": the part after the slash.
  std::string version = options_.fms_version.substr(options_.fms_version.find('/') + 1);
  amf::Array data;
  data.ecma = true;
  data.assoc.push_back({"version", version});
  info.set("data", std::move(data));
  for (const auto& p : extra_info.properties) info.set(p.key, p.value);

  send_command(csid::kCommand, 0, Command{"_result", connect_.transaction_id, std::move(properties), {std::move(info)}});
  state_ = State::Connected;
}

void ServerSession::reject_connect(std::string_view code, std::string_view description,
                                   std::optional<amf::Value> application, const amf::Object& extra_info) {
  amf::Object info = status_object("error", code, description);
  if (application) info.set("application", std::move(*application));
  for (const auto& property : extra_info.properties) info.set(property.key, property.value);
  send_command(csid::kCommand, 0, Command{"_error", connect_.transaction_id, amf::Null{}, {std::move(info)}});
  state_ = State::Rejected;
}

std::optional<std::uint32_t> ServerSession::create_stream(double transaction_id) {
  if (streams_.size() >= options_.max_streams) {
    send_call_error(transaction_id, "too many streams on this connection");
    return std::nullopt;
  }
  while (streams_.count(next_stream_id_)) ++next_stream_id_;
  std::uint32_t id = next_stream_id_++;
  streams_.insert(id);
  send_result(transaction_id, {static_cast<double>(id)});
  return id;
}

void ServerSession::send_result(double transaction_id, std::vector<amf::Value> values) {
  send_command(csid::kCommand, 0, Command{"_result", transaction_id, amf::Null{}, std::move(values)});
}

void ServerSession::send_call_error(double transaction_id, std::string_view description, std::string_view code) {
  send_command(csid::kCommand, 0,
               Command{"_error", transaction_id, amf::Null{}, {status_object("error", code, description)}});
}

void ServerSession::send_result_error(double transaction_id, amf::Object info) {
  send_command(csid::kCommand, 0, Command{"_error", transaction_id, amf::Null{}, {std::move(info)}});
}

void ServerSession::send_call(std::string_view name, std::vector<amf::Value> args, double transaction_id) {
  send_command(csid::kCommand, 0, Command{std::string(name), transaction_id, amf::Null{}, std::move(args)});
}

void ServerSession::send_status(std::uint32_t stream_id, std::string_view level, std::string_view code,
                                std::string_view description, const amf::Object& extra) {
  amf::Object info = status_object(level, code, description);
  for (const auto& p : extra.properties) info.set(p.key, p.value);
  send_command(csid::kStreamCommand, stream_id, Command{"onStatus", 0, amf::Null{}, {std::move(info)}});
}

void ServerSession::send_user_control(UserControlEvent event, std::uint32_t value) {
  queue(make_user_control({event, value, 0}));
}

void ServerSession::send_data(std::uint32_t stream_id, std::uint32_t timestamp,
                              const std::vector<amf::Value>& values) {
  queue(make_data(csid::kStreamCommand, stream_id, timestamp, values));
}

}  // namespace rw::rtmp
