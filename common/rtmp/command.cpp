#include "common/rtmp/command.hpp"

namespace rw::rtmp {
namespace {

bool is_complex(const amf::Value& v) { return v.is_object() || v.is_array(); }

}  // namespace

Expected<Command, amf::Error> parse_command(ByteView body, std::uint8_t type, const amf::Limits& limits) {
  // Type 17 starts with one format byte (0x00) before AMF0 values; some
  // encoders omit it, so skip it only when it is there.
  if (type == msg_type::kCommandAmf3 && !body.empty() && body[0] == 0x00) body = body.subspan(1);
  amf::Amf0Reader reader(body, limits);
  Command cmd;
  auto name = reader.read();
  if (!name) return unexpected(name.error());
  if (!name->is_string()) return unexpected(amf::Error::UnknownMarker);
  cmd.name = std::string(name->as_string());
  if (reader.at_end()) return cmd;  // some clients send a bare name
  auto txn = reader.read();
  if (!txn) return unexpected(txn.error());
  cmd.transaction_id = txn->as_number();
  if (reader.at_end()) return cmd;
  auto object = reader.read();
  if (!object) return unexpected(object.error());
  cmd.command_object = std::move(*object);
  while (!reader.at_end()) {
    auto arg = reader.read();
    if (!arg) return unexpected(arg.error());
    cmd.args.push_back(std::move(*arg));
  }
  return cmd;
}

Expected<std::vector<amf::Value>, amf::Error> parse_data(ByteView body, std::uint8_t type,
                                                         const amf::Limits& limits) {
  if (type == msg_type::kDataAmf3 && !body.empty() && body[0] == 0x00) body = body.subspan(1);
  return amf::decode_amf0_all(body, limits);
}

Bytes encode_command_body(const Command& command, ObjectEncoding encoding) {
  Bytes body;
  body.reserve(128);
  if (encoding == ObjectEncoding::Amf3) body.push_back(0x00);
  amf::encode_amf0(amf::Value(command.name), body);
  amf::encode_amf0(amf::Value(command.transaction_id), body);
  auto put = [&](const amf::Value& v) {
    if (encoding == ObjectEncoding::Amf3 && is_complex(v)) {
      body.push_back(0x11);  // avmplus-object-marker: the next value is AMF3
      amf::encode_amf3_without_references(v, body);
    } else {
      amf::encode_amf0(v, body);
    }
  };
  put(command.command_object);
  for (const auto& arg : command.args) put(arg);
  return body;
}

Message make_command(std::uint32_t chunk_stream, std::uint32_t stream_id, const Command& command,
                     ObjectEncoding encoding) {
  Message m;
  m.payload = encode_command_body(command, encoding);
  m.header.csid = chunk_stream;
  m.header.type = encoding == ObjectEncoding::Amf3 ? msg_type::kCommandAmf3 : msg_type::kCommandAmf0;
  m.header.stream_id = stream_id;
  m.header.length = static_cast<std::uint32_t>(m.payload.size());
  return m;
}

Bytes encode_data_body(const std::vector<amf::Value>& values) {
  Bytes body;
  for (const auto& v : values) amf::encode_amf0(v, body);
  return body;
}

Message make_data(std::uint32_t chunk_stream, std::uint32_t stream_id, std::uint32_t timestamp,
                  const std::vector<amf::Value>& values) {
  Message m;
  m.payload = encode_data_body(values);
  m.header.csid = chunk_stream;
  m.header.type = msg_type::kDataAmf0;
  m.header.stream_id = stream_id;
  m.header.timestamp = timestamp;
  m.header.length = static_cast<std::uint32_t>(m.payload.size());
  return m;
}

amf::Object status_object(std::string_view level, std::string_view code, std::string_view description) {
  return amf::Object{{"level", std::string(level)}, {"code", std::string(code)},
                     {"description", std::string(description)}};
}

}  // namespace rw::rtmp
