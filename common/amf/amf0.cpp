// AMF0 (docs/protocol.md, "AMF"; Adobe's AMF0 specification).
//
// AMF3 reference tables and the 0x11 switch: one AMF0 body keeps ONE set of
// AMF3 tables (strings, objects, traits) for all its 0x11-switched values,
// so a string written inline in the first switched argument of a command
// can be referenced from the third. That is what Adobe's own server code
// does (BlazeDS/LCDS Amf0Input creates one Amf3Input per body and resets it
// only between message headers and bodies), what Red5 does for type-17
// commands ("according to AMF3 spec, we should collect AMF3 references for
// the whole message body (through all params)") and what pyamf does.
// crtmpserver is the exception: it starts fresh tables at every 0x11. To be
// read correctly by both kinds of peer, encode_amf0 writes its switched
// values without any AMF3 references.
#include <charconv>

#include "common/amf/codec.hpp"
#include "common/amf/decoder.hpp"

namespace rw::amf {

namespace {

enum Marker : std::uint8_t {
  kNumber = 0x00,
  kBoolean = 0x01,
  kString = 0x02,
  kObject = 0x03,
  kMovieClip = 0x04,  // reserved, never sent
  kNull = 0x05,
  kUndefined = 0x06,
  kReference = 0x07,
  kEcmaArray = 0x08,
  kObjectEnd = 0x09,
  kStrictArray = 0x0A,
  kDate = 0x0B,
  kLongString = 0x0C,
  kUnsupported = 0x0D,
  kRecordSet = 0x0E,  // reserved, never sent
  kXmlDocument = 0x0F,
  kTypedObject = 0x10,
  kAvmPlus = 0x11,  // the next value is AMF3
};

}  // namespace

const char* to_string(Error e) {
  switch (e) {
    case Error::Truncated: return "truncated";
    case Error::UnknownMarker: return "unknown marker";
    case Error::DepthExceeded: return "depth exceeded";
    case Error::TooManyElements: return "too many elements";
    case Error::TooLarge: return "too large";
    case Error::BadReference: return "bad reference";
    case Error::Unsupported: return "unsupported";
    case Error::TrailingBytes: return "trailing bytes";
  }
  return "unknown error";
}

namespace detail {

bool Decoder::read_amf0(Value& out) {
  const std::size_t start = pos_;
  std::uint8_t marker = 0;
  if (!u8(marker)) return false;
  if (marker == kAvmPlus) return read_amf3(out);
  if (marker == kReference) {
    // The copy counts its own elements as it is decoded again.
    std::uint16_t index = 0;
    if (!u16(index)) return false;
    return resolve(state_.amf0_objects, index, false, out);
  }
  if (!count_element()) return false;
  switch (marker) {
    case kNumber: {
      double d = 0;
      if (!f64(d)) return false;
      out = d;
      return true;
    }
    case kBoolean: {
      std::uint8_t b = 0;
      if (!u8(b)) return false;
      out = b != 0;
      return true;
    }
    case kString:
    case kLongString: {
      std::uint32_t length = 0;
      if (marker == kString) {
        std::uint16_t short_length = 0;
        if (!u16(short_length)) return false;
        length = short_length;
      } else if (!u32(length)) {
        return false;
      }
      std::string_view s;
      std::string str;
      if (!text(length, s) || !materialize(s, str)) return false;
      out = std::move(str);
      return true;
    }
    case kObject:
      return amf0_object(start, {}, out);
    case kNull:
      out = Null{};
      return true;
    case kUndefined:
      out = Undefined{};
      return true;
    case kEcmaArray:
      return amf0_ecma_array(start, out);
    case kStrictArray:
      return amf0_strict_array(start, out);
    case kDate: {
      double ms = 0;
      std::uint16_t zone = 0;
      if (!f64(ms) || !u16(zone)) return false;
      out = Date{ms, static_cast<std::int16_t>(zone)};
      return true;
    }
    case kXmlDocument: {
      std::uint32_t length = 0;
      std::string_view s;
      Xml xml;
      if (!u32(length) || !text(length, s) || !materialize(s, xml.text)) return false;
      out = std::move(xml);
      return true;
    }
    case kTypedObject: {
      std::uint16_t length = 0;
      std::string_view class_name;
      if (!u16(length) || !text(length, class_name)) return false;
      return amf0_object(start, class_name, out);
    }
    default:
      // Includes the reserved movieclip and recordset markers, unsupported
      // (0x0D), and an object end where a value should be.
      return fail(Error::UnknownMarker);
  }
}

// Reads key/value pairs up to the object end (an empty key and 0x09). An
// empty key followed by anything else is a property named "", which
// ActionScript allows.
bool Decoder::amf0_properties(std::vector<Property>& props) {
  for (;;) {
    std::uint16_t length = 0;
    std::string_view key;
    if (!u16(length) || !text(length, key)) return false;
    if (key.empty()) {
      if (remaining() < 1) return fail(Error::Truncated);
      if (body_[pos_] == kObjectEnd) {
        ++pos_;
        return true;
      }
    }
    Property& p = props.emplace_back();
    if (!materialize(key, p.key) || !read_amf0(p.value)) return false;
  }
}

bool Decoder::amf0_object(std::size_t start, std::string_view class_name, Value& out) {
  if (!enter_container()) return false;
  const std::size_t index = add_entry(state_.amf0_objects, start);
  Object obj;
  if (!materialize(class_name, obj.class_name) || !amf0_properties(obj.properties)) return false;
  complete_entry(state_.amf0_objects, index);
  leave_container();
  out = std::move(obj);
  return true;
}

bool Decoder::amf0_ecma_array(std::size_t start, Value& out) {
  // The count is only a hint (ffmpeg writes the number of pairs, Flash the
  // array length); the pairs end at the object end marker.
  std::uint32_t count_hint = 0;
  if (!u32(count_hint) || !enter_container()) return false;
  const std::size_t index = add_entry(state_.amf0_objects, start);
  Array array;
  array.ecma = true;
  if (!amf0_properties(array.assoc)) return false;
  complete_entry(state_.amf0_objects, index);
  leave_container();
  out = std::move(array);
  return true;
}

bool Decoder::amf0_strict_array(std::size_t start, Value& out) {
  std::uint32_t count = 0;
  if (!u32(count) || !check_count(count, 1) || !enter_container()) return false;
  const std::size_t index = add_entry(state_.amf0_objects, start);
  Array array;
  // Grown as items are read, never reserved from the declared count: a
  // count is checked against the bytes left, but every nesting level
  // would be checked against the same bytes (docs/protocol.md, "Bounds").
  for (std::uint32_t i = 0; i < count; ++i) {
    if (!read_amf0(array.dense.emplace_back())) return false;
  }
  complete_entry(state_.amf0_objects, index);
  leave_container();
  out = std::move(array);
  return true;
}

}  // namespace detail

Amf0Reader::Amf0Reader(ByteView body, Limits limits) : body_(body), limits_(limits) {}

bool Amf0Reader::at_end() const { return pos_ >= body_.size(); }

std::size_t Amf0Reader::position() const { return pos_; }

Expected<Value, Error> Amf0Reader::read() {
  if (error_) return unexpected(*error_);
  detail::Decoder decoder(body_, pos_, limits_, state_);
  Value v;
  if (!decoder.read_amf0(v)) {
    error_ = decoder.error();
    return unexpected(*error_);
  }
  pos_ = decoder.position();
  return v;
}

Expected<std::vector<Value>, Error> decode_amf0_all(ByteView body, Limits limits) {
  Amf0Reader reader(body, limits);
  std::vector<Value> values;
  while (!reader.at_end()) {
    auto v = reader.read();
    if (!v) return unexpected(v.error());
    values.push_back(std::move(*v));
  }
  return values;
}

namespace {

class Amf0Writer {
 public:
  explicit Amf0Writer(Bytes& out) : w_(out) {}

