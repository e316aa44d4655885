#include "common/amf/value.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace rw::amf {

// Lets GoogleTest print values in failure messages (found by ADL; the same
// inline definition is in each test file of this binary).
inline void PrintTo(const Value& v, std::ostream* os) { *os << to_debug_string(v); }
namespace {

TEST(Value, NumbersDefaultToAmf0Doubles) {
  EXPECT_TRUE(std::holds_alternative<double>(Value(5).storage()));
  EXPECT_TRUE(std::holds_alternative<double>(Value(5u).storage()));
  EXPECT_TRUE(std::holds_alternative<double>(Value(std::int64_t{5}).storage()));
  EXPECT_TRUE(std::holds_alternative<std::int32_t>(Value::integer(5).storage()));
  EXPECT_NE(Value(5), Value::integer(5));
  EXPECT_TRUE(Value::integer(5).is_number());
  EXPECT_TRUE(Value(nullptr).is_null());
  EXPECT_TRUE(Value().is_undefined());
}

TEST(Value, LenientAccessors) {
  EXPECT_EQ(Value(2.5).as_number(), 2.5);
  EXPECT_EQ(Value::integer(-3).as_number(), -3);
  EXPECT_EQ(Value("3").as_number(7), 7);
  EXPECT_EQ(Value(true).as_number(7), 7);
  EXPECT_TRUE(Value(true).as_bool());
  EXPECT_TRUE(Value(0).as_bool(true));  // a number is not a boolean
  EXPECT_EQ(Value("live").as_string(), "live");
  EXPECT_EQ(Value(1).as_string("none"), "none");
  EXPECT_EQ(Value(1).as_object(), nullptr);
  EXPECT_EQ(Value(1).as_array(), nullptr);
  EXPECT_NE(Value(Object{}).as_object(), nullptr);
  EXPECT_NE(Value(Array{}).as_array(), nullptr);
}

TEST(Value, FindsPropertiesOfObjectsAndArrays) {
  const Value obj = Object{{"app", "live"}, {"objectEncoding", 3}};
  ASSERT_NE(obj.find("app"), nullptr);
  EXPECT_EQ(obj.find("app")->as_string(), "live");
  EXPECT_EQ(obj.find("objectEncoding")->as_number(), 3);
  EXPECT_EQ(obj.find("missing"), nullptr);

  Array arr;
  arr.dense = {1};
  arr.assoc = {{"duration", 12.5}};
  const Value array = arr;
  ASSERT_NE(array.find("duration"), nullptr);
  EXPECT_EQ(array.find("duration")->as_number(), 12.5);
  EXPECT_EQ(array.find("0"), nullptr);  // dense items have no names

  EXPECT_EQ(Value("app").find("app"), nullptr);
}

TEST(Object, SetReplacesOrAppends) {
  Object o{{"a", 1}};
  o.set("b", 2).set("a", "one");
  ASSERT_EQ(o.properties.size(), 2u);
  EXPECT_EQ(o.properties[0].key, "a");
  EXPECT_EQ(o.properties[0].value, Value("one"));
  EXPECT_EQ(o.properties[1].key, "b");
  Value* b = o.find("b");
  ASSERT_NE(b, nullptr);
  *b = 3;
  EXPECT_EQ(*o.find("b"), Value(3));
}

TEST(Value, EqualityComparesEveryField) {
  Object a{{"x", 1}};
  Object b = a;
  EXPECT_EQ(a, b);
  b.class_name = "T";
  EXPECT_NE(a, b);
  b = a;
  b.sealed_count = 1;
  EXPECT_NE(a, b);
  b = a;
  b.dynamic = false;
  EXPECT_NE(a, b);
  b = a;
  b.externalizable = true;
  EXPECT_NE(a, b);
  b = a;
  b.properties[0].key = "y";
  EXPECT_NE(a, b);

  Array x;
  Array y;
  y.ecma = true;
  EXPECT_NE(x, y);
  EXPECT_NE((Vector{Vector::Kind::Int, false, "", {}}), (Vector{Vector::Kind::Uint, false, "", {}}));
  EXPECT_NE((Vector{Vector::Kind::Object, false, "a", {}}), (Vector{Vector::Kind::Object, false, "b", {}}));
  EXPECT_NE((Dictionary{true, {}}), (Dictionary{false, {}}));
  EXPECT_NE((Dictionary{false, {{1, 2}}}), (Dictionary{false, {{1, 3}}}));
  EXPECT_NE(Value(Date{1, 0}), Value(Date{1, 60}));
  EXPECT_NE(Value(Xml{"x", true}), Value(Xml{"x", false}));
}

TEST(DebugString, RendersCommandObjects) {
  EXPECT_EQ(to_debug_string(Object{{"app", "live"}, {"objectEncoding", 3}}), R"({app: "live", objectEncoding: 3})");
  Object typed{{"x", 1.5}};
  typed.class_name = "com.example.Point";
  EXPECT_EQ(to_debug_string(typed), "com.example.Point {x: 1.5}");
  Array arr;
  arr.dense = {1, nullptr};
  arr.assoc = {{"k", Undefined{}}, {"two words", true}};
  EXPECT_EQ(to_debug_string(arr), R"([1, null, k: undefined, "two words": true])");
  EXPECT_EQ(to_debug_string(Value::integer(-7)), "-7");
  EXPECT_EQ(to_debug_string("a\"b\\c\n\x01"), R"("a\"b\\c\n\x01")");
  EXPECT_EQ(to_debug_string(Date{1000, 0}), "Date(1000)");
  EXPECT_EQ(to_debug_string(Xml{"<a/>", false}), R"(XML("<a/>"))");
  EXPECT_EQ(to_debug_string(ByteArray{{0xde, 0xad}}), "ByteArray(2: dead)");
  EXPECT_EQ(to_debug_string(Vector{Vector::Kind::Int, false, "", {Value::integer(1), Value::integer(2)}}),
            "Vector.<int>[1, 2]");
  EXPECT_EQ(to_debug_string(Dictionary{false, {{"k", false}}}), R"(Dictionary{"k" => false})");
}

TEST(DebugString, StaysShort) {
  const std::string long_string(10000, 'x');
  EXPECT_LT(to_debug_string(long_string).size(), 300u);
  Array big;
  big.dense.assign(10000, Value(123456789));
  const std::string s = to_debug_string(big);
  EXPECT_LT(s.size(), 4200u);
  EXPECT_EQ(s.substr(s.size() - 3), "...");
}

}  // namespace
}  // namespace rw::amf
