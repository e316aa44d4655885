#include "common/media/stream_name.hpp"

#include <gtest/gtest.h>

namespace rw::media {
namespace {

TEST(StreamName, SplitsQuery) {
  auto n = split_stream_name("test?token=abc&x=1");
  EXPECT_EQ(n.name, "test");
  EXPECT_EQ(n.query, "token=abc&x=1");
  EXPECT_EQ(split_stream_name("plain").query, "");
}

TEST(StreamName, AcceptsPathLikeNames) {
  EXPECT_EQ(validate_stream_name("test"), "");
  EXPECT_EQ(validate_stream_name("event/hall-a_1.cam"), "");
  EXPECT_EQ(validate_app_name("live"), "");
  EXPECT_EQ(validate_app_name("live/sub"), "");
}

TEST(StreamName, RejectsTraversalControlAndLength) {
  EXPECT_NE(validate_stream_name(""), "");
  EXPECT_NE(validate_stream_name(".."), "");
  EXPECT_NE(validate_stream_name("../etc/passwd"), "");
  EXPECT_NE(validate_stream_name("a/../b"), "");
  EXPECT_NE(validate_stream_name("a/./b"), "");
  EXPECT_NE(validate_stream_name("/abs"), "");
  EXPECT_NE(validate_stream_name("dir/"), "");
  EXPECT_NE(validate_stream_name("a//b"), "");
  EXPECT_NE(validate_stream_name("a\\b"), "");
  EXPECT_NE(validate_stream_name(std::string("a\nb")), "");
  EXPECT_NE(validate_stream_name(std::string("a\0b", 3)), "");
  EXPECT_NE(validate_stream_name(std::string("a\x7f")), "");
  EXPECT_EQ(validate_stream_name(std::string(256, 'x')), "");
  EXPECT_NE(validate_stream_name(std::string(257, 'x')), "");
}

}  // namespace
}  // namespace rw::media