  void value(const Value& v) {
    if (needs_amf3(v)) {
      w_.u8(kAvmPlus);
      detail::write_amf3(v, w_.buffer(), /*use_references=*/false);
      return;
    }
    std::visit([this](const auto& x) { write(x); }, v.storage());
  }

 private:
  static constexpr std::size_t kMaxShort = 0xFFFF;

  // Values AMF0 cannot express. AMF0 keys and class names have u16
  // lengths, and AMF0 has no integers, E4X XML, byte arrays, vectors,
  // dictionaries or externalizable objects.
  static bool needs_amf3(const Value& v) {
    const Value::Storage& s = v.storage();
    if (std::holds_alternative<std::int32_t>(s) || std::holds_alternative<ByteArray>(s) ||
        std::holds_alternative<Vector>(s) || std::holds_alternative<Dictionary>(s)) {
      return true;
    }
    if (const Xml* x = std::get_if<Xml>(&s)) return !x->document;
    if (const Object* o = std::get_if<Object>(&s)) {
      return o->externalizable || o->class_name.size() > kMaxShort || has_long_key(o->properties);
    }
    if (const Array* a = std::get_if<Array>(&s)) return has_long_key(a->assoc);
    return false;
  }
  static bool has_long_key(const std::vector<Property>& props) {
    for (const Property& p : props) {
      if (p.key.size() > kMaxShort) return true;
    }
    return false;
  }

