#include "common/dvr/segment_store.hpp"

#include <rocksdb/cache.h>
#include <sys/statvfs.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <system_error>
#include <utility>

#include "common/dvr/rocksdb_log.hpp"
#include "common/dvr/segment_tags.hpp"
#include "common/dvr/segmenter.hpp"

namespace rw::dvr {
namespace {

// Key prefixes: one column family, so that a secondary's view (an LSM
// tree plus a replayed WAL) is always a prefix of the writes. With one
// family per kind, a secondary saw a segment's delete (its family flushed)
// but not its index entry's (replayed from the WAL): an entry whose
// segment was gone.
constexpr char kStreamPrefix = 's';
constexpr char kIndexPrefix = 'i';
constexpr char kSegmentPrefix = 'g';

// 'm': the store's own keys.
constexpr std::string_view kFormatKey = "mformat";
// Bump when keys or values change meaning; open() refuses other formats.
constexpr std::string_view kFormat = "rewind-dvr 1";
constexpr std::string_view kNextRecordingKey = "mnext_recording_id";

// Retention usually drops one segment per append: point deletes. A range
// tombstone per append would pile up in the memtable and slow every read;
// DeleteRange is for the rare big drops.
constexpr std::size_t kMaxPointDeletes = 32;

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }

void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

std::uint64_t get_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | static_cast<std::uint8_t>(p[i]);
  return v;
}

// The length prefix keeps ("a", "b/c") and ("a/b", "c") apart, and any
// byte may appear in a name.
std::string stream_key(std::string_view app, std::string_view name) {
  std::string key;
  key.reserve(5 + app.size() + name.size());
  key.push_back(kStreamPrefix);
  const auto size = static_cast<std::uint32_t>(app.size());
  for (int shift = 24; shift >= 0; shift -= 8) key.push_back(static_cast<char>(size >> shift));
  key.append(app);
  key.append(name);
  return key;
}

std::string recording_key(char prefix, std::uint64_t recording_id, std::uint64_t sequence) {
  std::string key;
  key.reserve(17);
  key.push_back(prefix);
  put_u64(key, recording_id);
  put_u64(key, sequence);
  return key;
}
std::string index_key(std::uint64_t recording_id, std::uint64_t sequence) {
  return recording_key(kIndexPrefix, recording_id, sequence);
}
std::string segment_key(std::uint64_t recording_id, std::uint64_t sequence) {
  return recording_key(kSegmentPrefix, recording_id, sequence);
}

// Every stream key is in [kStreamPrefix, kStreamPrefix + 1).
constexpr std::string_view kStreamsBegin{&kStreamPrefix, 1};
constexpr char kStreamsEndChar = kStreamPrefix + 1;
constexpr std::string_view kStreamsEnd{&kStreamsEndChar, 1};

std::string describe_stream(std::string_view what, std::string_view app, std::string_view name) {
  std::string out(what);
  out += ' ';
  out.append(app);
  out += '/';
  out.append(name);
  return out;
}

StoreError error(StoreError::Code code, std::string message) { return {code, std::move(message)}; }

template <class Message>
Expected<Message, StoreError> parse(const rocksdb::Slice& value, std::string_view context) {
  Message m;
  if (!m.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return unexpected(error(StoreError::Code::Corruption, std::string(context) + ": stored value does not parse"));
  }
  return m;
}

// The media span from `from` to `to`, 0 when `to` is not after `from`.
std::uint64_t span(std::uint32_t from, std::uint32_t to) {
  const std::int32_t d = timestamp_diff(to, from);
  return d > 0 ? static_cast<std::uint64_t>(d) : 0;
}

