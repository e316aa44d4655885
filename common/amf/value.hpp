// One value model for AMF0 and AMF3 (docs/protocol.md, "AMF").
//
// Values have value semantics. Decoders resolve references by copying the
// referenced value (bounded by the element budget in Limits, so a chain of
// references cannot blow up) and reject a reference to a value that is still
// being decoded (a cycle).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/base/bytes.hpp"

namespace rw::amf {

class Value;
struct Property;
struct DictionaryEntry;

struct Undefined {
  bool operator==(const Undefined&) const = default;
};
struct Null {
  bool operator==(const Null&) const = default;
};

// AMF0 date (0x0B) and AMF3 date (0x08): milliseconds since the epoch, UTC.
// AMF0 also carries a timezone that every client writes as 0.
struct Date {
  double ms = 0;
  std::int16_t timezone = 0;
  bool operator==(const Date&) const = default;
};

// AMF0 XML document (0x0F) and AMF3 XMLDocument (0x07) have document=true;
// AMF3 E4X XML (0x0B) has document=false.
struct Xml {
  std::string text;
  bool document = true;
  bool operator==(const Xml&) const = default;
};

struct ByteArray {
  Bytes bytes;
  bool operator==(const ByteArray&) const = default;
};

// An anonymous or typed object. In AMF3 the first `sealed_count` properties
// are the traits' sealed members (in order); the rest are dynamic members.
// AMF0 objects are anonymous (class_name empty) or typed objects (0x10).
struct Object {
  std::string class_name;
  std::vector<Property> properties;
  std::size_t sealed_count = 0;
  bool dynamic = true;
  // AMF3 externalizable objects the decoder understands
  // (flex.messaging.io.ArrayCollection and ObjectProxy wrap one value).
  bool externalizable = false;

  Object() = default;
  Object(std::initializer_list<Property> props);

  // Returns the property named key, or nullptr.
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  // Replaces the property named key, or appends it.
  Object& set(std::string key, Value value);
  bool operator==(const Object& other) const;
};

// AMF0 strict array (0x0A) is an Array with only dense items; AMF0 ECMA
// array (0x08) is an Array with ecma=true and only associative entries; an
// AMF3 array (0x09) has both parts.
struct Array {
  std::vector<Value> dense;
  std::vector<Property> assoc;
  bool ecma = false;

  const Value* find(std::string_view key) const;
  bool operator==(const Array& other) const;
};

// AMF3 Vector.<int> (0x0D), Vector.<uint> (0x0E), Vector.<Number> (0x0F),
// Vector.<Object> (0x10). Int items are Values holding std::int32_t, uint
// and Number items hold double, object items hold any value.
struct Vector {
  enum class Kind : std::uint8_t { Int, Uint, Double, Object };
  Kind kind = Kind::Object;
  bool fixed = false;
  std::string type_name;  // Vector.<Object> only
  std::vector<Value> items;
  bool operator==(const Vector& other) const;
};

// AMF3 Dictionary (0x11).
struct Dictionary {
  bool weak_keys = false;
  std::vector<DictionaryEntry> entries;
  bool operator==(const Dictionary& other) const;
};

class Value {
 public:
  // std::int32_t is the AMF3 integer (0x04); AMF0 has only double.
  using Storage = std::variant<Undefined, Null, bool, double, std::int32_t, std::string, Date, Xml,
                               ByteArray, Object, Array, Vector, Dictionary>;

  // Defined below, once Property and DictionaryEntry are complete: clang
  // instantiates the variant's destructor with the constructor.
  Value();
  Value(Undefined u);          // NOLINT: implicit by design
  Value(Null n);               // NOLINT
  Value(std::nullptr_t);       // NOLINT
  Value(bool b);               // NOLINT
  Value(double d);             // NOLINT
  Value(int i);                // NOLINT: numbers default to AMF0 Number
  Value(unsigned i);           // NOLINT
  Value(std::int64_t i);       // NOLINT
  Value(std::uint64_t i);      // NOLINT
  Value(const char* s);        // NOLINT
  Value(std::string s);        // NOLINT
  Value(std::string_view s);   // NOLINT
  Value(Date d);               // NOLINT
  Value(Xml x);                // NOLINT
  Value(ByteArray b);          // NOLINT
  Value(Object o);             // NOLINT
  Value(Array a);              // NOLINT
  Value(Vector v);             // NOLINT
  Value(Dictionary d);         // NOLINT
  // An AMF3 integer (0x04).
  static Value integer(std::int32_t i);

