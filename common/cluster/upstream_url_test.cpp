#include "common/cluster/upstream_url.hpp"

#include <gtest/gtest.h>

namespace rw::cluster {
namespace {

TEST(UpstreamUrl, ParsesHostPortAndApp) {
  auto u = parse_upstream_url("rtmp://127.0.0.1:1936/live");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 1936);
  EXPECT_EQ(u->app, "live");
  EXPECT_EQ(u->app_for("events"), "live");
  auto bare = parse_upstream_url("rtmp://origin.example");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->port, 1935);
  EXPECT_EQ(bare->app_for("events"), "events") << "without /APP the local application maps to the same one";
  auto v6 = parse_upstream_url("rtmp://[::1]:1937/a/b/");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 1937);
  EXPECT_EQ(v6->app, "a/b");
  for (const char* bad : {"http://x/live", "rtmp://", "rtmp://:1935", "rtmp://h:0", "rtmp://h:99999",
                          "rtmp://h:12x", "rtmp://h/../x", "rtmp://[::1/x"}) {
    EXPECT_FALSE(parse_upstream_url(bad)) << bad;
  }
}

}  // namespace
}  // namespace rw::cluster
