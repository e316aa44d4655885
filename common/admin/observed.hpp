// What the metrics and the admin API look at in one process: the server's
// shared context (its clients, streams, events) and, by role, the DVR
// store (origin) or the puller and the segment cache (relay, edge).
#pragma once

#include <chrono>

#include "common/cache/segment_cache.hpp"
#include "common/server/dvr_access.hpp"
#include "common/server/live_puller.hpp"
#include "common/server/server_context.hpp"

namespace rw::admin {

// How long the HTTP thread waits for the puller's own thread to report
// (it answers within microseconds unless it is stuck).
inline constexpr std::chrono::milliseconds kPullerReportWait{250};

struct Observed {
  explicit Observed(server::ServerContext& c) : context(c) {}
  server::ServerContext& context;
  server::DvrAccess* dvr = nullptr;       // the origin's store
  server::LivePuller* puller = nullptr;   // a relay's or an edge's
  cache::SegmentCache* cache = nullptr;   // a relay's or an edge's
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
  // Set once the RTMP server listens (/readyz).
  std::atomic<bool> listening{false};
};

}  // namespace rw::admin
