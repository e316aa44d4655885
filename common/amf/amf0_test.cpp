// AMF0 byte vectors are written out from Adobe's AMF0 specification (and
// the AMF3 one for 0x11 switches), never produced by the encoder under test.
#include <gtest/gtest.h>

#include <cmath>
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

std::string encode_hex(const Value& v) {
  Bytes out;
  encode_amf0(v, out);
  return to_hex(out);
}

std::string compact(std::string_view h) { return to_hex(hex(h)); }

void append(Bytes& b, std::string_view h) {
  const Bytes more = hex(h);
  b.insert(b.end(), more.begin(), more.end());
}

// Decodes a body that must hold exactly one value.
Expected<Value, Error> decode_one(const Bytes& body, Limits limits = {}) {
  Amf0Reader reader(body, limits);
  auto v = reader.read();
  if (v) {
    EXPECT_TRUE(reader.at_end()) << "bytes left after the value";
  }
  return v;
}

Error decode_error(const Bytes& body, Limits limits = {}) {
  auto v = decode_amf0_all(body, limits);
  EXPECT_FALSE(v.has_value()) << "decoded: " << (v ? std::to_string(v->size()) + " values" : "");
  return v ? Error::TrailingBytes : v.error();
}

Value ecma(std::vector<Property> assoc) {
  Array a;
  a.ecma = true;
  a.assoc = std::move(assoc);
  return a;
}

Value strict(std::vector<Value> dense) {
  Array a;
  a.dense = std::move(dense);
  return a;
}

Value typed(std::string class_name, std::vector<Property> props) {
  Object o;
  o.class_name = std::move(class_name);
  o.properties = std::move(props);
  return o;
}

struct Vec {
  const char* name;
  const char* hex;
  Value value;
};

// One value per vector, each marker of AMF0 section 2, both directions.
std::vector<Vec> marker_vectors() {
  return {
      {"number", "00 3ff8000000000000", Value(1.5)},
      {"negative_zero", "00 8000000000000000", Value(-0.0)},
      {"boolean_true", "01 01", Value(true)},
      {"boolean_false", "01 00", Value(false)},
      {"string", "02 0004 6c697665", Value("live")},
      {"empty_string", "02 0000", Value("")},
      {"object", "03 0001 61 00 3ff0000000000000 0000 09", Value(Object{{"a", 1}})},
      {"empty_object", "03 0000 09", Value(Object{})},
      {"null", "05", Value(nullptr)},
      {"undefined", "06", Value(Undefined{})},
      {"ecma_array", "08 00000001 0008 6475726174696f6e 00 0000000000000000 0000 09",
       ecma({{"duration", 0}})},
      {"strict_array", "0a 00000002 00 3ff0000000000000 02 0001 61", strict({1, "a"})},
      {"empty_strict_array", "0a 00000000", strict({})},
      {"date", "0b 4278bcfe56800000 0000", Value(Date{1700000000000.0, 0})},
      {"date_with_zone", "0b 4278bcfe56800000 ffc4", Value(Date{1700000000000.0, -60})},
      {"xml_document", "0f 00000004 3c612f3e", Value(Xml{"<a/>", true})},
      {"typed_object", "10 0003 466f6f 0001 78 01 01 0000 09", typed("Foo", {{"x", true}})},
      {"nested", "03 0001 6f 03 0001 61 05 0000 09 0001 6c 0a 00000001 06 0000 09",
       Value(Object{{"o", Object{{"a", nullptr}}}, {"l", strict({Undefined{}})}})},
      // 0x11: the next value is AMF3.
      {"amf3_integer", "11 04 05", Value::integer(5)},
      {"amf3_xml", "11 0b 09 3c612f3e", Value(Xml{"<a/>", false})},
      {"amf3_byte_array", "11 0c 07 010203", Value(ByteArray{{1, 2, 3}})},
      {"object_with_amf3_member", "03 0001 6e 11 04 05 0000 09", Value(Object{{"n", Value::integer(5)}})},
  };
}

TEST(Amf0, DecodesEveryMarker) {
  for (const Vec& vec : marker_vectors()) {
    SCOPED_TRACE(vec.name);
    auto v = decode_one(hex(vec.hex));
    ASSERT_TRUE(v.has_value()) << to_string(v.error());
    EXPECT_EQ(*v, vec.value) << to_debug_string(*v);
  }
}

