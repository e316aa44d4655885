// AMF3 byte vectors are written out from Adobe's AMF3 specification
// (January 2013), never produced by the encoder under test.
#include <gtest/gtest.h>

#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "common/amf/codec.hpp"

namespace rw::amf {

// Lets GoogleTest print values in failure messages (found by ADL; the same
// inline definition is in each test file of this binary).
inline void PrintTo(const Value& v, std::ostream* os) { *os << to_debug_string(v); }
namespace {

Bytes hex(std::string_view h) {
  Bytes b = from_hex(h);
  EXPECT_FALSE(b.empty() && !h.empty()) << "bad hex in test: " << h;
  return b;
}

std::string compact(std::string_view h) { return to_hex(hex(h)); }

std::string encode_hex(const Value& v) {
  Bytes out;
  encode_amf3(v, out);
  return to_hex(out);
}

// Decodes a body that must hold exactly one value.
Expected<Value, Error> decode(const Bytes& body, Limits limits = {}) {
  std::size_t consumed = 0;
  auto v = decode_amf3(body, consumed, limits);
  if (v) {
    EXPECT_EQ(consumed, body.size()) << "bytes left after the value";
  }
  return v;
}

Error decode_error(const Bytes& body, Limits limits = {}) {
  auto v = decode(body, limits);
  EXPECT_FALSE(v.has_value()) << to_debug_string(v ? *v : Value());
  return v ? Error::TrailingBytes : v.error();
}

Value dense(std::vector<Value> items) {
  Array a;
  a.dense = std::move(items);
  return a;
}

Value sealed(std::string class_name, std::vector<Property> props, std::size_t sealed_count, bool dynamic) {
  Object o;
  o.class_name = std::move(class_name);
  o.properties = std::move(props);
  o.sealed_count = sealed_count;
  o.dynamic = dynamic;
  return o;
}

Value externalizable(std::string class_name, std::string key, Value wrapped) {
  Object o;
  o.class_name = std::move(class_name);
  o.externalizable = true;
  o.dynamic = false;
  o.properties = {{std::move(key), std::move(wrapped)}};
  return o;
}

Value vector(Vector::Kind kind, bool fixed, std::string type_name, std::vector<Value> items) {
  return Vector{kind, fixed, std::move(type_name), std::move(items)};
}

constexpr const char* kArrayCollection =
    "666c65782e6d6573736167696e672e696f2e4172726179436f6c6c656374696f6e";  // 33 bytes
constexpr const char* kObjectProxy = "666c65782e6d6573736167696e672e696f2e4f626a65637450726f7879";  // 29 bytes

struct Vec {
  const char* name;
  std::string hex;
  Value value;
};

// Vectors that decode to `value` and that the encoder writes exactly so.
std::vector<Vec> canonical_vectors() {
  return {
      {"undefined", "00", Undefined{}},
      {"null", "01", nullptr},
      {"false", "02", false},
      {"true", "03", true},
      // U29 at each width boundary, and the sign of the 29th bit.
      {"integer_0", "04 00", Value::integer(0)},
      {"integer_127", "04 7f", Value::integer(127)},
      {"integer_128", "04 81 00", Value::integer(128)},
      {"integer_16383", "04 ff 7f", Value::integer(16383)},
      {"integer_16384", "04 81 80 00", Value::integer(16384)},
      {"integer_2097151", "04 ff ff 7f", Value::integer(2097151)},
      {"integer_2097152", "04 80 c0 80 00", Value::integer(2097152)},
      {"integer_max", "04 bf ff ff ff", Value::integer((1 << 28) - 1)},
      {"integer_min", "04 c0 80 80 00", Value::integer(-(1 << 28))},
      {"integer_minus_1", "04 ff ff ff ff", Value::integer(-1)},
      {"double", "05 3ff8000000000000", 1.5},
      {"string", "06 0b 68656c6c6f", "hello"},
      {"empty_string", "06 01", ""},
      {"xml_document", "07 09 3c612f3e", Xml{"<a/>", true}},
      {"date", "08 01 4278bcfe56800000", Date{1700000000000.0, 0}},
      {"dense_array", "09 05 01 04 01 04 02", dense({Value::integer(1), Value::integer(2)})},
      {"mixed_array", "09 03 03 6b 06 03 76 01 04 07", [] {
         Array a;
         a.dense = {Value::integer(7)};
         a.assoc = {{"k", "v"}};
         return Value(a);
       }()},
      {"anonymous_object", "0a 0b 01 03 61 04 01 01", Object{{"a", Value::integer(1)}}},
      // Two sealed members, not dynamic: (2 << 4) | 0b0011.
      {"typed_sealed", "0a 23 07 466f6f 03 78 03 79 04 01 04 02",
       sealed("Foo", {{"x", Value::integer(1)}, {"y", Value::integer(2)}}, 2, false)},
      // One sealed member and dynamic ones: (1 << 4) | 0b1011.
      {"typed_sealed_dynamic", "0a 1b 07 466f6f 03 78 04 01 03 7a 04 03 01",
       sealed("Foo", {{"x", Value::integer(1)}, {"z", Value::integer(3)}}, 1, true)},
      {"xml", "0b 09 3c612f3e", Xml{"<a/>", false}},
      {"byte_array", "0c 07 010203", ByteArray{{1, 2, 3}}},
      {"vector_int", "0d 05 00 00000001 fffffffe",
       vector(Vector::Kind::Int, false, "", {Value::integer(1), Value::integer(-2)})},
      {"vector_uint", "0e 03 01 ffffffff", vector(Vector::Kind::Uint, true, "", {4294967295.0})},
      {"vector_double", "0f 03 00 3ff8000000000000", vector(Vector::Kind::Double, false, "", {1.5})},
      {"vector_object", "10 05 00 0d 537472696e67 06 03 61 06 03 62",
       vector(Vector::Kind::Object, false, "String", {"a", "b"})},
      {"dictionary", "11 03 00 06 03 6b 04 01", Dictionary{false, {{"k", Value::integer(1)}}}},
      {"weak_dictionary", "11 03 01 0a 0b 01 01 06 01", Dictionary{true, {{Object{}, ""}}}},
      // Externalizable (0b0111): the Flex wrappers hold one AMF3 value.
      {"array_collection", std::string("0a 07 43 ") + kArrayCollection + " 09 03 01 06 03 61",
       externalizable("flex.messaging.io.ArrayCollection", "source", dense({"a"}))},
      {"object_proxy", std::string("0a 07 3b ") + kObjectProxy + " 0a 0b 01 03 61 04 01 01",
       externalizable("flex.messaging.io.ObjectProxy", "object", Object{{"a", Value::integer(1)}})},
      // References the encoder makes: strings (never the empty one) and
      // traits. The array is object 0; "a" is string 0.
      {"string_references", "09 09 01 06 03 61 06 00 06 01 06 01", dense({"a", "a", "", ""})},
      {"traits_reference", "09 05 01 0a 0b 01 03 61 04 01 01 0a 01 00 04 02 01",
       dense({Object{{"a", Value::integer(1)}}, Object{{"a", Value::integer(2)}}})},
      {"typed_traits_reference", "09 05 01 0a 13 07 466f6f 03 78 04 01 0a 01 04 02",
       dense({sealed("Foo", {{"x", Value::integer(1)}}, 1, false),
              sealed("Foo", {{"x", Value::integer(2)}}, 1, false)})},
      {"keys_and_values_share_the_string_table", "0a 0b 01 03 61 06 03 78 03 62 06 02 01",
       Object{{"a", "x"}, {"b", "x"}}},
      {"class_name_reference", "09 05 01 0a 13 03 61 00 06 00 0a 0b 00 01",
       dense({sealed("a", {{"a", "a"}}, 1, false), sealed("a", {}, 0, true)})},
      {"externalizable_traits_reference",
       std::string("09 05 01 0a 07 43 ") + kArrayCollection + " 09 01 01 0a 01 09 01 01",
       dense({externalizable("flex.messaging.io.ArrayCollection", "source", dense({})),
              externalizable("flex.messaging.io.ArrayCollection", "source", dense({}))})},
  };
}

TEST(Amf3, DecodesEveryMarker) {
  for (const Vec& vec : canonical_vectors()) {
    SCOPED_TRACE(vec.name);
    auto v = decode(hex(vec.hex));
    ASSERT_TRUE(v.has_value()) << to_string(v.error());
    EXPECT_EQ(*v, vec.value) << to_debug_string(*v);
  }
}

TEST(Amf3, EncodesEveryMarker) {
  for (const Vec& vec : canonical_vectors()) {
    SCOPED_TRACE(vec.name);
    EXPECT_EQ(encode_hex(vec.value), compact(vec.hex));
  }
}

TEST(Amf3, EveryTruncationIsTruncated) {
  for (const Vec& vec : canonical_vectors()) {
    const Bytes full = hex(vec.hex);
    for (std::size_t n = 0; n < full.size(); ++n) {
      SCOPED_TRACE(std::string(vec.name) + " cut at " + std::to_string(n));
      const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
      std::size_t consumed = 0;
      auto v = decode_amf3(cut, consumed);
      ASSERT_FALSE(v.has_value());
      EXPECT_EQ(v.error(), Error::Truncated);
    }
  }
}

TEST(Amf3, DecodesReferencesTheEncoderNeverWrites) {
  // Object references copy the object: the array is object 0, {a:1} is 1.
  EXPECT_EQ(*decode(hex("09 05 01 0a 0b 01 03 61 04 01 01 0a 02")),
            dense({Object{{"a", Value::integer(1)}}, Object{{"a", Value::integer(1)}}}));
  // Dates, XML and byte arrays are in the object table too.
  EXPECT_EQ(*decode(hex("09 09 01 08 01 0000000000000000 0c 03 ff 08 02 0c 04")),
            dense({Date{}, ByteArray{{0xff}}, Date{}, ByteArray{{0xff}}}));
  EXPECT_EQ(*decode(hex("09 05 01 07 03 78 0b 02")), dense({Xml{"x", true}, Xml{"x", true}}));
  // Vectors and dictionaries.
  EXPECT_EQ(*decode(hex("09 05 01 0f 03 00 3ff0000000000000 0f 02")),
            dense({vector(Vector::Kind::Double, false, "", {1.0}), vector(Vector::Kind::Double, false, "", {1.0})}));
  EXPECT_EQ(*decode(hex("09 05 01 11 01 00 11 02")), dense({Dictionary{}, Dictionary{}}));
  // A reference inside a referenced object is copied too.
  EXPECT_EQ(*decode(hex("09 07 01 09 01 01 0a 0b 01 03 78 09 02 01 0a 04")),
            dense({dense({}), Object{{"x", dense({})}}, Object{{"x", dense({})}}}));
  // Inline traits that repeat are fine.
  EXPECT_EQ(*decode(hex("09 05 01 0a 0b 01 01 0a 0b 01 01")), dense({Object{}, Object{}}));
}

TEST(Amf3, DecodesDatesIgnoringTheirFlagBits) {
  // U29D: only the low bit matters for an inline date.
  EXPECT_EQ(*decode(hex("08 03 3ff0000000000000")), Value(Date{1.0, 0}));
}

TEST(Amf3, RejectsBadReferences) {
  EXPECT_EQ(decode_error(hex("06 00")), Error::BadReference);            // string table empty
  EXPECT_EQ(decode_error(hex("09 02")), Error::BadReference);            // object table empty
  EXPECT_EQ(decode_error(hex("0a 01 01")), Error::BadReference);         // traits table empty
  EXPECT_EQ(decode_error(hex("09 03 01 09 00")), Error::BadReference);   // an array holding itself
  EXPECT_EQ(decode_error(hex("0a 0b 01 03 61 0a 00 01")), Error::BadReference);  // o.a = o
  EXPECT_EQ(decode_error(hex("09 03 01 09 03 01 09 02")), Error::BadReference);  // a cycle one level down
  // The empty string is never in the table.
  EXPECT_EQ(decode_error(hex("09 05 01 06 01 06 00")), Error::BadReference);
}

TEST(Amf3, RejectsUnknownMarkersAndExternalizableClasses) {
  EXPECT_EQ(decode_error(hex("12")), Error::UnknownMarker);
  EXPECT_EQ(decode_error(hex("ff")), Error::UnknownMarker);
  EXPECT_EQ(decode_error(hex("0a 07 07 466f6f 01")), Error::Unsupported);
  // Only these three Flex classes are known.
  auto list = decode(hex("0a 07 37 666c65782e6d6573736167696e672e696f2e41727261794c697374 09 01 01"));
  ASSERT_TRUE(list.has_value()) << to_string(list.error());
  EXPECT_EQ(*list, externalizable("flex.messaging.io.ArrayList", "source", dense({})));
}

TEST(Amf3, ReportsWhatItConsumed) {
  std::size_t consumed = 0;
  auto v = decode_amf3(hex("04 01 ff ff"), consumed);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, Value::integer(1));
  EXPECT_EQ(consumed, 2u);
}

TEST(Amf3, EncodesNumbers) {
  // Doubles stay doubles; integers outside 29 bits become doubles.
  EXPECT_EQ(encode_hex(Value(5)), compact("05 4014000000000000"));
  EXPECT_EQ(encode_hex(Value::integer(1 << 28)), compact("05 41b0000000000000"));
  EXPECT_EQ(encode_hex(Value::integer(-(1 << 28) - 1)), compact("05 c1b0000001000000"));
  EXPECT_EQ(encode_hex(Value::integer(std::numeric_limits<std::int32_t>::max())), compact("05 41dfffffffc00000"));
}

TEST(Amf3, EncodesAmf0ShapedValues) {
  // An AMF0 ECMA array becomes an array with only named members; a date's
  // timezone has no place in AMF3.
  Array ecma;
  ecma.ecma = true;
  ecma.assoc = {{"k", nullptr}};
  EXPECT_EQ(encode_hex(ecma), compact("09 01 03 6b 01 01"));
  EXPECT_EQ(encode_hex(Date{0, 60}), compact("08 01 0000000000000000"));
  // Members beyond the sealed ones of a non-dynamic object are written as
  // dynamic rather than dropped; an empty name cannot be a dynamic member.
  Value odd = sealed("", {{"a", true}, {"", true}}, 0, false);
  EXPECT_EQ(encode_hex(odd), compact("0a 0b 01 03 61 03 01"));
  // Vector items of the wrong type are converted, saturating.
  EXPECT_EQ(encode_hex(vector(Vector::Kind::Int, false, "", {1e12, -1e12, "x"})),
            compact("0d 07 00 7fffffff 80000000 00000000"));
  EXPECT_EQ(encode_hex(vector(Vector::Kind::Uint, false, "", {-1.0, 1e12, Value::integer(3)})),
            compact("0e 07 00 00000000 ffffffff 00000003"));
}

TEST(Amf3, DifferentTraitsAreNotShared) {
  // Same class, different sealed members: new traits (index 1), and the
  // class name "P" by reference.
  const Value v = dense({sealed("P", {{"x", 1}}, 1, false), sealed("P", {{"y", 1}}, 1, false)});
  EXPECT_EQ(encode_hex(v), compact("09 05 01 0a 13 03 50 03 78 05 3ff0000000000000 0a 13 00 03 79 05 3ff0000000000000"));
  auto back = decode(hex(encode_hex(v)));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, v);
}

