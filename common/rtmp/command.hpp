// NetConnection/NetStream commands and data messages as AMF values
// (docs/protocol.md, "NetConnection" and "NetStream"), shared by the server session, the
// upstream client and the load tool.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/amf/codec.hpp"
#include "common/amf/value.hpp"
#include "common/base/expected.hpp"
#include "common/rtmp/message.hpp"

namespace rw::rtmp {

// What a client asked for in connect's objectEncoding: 0 = AMF0 commands
// (type 20), 3 = AMF3 commands (type 17).
enum class ObjectEncoding { Amf0 = 0, Amf3 = 3 };

struct Command {
  std::string name;
  double transaction_id = 0;
  amf::Value command_object;  // null for most commands
  std::vector<amf::Value> args;
};

// Parses a type-20 (AMF0) or type-17 (AMF3) command message.
Expected<Command, amf::Error> parse_command(ByteView body, std::uint8_t type, const amf::Limits& limits);
// Parses a type-18 or type-15 data message into its values.
Expected<std::vector<amf::Value>, amf::Error> parse_data(ByteView body, std::uint8_t type,
                                                         const amf::Limits& limits);

// Encodes a command. AMF3 encoding (type 17) is a 0x00 byte, then AMF0
// name, transaction id and null, with objects and arrays switched to AMF3
// (0x11), which is how Flash Player sends them and expects them back. The
// switched values carry no AMF3 references (see
// amf::encode_amf3_without_references).
Bytes encode_command_body(const Command& command, ObjectEncoding encoding);
Message make_command(std::uint32_t chunk_stream, std::uint32_t stream_id, const Command& command,
                     ObjectEncoding encoding);
// A type-18 data message (onMetaData, |RtmpSampleAccess, onPlayStatus).
// Data messages are always sent as AMF0: every client reads type 18.
Bytes encode_data_body(const std::vector<amf::Value>& values);
Message make_data(std::uint32_t chunk_stream, std::uint32_t stream_id, std::uint32_t timestamp,
                  const std::vector<amf::Value>& values);

// {level, code, description} as onStatus and _result/_error info objects carry.
amf::Object status_object(std::string_view level, std::string_view code, std::string_view description);

}  // namespace rw::rtmp