TEST(Amf0, EncodesEveryMarker) {
  for (const Vec& vec : marker_vectors()) {
    SCOPED_TRACE(vec.name);
    EXPECT_EQ(encode_hex(vec.value), compact(vec.hex));
  }
}

TEST(Amf0, EveryTruncationIsTruncated) {
  for (const Vec& vec : marker_vectors()) {
    const Bytes full = hex(vec.hex);
    for (std::size_t n = 0; n < full.size(); ++n) {
      SCOPED_TRACE(std::string(vec.name) + " cut at " + std::to_string(n));
      const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
      Amf0Reader reader(cut);
      auto v = reader.read();
      ASSERT_FALSE(v.has_value());
      EXPECT_EQ(v.error(), Error::Truncated);
    }
  }
}

TEST(Amf0, DecodesLenientForms) {
  // Any non-zero boolean byte is true.
  EXPECT_EQ(*decode_one(hex("01 05")), Value(true));
  // A long string may be short.
  EXPECT_EQ(*decode_one(hex("0c 00000001 78")), Value("x"));
  // The ECMA count is only a hint: ffmpeg, Flash and others disagree on it.
  EXPECT_EQ(*decode_one(hex("08 00000000 0001 61 05 0001 62 06 0000 09")),
            ecma({{"a", nullptr}, {"b", Undefined{}}}));
  EXPECT_EQ(*decode_one(hex("08 ffffffff 0001 61 05 0000 09")), ecma({{"a", nullptr}}));
  // An empty key not followed by the object end is a property named "".
  EXPECT_EQ(*decode_one(hex("03 0000 05 0000 09")), Value(Object{{"", nullptr}}));
}

TEST(Amf0, RejectsReservedAndUnknownMarkers) {
  for (const char* h : {"04", "0d", "0e", "09", "12", "ff", "03 0001 61 09"}) {
    SCOPED_TRACE(h);
    EXPECT_EQ(decode_error(hex(h)), Error::UnknownMarker);
  }
}

TEST(Amf0, ObjectWithoutEndIsTruncated) {
  EXPECT_EQ(decode_error(hex("03 0001 61 05")), Error::Truncated);
  EXPECT_EQ(decode_error(hex("03 0001 61 05 0000")), Error::Truncated);
  EXPECT_EQ(decode_error(hex("08 00000001 0001 61 05")), Error::Truncated);
}

TEST(Amf0, EncodesLongStringsAsLongStrings) {
  const std::string s(65536, 'a');
  Bytes out;
  encode_amf0(Value(s), out);
  ASSERT_EQ(out.size(), 5 + s.size());
  EXPECT_EQ(to_hex(ByteView(out).first(5)), "0c00010000");
  auto back = decode_one(out);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, Value(s));

  const std::string max_short(65535, 'b');
  out.clear();
  encode_amf0(Value(max_short), out);
  EXPECT_EQ(to_hex(ByteView(out).first(3)), "02ffff");
}

TEST(Amf0, EncodesValuesAmf0CannotExpressAsAmf3) {
  // AMF3 integers, in and out of the 29-bit range.
  EXPECT_EQ(encode_hex(Value::integer(-1)), "1104ffffffff");
  EXPECT_EQ(encode_hex(Value::integer(1 << 28)), compact("11 05 41b0000000000000"));
  EXPECT_EQ(encode_hex(Vector{Vector::Kind::Int, false, "", {Value::integer(1)}}), compact("11 0d 03 00 00000001"));
  EXPECT_EQ(encode_hex(Dictionary{false, {{"k", 1}}}), compact("11 11 03 00 06 03 6b 05 3ff0000000000000"));
  Object collection;
  collection.class_name = "flex.messaging.io.ArrayCollection";
  collection.externalizable = true;
  collection.properties = {{"source", strict({})}};
  EXPECT_EQ(encode_hex(collection),
            compact("11 0a 07 43 666c65782e6d6573736167696e672e696f2e4172726179436f6c6c656374696f6e 09 01 01"));
  // Keys AMF0 cannot hold (over 65535 bytes) switch the object to AMF3.
  const std::string long_key(70000, 'k');
  Bytes out;
  encode_amf0(Object{{long_key, 1}}, out);
  ASSERT_GE(out.size(), 3u);
  EXPECT_EQ(to_hex(ByteView(out).first(3)), "110a0b");
}

