#include "common/cache/segment_cache.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <vector>

namespace rw::cache {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'R', 'W', 'S', 'E', 'G', 'v', '2', '\n'};
constexpr std::uint64_t kMaxNameBytes = 4096;

std::uint32_t crc32_of(ByteView bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  constexpr std::size_t kPiece = 1u << 30;
  for (std::size_t at = 0; at < bytes.size(); at += kPiece) {
    crc = crc32(crc, bytes.data() + at, static_cast<uInt>(std::min(kPiece, bytes.size() - at)));
  }
  return static_cast<std::uint32_t>(crc);
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

// Reads big-endian numbers and strings off a stream; false on a short read.
struct HeaderReader {
  std::istream& in;
  bool u32(std::uint32_t& v) {
    unsigned char b[4];
    if (!in.read(reinterpret_cast<char*>(b), 4)) return false;
    v = static_cast<std::uint32_t>(b[0]) << 24 | static_cast<std::uint32_t>(b[1]) << 16 |
        static_cast<std::uint32_t>(b[2]) << 8 | b[3];
    return true;
  }
  bool u64(std::uint64_t& v) {
    std::uint32_t hi = 0, lo = 0;
    if (!u32(hi) || !u32(lo)) return false;
    v = static_cast<std::uint64_t>(hi) << 32 | lo;
    return true;
  }
  bool text(std::string& s) {
    std::uint32_t n = 0;
    if (!u32(n) || n > kMaxNameBytes) return false;
    s.resize(n);
    return n == 0 || static_cast<bool>(in.read(s.data(), n));
  }
};

struct FileHeader {
  SegmentKey key;
  std::uint64_t size = 0;
  std::uint32_t crc = 0;
};

std::string encode_header(const SegmentKey& key, std::uint64_t size, std::uint32_t crc) {
  std::string h(kMagic, sizeof kMagic);
  put_u32(h, static_cast<std::uint32_t>(key.app.size()));
  h += key.app;
  put_u32(h, static_cast<std::uint32_t>(key.name.size()));
  h += key.name;
  put_u64(h, key.recording_id);
  put_u64(h, key.sequence);
  put_u64(h, key.first_position);
  put_u32(h, key.start_ms);
  put_u64(h, size);
  put_u32(h, crc);
  return h;
}

std::optional<FileHeader> read_header(std::istream& in) {
  char magic[sizeof kMagic];
  if (!in.read(magic, sizeof magic) || !std::equal(magic, magic + sizeof magic, kMagic)) return std::nullopt;
  HeaderReader r{in};
  FileHeader h;
  if (!r.text(h.key.app) || !r.text(h.key.name) || !r.u64(h.key.recording_id) || !r.u64(h.key.sequence) ||
      !r.u64(h.key.first_position) || !r.u32(h.key.start_ms) || !r.u64(h.size) || !r.u32(h.crc)) {
    return std::nullopt;
  }
  return h;
}

}  // namespace

std::string SegmentKey::describe() const {
  return app + "/" + name + " recording " + std::to_string(recording_id) + " segment " + std::to_string(sequence);
}

std::size_t SegmentKeyHash::operator()(const SegmentKey& k) const {
  std::size_t h = std::hash<std::string>{}(k.app);
  auto mix = [&h](std::size_t v) { h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); };
  mix(std::hash<std::string>{}(k.name));
  mix(std::hash<std::uint64_t>{}(k.recording_id));
  mix(std::hash<std::uint64_t>{}(k.sequence));
  mix(std::hash<std::uint64_t>{}(k.first_position));
  mix(std::hash<std::uint32_t>{}(k.start_ms));
  return h;
}

SegmentCache::SegmentCache(CacheOptions options, const Logger& log) : options_(std::move(options)), log_(log) {
  if (options_.disk_bytes > 0) scan_disk();
}

fs::path SegmentCache::file_for(const SegmentKey& key) const {
  char name[32];
  std::snprintf(name, sizeof name, "%016zx.seg", SegmentKeyHash{}(key));
  return options_.dir / name;
}

void SegmentCache::scan_disk() {
  std::error_code ec;
  fs::create_directories(options_.dir, ec);
  if (ec) {
    log_.warn() << "cache: cannot create " << options_.dir.string() << ": " << ec.message() << "; no disk tier";
    return;
  }
  struct Found {
    FileHeader header;
    fs::path file;
    fs::file_time_type mtime;
  };
  std::vector<Found> found;
  for (const auto& entry : fs::directory_iterator(options_.dir, ec)) {
    const fs::path& p = entry.path();
    if (p.extension() != ".seg") {
      // An interrupted write leaves a .tmp: nothing reads it.
      if (p.extension() == ".tmp") fs::remove(p, ec);
      continue;
    }
    std::ifstream in(p, std::ios::binary);
    auto header = read_header(in);
    const std::uint64_t header_size = header ? static_cast<std::uint64_t>(in.tellg()) : 0;
    if (!header || entry.file_size(ec) != header_size + header->size) {
      ++stats_.disk_rejected;
      fs::remove(p, ec);
      continue;
    }
    found.push_back({*header, p, entry.last_write_time(ec)});
  }
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.mtime < b.mtime; });
  for (auto& f : found) {
    disk_[f.header.key] = DiskEntry{f.file, f.header.size, ++use_counter_};
    disk_bytes_ += f.header.size;
  }
  trim_disk_locked();
  if (!disk_.empty()) {
    log_.info() << "cache: " << disk_.size() << " segments (" << disk_bytes_ << " bytes) on disk in "
                << options_.dir.string();
  }
}