rocksdb::Options db_options(const StoreOptions& options, std::string log_path) {
  rocksdb::Options o;
  o.info_log = std::make_shared<RocksLog>(std::move(log_path), options.log);
  o.create_if_missing = true;
  o.max_background_jobs = options.background_jobs;
  // A torn last WAL record after a kill is dropped; everything before it
  // is recovered (the default, stated because crash safety rests on it).
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  o.write_buffer_size = options.write_buffer_bytes;
  // Compressed video does not compress: don't spend CPU trying (the rest,
  // index entries and stream states, is small).
  o.compression = rocksdb::kNoCompression;
  o.bottommost_compression = rocksdb::kNoCompression;
  // Fewer levels for data that lives only as long as the DVR window.
  o.level_compaction_dynamic_level_bytes = true;
  // Not blob files (enable_blob_files), though large values written once
  // and deleted once are what they are for: RocksDB's secondary instances
  // do not support them (7.8 segfaults reading a blob in
  // DBImplSecondary::Get; facebook/rocksdb#13371 and its BlobDB wiki page
  // say so), and rewind-export reads through a secondary.
  return o;
}

// A consistent view across several reads (a StreamInfo and the entries it
// points at). Secondary instances read a fixed view anyway (and RocksDB
// does not take snapshots there).
class ReadView {
 public:
  ReadView(rocksdb::DB& db, bool secondary) : db_(db), snapshot_(secondary ? nullptr : db.GetSnapshot()) {}
  ~ReadView() {
    if (snapshot_) db_.ReleaseSnapshot(snapshot_);
  }
  ReadView(const ReadView&) = delete;
  ReadView& operator=(const ReadView&) = delete;
  const rocksdb::Snapshot* get() const { return snapshot_; }

 private:
  rocksdb::DB& db_;
  const rocksdb::Snapshot* snapshot_;
};

// What append_segment learns by walking a segment's tags: they are whole,
// how many, where the keyframes are, and the headers in effect at its end.
struct TagSummary {
  std::uint32_t count = 0;
  std::vector<std::uint32_t> keyframes;
  std::uint32_t last_timestamp = 0;
  std::string_view video_header;
  std::string_view audio_header;
  std::string_view metadata;
};

std::optional<TagSummary> summarize(const Segment& segment) {
  TagSummary s;
  s.last_timestamp = segment.start_ms();
  s.video_header = segment.video_header();
  s.audio_header = segment.audio_header();
  s.metadata = segment.metadata();
  TagWalker walk(segment.tags());
  while (auto tag = walk.next()) {
    ++s.count;
    if (timestamp_diff(tag->timestamp, s.last_timestamp) > 0) s.last_timestamp = tag->timestamp;
    if (tag->is_keyframe()) {
      s.keyframes.push_back(tag->timestamp);
    } else if (tag->is_metadata()) {
      s.metadata = as_chars(tag->body);
    } else if (tag->is_sequence_header()) {
      (tag->type == flv::TagType::Video ? s.video_header : s.audio_header) = as_chars(tag->body);
    }
  }
  if (walk.failed()) return std::nullopt;
  return s;
}

}  // namespace

SegmentStore::~SegmentStore() {
  if (db_) db_->Close();
}

Expected<std::unique_ptr<SegmentStore>, StoreError> SegmentStore::open(const std::string& dir,
                                                                       const StoreOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return unexpected(error(StoreError::Code::IoError, "create " + dir + ": " + ec.message()));

  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(db_options(options, dir + "/LOG"), dir, &raw);
  if (!s.ok()) return unexpected(store_error(s, "open " + dir));

  std::unique_ptr<SegmentStore> store(new SegmentStore());
  store->db_.reset(raw);
  store->dir_ = dir;
  store->min_free_bytes_ =
      options.min_free_bytes ? options.min_free_bytes : 2 * std::uint64_t{options.write_buffer_bytes} + (32u << 20);
  if (auto ok = store->init_primary(); !ok) return unexpected(ok.error());
  return store;
}