TEST(Amf0, SwitchedValuesUseNoAmf3References) {
  // encode_amf3 would write the second "k" as a string reference (06 00);
  // a switched value inside AMF0 writes it inline, so it reads the same
  // whether the peer keeps AMF3 tables per body or per switch.
  EXPECT_EQ(encode_hex(Dictionary{false, {{"k", "k"}}}), compact("11 11 03 00 06 03 6b 06 03 6b"));
  Bytes amf3;
  encode_amf3(Dictionary{false, {{"k", "k"}}}, amf3);
  EXPECT_EQ(to_hex(amf3), compact("11 03 00 06 03 6b 06 00"));
}

TEST(Amf0, EncodesArraysWithNamedMembersAsEcmaArrays) {
  Array a;
  a.dense = {true};
  a.assoc = {{"k", false}};
  // Dense items become "0", "1", ...; the count is the number of pairs.
  EXPECT_EQ(encode_hex(a), compact("08 00000002 0001 30 01 01 0001 6b 01 00 0000 09"));
  auto back = decode_one(hex("08 00000002 0001 30 01 01 0001 6b 01 00 0000 09"));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, ecma({{"0", true}, {"k", false}}));
}

TEST(Amf0, RoundTrips) {
  Object everything{{"number", 3.25},
                    {"bool", true},
                    {"string", "str"},
                    {"null", nullptr},
                    {"undefined", Undefined{}},
                    {"date", Date{1.5e12, 120}},
                    {"xml", Xml{"<x/>", true}},
                    {"strict", strict({1, "two", strict({})})},
                    {"ecma", ecma({{"k", "v"}})},
                    {"typed", typed("com.example.Point", {{"x", 1}, {"y", 2}})},
                    {"integer", Value::integer(-5)},
                    {"e4x", Xml{"<y/>", false}},
                    {"bytes", ByteArray{{0, 255}}},
                    {"dict", Dictionary{true, {{1, "one"}}}},
                    {"vector", Vector{Vector::Kind::Double, true, "", {0.5}}}};
  Bytes out;
  encode_amf0(everything, out);
  auto back = decode_one(out);
  ASSERT_TRUE(back.has_value()) << to_string(back.error());
  EXPECT_EQ(*back, Value(everything)) << to_debug_string(*back);
}

TEST(Amf0, RoundTripsNaNBitForBit) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Bytes out;
  encode_amf0(Value(nan), out);
  auto back = decode_one(out);
  ASSERT_TRUE(back.has_value());
  Bytes again;
  encode_amf0(*back, again);
  EXPECT_EQ(out, again);
  EXPECT_TRUE(std::isnan(back->as_number()));
}

TEST(Amf0, RoundTripsABodyMixingAmf0AndAmf3) {
  const std::vector<Value> values = {"_result", 1.0, nullptr, Value::integer(42), Object{{"bytes", ByteArray{{7}}}},
                                     strict({Value::integer(1), "a"})};
  Bytes body;
  for (const Value& v : values) encode_amf0(v, body);
  auto back = decode_amf0_all(body);
  ASSERT_TRUE(back.has_value()) << to_string(back.error());
  EXPECT_EQ(*back, values);
}

TEST(Amf0, ReaderReadsValuesInTurn) {
  const Bytes body = hex("02 0001 61 05 00 3ff0000000000000");
  Amf0Reader reader(body);
  EXPECT_FALSE(reader.at_end());
  EXPECT_EQ(*reader.read(), Value("a"));
  EXPECT_EQ(reader.position(), 4u);
  EXPECT_EQ(*reader.read(), Value(nullptr));
  EXPECT_EQ(*reader.read(), Value(1));
  EXPECT_TRUE(reader.at_end());
  auto past_end = reader.read();
  ASSERT_FALSE(past_end.has_value());
  EXPECT_EQ(past_end.error(), Error::Truncated);
}

TEST(Amf0, ReaderStaysFailed) {
  const Bytes body = hex("04 05");
  Amf0Reader reader(body);
  EXPECT_EQ(reader.read().error(), Error::UnknownMarker);
  EXPECT_EQ(reader.read().error(), Error::UnknownMarker);
}

TEST(Amf0, DecodesEmptyBody) {
  auto v = decode_amf0_all({});
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->empty());
}

// --- References (0x07) ---

