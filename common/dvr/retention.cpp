#include "common/dvr/retention.hpp"

#include <algorithm>

namespace rw::dvr {

Expected<RetentionPass, StoreError> run_retention(SegmentStore& store, const RetentionFor& retention_for,
                                                  std::uint64_t store_max_bytes) {
  RetentionPass pass;
  auto streams = store.list_streams();
  if (!streams) return unexpected(streams.error());

  // Each stream to its own application's window and byte cap.
  for (StreamInfo& info : *streams) {
    auto trimmed = store.apply_retention(info.app(), info.name(), retention_for(info.app()));
    if (!trimmed) return unexpected(trimmed.error());
    if (trimmed->segments > 0) {
      pass.changes.push_back({info.app(), info.name(), *trimmed, RetentionPass::Change::Why::Window});
      info.set_total_bytes(info.total_bytes() - trimmed->bytes);
    }
    pass.store_bytes += info.total_bytes();
  }
  if (store_max_bytes == 0 || pass.store_bytes <= store_max_bytes) return pass;

  // Over the store's cap: finished recordings, least recently updated first.
  std::vector<StreamInfo*> order;
  for (StreamInfo& info : *streams) order.push_back(&info);
  std::stable_sort(order.begin(), order.end(), [](const StreamInfo* a, const StreamInfo* b) {
    if (a->live() != b->live()) return !a->live();
    return a->live() ? a->record_start_wall_ms() < b->record_start_wall_ms()
                     : a->last_update_wall_ms() < b->last_update_wall_ms();
  });
  for (StreamInfo* info : order) {
    if (pass.store_bytes <= store_max_bytes) break;
    if (!info->live()) {
      auto deleted = store.delete_stream(info->app(), info->name());
      if (!deleted) return unexpected(deleted.error());
      pass.changes.push_back({info->app(), info->name(), *deleted, RetentionPass::Change::Why::StoreCapDeleted});
      pass.store_bytes -= std::min(pass.store_bytes, info->total_bytes());
      continue;
    }
    // A live recording keeps what it can of its window.
    const std::uint64_t excess = pass.store_bytes - store_max_bytes;
    const std::uint64_t keep = info->total_bytes() > excess ? info->total_bytes() - excess : 1;
    auto trimmed = store.apply_retention(info->app(), info->name(), Retention{0, keep});
    if (!trimmed) return unexpected(trimmed.error());
    if (trimmed->segments > 0) {
      pass.changes.push_back({info->app(), info->name(), *trimmed, RetentionPass::Change::Why::StoreCap});
      pass.store_bytes -= std::min(pass.store_bytes, trimmed->bytes);
    }
  }
  return pass;
}

}  // namespace rw::dvr
