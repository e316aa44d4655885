// Internal to common/amf: the decoder both formats share (an AMF0 body
// switches to AMF3 with 0x11, and both read one set of tables and budgets),
// and the AMF3 writer that encode_amf0 uses for switched values.
//
// The decoder reads one complete body; every read_* returns false with
// error() set when the bytes are malformed or a limit is reached. After a
// failure the decoder and its DecodeState are not used again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/amf/codec.hpp"

namespace rw::amf::detail {

class Decoder {
 public:
  Decoder(ByteView body, std::size_t pos, const Limits& limits, DecodeState& state)
      : body_(body), pos_(pos), limits_(limits), state_(state) {}

  bool read_amf0(Value& out);
  bool read_amf3(Value& out);

  std::size_t position() const { return pos_; }
  Error error() const { return error_; }

 private:
  bool fail(Error e) {
    error_ = e;
    return false;
  }
  std::size_t remaining() const { return body_.size() - pos_; }

  bool u8(std::uint8_t& v);
  bool u16(std::uint16_t& v);
  bool u32(std::uint32_t& v);
  bool f64(double& v);
  bool u29(std::uint32_t& v);
  // A view of the next n bytes of text or payload, n within Limits::max_bytes.
  bool text(std::size_t n, std::string_view& v);
  // Copies s into out, charged to Limits::max_total_bytes.
  bool materialize(std::string_view s, std::string& out);
  // Counts one decoded value against Limits::max_elements.
  bool count_element();
  // Checks a count read from the body before anything is reserved for it:
  // `count` more values must fit the element budget and, at
  // `min_bytes_each` bytes apiece, the rest of the body.
  bool check_count(std::size_t count, std::size_t min_bytes_each);
  bool enter_container();
  void leave_container() { --depth_; }

  // Reference tables. While a reference is being resolved (replaying_ > 0)
  // the referenced bytes are decoded again and the tables are left alone:
  // every index inside them already points where it did the first time.
  std::size_t add_entry(std::vector<TableEntry>& table, std::size_t offset);
  void complete_entry(std::vector<TableEntry>& table, std::size_t index);
  bool resolve(const std::vector<TableEntry>& table, std::size_t index, bool amf3, Value& out);

  bool amf0_properties(std::vector<Property>& props);
  bool amf0_object(std::size_t start, std::string_view class_name, Value& out);
  bool amf0_ecma_array(std::size_t start, Value& out);
  bool amf0_strict_array(std::size_t start, Value& out);

  bool amf3_string(std::string_view& v);
  bool amf3_text_object(std::size_t start, std::uint8_t marker, Value& out);  // XML, XMLDocument, ByteArray
  bool amf3_date(std::size_t start, Value& out);
  bool amf3_array(std::size_t start, Value& out);
  bool amf3_object(std::size_t start, Value& out);
  bool amf3_traits(std::uint32_t header, Traits& scratch, std::optional<std::size_t>& table_index);
  bool amf3_vector(std::size_t start, std::uint8_t marker, Value& out);
  bool amf3_dictionary(std::size_t start, Value& out);

  ByteView body_;
  std::size_t pos_;
  const Limits& limits_;
  DecodeState& state_;
  std::size_t depth_ = 0;
  int replaying_ = 0;
  Error error_ = Error::Truncated;
};

// Appends the AMF3 encoding of v (no 0x11 marker). With use_references the
// writer references repeated strings and traits, as Flash does; without,
// every string and trait is written inline.
void write_amf3(const Value& v, Bytes& out, bool use_references);

}  // namespace rw::amf::detail
