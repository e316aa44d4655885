#include "common/proxy/upstream_set.hpp"

#include <gtest/gtest.h>

namespace rw::proxy {
namespace {

using namespace std::chrono_literals;
using Clock = UpstreamSet::Clock;
using cluster::parse_upstream_url;

std::vector<UpstreamUrl> urls(int n) {
  std::vector<UpstreamUrl> out;
  for (int i = 0; i < n; ++i) out.push_back(*parse_upstream_url("rtmp://10.0.0." + std::to_string(i + 1)));
  return out;
}

TEST(UpstreamSet, FailsOverInOrderAndWrapsWithBackoff) {
  UpstreamSet set(urls(3), {250ms, 2000ms, 30s});
  const Clock::time_point t0{};
  EXPECT_EQ(set.current(), 0u);
  // The first pass over the list goes at once.
  EXPECT_EQ(set.failed(t0), t0);
  EXPECT_EQ(set.current(), 1u);
  EXPECT_EQ(set.failed(t0), t0);
  EXPECT_EQ(set.current(), 2u);
  // Every upstream failed: the next tries wait, longer each time.
  EXPECT_EQ(set.failed(t0), t0 + 250ms);
  EXPECT_EQ(set.current(), 0u);
  EXPECT_EQ(set.failed(t0), t0 + 500ms);
  EXPECT_EQ(set.failed(t0), t0 + 1000ms);
  EXPECT_EQ(set.failed(t0), t0 + 2000ms);
  EXPECT_EQ(set.failed(t0), t0 + 2000ms) << "capped at backoff_max";
  set.succeeded(t0);
  EXPECT_EQ(set.failures_in_a_row(), 0u);
  EXPECT_EQ(set.failed(t0), t0) << "a success resets the backoff";
}

TEST(UpstreamSet, PrefersThePrimaryOnceItHasAnsweredForAWhile) {
  UpstreamSet set(urls(2), {250ms, 2000ms, 30s});
  const Clock::time_point t0{};
  set.failed(t0);  // the primary died: the backup is current
  set.succeeded(t0);
  EXPECT_FALSE(set.prefer_primary(t0 + 1h)) << "no probe has answered yet";
  set.primary_answered(t0 + 10s);
  EXPECT_FALSE(set.prefer_primary(t0 + 20s));
  set.primary_answered(t0 + 20s);  // still the first answer's time that counts
  EXPECT_TRUE(set.prefer_primary(t0 + 40s));
  set.primary_failed();
  EXPECT_FALSE(set.prefer_primary(t0 + 41s)) << "a failed probe starts the wait again";
  set.primary_answered(t0 + 50s);
  EXPECT_TRUE(set.prefer_primary(t0 + 80s));
  set.back_to_primary(t0 + 80s);
  EXPECT_EQ(set.current(), 0u);
  EXPECT_FALSE(set.prefer_primary(t0 + 2h));
}

TEST(UpstreamSet, OneUpstreamBacksOffAtOnce) {
  UpstreamSet set(urls(1), {250ms, 2000ms, 30s});
  const Clock::time_point t0{};
  EXPECT_EQ(set.failed(t0), t0 + 250ms);
  EXPECT_EQ(set.current(), 0u);
}

}  // namespace
}  // namespace rw::proxy
