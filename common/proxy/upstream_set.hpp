// Which upstream to use (docs/cluster.md, "Failover"): an ordered list, the
// first the primary. On a failure the next one is tried at once; once every
// upstream has failed in a row, each further try waits longer (doubling up
// to backoff_max), so that a chain whose upstreams are all down makes no
// storm of connections. Once the primary has answered for
// prefer_primary_after while a backup is in use, the primary is preferred
// again. Pure logic: the caller brings the time.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/cluster/upstream_url.hpp"

namespace rw::proxy {

using cluster::UpstreamUrl;

struct UpstreamSetOptions {
  std::chrono::milliseconds backoff_first{250};
  std::chrono::milliseconds backoff_max{5000};
  std::chrono::milliseconds prefer_primary_after{30000};
};

class UpstreamSet {
 public:
  using Clock = std::chrono::steady_clock;
  UpstreamSet(std::vector<UpstreamUrl> urls, UpstreamSetOptions options);

  std::size_t size() const { return urls_.size(); }
  std::size_t current() const { return current_; }
  const UpstreamUrl& url(std::size_t i) const { return urls_[i]; }
  const UpstreamUrl& current_url() const { return urls_[current_]; }

  // The current upstream answered (its connect succeeded).
  void succeeded(Clock::time_point now);
  // The current upstream failed (could not connect, closed, not
  // responding): the next one becomes current. Returns when to connect to
  // it: now after the first failures, later once all failed in a row.
  Clock::time_point failed(Clock::time_point now);

  // While a backup is current: the primary has answered a probe (or not).
  void primary_answered(Clock::time_point now);
  void primary_failed();
  // Whether to go back to the primary now.
  bool prefer_primary(Clock::time_point now) const;
  // Makes the primary current again.
  void back_to_primary(Clock::time_point now);

  // Failures in a row, of every upstream (0 after a success).
  std::size_t failures_in_a_row() const { return failures_in_a_row_; }

 private:
  std::vector<UpstreamUrl> urls_;
  UpstreamSetOptions options_;
  std::size_t current_ = 0;
  std::size_t failures_in_a_row_ = 0;
  std::chrono::milliseconds backoff_{0};
  std::optional<Clock::time_point> primary_answering_since_;
};

}  // namespace rw::proxy