TEST(Amf3, RoundTrips) {
  Object point;
  point.class_name = "com.example.Point";
  point.properties = {{"x", 1.5}, {"y", Value::integer(2)}, {"label", "p"}};
  point.sealed_count = 2;
  const Value v = Object{
      {"points", dense({point, point, point})},
      {"names", dense({"x", "y", "x", "label", ""})},
      {"nested", Object{{"deeper", Object{{"x", Object{}}}}}},
      {"vec", vector(Vector::Kind::Object, true, "com.example.Point", {point, nullptr})},
      {"dict", Dictionary{false, {{point, "point"}, {Value::integer(1), dense({})}}}},
      {"bytes", ByteArray{{0, 1, 2}}},
      {"when", Date{-1.0, 0}},
      {"collection", externalizable("flex.messaging.io.ArrayCollection", "source", dense({point}))},
  };
  Bytes out;
  encode_amf3(v, out);
  auto back = decode(out);
  ASSERT_TRUE(back.has_value()) << to_string(back.error());
  EXPECT_EQ(*back, v) << to_debug_string(*back);
}

// --- Limits ---

TEST(Amf3, DepthLimit) {
  auto nested = [](std::size_t depth) {
    Bytes b;
    for (std::size_t i = 0; i < depth; ++i) {
      b.insert(b.end(), {0x09, 0x03, 0x01});
    }
    b.push_back(0x01);
    return b;
  };
  EXPECT_TRUE(decode(nested(32)).has_value());
  EXPECT_EQ(decode_error(nested(33)), Error::DepthExceeded);
  EXPECT_EQ(decode_error(nested(300000)), Error::DepthExceeded);
  // Objects and a copy made by a reference count as well: the copy of
  // [[]] placed two levels down is four levels deep.
  Limits limits;
  limits.max_depth = 3;
  EXPECT_TRUE(decode(hex("09 05 01 09 03 01 09 01 01 01"), limits).has_value());
  EXPECT_EQ(decode_error(hex("09 05 01 09 03 01 09 01 01 09 03 01 09 02"), limits), Error::DepthExceeded);
}