Expected<std::unique_ptr<SegmentStore>, StoreError> SegmentStore::open_secondary(const std::string& dir,
                                                                                 const std::string& secondary_dir,
                                                                                 const StoreOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(dir) / "CURRENT", ec)) {
    return unexpected(error(StoreError::Code::NotFound, "open " + dir + ": no DVR store there"));
  }
  rocksdb::Options o = db_options(options, "");  // the scratch directory is not worth a log
  o.create_if_missing = false;
  // Secondaries must keep every table file open: the primary's compactions
  // delete files, and a file opened before its deletion stays readable.
  o.max_open_files = -1;

  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s = rocksdb::DB::OpenAsSecondary(o, dir, secondary_dir, &raw);
  if (!s.ok()) return unexpected(store_error(s, "open " + dir + " as secondary"));

  std::unique_ptr<SegmentStore> store(new SegmentStore());
  store->db_.reset(raw);
  store->secondary_ = true;
  if (auto ok = store->check_format(); !ok) return unexpected(ok.error());
  return store;
}

Expected<void, StoreError> SegmentStore::check_format() const {
  std::string format;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), slice(kFormatKey), &format);
  if (s.IsNotFound()) return unexpected(error(StoreError::Code::NotFound, "no DVR store format marker"));
  if (!s.ok()) return unexpected(store_error(s, "read format"));
  if (format != kFormat) {
    return unexpected(error(StoreError::Code::NotSupported, "store format \"" + format + "\", expected \"" +
                                                                std::string(kFormat) + "\""));
  }
  return {};
}

Expected<void, StoreError> SegmentStore::init_primary() {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), slice(kFormatKey), &value);
  if (s.IsNotFound()) {
    s = db_->Put(rocksdb::WriteOptions(), slice(kFormatKey), slice(kFormat));
    if (!s.ok()) return unexpected(store_error(s, "write format"));
  } else if (!s.ok()) {
    return unexpected(store_error(s, "read format"));
  } else if (auto ok = check_format(); !ok) {
    return ok;
  }

  s = db_->Get(rocksdb::ReadOptions(), slice(kNextRecordingKey), &value);
  if (s.ok() && value.size() == 8) {
    next_recording_id_ = get_u64(value.data());
  } else if (!s.IsNotFound()) {
    return unexpected(s.ok() ? error(StoreError::Code::Corruption, "bad next_recording_id")
                             : store_error(s, "read next_recording_id"));
  }

  // Nobody records across a restart: a stream still marked live was being
  // recorded when the process died.
  rocksdb::WriteBatch batch;
  const rocksdb::Slice end = slice(kStreamsEnd);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &end;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(slice(kStreamsBegin)); it->Valid(); it->Next()) {
    auto info = parse<StreamInfo>(it->value(), "stream");
    if (!info) return unexpected(info.error());
    if (!info->live()) continue;
    info->set_live(false);
    batch.Put(it->key(), info->SerializeAsString());
  }
  if (!it->status().ok()) return unexpected(store_error(it->status(), "scan streams"));
  if (batch.Count() > 0) {
    s = db_->Write(rocksdb::WriteOptions(), &batch);
    if (!s.ok()) return unexpected(store_error(s, "mark streams offline"));
  }
  return {};
}

Expected<void, StoreError> SegmentStore::catch_up() {
  if (!secondary_) return {};
  const rocksdb::Status s = db_->TryCatchUpWithPrimary();
  if (!s.ok()) return unexpected(store_error(s, "catch up with primary"));
  return {};
}

