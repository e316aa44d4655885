#include "common/proxy/upstream_set.hpp"

#include <algorithm>

namespace rw::proxy {

UpstreamSet::UpstreamSet(std::vector<UpstreamUrl> urls, UpstreamSetOptions options)
    : urls_(std::move(urls)), options_(options) {}

void UpstreamSet::succeeded(Clock::time_point now) {
  (void)now;
  failures_in_a_row_ = 0;
  backoff_ = std::chrono::milliseconds(0);
}

UpstreamSet::Clock::time_point UpstreamSet::failed(Clock::time_point now) {
  ++failures_in_a_row_;
  current_ = (current_ + 1) % urls_.size();
  if (current_ == 0) primary_answering_since_.reset();
  // One pass over the list goes at once; after that every try waits.
  if (failures_in_a_row_ < urls_.size()) return now;
  backoff_ = backoff_.count() == 0 ? options_.backoff_first : std::min(backoff_ * 2, options_.backoff_max);
  return now + backoff_;
}

void UpstreamSet::primary_answered(Clock::time_point now) {
  if (current_ == 0) return;
  if (!primary_answering_since_) primary_answering_since_ = now;
}

void UpstreamSet::primary_failed() { primary_answering_since_.reset(); }

bool UpstreamSet::prefer_primary(Clock::time_point now) const {
  return current_ != 0 && primary_answering_since_ && now - *primary_answering_since_ >= options_.prefer_primary_after;
}

void UpstreamSet::back_to_primary(Clock::time_point now) {
  current_ = 0;
  primary_answering_since_.reset();
  succeeded(now);
}

}  // namespace rw::proxy
