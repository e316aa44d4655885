// Retention over the whole store, run now and then (the origin: at start
// and every dvr.retention_interval_s). Recording applies each stream's
// retention as it appends a segment; this pass covers what that misses:
//   - recordings that ended, or whose application's window or byte cap
//     was lowered since (a restart with new settings), are trimmed to it;
//   - the store as a whole is kept under store_max_bytes: whole finished
//     recordings go first, least recently updated first; if that is not
//     enough, live recordings lose their oldest segments (never the newest),
//     the one that started first first.
// Bytes are the stored segments' sizes (StreamInfo::total_bytes), what a
// recording costs before RocksDB's own overhead and compaction lag.
//
// Calls block on the store: run them on its writer thread, where they
// are also serialized with the recorders' appends.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/expected.hpp"
#include "common/dvr/segment_store.hpp"

namespace rw::dvr {

struct RetentionPass {
  struct Change {
    std::string app;
    std::string name;
    TrimResult removed;
    enum class Why { Window, StoreCap, StoreCapDeleted } why = Why::Window;
  };
  std::vector<Change> changes;
  std::uint64_t store_bytes = 0;  // after the pass
};

// The retention an application's recordings get.
using RetentionFor = std::function<Retention(std::string_view app)>;

// store_max_bytes 0: no cap on the store as a whole.
Expected<RetentionPass, StoreError> run_retention(SegmentStore& store, const RetentionFor& retention_for,
                                                  std::uint64_t store_max_bytes);

}  // namespace rw::dvr