Expected<void, StoreError> SegmentStore::write(rocksdb::WriteBatch& batch, std::string_view context) {
  if (last_write_error_) {
    // After a failed write (a full disk) RocksDB stops writing until it
    // recovers, and 7.8 must not be written to before that: it may reuse
    // the failed WAL writer and abort on an assertion (see rocksdb_log.hpp).
    // Resume() is Busy while RocksDB recovers by itself (it polls for free
    // space after a full disk).
    rocksdb::Status s = db_->Resume();
    // Resume() can succeed and still leave the WAL writer that failed in
    // place, and 7.8 (built with assertions in Debian) aborts on the next
    // append to it. A flush switches to a new memtable and a new WAL.
    if (s.ok()) {
      rocksdb::FlushOptions flush;
      flush.wait = true;
      s = db_->Flush(flush);
    }
    if (!s.ok()) {
      StoreError e = *last_write_error_;
      e.message = std::string(context) + ": not writing until the store recovers from: " + e.message;
      return unexpected(std::move(e));
    }
    last_write_error_.reset();
  }
  // Refuse before RocksDB would fail: see StoreOptions::min_free_bytes.
  struct statvfs fs{};
  if (::statvfs(dir_.c_str(), &fs) == 0) {
    const std::uint64_t free_bytes = std::uint64_t{fs.f_bavail} * fs.f_frsize;
    if (free_bytes < min_free_bytes_ + batch.GetDataSize()) {
      return unexpected(error(StoreError::Code::NoSpace,
                              std::string(context) + ": " + std::to_string(free_bytes >> 20) + " MB free in " + dir_ +
                                  ", keeping " + std::to_string(min_free_bytes_ >> 20) + " MB free"));
    }
  }
  // sync=false with the WAL on: the batch is in the WAL (the OS page cache)
  // before Write returns, so a killed process loses nothing; an fsync per
  // segment would buy safety against power loss at the cost of disk
  // latency on every segment.
  const rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) {
    last_write_error_ = store_error(s, context);
    return unexpected(*last_write_error_);
  }
  return {};
}

Expected<void, StoreError> SegmentStore::writable(std::string_view context) const {
  if (secondary_) return unexpected(error(StoreError::Code::ReadOnly, std::string(context) + ": store opened read-only"));
  return {};
}

Expected<std::optional<StreamInfo>, StoreError> SegmentStore::get_stream(const std::string& key,
                                                                         const rocksdb::Snapshot* snapshot) const {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  rocksdb::PinnableSlice value;
  const rocksdb::Status s = db_->Get(ro, db_->DefaultColumnFamily(), key, &value);
  if (s.IsNotFound()) return std::optional<StreamInfo>();
  if (!s.ok()) return unexpected(store_error(s, "read stream"));
  auto info = parse<StreamInfo>(value, "stream");
  if (!info) return unexpected(info.error());
  return std::optional<StreamInfo>(std::move(*info));
}

Expected<StreamInfo, StoreError> SegmentStore::begin_recording(std::string_view app, std::string_view name,
                                                               RecordMode mode, std::int64_t wall_ms) {
  const std::string context = describe_stream("begin_recording", app, name);
  if (auto ok = writable(context); !ok) return unexpected(ok.error());
  std::lock_guard lock(write_mutex_);

  const std::string key = stream_key(app, name);
  auto existing = get_stream(key, nullptr);
  if (!existing) return unexpected(existing.error());

  rocksdb::WriteBatch batch;
  StreamInfo info;
  const bool new_recording = mode == RecordMode::NewRecording || !*existing;
  if (!new_recording) {
    info = std::move(**existing);
  } else {
    if (*existing) {
      const std::uint64_t old = (*existing)->recording_id();
      batch.DeleteRange(index_key(old, 0), index_key(old + 1, 0));
      batch.DeleteRange(segment_key(old, 0), segment_key(old + 1, 0));
    }
    info.set_app(std::string(app));
    info.set_name(std::string(name));
    info.set_recording_id(next_recording_id_);
    info.set_record_start_wall_ms(wall_ms);
    info.set_next_position(1);  // as SegmenterStart: 0 is Frame::position's "not recorded"
    std::string next;
    put_u64(next, next_recording_id_ + 1);
    batch.Put(slice(kNextRecordingKey), next);
  }
  info.set_live(true);
  info.set_last_update_wall_ms(wall_ms);
  batch.Put(key, info.SerializeAsString());

  if (auto ok = write(batch, context); !ok) return unexpected(ok.error());
  if (new_recording) ++next_recording_id_;
  return info;
}

