// AMF3 (docs/protocol.md, "AMF"; Adobe's AMF3 specification, January 2013).
//
// Three reference tables: strings (every non-empty inline string: values,
// keys, class names), objects (arrays, objects, dates, XML, byte arrays,
// vectors and dictionaries, in the order they start) and traits. A header
// with the low bit clear is a reference into the matching table.
#include <algorithm>
#include <functional>
#include <limits>
#include <unordered_map>

#include "common/amf/codec.hpp"
#include "common/amf/decoder.hpp"

namespace rw::amf {

namespace {

enum Marker : std::uint8_t {
  kUndefined = 0x00,
  kNull = 0x01,
  kFalse = 0x02,
  kTrue = 0x03,
  kInteger = 0x04,
  kDouble = 0x05,
  kString = 0x06,
  kXmlDocument = 0x07,
  kDate = 0x08,
  kArray = 0x09,
  kObject = 0x0A,
  kXml = 0x0B,
  kByteArray = 0x0C,
  kVectorInt = 0x0D,
  kVectorUint = 0x0E,
  kVectorDouble = 0x0F,
  kVectorObject = 0x10,
  kDictionary = 0x11,
};

constexpr std::uint32_t kU29Max = (1u << 29) - 1;
constexpr std::int32_t kIntegerMin = -(1 << 28);
constexpr std::int32_t kIntegerMax = (1 << 28) - 1;

// The Flex classes whose externalized form is one AMF3 value, and the
// property the decoded Object keeps it under.
std::string_view wrapped_property(std::string_view class_name) {
  if (class_name == "flex.messaging.io.ArrayCollection" || class_name == "flex.messaging.io.ArrayList") {
    return "source";
  }
  if (class_name == "flex.messaging.io.ObjectProxy") return "object";
  return {};
}

}  // namespace

namespace detail {

bool Decoder::read_amf3(Value& out) {
  const std::size_t start = pos_;
  std::uint8_t marker = 0;
  if (!u8(marker)) return false;
  switch (marker) {
    case kUndefined:
    case kNull:
    case kFalse:
    case kTrue:
      if (!count_element()) return false;
      if (marker == kUndefined) out = Undefined{};
      else if (marker == kNull) out = Null{};
      else out = marker == kTrue;
      return true;
    case kInteger: {
      std::uint32_t u = 0;
      if (!count_element() || !u29(u)) return false;
      // 29-bit two's complement.
      const auto i = static_cast<std::int32_t>(u);
      out = Value::integer((u & 0x10000000u) != 0 ? i - (1 << 29) : i);
      return true;
    }
    case kDouble: {
      double d = 0;
      if (!count_element() || !f64(d)) return false;
      out = d;
      return true;
    }
    case kString: {
      std::string_view s;
      std::string str;
      if (!count_element() || !amf3_string(s) || !materialize(s, str)) return false;
      out = std::move(str);
      return true;
    }
    case kXmlDocument:
    case kXml:
    case kByteArray:
      return amf3_text_object(start, marker, out);
    case kDate:
      return amf3_date(start, out);
    case kArray:
      return amf3_array(start, out);
    case kObject:
      return amf3_object(start, out);
    case kVectorInt:
    case kVectorUint:
    case kVectorDouble:
    case kVectorObject:
      return amf3_vector(start, marker, out);
    case kDictionary:
      return amf3_dictionary(start, out);
    default:
      return fail(Error::UnknownMarker);
  }
}

// U29S: an inline string (length << 1 | 1) or a string-table reference
// (index << 1). The empty string is never added to the table.
bool Decoder::amf3_string(std::string_view& v) {
  std::uint32_t header = 0;
  if (!u29(header)) return false;
  if ((header & 1) == 0) {
    const std::size_t index = header >> 1;
    if (index >= state_.amf3_strings.size()) return fail(Error::BadReference);
    v = state_.amf3_strings[index];
    return true;
  }
  if (!text(header >> 1, v)) return false;
  if (!v.empty() && replaying_ == 0) state_.amf3_strings.push_back(v);
  return true;
}

bool Decoder::amf3_text_object(std::size_t start, std::uint8_t marker, Value& out) {
  std::uint32_t header = 0;
  if (!u29(header)) return false;
  if ((header & 1) == 0) return resolve(state_.amf3_objects, header >> 1, true, out);
  if (!count_element()) return false;
  const std::size_t index = add_entry(state_.amf3_objects, start);
  std::string_view payload;
  if (!text(header >> 1, payload)) return false;
  if (marker == kByteArray) {
    // Charged to the byte budget like a string.
    if (payload.size() > limits_.max_total_bytes - state_.bytes) return fail(Error::TooLarge);
    state_.bytes += payload.size();
    const ByteView raw = as_bytes(payload);
    out = ByteArray{Bytes(raw.begin(), raw.end())};
  } else {
    Xml xml;
    xml.document = marker == kXmlDocument;
    if (!materialize(payload, xml.text)) return false;
    out = std::move(xml);
  }
  complete_entry(state_.amf3_objects, index);
  return true;
}

bool Decoder::amf3_date(std::size_t start, Value& out) {
  std::uint32_t header = 0;
  if (!u29(header)) return false;
  if ((header & 1) == 0) return resolve(state_.amf3_objects, header >> 1, true, out);
  if (!count_element()) return false;
  const std::size_t index = add_entry(state_.amf3_objects, start);
  double ms = 0;
  if (!f64(ms)) return false;
  out = Date{ms, 0};
  complete_entry(state_.amf3_objects, index);
  return true;
}

// U29A: dense count, then the associative part (name/value pairs up to an
// empty name), then the dense items.
bool Decoder::amf3_array(std::size_t start, Value& out) {
  std::uint32_t header = 0;
  if (!u29(header)) return false;
  if ((header & 1) == 0) return resolve(state_.amf3_objects, header >> 1, true, out);
  if (!count_element() || !enter_container()) return false;
  const std::size_t index = add_entry(state_.amf3_objects, start);
  Array array;
  for (;;) {
    std::string_view key;
    if (!amf3_string(key)) return false;
    if (key.empty()) break;
    Property& p = array.assoc.emplace_back();
    if (!materialize(key, p.key) || !read_amf3(p.value)) return false;
  }
  const std::size_t dense_count = header >> 1;
  if (!check_count(dense_count, 1)) return false;
  // Grown as items are read (see amf0_strict_array).
  for (std::size_t i = 0; i < dense_count; ++i) {
    if (!read_amf3(array.dense.emplace_back())) return false;
  }
  complete_entry(state_.amf3_objects, index);
  leave_container();
  out = std::move(array);
  return true;
}

// U29O-traits: xx1 inline traits (bit 2: externalizable, bit 3: dynamic,
// the rest: sealed member count), x0 a traits-table reference. The traits
// end up in the table (`table_index`), or in `scratch` while a reference is
// replayed (the table is left alone then).
bool Decoder::amf3_traits(std::uint32_t header, Traits& scratch, std::optional<std::size_t>& table_index) {
  if ((header & 2) == 0) {
    const std::size_t index = header >> 2;
    if (index >= state_.amf3_traits.size()) return fail(Error::BadReference);
    table_index = index;
    return true;
  }
  scratch.externalizable = (header & 4) != 0;
  if (!amf3_string(scratch.class_name)) return false;
  if (!scratch.externalizable) {
    scratch.dynamic = (header & 8) != 0;
    // Each sealed member needs at least a name byte and a value byte.
    const std::size_t sealed_count = header >> 4;
    if (!check_count(sealed_count, 2)) return false;
    for (std::size_t i = 0; i < sealed_count; ++i) {
      if (!amf3_string(scratch.sealed_names.emplace_back())) return false;
    }
  }
  if (replaying_ == 0) {
    state_.amf3_traits.push_back(std::move(scratch));
    table_index = state_.amf3_traits.size() - 1;
  }
  return true;
}

bool Decoder::amf3_object(std::size_t start, Value& out) {
  std::uint32_t header = 0;
  if (!u29(header)) return false;
  if ((header & 1) == 0) return resolve(state_.amf3_objects, header >> 1, true, out);
  if (!count_element() || !enter_container()) return false;
  const std::size_t index = add_entry(state_.amf3_objects, start);
  Object obj;
  Traits scratch;
  std::optional<std::size_t> table_index;
  if (!amf3_traits(header, scratch, table_index)) return false;
  // Looked up again each time: the table may grow (and move) while the
  // values are read.
  auto traits = [&]() -> const Traits& { return table_index ? state_.amf3_traits[*table_index] : scratch; };
  if (!materialize(traits().class_name, obj.class_name)) return false;
  obj.externalizable = traits().externalizable;
  obj.dynamic = traits().dynamic;
  obj.sealed_count = traits().sealed_names.size();
  // Traits from the table have no bytes here: the sealed values still
  // need a byte each.
  if (!check_count(obj.sealed_count, 1)) return false;
  if (obj.externalizable) {
    // An externalizable class writes its own format; only the Flex
    // collection wrappers, which write one AMF3 value, can be read.
    const std::string_view key = wrapped_property(obj.class_name);
    if (key.empty()) return fail(Error::Unsupported);
    Property& p = obj.properties.emplace_back();
    p.key = key;
    if (!read_amf3(p.value)) return false;
  } else {
    // One property at a time: objects of a referenced trait with many
    // sealed members, nested, would otherwise reserve them all at every
    // level before reading a byte of any value.
    for (std::size_t i = 0; i < obj.sealed_count; ++i) {
      Property& p = obj.properties.emplace_back();
      if (!materialize(traits().sealed_names[i], p.key) || !read_amf3(p.value)) return false;
    }
    while (obj.dynamic) {
      std::string_view key;
      if (!amf3_string(key)) return false;
      if (key.empty()) break;
      Property& p = obj.properties.emplace_back();
      if (!materialize(key, p.key) || !read_amf3(p.value)) return false;
    }
  }
  complete_entry(state_.amf3_objects, index);
  leave_container();
  out = std::move(obj);
  return true;
}

// U29V count, a fixed-length flag, (Vector.<Object> only) the item type
// name, then the items: s32, u32 and f64 big-endian, or AMF3 values.
bool Decoder::amf3_vector(std::size_t start, std::uint8_t marker, Value& out) {
  std::uint32_t header = 0;
  if (!u29(header)) return false;
  if ((header & 1) == 0) return resolve(state_.amf3_objects, header >> 1, true, out);
  if (!count_element() || !enter_container()) return false;
  const std::size_t index = add_entry(state_.amf3_objects, start);
  Vector vec;
  std::uint8_t fixed = 0;
  if (!u8(fixed)) return false;
  vec.fixed = fixed != 0;
  const std::size_t count = header >> 1;
  switch (marker) {
    case kVectorInt:
    case kVectorUint: {
      vec.kind = marker == kVectorInt ? Vector::Kind::Int : Vector::Kind::Uint;
      if (!check_count(count, 4)) return false;
      vec.items.resize(count);
      for (Value& item : vec.items) {
        std::uint32_t u = 0;
        if (!u32(u) || !count_element()) return false;
        if (marker == kVectorInt) item = Value::integer(static_cast<std::int32_t>(u));
        else item = static_cast<double>(u);
      }
      break;
    }
    case kVectorDouble: {
      vec.kind = Vector::Kind::Double;
      if (!check_count(count, 8)) return false;
      vec.items.resize(count);
      for (Value& item : vec.items) {
        double d = 0;
        if (!f64(d) || !count_element()) return false;
        item = d;
      }
      break;
    }
    default: {
      vec.kind = Vector::Kind::Object;
      std::string_view type_name;
      if (!amf3_string(type_name) || !materialize(type_name, vec.type_name)) return false;
      if (!check_count(count, 1)) return false;
      // Grown as items are read (see amf0_strict_array).
      for (std::size_t i = 0; i < count; ++i) {
        if (!read_amf3(vec.items.emplace_back())) return false;
      }
      break;
    }
  }
  complete_entry(state_.amf3_objects, index);
  leave_container();
  out = std::move(vec);
  return true;
}

// U29Dict count, a weak-keys flag, then key and value pairs.
bool Decoder::amf3_dictionary(std::size_t start, Value& out) {
  std::uint32_t header = 0;
  if (!u29(header)) return false;
  if ((header & 1) == 0) return resolve(state_.amf3_objects, header >> 1, true, out);
  if (!count_element() || !enter_container()) return false;
  const std::size_t index = add_entry(state_.amf3_objects, start);
  Dictionary dict;
  std::uint8_t weak = 0;
  if (!u8(weak)) return false;
  dict.weak_keys = weak != 0;
  const std::size_t count = header >> 1;
  // Each entry is two values (at least two bytes) and two elements.
  if (!check_count(count, 2) || !check_count(2 * count, 1)) return false;
  // Grown as entries are read (see amf0_strict_array).
  for (std::size_t i = 0; i < count; ++i) {
    DictionaryEntry& e = dict.entries.emplace_back();
    if (!read_amf3(e.key) || !read_amf3(e.value)) return false;
  }
  complete_entry(state_.amf3_objects, index);
  leave_container();
  out = std::move(dict);
  return true;
}

namespace {

std::int32_t saturate_i32(double d) {
  if (!(d == d)) return 0;  // NaN
  if (d <= static_cast<double>(std::numeric_limits<std::int32_t>::min())) {
    return std::numeric_limits<std::int32_t>::min();
  }
  if (d >= static_cast<double>(std::numeric_limits<std::int32_t>::max())) {
    return std::numeric_limits<std::int32_t>::max();
  }
  return static_cast<std::int32_t>(d);
}

std::uint32_t saturate_u32(double d) {
  if (!(d > 0)) return 0;  // NaN and negatives
  if (d >= static_cast<double>(std::numeric_limits<std::uint32_t>::max())) {
    return std::numeric_limits<std::uint32_t>::max();
  }
  return static_cast<std::uint32_t>(d);
}

class Amf3Writer {
 public:
  Amf3Writer(Bytes& out, bool use_references) : w_(out), use_references_(use_references) {}

