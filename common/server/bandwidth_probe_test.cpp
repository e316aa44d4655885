#include "common/server/bandwidth_probe.hpp"

#include <gtest/gtest.h>

#include <deque>

namespace rw::server {
namespace {

using namespace std::chrono_literals;
using State = BandwidthProbe::State;

// A client on a link of `kbps` with a round trip of `rtt`: each payload
// call is answered when the link has carried it, one after another.
BandwidthProbe::Result run(BandwidthSettings settings, double kbps, std::chrono::microseconds rtt,
                           unsigned* most_in_flight = nullptr) {
  auto now = BandwidthProbe::Clock::time_point{} + 1h;
  BandwidthProbe probe(settings, 100, now);
  std::deque<std::pair<double, BandwidthProbe::Clock::time_point>> answers;  // txn, when
  auto link_free = now;
  unsigned in_flight = 0;
  for (int steps = 0; steps < 1'000'000; ++steps) {
    while (auto call = probe.next(now)) {
      const auto bytes = call->payload ? settings.data_size : 0;
      const auto carry = std::chrono::microseconds(static_cast<long>(static_cast<double>(bytes) * 8 * 1000 / kbps));
      link_free = std::max(link_free, now) + carry;
      answers.emplace_back(call->transaction_id, link_free + rtt);
      if (most_in_flight) *most_in_flight = std::max(*most_in_flight, ++in_flight);
    }
    const State state = probe.state(now);
    if (state == State::Done || state == State::Abandoned) break;
    const auto wake = probe.wake_at(now);
    if (!answers.empty() && answers.front().second <= wake) {
      now = std::max(now, answers.front().second);
      EXPECT_TRUE(probe.answer(answers.front().first, now));
      answers.pop_front();
      --in_flight;
    } else {
      if (wake <= now) {
        ADD_FAILURE() << "wake_at is not after now";
        break;
      }
      now = wake;
    }
  }
  EXPECT_EQ(probe.state(now), State::Done);
  return probe.result();
}

TEST(BandwidthProbe, MeasuresTheLinkRate) {
  const auto r = run(BandwidthSettings{}, 8000, 2ms);
  EXPECT_NEAR(r.kbps, 8000, 800);
  EXPECT_NEAR(r.latency_ms, 2, 0.1);
  // Sending stops at max_wait; what is in flight then (kWindow calls, 131
  // ms at this rate) is still counted.
  EXPECT_NEAR(r.delta_time_s, 2.13, 0.05);
  EXPECT_NEAR(r.delta_down_kbit, r.kbps * r.delta_time_s, 1);
}

TEST(BandwidthProbe, KeepsAWindowInFlight) {
  unsigned most = 0;
  run(BandwidthSettings{}, 100'000, 1ms, &most);
  EXPECT_EQ(most, BandwidthProbe::kWindow);
}

TEST(BandwidthProbe, PacesToMaxRate) {
  BandwidthSettings settings;
  settings.max_rate_kbps = 2000;
  const auto r = run(settings, 50'000, 1ms);
  EXPECT_NEAR(r.kbps, 2000, 300);
}

TEST(BandwidthProbe, AClientThatDoesNotAnswerIsLeftAlone) {
  auto now = BandwidthProbe::Clock::time_point{} + 1h;
  BandwidthProbe probe(BandwidthSettings{}, 1, now);
  auto call = probe.next(now);
  ASSERT_TRUE(call);
  EXPECT_FALSE(call->payload);
  EXPECT_FALSE(probe.next(now));  // nothing more until it answers
  EXPECT_EQ(probe.state(now + 1s), State::Latency);
  EXPECT_EQ(probe.wake_at(now), now + 2s);
  EXPECT_EQ(probe.state(now + 2s), State::Abandoned);
  EXPECT_FALSE(probe.next(now + 2s));
}

TEST(BandwidthProbe, OnlyItsOwnAnswersCount) {
  auto now = BandwidthProbe::Clock::time_point{} + 1h;
  BandwidthProbe probe(BandwidthSettings{}, 10, now);
  ASSERT_TRUE(probe.next(now));
  EXPECT_FALSE(probe.answer(3, now));   // another call's answer
  EXPECT_FALSE(probe.answer(11, now));  // not sent
  EXPECT_TRUE(probe.answer(10, now + 5ms));
  EXPECT_FALSE(probe.answer(10, now + 5ms));  // twice
  auto payload = probe.next(now + 5ms);
  ASSERT_TRUE(payload && payload->payload);
  EXPECT_TRUE(probe.answer(payload->transaction_id, now + 6ms));
  EXPECT_FALSE(probe.answer(payload->transaction_id, now + 6ms));
}

}  // namespace
}  // namespace rw::server