Expected<StreamInfo, StoreError> SegmentStore::append_segment(std::string_view app, std::string_view name,
                                                              const Segment& segment, const Retention& retention) {
  const std::string context = describe_stream("append_segment", app, name);
  if (auto ok = writable(context); !ok) return unexpected(ok.error());

  // Checked before taking the lock: a malformed segment costs nobody else.
  const std::optional<TagSummary> tags = summarize(segment);
  if (!tags || tags->count == 0 || tags->count != segment.frame_count()) {
    return unexpected(error(StoreError::Code::InvalidArgument, context + ": segment " +
                                                                   std::to_string(segment.sequence()) +
                                                                   " does not hold frame_count whole FLV tags"));
  }

  std::lock_guard lock(write_mutex_);
  const std::string key = stream_key(app, name);
  auto existing = get_stream(key, nullptr);
  if (!existing) return unexpected(existing.error());
  if (!*existing) return unexpected(error(StoreError::Code::NotFound, context + ": not recording"));
  StreamInfo info = std::move(**existing);
  if (segment.recording_id() != info.recording_id() || segment.sequence() != info.next_sequence() ||
      segment.first_position() != info.next_position()) {
    return unexpected(error(StoreError::Code::InvalidArgument,
                            context + ": expected recording " + std::to_string(info.recording_id()) + " sequence " +
                                std::to_string(info.next_sequence()) + " position " +
                                std::to_string(info.next_position()) + ", got " +
                                std::to_string(segment.recording_id()) + "/" + std::to_string(segment.sequence()) +
                                "/" + std::to_string(segment.first_position())));
  }

  const std::uint64_t recording = info.recording_id();
  const std::uint64_t sequence = segment.sequence();
  const std::string segment_bytes = segment.SerializeAsString();

  SegmentInfo entry;
  entry.set_sequence(sequence);
  entry.set_start_ms(segment.start_ms());
  entry.set_duration_ms(segment.duration_ms());
  entry.set_size_bytes(segment_bytes.size());
  entry.set_frame_count(tags->count);
  entry.set_first_position(segment.first_position());
  entry.set_wall_start_ms(segment.wall_start_ms());
  entry.mutable_keyframe_ms()->Assign(tags->keyframes.begin(), tags->keyframes.end());

  if (info.next_sequence() == 0) info.set_recording_start_ms(segment.start_ms());
  if (info.first_sequence() == info.next_sequence()) {
    info.set_first_sequence(sequence);
    info.set_start_ms(segment.start_ms());
  }
  info.set_next_sequence(sequence + 1);
  info.set_next_position(segment.first_position() + tags->count);
  info.set_end_ms(segment.start_ms() + segment.duration_ms());
  info.set_total_bytes(info.total_bytes() + segment_bytes.size());
  info.set_last_timestamp_ms(tags->last_timestamp);
  info.set_last_update_wall_ms(segment.wall_start_ms() + segment.duration_ms());
  info.set_metadata(std::string(tags->metadata));
  info.set_video_header(std::string(tags->video_header));
  info.set_audio_header(std::string(tags->audio_header));

  rocksdb::WriteBatch batch;
  batch.Put(segment_key(recording, sequence), segment_bytes);
  const std::string entry_key = index_key(recording, sequence);
  batch.Put(entry_key, entry.SerializeAsString());

  // Retention: the new segment is not in the DB yet, and stays.
  if (auto trimmed = trim_locked(info, retention, segment.start_ms(), entry_key, batch, context); !trimmed) {
    return unexpected(trimmed.error());
  }
  batch.Put(key, info.SerializeAsString());

  if (auto ok = write(batch, context); !ok) return unexpected(ok.error());
  return info;
}