  void value(const Value& v) {
    std::visit([this](const auto& x) { write(x); }, v.storage());
  }

 private:
  // Traits already written, for trait references: the class, flags and the
  // sealed member names (keys of the first object written with them).
  struct TraitsKey {
    std::string_view class_name;
    const Property* sealed = nullptr;
    std::size_t sealed_count = 0;
    bool dynamic = false;
    bool externalizable = false;

    bool operator==(const TraitsKey& o) const {
      if (class_name != o.class_name || sealed_count != o.sealed_count || dynamic != o.dynamic ||
          externalizable != o.externalizable) {
        return false;
      }
      for (std::size_t i = 0; i < sealed_count; ++i) {
        if (sealed[i].key != o.sealed[i].key) return false;
      }
      return true;
    }
  };
  struct TraitsHash {
    std::size_t operator()(const TraitsKey& k) const {
      std::hash<std::string_view> h;
      std::size_t seed = h(k.class_name) ^ (k.sealed_count << 2) ^ (k.dynamic ? 1u : 0u) ^
                         (k.externalizable ? 2u : 0u);
      for (std::size_t i = 0; i < k.sealed_count; ++i) {
        seed ^= h(k.sealed[i].key) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
      }
      return seed;
    }
  };

  void u29(std::uint32_t v) {
    v &= kU29Max;
    if (v < 0x80) {
      w_.u8(static_cast<std::uint8_t>(v));
    } else if (v < 0x4000) {
      w_.u8(static_cast<std::uint8_t>(v >> 7 | 0x80));
      w_.u8(static_cast<std::uint8_t>(v & 0x7F));
    } else if (v < 0x200000) {
      w_.u8(static_cast<std::uint8_t>(v >> 14 | 0x80));
      w_.u8(static_cast<std::uint8_t>((v >> 7 & 0x7F) | 0x80));
      w_.u8(static_cast<std::uint8_t>(v & 0x7F));
    } else {
      w_.u8(static_cast<std::uint8_t>(v >> 22 | 0x80));
      w_.u8(static_cast<std::uint8_t>((v >> 15 & 0x7F) | 0x80));
      w_.u8(static_cast<std::uint8_t>((v >> 8 & 0x7F) | 0x80));
      w_.u8(static_cast<std::uint8_t>(v & 0xFF));
    }
  }
  // An inline length or count (n << 1 | 1). Lengths beyond 2^28 - 1 cannot
  // be written; callers never have them (Limits::max_bytes is far lower).
  void inline_header(std::size_t n) { u29(static_cast<std::uint32_t>(n << 1 | 1)); }

