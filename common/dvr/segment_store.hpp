// The origin's DVR store: recorded segments, their index and per-stream
// state in one RocksDB database under --data-dir. How to store, not when
// to cut (that is the Segmenter) nor how to play (the DVR cursor).
//
// Layout (column families; keys are binary, big-endian, so they sort in
// numeric order and cannot collide whatever a stream is named):
//   default   "format" -> "rewind-dvr 1"; "next_recording_id" -> u64
//   streams   u32 len(app) . app . name         -> StreamInfo
//   index     u64 recording_id . u64 sequence   -> SegmentInfo
//   segments  u64 recording_id . u64 sequence   -> Segment
// Segments are stored under their recording, not their stream name: a new
// recording of a name never mixes with, and is never confused with, the old
// one's segments (a reader checks Segment::recording_id). Segments are
// stored uncompressed (video does not compress).
//
// Calls block (disk I/O): run them off the live path, on a thread pool.
// Every method is thread-safe. Reads run concurrently with each other and
// with writes; writes (begin/append/end) are serialized by the store. Reads
// see each write whole (one WriteBatch), but a reader that gets a
// StreamInfo and then reads a segment may find it deleted by retention in
// between: read_segment() then returns nullopt and the reader moves on to
// first_sequence.
//
// Crash safety: a segment, its index entry, the updated StreamInfo and the
// retention deletes are one atomic WriteBatch, written with the WAL on and
// sync=false. A killed process (kill -9, a crash) loses nothing written:
// the WAL is in the OS page cache. A power loss may lose the last seconds.
//
// Another process (rewind-export) reads while the origin runs with
// open_secondary(): a RocksDB secondary instance, a consistent view as of
// its open or last catch_up().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/expected.hpp"
#include "common/base/shared_buffer.hpp"
#include "common/dvr/store_error.hpp"
#include "proto/dvr.pb.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class Snapshot;
}  // namespace rocksdb

namespace rw::dvr {

enum class RecordMode {
  NewRecording,  // publish type `record`: drop the stream's recording, start a new one
  Append,        // publish type `append`: continue the last recording's numbering
};

// Per application. 0 means no limit. The newest segment is never deleted.
struct Retention {
  // Keep the fewest oldest segments with which the window (end_ms -
  // start_ms) still covers this: a viewer can always go back this far once
  // that much was recorded.
  std::uint64_t max_duration_ms = 0;
  // At most this many bytes of segments per stream.
  std::uint64_t max_bytes = 0;
};

struct StoreOptions {
  // RocksDB's block cache, shared by every column family (segments too:
  // a player following the live edge reads what was just written).
  std::size_t block_cache_bytes = 32u << 20;
  // Memtable size per column family: recorded bytes buffered in memory
  // (and in the WAL) before a flush writes them to files.
  std::size_t write_buffer_bytes = 64u << 20;
  // Flush and compaction threads.
  int background_jobs = 2;
};

class SegmentStore {
 public:
  // Opens (creating it if needed) the store in `dir` for reading and
  // writing; one process at a time (RocksDB locks the directory). Every
  // stream marked live is marked offline: after a restart nobody is
  // recording.
  static Expected<std::unique_ptr<SegmentStore>, StoreError> open(const std::string& dir,
                                                                  const StoreOptions& options = {});

  // Opens a store that another process has open read-write (or nobody
  // has), for reading only: RocksDB's secondary mode, which keeps its own
  // files (an info log, a copy of the MANIFEST position) in
  // `secondary_dir`, a scratch directory. The view stays as of the open
  // until catch_up(). Writes fail with ReadOnly. NotFound when `dir` holds
  // no store.
  static Expected<std::unique_ptr<SegmentStore>, StoreError> open_secondary(const std::string& dir,
                                                                            const std::string& secondary_dir,
                                                                            const StoreOptions& options = {});
  ~SegmentStore();
  SegmentStore(const SegmentStore&) = delete;
  SegmentStore& operator=(const SegmentStore&) = delete;