TEST(Amf0, ReferencesResolveToCopies) {
  // [ {a: 1}, {b: 2} ] then references 2, 1 and 0. The table counts complex
  // values in the order they start: the array is 0, {a} is 1, {b} is 2.
  const Bytes body = hex(
      "0a 00000002 03 0001 61 00 3ff0000000000000 0000 09 03 0001 62 00 4000000000000000 0000 09"
      " 07 0002 07 0001 07 0000");
  auto v = decode_amf0_all(body);
  ASSERT_TRUE(v.has_value()) << to_string(v.error());
  ASSERT_EQ(v->size(), 4u);
  const Value a = Object{{"a", 1}};
  const Value b = Object{{"b", 2}};
  EXPECT_EQ((*v)[0], strict({a, b}));
  EXPECT_EQ((*v)[1], b);
  EXPECT_EQ((*v)[2], a);
  EXPECT_EQ((*v)[3], strict({a, b}));
}

TEST(Amf0, ReferenceTableHoldsObjectsAndArraysOnly) {
  // Dates, strings and AMF3 values take no index: the object is index 0.
  const Bytes body = hex("0b 0000000000000000 0000 02 0001 61 11 09 01 01 03 0001 61 05 0000 09 07 0000");
  auto v = decode_amf0_all(body);
  ASSERT_TRUE(v.has_value()) << to_string(v.error());
  ASSERT_EQ(v->size(), 5u);
  EXPECT_EQ((*v)[4], Value(Object{{"a", nullptr}}));
  // Typed objects and ECMA arrays do take one.
  auto w = decode_amf0_all(hex("10 0001 54 0000 09 08 00000000 0000 09 07 0000 07 0001"));
  ASSERT_TRUE(w.has_value()) << to_string(w.error());
  EXPECT_EQ((*w)[2], typed("T", {}));
  EXPECT_EQ((*w)[3], ecma({}));
}

TEST(Amf0, ReferenceInsideAReferencedValueResolves) {
  // {x: {}} then {y: ref 1} then ref 2: the copy of {y} holds a copy of {}.
  const Bytes body = hex("03 0001 78 03 0000 09 0000 09 03 0001 79 07 0001 0000 09 07 0002");
  auto v = decode_amf0_all(body);
  ASSERT_TRUE(v.has_value()) << to_string(v.error());
  EXPECT_EQ((*v)[2], Value(Object{{"y", Object{}}}));
}

TEST(Amf0, RejectsBadReferences) {
  EXPECT_EQ(decode_error(hex("07 0000")), Error::BadReference);
  EXPECT_EQ(decode_error(hex("03 0000 09 07 0001")), Error::BadReference);
  // A reference to an object still being decoded is a cycle.
  EXPECT_EQ(decode_error(hex("03 0001 61 07 0000 0000 09")), Error::BadReference);
  EXPECT_EQ(decode_error(hex("0a 00000001 0a 00000001 07 0001")), Error::BadReference);
}

// --- AMF3 inside AMF0 ---

TEST(Amf0, Amf3TablesLastForTheWholeBody) {
  // The second switch references the string "app" from the first.
  auto strings = decode_amf0_all(hex("11 06 07 617070 11 06 00"));
  ASSERT_TRUE(strings.has_value()) << to_string(strings.error());
  EXPECT_EQ(*strings, (std::vector<Value>{"app", "app"}));
  // Traits and objects too: {a: 1} then an object with traits reference 0
  // and the key "a" by reference, then an object reference to the first.
  auto objects = decode_amf0_all(hex("11 0a 0b 01 03 61 04 01 01 11 0a 01 00 04 02 01 11 0a 00"));
  ASSERT_TRUE(objects.has_value()) << to_string(objects.error());
  ASSERT_EQ(objects->size(), 3u);
  EXPECT_EQ((*objects)[1], Value(Object{{"a", Value::integer(2)}}));
  EXPECT_EQ((*objects)[2], Value(Object{{"a", Value::integer(1)}}));
  // Nested switches inside AMF0 containers share them as well.
  auto nested = decode_amf0_all(hex("0a 00000002 11 06 03 78 11 06 00"));
  ASSERT_TRUE(nested.has_value()) << to_string(nested.error());
  EXPECT_EQ((*nested)[0], strict({"x", "x"}));
  // A fresh body has fresh tables.
  EXPECT_EQ(decode_error(hex("11 06 00")), Error::BadReference);
}