Expected<std::uint64_t, StoreError> SegmentStore::trim_locked(StreamInfo& info, const Retention& retention,
                                                          std::uint32_t newest_start, const std::string& upper_key,
                                                          rocksdb::WriteBatch& batch, std::string_view context) {
  // Walk the oldest entries while dropping one still leaves the window
  // covering max_duration_ms, or the bytes are over max_bytes. Entries at
  // or past upper_key (the newest segment) are never dropped.
  const std::uint64_t recording = info.recording_id();
  const std::uint64_t newest = info.next_sequence() - 1;
  if ((retention.max_duration_ms == 0 && retention.max_bytes == 0) || info.first_sequence() >= newest) return 0;
  const std::string lower = index_key(recording, info.first_sequence());
  const rocksdb::Slice upper_slice(upper_key);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  it->Seek(lower);
  std::optional<SegmentInfo> oldest;
  if (it->Valid()) {
    auto parsed = parse<SegmentInfo>(it->value(), context);
    if (!parsed) return unexpected(parsed.error());
    oldest = std::move(*parsed);
  }
  const std::uint64_t first_before = info.first_sequence();
  std::uint64_t freed = 0;
  while (oldest && oldest->sequence() == info.first_sequence()) {
    it->Next();
    std::optional<SegmentInfo> following;
    if (it->Valid()) {
      auto parsed = parse<SegmentInfo>(it->value(), context);
      if (!parsed) return unexpected(parsed.error());
      following = std::move(*parsed);
    }
    const std::uint32_t next_start = following ? following->start_ms() : newest_start;
    const bool over_bytes = retention.max_bytes > 0 && info.total_bytes() > retention.max_bytes;
    const bool over_duration =
        retention.max_duration_ms > 0 && span(next_start, info.end_ms()) >= retention.max_duration_ms;
    if (!over_bytes && !over_duration) break;
    info.set_total_bytes(info.total_bytes() - oldest->size_bytes());
    freed += oldest->size_bytes();
    info.set_first_sequence(oldest->sequence() + 1);
    info.set_start_ms(next_start);
    oldest = std::move(following);
  }
  if (!it->status().ok()) return unexpected(store_error(it->status(), context));

  const std::uint64_t dropped = info.first_sequence() - first_before;
  if (dropped > kMaxPointDeletes) {
    batch.DeleteRange(index_key(recording, first_before), index_key(recording, info.first_sequence()));
    batch.DeleteRange(segment_key(recording, first_before), segment_key(recording, info.first_sequence()));
  } else {
    for (std::uint64_t seq = first_before; seq < info.first_sequence(); ++seq) {
      batch.Delete(index_key(recording, seq));
      batch.Delete(segment_key(recording, seq));
    }
  }
  return freed;
}

Expected<TrimResult, StoreError> SegmentStore::apply_retention(std::string_view app, std::string_view name,
                                                               const Retention& retention) {
  const std::string context = describe_stream("apply_retention", app, name);
  if (auto ok = writable(context); !ok) return unexpected(ok.error());
  std::lock_guard lock(write_mutex_);
  const std::string key = stream_key(app, name);
  auto existing = get_stream(key, nullptr);
  if (!existing) return unexpected(existing.error());
  TrimResult result;
  if (!*existing || (*existing)->next_sequence() == 0) return result;
  StreamInfo info = std::move(**existing);
  const std::uint64_t first_before = info.first_sequence();
  // The newest stored segment bounds the walk: it is never deleted.
  const std::uint64_t newest = info.next_sequence() - 1;
  std::uint32_t newest_start = info.end_ms();
  {
    rocksdb::PinnableSlice value;
    const rocksdb::Status st =
        db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), index_key(info.recording_id(), newest), &value);
    if (st.ok()) {
      auto parsed = parse<SegmentInfo>(value, context);
      if (!parsed) return unexpected(parsed.error());
      newest_start = parsed->start_ms();
    } else if (!st.IsNotFound()) {
      return unexpected(store_error(st, context));
    }
  }
  rocksdb::WriteBatch batch;
  auto freed = trim_locked(info, retention, newest_start, index_key(info.recording_id(), newest), batch, context);
  if (!freed) return unexpected(freed.error());
  result.segments = info.first_sequence() - first_before;
  result.bytes = *freed;
  if (result.segments == 0) return result;
  batch.Put(key, info.SerializeAsString());
  if (auto ok = write(batch, context); !ok) return unexpected(ok.error());
  return result;
}