TEST(Amf3, HugeCountsAreRejectedBeforeAllocating) {
  Limits unlimited;
  unlimited.max_elements = std::numeric_limits<std::size_t>::max();
  // The largest U29 counts, in bodies of a few bytes.
  for (const char* h : {"09 ff ff ff ff 01",          // dense array
                        "0d ff ff ff ff 00 01",       // Vector.<int>
                        "0f ff ff ff ff 00 01",       // Vector.<Number>
                        "10 ff ff ff ff 00 01 01",    // Vector.<Object>
                        "11 ff ff ff ff 00 01 01",    // Dictionary
                        "0a ff ff ff f3 01 01 01"}) {  // 2^25 sealed members
    SCOPED_TRACE(h);
    EXPECT_EQ(decode_error(hex(h)), Error::TooManyElements);
    EXPECT_EQ(decode_error(hex(h), unlimited), Error::Truncated);
  }
  // Traits from the table bring a sealed count without bytes of their own.
  EXPECT_EQ(decode_error(hex("09 05 01 0a 23 01 03 61 03 62 01 01 0a 01 01")), Error::Truncated);
  // Lengths: over max_bytes, or beyond the body.
  EXPECT_EQ(decode_error(hex("06 ff ff ff ff")), Error::TooLarge);
  EXPECT_EQ(decode_error(hex("0c ff ff ff ff")), Error::TooLarge);
  EXPECT_EQ(decode_error(hex("0c 80 80 81 01 00")), Error::Truncated);
}