// --- Limits ---

Bytes nested_strict_arrays(std::size_t depth) {
  Bytes b;
  for (std::size_t i = 0; i < depth; ++i) {
    append(b, "0a 00000001");
  }
  b.push_back(0x05);
  return b;
}

TEST(Amf0, DepthLimit) {
  EXPECT_TRUE(decode_one(nested_strict_arrays(32)).has_value());
  EXPECT_EQ(decode_error(nested_strict_arrays(33)), Error::DepthExceeded);
  // A depth bomb far deeper than the stack could take.
  EXPECT_EQ(decode_error(nested_strict_arrays(200000)), Error::DepthExceeded);
  Limits shallow;
  shallow.max_depth = 1;
  EXPECT_TRUE(decode_one(hex("03 0001 61 05 0000 09"), shallow).has_value());
  EXPECT_EQ(decode_error(hex("03 0001 61 03 0000 09 0000 09"), shallow), Error::DepthExceeded);
}

TEST(Amf0, HugeCountsAreRejectedBeforeAllocating) {
  // A u32 count of 4 billion in a 10-byte body.
  const Bytes body = hex("0a ffffffff 05 05 05 05 05");
  EXPECT_EQ(decode_error(body), Error::TooManyElements);
  Limits unlimited;
  unlimited.max_elements = std::numeric_limits<std::size_t>::max();
  EXPECT_EQ(decode_error(body, unlimited), Error::Truncated);
  // A count that fits the elements but not the bytes left.
  EXPECT_EQ(decode_error(hex("0a 00000006 05 05 05 05 05")), Error::Truncated);
  // Lengths beyond the body.
  EXPECT_EQ(decode_error(hex("0c 00100000 61")), Error::Truncated);
  EXPECT_EQ(decode_error(hex("0f 00100000 61")), Error::Truncated);
}

TEST(Amf0, StringSizeLimit) {
  Limits limits;
  limits.max_bytes = 4;
  EXPECT_TRUE(decode_one(hex("02 0004 61626364"), limits).has_value());
  EXPECT_EQ(decode_error(hex("02 0005 6162636465"), limits), Error::TooLarge);
  EXPECT_EQ(decode_error(hex("0f 00000005 6162636465"), limits), Error::TooLarge);
  // Checked before the bytes are there: a 4 GB long string header.
  EXPECT_EQ(decode_error(hex("0c ffffffff 61")), Error::TooLarge);
}

TEST(Amf0, ElementLimitCountsEveryValue) {
  Limits limits;
  limits.max_elements = 4;  // the array and its three items
  EXPECT_TRUE(decode_one(hex("0a 00000003 05 05 05"), limits).has_value());
  EXPECT_EQ(decode_error(hex("0a 00000004 05 05 05 05"), limits), Error::TooManyElements);
  // Across the values of one body.
  EXPECT_EQ(decode_error(hex("05 05 05 05 05"), limits), Error::TooManyElements);
}

TEST(Amf0, ReferenceBombHitsTheElementLimit) {
  // A 100-item array, then 1000 references to it: 101,101 elements.
  Bytes body = hex("0a 00000064");
  body.insert(body.end(), 100, 0x05);
  for (int i = 0; i < 1000; ++i) {
    append(body, "07 0000");
  }
  EXPECT_EQ(decode_error(body), Error::TooManyElements);
  // An exponential chain: array k holds two references to array k-1.
  Bytes chain = hex("0a 00000002 05 05");
  for (std::uint16_t k = 1; k < 40; ++k) {
    const std::string prev = to_hex(Bytes{static_cast<std::uint8_t>(k - 1)});
    append(chain, "0a 00000002 07 00" + prev + " 07 00" + prev);
  }
  EXPECT_EQ(decode_error(chain), Error::TooManyElements);
}

TEST(Amf0, ReferencesToLargeStringsHitTheByteBudget) {
  // {s: 100 bytes}, then references to it; each copy costs 101 bytes
  // (the key and the string).
  Bytes body = hex("03 0001 73 02 0064");
  body.insert(body.end(), 100, 'x');
  append(body, "0000 09");
  for (int i = 0; i < 20; ++i) append(body, "07 0000");
  Limits limits;
  limits.max_total_bytes = 101 * 10;
  EXPECT_EQ(decode_error(body, limits), Error::TooLarge);
  limits.max_total_bytes = 101 * 21;
  auto v = decode_amf0_all(body, limits);
  ASSERT_TRUE(v.has_value()) << to_string(v.error());
  EXPECT_EQ(v->size(), 21u);
}