Expected<TrimResult, StoreError> SegmentStore::delete_stream(std::string_view app, std::string_view name) {
  const std::string context = describe_stream("delete_stream", app, name);
  if (auto ok = writable(context); !ok) return unexpected(ok.error());
  std::lock_guard lock(write_mutex_);
  const std::string key = stream_key(app, name);
  auto existing = get_stream(key, nullptr);
  if (!existing) return unexpected(existing.error());
  TrimResult result;
  if (!*existing) return result;
  if ((*existing)->live()) {
    return unexpected(error(StoreError::Code::InvalidArgument, context + ": the stream is being recorded"));
  }
  const std::uint64_t recording = (*existing)->recording_id();
  rocksdb::WriteBatch batch;
  batch.DeleteRange(index_key(recording, 0), index_key(recording + 1, 0));
  batch.DeleteRange(segment_key(recording, 0), segment_key(recording + 1, 0));
  batch.Delete(key);
  result.segments = (*existing)->next_sequence() - (*existing)->first_sequence();
  result.bytes = (*existing)->total_bytes();
  if (auto ok = write(batch, context); !ok) return unexpected(ok.error());
  return result;
}

Expected<StreamInfo, StoreError> SegmentStore::end_recording(std::string_view app, std::string_view name,
                                                             std::int64_t wall_ms) {
  const std::string context = describe_stream("end_recording", app, name);
  if (auto ok = writable(context); !ok) return unexpected(ok.error());
  std::lock_guard lock(write_mutex_);
  const std::string key = stream_key(app, name);
  auto existing = get_stream(key, nullptr);
  if (!existing) return unexpected(existing.error());
  if (!*existing) return unexpected(error(StoreError::Code::NotFound, context + ": unknown stream"));
  StreamInfo info = std::move(**existing);
  info.set_live(false);
  info.set_last_update_wall_ms(wall_ms);
  rocksdb::WriteBatch batch;
  batch.Put(key, info.SerializeAsString());
  if (auto ok = write(batch, context); !ok) return unexpected(ok.error());
  return info;
}

Expected<std::optional<StreamInfo>, StoreError> SegmentStore::stream_info(std::string_view app,
                                                                          std::string_view name) const {
  return get_stream(stream_key(app, name), nullptr);
}

Expected<std::vector<StreamInfo>, StoreError> SegmentStore::list_streams() const {
  std::vector<StreamInfo> out;
  const rocksdb::Slice end = slice(kStreamsEnd);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &end;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(slice(kStreamsBegin)); it->Valid(); it->Next()) {
    auto info = parse<StreamInfo>(it->value(), "list_streams");
    if (!info) return unexpected(info.error());
    out.push_back(std::move(*info));
  }
  if (!it->status().ok()) return unexpected(store_error(it->status(), "list_streams"));
  return out;
}

Expected<std::vector<SegmentInfo>, StoreError> SegmentStore::segment_infos(std::string_view app,
                                                                           std::string_view name,
                                                                           std::uint64_t from_sequence,
                                                                           std::size_t limit) const {
  const ReadView view(*db_, secondary_);
  auto info = get_stream(stream_key(app, name), view.get());
  if (!info) return unexpected(info.error());
  std::vector<SegmentInfo> out;
  if (!*info || limit == 0) return out;
  const StreamInfo& stream = **info;
  const std::uint64_t from = std::max(from_sequence, stream.first_sequence());
  if (from >= stream.next_sequence()) return out;

  const std::string upper = index_key(stream.recording_id(), stream.next_sequence());
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.snapshot = view.get();
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(index_key(stream.recording_id(), from)); it->Valid() && out.size() < limit; it->Next()) {
    auto entry = parse<SegmentInfo>(it->value(), "segment_infos");
    if (!entry) return unexpected(entry.error());
    out.push_back(std::move(*entry));
  }
  if (!it->status().ok()) return unexpected(store_error(it->status(), "segment_infos"));
  return out;
}