TEST(Amf3, ElementLimitCountsReferenceCopies) {
  // An array whose item k holds two references to item k-1: each level
  // doubles the copies.
  Bytes body = hex("09 51 01 09 05 01 01 01");  // 40 items; item 0 = [null, null] is object 1
  for (std::uint8_t k = 1; k < 40; ++k) {
    const auto ref = static_cast<std::uint8_t>(k << 1);  // object k = item k-1
    for (std::uint8_t x : {std::uint8_t{0x09}, std::uint8_t{0x05}, std::uint8_t{0x01}, std::uint8_t{0x09}, ref,
                           std::uint8_t{0x09}, ref}) {
      body.push_back(x);
    }
  }
  EXPECT_EQ(decode_error(body), Error::TooManyElements);
  Limits limits;
  limits.max_elements = 3;
  EXPECT_TRUE(decode(hex("09 05 01 01 01"), limits).has_value());
  EXPECT_EQ(decode_error(hex("09 07 01 01 01 01"), limits), Error::TooManyElements);
}

TEST(Amf3, StringReferencesHitTheByteBudget) {
  // A 100-byte string, then 31 references to it.
  Bytes body = hex("09 41 01 06 81 49");  // 32 items, the first a 100-byte string
  body.insert(body.end(), 100, 'x');
  for (int i = 0; i < 31; ++i) {
    body.push_back(0x06);
    body.push_back(0x00);
  }
  Limits limits;
  limits.max_total_bytes = 1000;
  EXPECT_EQ(decode_error(body, limits), Error::TooLarge);
  limits.max_total_bytes = 3200;
  EXPECT_TRUE(decode(body, limits).has_value());
  // Sealed names copied from referenced traits count as well.
  limits.max_total_bytes = 5;
  EXPECT_TRUE(decode(hex("09 05 01 0a 13 01 03 61 01 0a 01 01"), limits).has_value());
  limits.max_total_bytes = 1;
  EXPECT_EQ(decode_error(hex("09 05 01 0a 13 01 03 61 01 0a 01 01"), limits), Error::TooLarge);
}

}  // namespace
}  // namespace rw::amf