// --- Bodies real clients send ---

TEST(Amf0, FfmpegConnect) {
  // ffmpeg 5.1 (Lavf59.27.100) publishing: rtmpproto.c gen_connect().
  const Bytes body = hex(
      "02 00 07 63 6f 6e 6e 65 63 74 00 3f f0 00 00 00 00 00 00 03 00 03 61 70 "
      "70 02 00 04 6c 69 76 65 00 04 74 79 70 65 02 00 0a 6e 6f 6e 70 72 69 76 "
      "61 74 65 00 08 66 6c 61 73 68 56 65 72 02 00 24 46 4d 4c 45 2f 33 2e 30 "
      "20 28 63 6f 6d 70 61 74 69 62 6c 65 3b 20 4c 61 76 66 35 39 2e 32 37 2e "
      "31 30 30 29 00 05 74 63 55 72 6c 02 00 1a 72 74 6d 70 3a 2f 2f 31 32 37 "
      "2e 30 2e 30 2e 31 3a 31 39 33 35 2f 6c 69 76 65 00 00 09 ");
  auto v = decode_amf0_all(body);
  ASSERT_TRUE(v.has_value()) << to_string(v.error());
  const std::vector<Value> expected = {"connect", 1,
                                       Object{{"app", "live"},
                                              {"type", "nonprivate"},
                                              {"flashVer", "FMLE/3.0 (compatible; Lavf59.27.100)"},
                                              {"tcUrl", "rtmp://127.0.0.1:1935/live"}}};
  EXPECT_EQ(*v, expected);
  EXPECT_EQ((*v)[2].find("app")->as_string(), "live");
  Bytes out;
  for (const Value& x : expected) encode_amf0(x, out);
  EXPECT_EQ(out, body);
}

TEST(Amf0, FfmpegOnMetaData) {
  // ffmpeg's flvenc metadata as its RTMP muxer sends it: a data message
  // [@setDataFrame, onMetaData, ECMA array with the count of pairs].
  const Bytes body = hex(
      "02 00 0d 40 73 65 74 44 61 74 61 46 72 61 6d 65 02 00 0a 6f 6e 4d 65 74 "
      "61 44 61 74 61 08 00 00 00 0d 00 08 64 75 72 61 74 69 6f 6e 00 00 00 00 "
      "00 00 00 00 00 00 05 77 69 64 74 68 00 40 94 00 00 00 00 00 00 00 06 68 "
      "65 69 67 68 74 00 40 86 80 00 00 00 00 00 00 0d 76 69 64 65 6f 64 61 74 "
      "61 72 61 74 65 00 40 a3 88 00 00 00 00 00 00 09 66 72 61 6d 65 72 61 74 "
      "65 00 40 3e 00 00 00 00 00 00 00 0c 76 69 64 65 6f 63 6f 64 65 63 69 64 "
      "00 40 1c 00 00 00 00 00 00 00 0d 61 75 64 69 6f 64 61 74 61 72 61 74 65 "
      "00 40 60 00 00 00 00 00 00 00 0f 61 75 64 69 6f 73 61 6d 70 6c 65 72 61 "
      "74 65 00 40 e5 88 80 00 00 00 00 00 0f 61 75 64 69 6f 73 61 6d 70 6c 65 "
      "73 69 7a 65 00 40 30 00 00 00 00 00 00 00 06 73 74 65 72 65 6f 01 01 00 "
      "0c 61 75 64 69 6f 63 6f 64 65 63 69 64 00 40 24 00 00 00 00 00 00 00 07 "
      "65 6e 63 6f 64 65 72 02 00 0d 4c 61 76 66 35 39 2e 32 37 2e 31 30 30 00 "
      "08 66 69 6c 65 73 69 7a 65 00 00 00 00 00 00 00 00 00 00 00 09 ");
  auto v = decode_amf0_all(body);
  ASSERT_TRUE(v.has_value()) << to_string(v.error());
  ASSERT_EQ(v->size(), 3u);
  EXPECT_EQ((*v)[0], Value("@setDataFrame"));
  EXPECT_EQ((*v)[1], Value("onMetaData"));
  const Value expected = ecma({{"duration", 0},
                               {"width", 1280},
                               {"height", 720},
                               {"videodatarate", 2500},
                               {"framerate", 30},
                               {"videocodecid", 7},
                               {"audiodatarate", 128},
                               {"audiosamplerate", 44100},
                               {"audiosamplesize", 16},
                               {"stereo", true},
                               {"audiocodecid", 10},
                               {"encoder", "Lavf59.27.100"},
                               {"filesize", 0}});
  EXPECT_EQ((*v)[2], expected);
  EXPECT_EQ((*v)[2].find("width")->as_number(), 1280);
  // Re-encoded byte for byte, so it can be replayed to players as is.
  Bytes out;
  for (const Value& x : *v) encode_amf0(x, out);
  EXPECT_EQ(out, body);
}