Expected<bool, StoreError> SegmentStore::stream_complete(std::string_view app, std::string_view name) const {
  const ReadView view(*db_, secondary_);
  auto info = get_stream(stream_key(app, name), view.get());
  if (!info) return unexpected(info.error());
  if (!*info) return true;
  const StreamInfo& stream = **info;
  const std::string upper = index_key(stream.recording_id(), stream.next_sequence());
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.snapshot = view.get();
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  std::uint64_t expected = stream.first_sequence();
  for (it->Seek(index_key(stream.recording_id(), expected)); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    if (key.size() != 17 || get_u64(key.data() + 9) != expected) return false;
    ++expected;
  }
  if (!it->status().ok()) return unexpected(store_error(it->status(), "stream_complete"));
  return expected == stream.next_sequence();
}

Expected<std::optional<SegmentInfo>, StoreError> SegmentStore::find_segment(std::string_view app,
                                                                            std::string_view name,
                                                                            std::uint32_t media_ms) const {
  const ReadView view(*db_, secondary_);
  auto info = get_stream(stream_key(app, name), view.get());
  if (!info) return unexpected(info.error());
  if (!*info || (*info)->first_sequence() == (*info)->next_sequence()) return std::optional<SegmentInfo>();
  const StreamInfo& stream = **info;

  rocksdb::ReadOptions ro;
  ro.snapshot = view.get();
  auto entry_at = [&](std::uint64_t sequence) -> Expected<SegmentInfo, StoreError> {
    rocksdb::PinnableSlice value;
    const rocksdb::Status s =
        db_->Get(ro, db_->DefaultColumnFamily(), index_key(stream.recording_id(), sequence), &value);
    if (!s.ok()) return unexpected(store_error(s, "find_segment: index entry " + std::to_string(sequence)));
    return parse<SegmentInfo>(value, "find_segment");
  };

  // Offsets from the window's start, modulo 2^32: increasing along the
  // sequence even across a timestamp wrap.
  const std::uint32_t origin = stream.start_ms();
  const std::uint32_t target = timestamp_diff(media_ms, origin) < 0 ? 0 : media_ms - origin;
  std::uint64_t lo = stream.first_sequence();  // invariant: starts at or before target
  std::uint64_t hi = stream.next_sequence() - 1;
  std::optional<SegmentInfo> found;
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo + 1) / 2;
    auto entry = entry_at(mid);
    if (!entry) return unexpected(entry.error());
    if (entry->start_ms() - origin <= target) {
      lo = mid;
      found = std::move(*entry);
    } else {
      hi = mid - 1;
    }
  }
  if (!found || found->sequence() != lo) {
    auto entry = entry_at(lo);
    if (!entry) return unexpected(entry.error());
    found = std::move(*entry);
  }
  return found;
}

Expected<bool, StoreError> SegmentStore::get_segment(std::string_view app, std::string_view name,
                                                     std::uint64_t sequence, rocksdb::PinnableSlice& value) const {
  auto info = get_stream(stream_key(app, name), nullptr);
  if (!info) return unexpected(info.error());
  if (!*info) return false;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(),
                                     segment_key((*info)->recording_id(), sequence), &value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return unexpected(store_error(s, describe_stream("read_segment", app, name)));
  return true;
}

Expected<std::optional<SharedBuffer>, StoreError> SegmentStore::read_segment_bytes(std::string_view app,
                                                                                   std::string_view name,
                                                                                   std::uint64_t sequence) const {
  rocksdb::PinnableSlice value;
  auto found = get_segment(app, name, sequence, value);
  if (!found) return unexpected(found.error());
  if (!*found) return std::optional<SharedBuffer>();
  return std::optional<SharedBuffer>(SharedBuffer::copy_of(as_bytes(std::string_view(value.data(), value.size()))));
}

Expected<std::optional<Segment>, StoreError> SegmentStore::read_segment(std::string_view app, std::string_view name,
                                                                        std::uint64_t sequence) const {
  rocksdb::PinnableSlice value;
  auto found = get_segment(app, name, sequence, value);
  if (!found) return unexpected(found.error());
  if (!*found) return std::optional<Segment>();
  auto segment = parse<Segment>(value, describe_stream("read_segment", app, name));
  if (!segment) return unexpected(segment.error());
  return std::optional<Segment>(std::move(*segment));
}

}  // namespace rw::dvr