  void write(const Undefined&) { w_.u8(kUndefined); }
  void write(const Null&) { w_.u8(kNull); }
  void write(bool b) {
    w_.u8(kBoolean);
    w_.u8(b ? 1 : 0);
  }
  void write(double d) {
    w_.u8(kNumber);
    w_.f64be(d);
  }
  void write(const std::string& s) {
    if (s.size() > kMaxShort) {
      w_.u8(kLongString);
      w_.u32be(static_cast<std::uint32_t>(s.size()));
    } else {
      w_.u8(kString);
      w_.u16be(static_cast<std::uint16_t>(s.size()));
    }
    w_.bytes(s);
  }
  void write(const Date& d) {
    w_.u8(kDate);
    w_.f64be(d.ms);
    w_.u16be(static_cast<std::uint16_t>(d.timezone));
  }
  void write(const Xml& x) {
    w_.u8(kXmlDocument);
    w_.u32be(static_cast<std::uint32_t>(x.text.size()));
    w_.bytes(x.text);
  }
  void write(const Object& o) {
    if (o.class_name.empty()) {
      w_.u8(kObject);
    } else {
      w_.u8(kTypedObject);
      short_string(o.class_name);
    }
    properties(o.properties);
    object_end();
  }
  void write(const Array& a) {
    if (!a.ecma && a.assoc.empty()) {
      w_.u8(kStrictArray);
      w_.u32be(static_cast<std::uint32_t>(a.dense.size()));
      for (const Value& item : a.dense) value(item);
      return;
    }
    // An array with named members is an ECMA array; its dense items become
    // the members "0", "1", ... as Flash writes them. The count is the
    // number of pairs, as ffmpeg writes it.
    w_.u8(kEcmaArray);
    w_.u32be(static_cast<std::uint32_t>(a.dense.size() + a.assoc.size()));
    for (std::size_t i = 0; i < a.dense.size(); ++i) {
      char digits[24];
      const char* end = std::to_chars(digits, digits + sizeof digits, i).ptr;
      short_string(std::string_view(digits, static_cast<std::size_t>(end - digits)));
      value(a.dense[i]);
    }
    properties(a.assoc);
    object_end();
  }
  // Handled by needs_amf3.
  void write(std::int32_t) {}
  void write(const ByteArray&) {}
  void write(const Vector&) {}
  void write(const Dictionary&) {}

  void short_string(std::string_view s) {
    w_.u16be(static_cast<std::uint16_t>(s.size()));
    w_.bytes(s);
  }
  void properties(const std::vector<Property>& props) {
    for (const Property& p : props) {
      short_string(p.key);
      value(p.value);
    }
  }
  void object_end() {
    w_.u16be(0);
    w_.u8(kObjectEnd);
  }

  ByteWriter w_;
};

}  // namespace

void encode_amf0(const Value& v, Bytes& out) { Amf0Writer(out).value(v); }

}  // namespace rw::amf