TEST(Amf0, FlashPlayerConnectWithObjectEncoding3) {
  // The command object of a Flash Player NetConnection with objectEncoding
  // 3 (connect itself is AMF0), followed by two extra connect arguments
  // switched to AMF3. The second uses the first's traits (reference 0) and
  // its string "user" (reference 0): AMF3 tables span the body.
  const Bytes body = hex(
      "02 00 07 63 6f 6e 6e 65 63 74 00 3f f0 00 00 00 00 00 00 03 00 03 61 70 "
      "70 02 00 04 6c 69 76 65 00 08 66 6c 61 73 68 56 65 72 02 00 0e 57 49 4e "
      "20 33 32 2c 30 2c 30 2c 34 36 35 00 06 73 77 66 55 72 6c 02 00 1d 68 74 "
      "74 70 3a 2f 2f 65 78 61 6d 70 6c 65 2e 63 6f 6d 2f 70 6c 61 79 65 72 2e "
      "73 77 66 00 05 74 63 55 72 6c 02 00 17 72 74 6d 70 3a 2f 2f 65 78 61 6d "
      "70 6c 65 2e 63 6f 6d 2f 6c 69 76 65 00 04 66 70 61 64 01 00 00 0c 63 61 "
      "70 61 62 69 6c 69 74 69 65 73 00 40 6d e0 00 00 00 00 00 00 0b 61 75 64 "
      "69 6f 43 6f 64 65 63 73 00 40 ab ee 00 00 00 00 00 00 0b 76 69 64 65 6f "
      "43 6f 64 65 63 73 00 40 6f 80 00 00 00 00 00 00 0d 76 69 64 65 6f 46 75 "
      "6e 63 74 69 6f 6e 00 3f f0 00 00 00 00 00 00 00 07 70 61 67 65 55 72 6c "
      "02 00 13 68 74 74 70 3a 2f 2f 65 78 61 6d 70 6c 65 2e 63 6f 6d 2f 00 0e "
      "6f 62 6a 65 63 74 45 6e 63 6f 64 69 6e 67 00 40 08 00 00 00 00 00 00 00 "
      "00 09 "
      "11 0a 0b 01 09 75 73 65 72 06 0b 61 6c 69 63 65 0b 74 6f 6b 65 6e 06 0d "
      "73 33 63 72 65 74 01 "
      "11 0a 01 00 06 07 62 6f 62 01 ");
  auto v = decode_amf0_all(body);
  ASSERT_TRUE(v.has_value()) << to_string(v.error());
  ASSERT_EQ(v->size(), 5u);
  EXPECT_EQ((*v)[0], Value("connect"));
  EXPECT_EQ((*v)[1], Value(1));
  const Value* command = &(*v)[2];
  EXPECT_EQ(command->find("objectEncoding")->as_number(), 3);
  EXPECT_EQ(command->find("flashVer")->as_string(), "WIN 32,0,0,465");
  EXPECT_EQ(command->find("fpad")->as_bool(true), false);
  EXPECT_EQ(command->find("capabilities")->as_number(), 239);
  EXPECT_EQ(command->find("audioCodecs")->as_number(), 3575);
  EXPECT_EQ(command->find("videoCodecs")->as_number(), 252);
  EXPECT_EQ(command->find("pageUrl")->as_string(), "http://example.com/");
  EXPECT_EQ((*v)[3], Value(Object{{"user", "alice"}, {"token", "s3cret"}}));
  EXPECT_EQ((*v)[4], Value(Object{{"user", "bob"}}));
}

}  // namespace
}  // namespace rw::amf