  // A string in the string table's form: a reference when it was written
  // before, else inline. The empty string is always inline.
  void string_ref(std::string_view s) {
    if (use_references_ && !s.empty()) {
      auto [it, inserted] = strings_.try_emplace(s, static_cast<std::uint32_t>(strings_.size()));
      if (!inserted) {
        u29(it->second << 1);
        return;
      }
    }
    inline_header(s.size());
    w_.bytes(s);
  }

  void write(const Undefined&) { w_.u8(kUndefined); }
  void write(const Null&) { w_.u8(kNull); }
  void write(bool b) { w_.u8(b ? kTrue : kFalse); }
  void write(double d) {
    w_.u8(kDouble);
    w_.f64be(d);
  }
  void write(std::int32_t i) {
    if (i < kIntegerMin || i > kIntegerMax) return write(static_cast<double>(i));
    w_.u8(kInteger);
    u29(static_cast<std::uint32_t>(i) & kU29Max);
  }
  void write(const std::string& s) {
    w_.u8(kString);
    string_ref(s);
  }
  // Dates, XML and byte arrays go in the object table; values here are
  // trees, so none is ever written as a reference.
  void write(const Date& d) {
    w_.u8(kDate);
    inline_header(0);
    w_.f64be(d.ms);
  }
  void write(const Xml& x) {
    w_.u8(x.document ? kXmlDocument : kXml);
    inline_header(x.text.size());
    w_.bytes(x.text);
  }
  void write(const ByteArray& b) {
    w_.u8(kByteArray);
    inline_header(b.bytes.size());
    w_.bytes(b.bytes);
  }
  void write(const Array& a) {
    w_.u8(kArray);
    inline_header(a.dense.size());
    for (const Property& p : a.assoc) {
      if (p.key.empty()) continue;  // an empty name ends the associative part
      string_ref(p.key);
      value(p.value);
    }
    string_ref({});
    for (const Value& item : a.dense) value(item);
  }
  void write(const Object& o) {
    w_.u8(kObject);
    TraitsKey key;
    key.class_name = o.class_name;
    key.externalizable = o.externalizable;
    if (!o.externalizable) {
      key.sealed = o.properties.data();
      key.sealed_count = std::min(o.sealed_count, o.properties.size());
      // Members beyond the sealed ones can only be written as dynamic.
      key.dynamic = o.dynamic || o.properties.size() > key.sealed_count;
    }
    write_traits(key);
    if (o.externalizable) {
      // The Flex wrappers externalize as their one wrapped value.
      if (o.properties.empty()) write(Null{});
      else value(o.properties.front().value);
      return;
    }
    for (std::size_t i = 0; i < key.sealed_count; ++i) value(o.properties[i].value);
    if (!key.dynamic) return;
    for (std::size_t i = key.sealed_count; i < o.properties.size(); ++i) {
      const Property& p = o.properties[i];
      if (p.key.empty()) continue;  // an empty name ends the dynamic members
      string_ref(p.key);
      value(p.value);
    }
    string_ref({});
  }
  void write_traits(const TraitsKey& key) {
    if (use_references_) {
      auto [it, inserted] = traits_.try_emplace(key, static_cast<std::uint32_t>(traits_.size()));
      if (!inserted) {
        u29(it->second << 2 | 1);
        return;
      }
    }
    if (key.externalizable) {
      u29(0x07);
      string_ref(key.class_name);
      return;
    }
    u29(static_cast<std::uint32_t>(key.sealed_count << 4 | (key.dynamic ? 0x08u : 0u) | 0x03u));
    string_ref(key.class_name);
    for (std::size_t i = 0; i < key.sealed_count; ++i) string_ref(key.sealed[i].key);
  }
  void write(const Vector& v) {
    switch (v.kind) {
      case Vector::Kind::Int: w_.u8(kVectorInt); break;
      case Vector::Kind::Uint: w_.u8(kVectorUint); break;
      case Vector::Kind::Double: w_.u8(kVectorDouble); break;
      case Vector::Kind::Object: w_.u8(kVectorObject); break;
    }
    inline_header(v.items.size());
    w_.u8(v.fixed ? 1 : 0);
    if (v.kind == Vector::Kind::Object) string_ref(v.type_name);
    for (const Value& item : v.items) {
      switch (v.kind) {
        case Vector::Kind::Int: {
          const auto* i = std::get_if<std::int32_t>(&item.storage());
          w_.u32be(static_cast<std::uint32_t>(i != nullptr ? *i : saturate_i32(item.as_number())));
          break;
        }
        case Vector::Kind::Uint: w_.u32be(saturate_u32(item.as_number())); break;
        case Vector::Kind::Double: w_.f64be(item.as_number()); break;
        case Vector::Kind::Object: value(item); break;
      }
    }
  }
  void write(const Dictionary& d) {
    w_.u8(kDictionary);
    inline_header(d.entries.size());
    w_.u8(d.weak_keys ? 1 : 0);
    for (const DictionaryEntry& e : d.entries) {
      value(e.key);
      value(e.value);
    }
  }

  ByteWriter w_;
  bool use_references_;
  std::unordered_map<std::string_view, std::uint32_t> strings_;
  std::unordered_map<TraitsKey, std::uint32_t, TraitsHash> traits_;
};

}  // namespace

void write_amf3(const Value& v, Bytes& out, bool use_references) { Amf3Writer(out, use_references).value(v); }

}  // namespace detail

Expected<Value, Error> decode_amf3(ByteView body, std::size_t& consumed, Limits limits) {
  detail::DecodeState state;
  detail::Decoder decoder(body, 0, limits, state);
  Value v;
  if (!decoder.read_amf3(v)) return unexpected(decoder.error());
  consumed = decoder.position();
  return v;
}

void encode_amf3(const Value& v, Bytes& out) { detail::write_amf3(v, out, /*use_references=*/true); }

void encode_amf3_without_references(const Value& v, Bytes& out) {
  detail::write_amf3(v, out, /*use_references=*/false);
}

}  // namespace rw::amf
