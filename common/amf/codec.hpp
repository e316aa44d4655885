// AMF0 and AMF3 encoders and decoders (docs/protocol.md, "AMF").
//
// Decoders work on one complete message body (RTMP delivers whole
// messages), never throw, and return a typed error for anything malformed or
// beyond the limits. Reference tables live for one message: make one
// Amf0Reader per message body and read its values in turn.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/amf/decode_state.hpp"
#include "common/amf/value.hpp"
#include "common/base/bytes.hpp"
#include "common/base/expected.hpp"

namespace rw::amf {

enum class Error {
  Truncated,         // the body ended inside a value (or a length or count needs more bytes than are left)
  UnknownMarker,     // a type marker this format does not define
  DepthExceeded,     // nesting deeper than Limits::max_depth
  TooManyElements,   // more elements than Limits::max_elements in the body
  TooLarge,          // a string, XML or byte array over Limits::max_bytes, or over Limits::max_total_bytes in all
  BadReference,      // a reference index out of range, or to a value still being decoded
  Unsupported,       // valid AMF this decoder does not handle (an unknown externalizable class)
  TrailingBytes,     // decode_amf0_all/decode_amf3 found bytes after the last value
};
const char* to_string(Error e);

struct Limits {
  std::size_t max_depth = 32;           // nested objects/arrays
  std::size_t max_elements = 100'000;   // values decoded in one body, references' copies included
  std::size_t max_bytes = 16u << 20;    // one string, XML or byte array
  // Every string, key and byte array decoded from one body, references'
  // copies included: a reference to a large value, repeated, cannot exhaust
  // memory even within max_elements.
  std::size_t max_total_bytes = 64u << 20;
};

// Reads AMF0 values, one after another, from one message body. A value
// marked 0x11 (avmplus-object) is read as AMF3; the AMF3 reference tables
// live for the whole body, across every 0x11 switch (see amf0.cpp).
class Amf0Reader {
 public:
  explicit Amf0Reader(ByteView body, Limits limits = {});
  bool at_end() const;
  std::size_t position() const;
  Expected<Value, Error> read();

 private:
  ByteView body_;
  Limits limits_;
  std::size_t pos_ = 0;
  // Reference tables and budgets shared by every value of this body,
  // including the AMF3 values after each 0x11 switch.
  detail::DecodeState state_;
  // A body that failed once is not read further: its tables are unreliable.
  std::optional<Error> error_;
};

// Decodes every value of an AMF0 body (a command or data message).
Expected<std::vector<Value>, Error> decode_amf0_all(ByteView body, Limits limits = {});

// Decodes one AMF3 value (with fresh reference tables) from the start of
// body; `consumed` receives the number of bytes it took.
Expected<Value, Error> decode_amf3(ByteView body, std::size_t& consumed, Limits limits = {});

// Appends the AMF0 encoding of v. Values AMF0 cannot express (AMF3
// integers, vectors, dictionaries, byte arrays, E4X XML) are written as an
// 0x11 switch followed by AMF3. Strings over 65535 bytes become long
// strings (0x0C). A switched value uses no AMF3 references, so it reads
// the same whether the peer keeps AMF3 tables for the body or per switch.
void encode_amf0(const Value& v, Bytes& out);
// Appends the AMF3 encoding of v with fresh reference tables.
void encode_amf3(const Value& v, Bytes& out);
// Appends the AMF3 encoding of v without any string or trait references.
// For values switched to AMF3 (0x11) inside an AMF0 body: peers disagree on
// whether AMF3 tables last for the body (Red5, BlazeDS) or for one switch
// (crtmpserver), and a value without references reads the same either way.
void encode_amf3_without_references(const Value& v, Bytes& out);

}  // namespace rw::amf
