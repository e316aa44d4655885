#include "tests/bench/json_writer.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace rw::bench {
namespace {

TEST(JsonWriter, NestsWithCommas) {
  JsonWriter w;
  w.begin_object();
  w.key("a").value(1);
  w.key("b").begin_array().value("x").value(true).begin_object().end_object().end_array();
  w.key("c").begin_object().key("d").value(1.5).key("e").null().end_object();
  w.key("f").value(static_cast<std::uint64_t>(18446744073709551615u));
  w.end_object();
  EXPECT_EQ(w.str(), R"({"a":1,"b":["x",true,{}],"c":{"d":1.500,"e":null},"f":18446744073709551615})");
}

TEST(JsonWriter, EscapesStrings) {
  JsonWriter w;
  w.begin_array().value("q\"b\\n\nt\tc\x01").end_array();
  EXPECT_EQ(w.str(), R"(["q\"b\\n\nt\tc\u0001"])");
}

TEST(JsonWriter, NonFiniteNumbersAreNull) {
  JsonWriter w;
  w.begin_array().value(std::numeric_limits<double>::quiet_NaN()).value(std::numeric_limits<double>::infinity()).end_array();
  EXPECT_EQ(w.str(), "[null,null]");
}

}  // namespace
}  // namespace rw::bench
