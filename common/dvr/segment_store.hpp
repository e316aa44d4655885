// The origin's DVR store: recorded segments, their index and per-stream
// state in one RocksDB database under --data-dir. How to store, not when
// to cut (that is the Segmenter) nor how to play (the DVR cursor).
//
// Layout: one column family (a secondary reader's view is then always a
// prefix of the writes), keys binary and big-endian, so they sort in
// numeric order and cannot collide whatever a stream is named:
//   'm' "format"                           -> "rewind-dvr 1"
//   'm' "next_recording_id"                -> u64
//   's' u32 len(app) . app . name          -> StreamInfo
//   'i' u64 recording_id . u64 sequence    -> SegmentInfo
//   'g' u64 recording_id . u64 sequence    -> Segment
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
// Errors: after a write fails (NoSpace: the disk is full; IoError), every
// write fails with the same code until RocksDB has recovered: it polls for
// free space by itself every few seconds, and the next write after that
// succeeds. Reads go on meanwhile.
//
// Another process (rewind-export) reads while the origin runs with
// open_secondary(): a RocksDB secondary instance, a fixed view as of its
// open or last catch_up(). Not always a whole one: see stream_complete().
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
#include "common/base/log.hpp"
#include "common/base/shared_buffer.hpp"
#include "common/dvr/store_error.hpp"
#include "proto/dvr.pb.h"

namespace rocksdb {
class DB;
class PinnableSlice;
class Snapshot;
class WriteBatch;
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

// What a retention pass or a deletion removed.
struct TrimResult {
  std::uint64_t segments = 0;
  std::uint64_t bytes = 0;
};

struct StoreOptions {
  // RocksDB's block cache (index entries, stream states and recently
  // read segments; the OS page cache holds the rest).
  std::size_t block_cache_bytes = 32u << 20;
  // Recorded bytes buffered in memory (and in the WAL) before a flush
  // writes them to a table file; a cursor near the live edge reads from
  // here. Disk use runs up to about 4x this above the stored segments:
  // deleted segments take that long to be compacted away.
  std::size_t write_buffer_bytes = 64u << 20;
  // Flush and compaction threads.
  int background_jobs = 2;
  // Writes are refused (NoSpace) while less than this is free on the
  // store's filesystem, so that RocksDB itself never runs out of space:
  // Debian's RocksDB 7.8 is built with assertions and aborts the process
  // when it appends to a WAL file after a failed write. 0: 2 write buffers
  // plus 32 MB (room for a flush or two).
  std::uint64_t min_free_bytes = 0;
  // RocksDB's own warnings and errors go here too (prefixed "rocksdb: ");
  // everything it says goes to the LOG file in the store's directory.
  const Logger* log = nullptr;
};

class SegmentStore {
 public:
  // Where a role keeps its store inside its --data-dir: one place, so the
  // origin and rewind-export agree.
  static std::string directory_in(const std::string& data_dir) { return data_dir + "/dvr"; }

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
  // Whether the stream's index holds every entry its StreamInfo lists
  // (true for an unknown stream). Always so on a primary. A secondary's
  // view can miss a stretch of writes: RocksDB 7.8's secondary replays the
  // WAL files it finds, and when the primary flushes and deletes one while
  // the secondary opens or catches up, what it held is in neither. Seen
  // with small write buffers (frequent WAL switches); catch_up() and check
  // again.
  Expected<bool, StoreError> stream_complete(std::string_view app, std::string_view name) const;

  // --- Writing (the Recorder) ---

  // A publish starts recording. NewRecording (or Append to a stream with
  // no recording yet) deletes the stream's old segments and index and
  // starts a new recording_id; Append keeps them and continues
  // sequence/position numbering (feed the Segmenter SegmenterStart::after()
  // the returned StreamInfo, and shift timestamps to continue after
  // last_timestamp_ms). Sets live.
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

  // Applies retention to a stream whether it is being recorded or not: a
  // finished recording is trimmed to its application's window and byte cap
  // too (append_segment applies it while recording). The newest segment
  // stays. Nothing to do for an unknown stream.
  Expected<TrimResult, StoreError> apply_retention(std::string_view app, std::string_view name,
                                                   const Retention& retention);
  // Deletes a stream that is not being recorded, segments and index
  // (InvalidArgument while it is live): the store's byte cap removes whole
  // finished recordings, oldest first.
  Expected<TrimResult, StoreError> delete_stream(std::string_view app, std::string_view name);

  // The publish ended: live = false, last_update_wall_ms = wall_ms. (Flush
  // the Segmenter and append its last segment first.)
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
  // not (or no longer) stored. If a `record` publish may have started the
  // stream over since the caller read its StreamInfo, compare
  // Segment::recording_id (sequences restart at 0).
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
  // The stored Segment message of the stream's current recording; false
  // when there is none.
  Expected<bool, StoreError> get_segment(std::string_view app, std::string_view name, std::uint64_t sequence,
                                         rocksdb::PinnableSlice& value) const;
  // Drops the stream's oldest segments that retention allows dropping,
  // below `upper_key` (the newest segment's index key), updating `info`
  // and adding the deletes to `batch`; returns the bytes freed. Called with
  // write_mutex_ held.
  Expected<std::uint64_t, StoreError> trim_locked(StreamInfo& info, const Retention& retention,
                                                  std::uint32_t newest_start, const std::string& upper_key,
                                                  rocksdb::WriteBatch& batch, std::string_view context);
  // Writes a batch, or refuses while RocksDB has not recovered from an
  // earlier failed write. Called with write_mutex_ held.
  Expected<void, StoreError> write(rocksdb::WriteBatch& batch, std::string_view context);

  std::unique_ptr<rocksdb::DB> db_;
  bool secondary_ = false;
  std::string dir_;
  std::uint64_t min_free_bytes_ = 0;

  std::mutex write_mutex_;  // one write (read-modify-write of a StreamInfo) at a time
  std::uint64_t next_recording_id_ = 1;        // guarded by write_mutex_
  std::optional<StoreError> last_write_error_;  // guarded by write_mutex_
};

}  // namespace rw::dvr
