// The segment cache of a relay or an edge (docs/cluster.md, "Cache"):
// recorded segments fetched from upstream, kept in memory by bytes in LRU
// order, and (when a directory is given) spilled to disk when evicted from
// memory, with a cap of their own, checksummed, and found again after a
// restart. Segments are immutable once complete, so a cached one serves
// every later reader, whichever upstream it came from.
//
// Thread-safe; disk reads and writes block (call them off the live path:
// the proxy thread hands them to the cache's I/O thread).
#pragma once

#include <cstdint>
#include <filesystem>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/base/log.hpp"
#include "common/base/shared_buffer.hpp"

namespace rw::cache {

// A segment of one recording of one stream, and what it holds: an upstream
// whose store was wiped may number a new recording as an old one was, and
// its segments must not be taken for the old ones.
struct SegmentKey {
  std::string app;
  std::string name;
  std::uint64_t recording_id = 0;
  std::uint64_t sequence = 0;
  std::uint64_t first_position = 0;
  std::uint32_t start_ms = 0;
  bool operator==(const SegmentKey&) const = default;
  std::string describe() const;
};

struct SegmentKeyHash {
  std::size_t operator()(const SegmentKey& k) const;
};

struct CacheOptions {
  std::uint64_t memory_bytes = 256u << 20;
  // 0: no disk tier.
  std::uint64_t disk_bytes = 0;
  std::filesystem::path dir;
};

// Counters for the operator (and tests).
struct CacheStats {
  std::uint64_t memory_hits = 0, memory_misses = 0;
  std::uint64_t disk_hits = 0, disk_misses = 0;
  std::uint64_t memory_bytes = 0, memory_entries = 0;
  std::uint64_t disk_bytes = 0, disk_entries = 0;
  std::uint64_t memory_evictions = 0, disk_evictions = 0;
  std::uint64_t disk_rejected = 0;  // spill files that failed their checksum or could not be read
};

class SegmentCache {
 public:
  // Scans `options.dir` (created if needed) for spilled segments of an
  // earlier run; unreadable files are removed.
  SegmentCache(CacheOptions options, const Logger& log);
  SegmentCache(const SegmentCache&) = delete;
  SegmentCache& operator=(const SegmentCache&) = delete;

  // From memory; nullopt when not there.
  std::optional<SharedBuffer> lookup_memory(const SegmentKey& key);
  // From disk (blocking): checked against its checksum, then promoted to
  // memory. A file that fails the check is removed and counts as a miss.
  std::optional<SharedBuffer> lookup_disk(const SegmentKey& key);
  bool on_disk(const SegmentKey& key) const;
  // Into memory; what memory evicts goes to disk (blocking) when enabled.
  void insert(const SegmentKey& key, SharedBuffer bytes);

  // Writes what memory holds and disk does not to disk (blocking), so that
  // a server stopped cleanly finds every segment it had when it starts
  // again. Returns how many were written.
  std::size_t spill_memory();

  CacheStats stats() const;
  const CacheOptions& options() const { return options_; }

 private:
  struct MemoryEntry {
    SegmentKey key;
    SharedBuffer bytes;
  };
  struct DiskEntry {
    std::filesystem::path file;
    std::uint64_t size = 0;           // of the segment (the file is a little larger)
    std::uint64_t last_used = 0;      // a counter: larger is more recent
  };

  void insert_memory_locked(const SegmentKey& key, SharedBuffer bytes, std::vector<MemoryEntry>& evicted);
  void spill(const SegmentKey& key, const SharedBuffer& bytes);
  void scan_disk();
  void trim_disk_locked();
  std::filesystem::path file_for(const SegmentKey& key) const;

  const CacheOptions options_;
  const Logger& log_;
  mutable std::mutex mutex_;
  std::list<MemoryEntry> lru_;  // most recently used first
  std::unordered_map<SegmentKey, std::list<MemoryEntry>::iterator, SegmentKeyHash> memory_;
  std::uint64_t memory_bytes_ = 0;
  std::unordered_map<SegmentKey, DiskEntry, SegmentKeyHash> disk_;
  std::uint64_t disk_bytes_ = 0;
  std::uint64_t use_counter_ = 0;
  CacheStats stats_;
};

}  // namespace rw::cache