std::optional<SharedBuffer> SegmentCache::lookup_memory(const SegmentKey& key) {
  std::lock_guard lock(mutex_);
  auto it = memory_.find(key);
  if (it == memory_.end()) {
    ++stats_.memory_misses;
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  ++stats_.memory_hits;
  return it->second->bytes;
}

bool SegmentCache::on_disk(const SegmentKey& key) const {
  std::lock_guard lock(mutex_);
  return disk_.count(key) != 0;
}

std::optional<SharedBuffer> SegmentCache::lookup_disk(const SegmentKey& key) {
  fs::path file;
  std::uint64_t size = 0;
  {
    std::lock_guard lock(mutex_);
    auto it = disk_.find(key);
    if (it == disk_.end()) {
      ++stats_.disk_misses;
      return std::nullopt;
    }
    file = it->second.file;
    size = it->second.size;
    it->second.last_used = ++use_counter_;
  }
  // Read and check outside the lock: it blocks.
  std::ifstream in(file, std::ios::binary);
  auto header = read_header(in);
  Bytes data;
  bool good = header && header->key == key && header->size == size;
  if (good) {
    data.resize(static_cast<std::size_t>(size));
    good = size == 0 || static_cast<bool>(in.read(reinterpret_cast<char*>(data.data()),
                                                  static_cast<std::streamsize>(size)));
    good = good && crc32_of(data) == header->crc;
  }
  std::unique_lock lock(mutex_);
  if (!good) {
    // Never served: dropped, and the caller fetches it again.
    log_.warn() << "cache: " << file.string() << " (" << key.describe() << ") failed its check; removed";
    std::error_code ec;
    fs::remove(file, ec);
    if (auto it = disk_.find(key); it != disk_.end()) {
      disk_bytes_ -= it->second.size;
      disk_.erase(it);
    }
    ++stats_.disk_rejected;
    ++stats_.disk_misses;
    return std::nullopt;
  }
  ++stats_.disk_hits;
  SharedBuffer bytes(std::move(data));
  std::vector<MemoryEntry> evicted;
  insert_memory_locked(key, bytes, evicted);
  // A promoted segment stays on disk too; what memory evicts now is
  // written out once the lock is released.
  lock.unlock();
  for (auto& e : evicted) spill(e.key, e.bytes);
  return bytes;
}

void SegmentCache::insert(const SegmentKey& key, SharedBuffer bytes) {
  std::vector<MemoryEntry> evicted;
  {
    std::lock_guard lock(mutex_);
    insert_memory_locked(key, std::move(bytes), evicted);
  }
  for (auto& e : evicted) spill(e.key, e.bytes);
}

void SegmentCache::insert_memory_locked(const SegmentKey& key, SharedBuffer bytes,
                                        std::vector<MemoryEntry>& evicted) {
  if (auto it = memory_.find(key); it != memory_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  if (bytes.size() > options_.memory_bytes) {
    // Larger than the whole memory tier: straight to disk.
    evicted.push_back({key, std::move(bytes)});
    return;
  }
  memory_bytes_ += bytes.size();
  lru_.push_front(MemoryEntry{key, std::move(bytes)});
  memory_[key] = lru_.begin();
  while (memory_bytes_ > options_.memory_bytes && !lru_.empty()) {
    MemoryEntry& last = lru_.back();
    memory_bytes_ -= last.bytes.size();
    memory_.erase(last.key);
    // A reader holding the segment keeps it: SharedBuffer counts references.
    evicted.push_back(std::move(last));
    lru_.pop_back();
    ++stats_.memory_evictions;
  }
}

std::size_t SegmentCache::spill_memory() {
  if (options_.disk_bytes == 0) return 0;
  std::vector<MemoryEntry> copies;
  {
    std::lock_guard lock(mutex_);
    for (const auto& e : lru_) {
      if (!disk_.count(e.key)) copies.push_back(e);
    }
  }
  // Least recently used first: if the disk cap is reached, the most
  // recently used survive.
  for (auto it = copies.rbegin(); it != copies.rend(); ++it) spill(it->key, it->bytes);
  return copies.size();
}

void SegmentCache::spill(const SegmentKey& key, const SharedBuffer& bytes) {
  if (options_.disk_bytes == 0 || bytes.size() > options_.disk_bytes) return;
  {
    std::lock_guard lock(mutex_);
    if (disk_.count(key)) return;  // there already (promoted earlier)
  }
  const fs::path file = file_for(key);
  fs::path tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    const std::string header = encode_header(key, bytes.size(), crc32_of(bytes.view()));
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      log_.warn() << "cache: cannot write " << tmp.string() << "; " << key.describe() << " not spilled";
      std::error_code ec;
      fs::remove(tmp, ec);
      return;
    }
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return;
  }
  std::lock_guard lock(mutex_);
  disk_[key] = DiskEntry{file, bytes.size(), ++use_counter_};
  disk_bytes_ += bytes.size();
  trim_disk_locked();
}

void SegmentCache::trim_disk_locked() {
  while (disk_bytes_ > options_.disk_bytes && !disk_.empty()) {
    auto oldest = std::min_element(disk_.begin(), disk_.end(), [](const auto& a, const auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    std::error_code ec;
    fs::remove(oldest->second.file, ec);
    disk_bytes_ -= oldest->second.size;
    disk_.erase(oldest);
    ++stats_.disk_evictions;
  }
}

CacheStats SegmentCache::stats() const {
  std::lock_guard lock(mutex_);
  CacheStats s = stats_;
  s.memory_bytes = memory_bytes_;
  s.memory_entries = memory_.size();
  s.disk_bytes = disk_bytes_;
  s.disk_entries = disk_.size();
  return s;
}

}  // namespace rw::cache