  bool read_only() const { return secondary_; }
  // Secondary only: catches up with what the primary wrote since.
  Expected<void, StoreError> catch_up();

  // --- Writing (the Recorder) ---

  // A publish starts recording. NewRecording (or Append to a stream with
  // no recording yet) deletes the stream's old segments and index and
  // starts a new recording_id; Append keeps them and continues
  // sequence/position numbering (feed the Segmenter SegmenterStart::after()
  // the returned StreamInfo, and shift timestamps to continue after
  // last_timestamp_ms). Sets live. Also where the store recovers from an
  // earlier disk-full or I/O error (RocksDB stops writing after one).
  Expected<StreamInfo, StoreError> begin_recording(std::string_view app, std::string_view name, RecordMode mode,
                                                   std::int64_t wall_ms);

  // Stores the next segment of the stream's current recording and applies
  // retention, atomically. The segment must carry the recording's id, the
  // next sequence and the next position (as the Segmenter numbers them
  // from SegmenterStart::after(begin_recording(...))) and whole FLV tags:
  // InvalidArgument otherwise, and nothing is written. Returns the updated
  // StreamInfo (last_update_wall_ms becomes the segment's wall start +
  // duration). NotFound without begin_recording.
  Expected<StreamInfo, StoreError> append_segment(std::string_view app, std::string_view name,
                                                  const Segment& segment, const Retention& retention);

  // The publish ended: live = false, last_update_wall_ms = wall_ms.
  Expected<StreamInfo, StoreError> end_recording(std::string_view app, std::string_view name,
                                                 std::int64_t wall_ms);

  // --- Reading (the DVR cursor, relays, export) ---

  Expected<std::optional<StreamInfo>, StoreError> stream_info(std::string_view app, std::string_view name) const;
  // Every stream the store knows, in key order: grouped by app (shorter
  // app names first), then by name.
  Expected<std::vector<StreamInfo>, StoreError> list_streams() const;

  // Index entries of the stored segments from `from_sequence` (or the
  // first stored, if later) on, at most `limit`, in order. Empty for an
  // unknown stream.
  Expected<std::vector<SegmentInfo>, StoreError> segment_infos(std::string_view app, std::string_view name,
                                                               std::uint64_t from_sequence,
                                                               std::size_t limit) const;

  // The index entry of the last stored segment that starts at or before
  // media_ms (the first one when media_ms is before the window, the last
  // one when it is past it: compare with StreamInfo::end_ms); nullopt when
  // nothing is stored. A binary search by point lookups (O(log n)) that
  // assumes segment starts increase with the sequence, serially (they do
  // unless a publisher's clock jumps back).
  Expected<std::optional<SegmentInfo>, StoreError> find_segment(std::string_view app, std::string_view name,
                                                                std::uint32_t media_ms) const;

  // A stored segment of the stream's current recording; nullopt when it is
  // not (or no longer) stored.
  Expected<std::optional<Segment>, StoreError> read_segment(std::string_view app, std::string_view name,
                                                            std::uint64_t sequence) const;
  // The same, as the serialized Segment message, unparsed: what a relay
  // passes on.
  Expected<std::optional<SharedBuffer>, StoreError> read_segment_bytes(std::string_view app, std::string_view name,
                                                                       std::uint64_t sequence) const;

 private:
  SegmentStore() = default;
  Expected<void, StoreError> init_primary();
  Expected<void, StoreError> check_format() const;
  Expected<std::optional<StreamInfo>, StoreError> get_stream(const std::string& key,
                                                             const rocksdb::Snapshot* snapshot) const;
  Expected<void, StoreError> writable(std::string_view context) const;

  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::ColumnFamilyHandle* streams_ = nullptr;
  rocksdb::ColumnFamilyHandle* index_ = nullptr;
  rocksdb::ColumnFamilyHandle* segments_ = nullptr;
  bool secondary_ = false;

  std::mutex write_mutex_;  // one write (read-modify-write of a StreamInfo) at a time
  std::uint64_t next_recording_id_ = 1;  // guarded by write_mutex_
};

}  // namespace rw::dvr
