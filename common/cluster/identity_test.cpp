#include "common/cluster/identity.hpp"

#include <gtest/gtest.h>

namespace rw::cluster {
namespace {

TEST(Via, ListsParseAndJoin) {
  EXPECT_EQ(parse_via("edge-1,relay-1"), (std::vector<std::string>{"edge-1", "relay-1"}));
  EXPECT_TRUE(parse_via("").empty());
  EXPECT_EQ(parse_via(",a,,b,"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(join_via({"a", "b"}), "a,b");
  EXPECT_EQ(query_parameter("token=x&rewindVia=a,b", "rewindVia"), "a,b");
  EXPECT_FALSE(query_parameter("token=x", "rewindVia"));
  EXPECT_EQ(query_parameter("flag&x=1", "flag"), "");
}

TEST(Via, ALoopIsFoundByItsOwnId) {
  // edge-1 -> relay-1 -> edge-1: the edge finds itself in what comes back.
  const std::string at_relay = forward_via("", "edge-1");
  EXPECT_EQ(at_relay, "edge-1");
  const std::string back_at_edge = forward_via(at_relay, "relay-1");
  EXPECT_EQ(back_at_edge, "edge-1,relay-1");
  EXPECT_TRUE(via_contains(back_at_edge, "edge-1"));
  EXPECT_TRUE(via_contains(back_at_edge, "relay-1"));
  EXPECT_FALSE(via_contains(back_at_edge, "relay-2"));
  // A prefix of an id is another id.
  EXPECT_FALSE(via_contains("edge-10", "edge-1"));
  // A server without an id finds no loop.
  EXPECT_FALSE(via_contains("a,,b", ""));
}

TEST(Via, TravelsInTheStreamNameQuery) {
  EXPECT_EQ(name_with_via("cam", "", "edge-1"), "cam?rewindVia=edge-1");
  // A viewer's token goes upstream with it; an old via is replaced.
  EXPECT_EQ(name_with_via("cam", "token=abc&rewindVia=x", "edge-1,relay-1"), "cam?token=abc&rewindVia=edge-1,relay-1");
  EXPECT_EQ(name_with_via("cam", "token=abc", ""), "cam?token=abc");
  EXPECT_EQ(name_with_via("cam", "", ""), "cam");
  EXPECT_EQ(via_of_query("token=abc&rewindVia=edge-1,relay-1"), "edge-1,relay-1");
  EXPECT_EQ(via_of_query("token=abc"), "");
}

}  // namespace
}  // namespace rw::cluster