  const Storage& storage() const { return v_; }
  Storage& storage() { return v_; }

  bool is_undefined() const { return std::holds_alternative<Undefined>(v_); }
  bool is_null() const { return std::holds_alternative<Null>(v_); }
  bool is_bool() const { return std::holds_alternative<bool>(v_); }
  // True for AMF0 numbers, AMF3 doubles and AMF3 integers.
  bool is_number() const { return std::holds_alternative<double>(v_) || std::holds_alternative<std::int32_t>(v_); }
  bool is_string() const { return std::holds_alternative<std::string>(v_); }
  bool is_object() const { return std::holds_alternative<Object>(v_); }
  bool is_array() const { return std::holds_alternative<Array>(v_); }

  // Lenient accessors for protocol fields: the fallback when the value has
  // another type. Numbers read from AMF3 integers too.
  double as_number(double fallback = 0) const;
  // The number as an unsigned 32-bit integer when it is exactly one (a
  // stream id, a count): nullopt for anything else, NaN, negatives,
  // fractions and values past 2^32 - 1 included, which a plain cast would
  // turn into undefined behaviour.
  std::optional<std::uint32_t> as_uint32() const;
  // The same for a count or an id up to 2^53 (what a double holds exactly).
  std::optional<std::uint64_t> as_uint64() const;
  bool as_bool(bool fallback = false) const;
  std::string_view as_string(std::string_view fallback = {}) const;
  const Object* as_object() const { return std::get_if<Object>(&v_); }
  Object* as_object() { return std::get_if<Object>(&v_); }
  const Array* as_array() const { return std::get_if<Array>(&v_); }
  // A property of an object or an ECMA/AMF3 array's associative part.
  const Value* find(std::string_view key) const;

  bool operator==(const Value& other) const { return v_ == other.v_; }

 private:
  Storage v_;
};

struct Property {
  std::string key;
  Value value;
  bool operator==(const Property&) const = default;
};

struct DictionaryEntry {
  Value key;
  Value value;
  bool operator==(const DictionaryEntry&) const = default;
};

inline Value::Value() : v_(Undefined{}) {}
inline Value::Value(Undefined u) : v_(u) {}
inline Value::Value(Null n) : v_(n) {}
inline Value::Value(std::nullptr_t) : v_(Null{}) {}
inline Value::Value(bool b) : v_(b) {}
inline Value::Value(double d) : v_(d) {}
inline Value::Value(int i) : v_(static_cast<double>(i)) {}
inline Value::Value(unsigned i) : v_(static_cast<double>(i)) {}
inline Value::Value(std::int64_t i) : v_(static_cast<double>(i)) {}
inline Value::Value(std::uint64_t i) : v_(static_cast<double>(i)) {}
inline Value::Value(const char* s) : v_(std::string(s)) {}
inline Value::Value(std::string s) : v_(std::move(s)) {}
inline Value::Value(std::string_view s) : v_(std::string(s)) {}
inline Value::Value(Date d) : v_(d) {}
inline Value::Value(Xml x) : v_(std::move(x)) {}
inline Value::Value(ByteArray b) : v_(std::move(b)) {}
inline Value::Value(Object o) : v_(std::move(o)) {}
inline Value::Value(Array a) : v_(std::move(a)) {}
inline Value::Value(Vector v) : v_(std::move(v)) {}
inline Value::Value(Dictionary d) : v_(std::move(d)) {}
inline Value Value::integer(std::int32_t i) {
  Value v;
  v.v_ = i;
  return v;
}

// A short human-readable rendering for logs and test failures, e.g.
// {app: "live", objectEncoding: 3}.
std::string to_debug_string(const Value& v);

}  // namespace rw::amf
