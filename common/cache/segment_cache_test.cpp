#include "common/cache/segment_cache.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fstream>

#include "common/cache/single_flight.hpp"

namespace rw::cache {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/rewind-cache-test-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

SegmentKey key(std::uint64_t sequence, std::string name = "cam") { return SegmentKey{"live", name, 7, sequence}; }

SharedBuffer segment(std::size_t size, std::uint8_t fill) { return SharedBuffer(Bytes(size, fill)); }

const Logger& quiet() {
  static const Logger log(LogLevel::Off);
  return log;
}

TEST(SegmentCache, MemoryIsLeastRecentlyUsedByBytes) {
  SegmentCache cache({3000, 0, {}}, quiet());
  cache.insert(key(1), segment(1000, 1));
  cache.insert(key(2), segment(1000, 2));
  cache.insert(key(3), segment(1000, 3));
  ASSERT_TRUE(cache.lookup_memory(key(1)));  // 1 is now the most recent
  cache.insert(key(4), segment(1000, 4));    // evicts 2, the least recent
  EXPECT_TRUE(cache.lookup_memory(key(1)));
  EXPECT_FALSE(cache.lookup_memory(key(2)));
  EXPECT_TRUE(cache.lookup_memory(key(3)));
  EXPECT_TRUE(cache.lookup_memory(key(4)));
  const CacheStats s = cache.stats();
  EXPECT_EQ(s.memory_bytes, 3000u);
  EXPECT_EQ(s.memory_entries, 3u);
  EXPECT_EQ(s.memory_evictions, 1u);
  EXPECT_EQ(s.memory_misses, 1u);
}

TEST(SegmentCache, AReaderKeepsASegmentTheCacheEvicts) {
  SegmentCache cache({1000, 0, {}}, quiet());
  cache.insert(key(1), segment(1000, 9));
  const SharedBuffer held = *cache.lookup_memory(key(1));
  cache.insert(key(2), segment(1000, 8));  // evicts 1
  EXPECT_FALSE(cache.lookup_memory(key(1)));
  ASSERT_EQ(held.size(), 1000u);
  EXPECT_EQ(held.data()[999], 9);
}

TEST(SegmentCache, EvictedSegmentsSpillToDiskAndSurviveARestart) {
  TempDir dir;
  {
    SegmentCache cache({2000, 1u << 20, dir.path()}, quiet());
    for (std::uint64_t i = 1; i <= 5; ++i) cache.insert(key(i), segment(1000, static_cast<std::uint8_t>(i)));
    // 1..3 were evicted from memory to disk.
    EXPECT_TRUE(cache.on_disk(key(1)));
    EXPECT_FALSE(cache.on_disk(key(5)));
    EXPECT_EQ(cache.stats().disk_entries, 3u);
  }
  SegmentCache again({2000, 1u << 20, dir.path()}, quiet());
  EXPECT_EQ(again.stats().disk_entries, 3u);
  EXPECT_FALSE(again.lookup_memory(key(2)));
  auto from_disk = again.lookup_disk(key(2));
  ASSERT_TRUE(from_disk);
  EXPECT_EQ(from_disk->size(), 1000u);
  EXPECT_EQ(from_disk->data()[0], 2);
  EXPECT_TRUE(again.lookup_memory(key(2))) << "promoted to memory";
  EXPECT_EQ(again.stats().disk_hits, 1u);
}

TEST(SegmentCache, WhatMemoryHoldsGoesToDiskAtAStop) {
  TempDir dir;
  {
    SegmentCache cache({2000, 1u << 20, dir.path()}, quiet());
    for (std::uint64_t i = 1; i <= 3; ++i) cache.insert(key(i), segment(1000, static_cast<std::uint8_t>(i)));
    EXPECT_EQ(cache.stats().disk_entries, 1u);  // 1 was evicted
    EXPECT_EQ(cache.spill_memory(), 2u);       // 2 and 3
    EXPECT_EQ(cache.spill_memory(), 0u) << "already there";
  }
  SegmentCache again({2000, 1u << 20, dir.path()}, quiet());
  EXPECT_EQ(again.stats().disk_entries, 3u);
  auto three = again.lookup_disk(key(3));
  ASSERT_TRUE(three);
  EXPECT_EQ(three->data()[0], 3);
}

TEST(SegmentCache, DiskHasItsOwnCap) {
  TempDir dir;
  SegmentCache cache({1000, 2500, dir.path()}, quiet());
  for (std::uint64_t i = 1; i <= 6; ++i) cache.insert(key(i), segment(1000, 1));
  // Memory holds 6; 1..5 went to disk, which keeps the two most recent.
  const CacheStats s = cache.stats();
  EXPECT_LE(s.disk_bytes, 2500u);
  EXPECT_EQ(s.disk_entries, 2u);
  EXPECT_FALSE(cache.on_disk(key(1)));
  EXPECT_TRUE(cache.on_disk(key(5)));
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) files += e.path().extension() == ".seg";
  EXPECT_EQ(files, 2u);
}

TEST(SegmentCache, ASpillFileFailingItsChecksumIsDroppedNeverServed) {
  TempDir dir;
  {
    SegmentCache cache({1000, 1u << 20, dir.path()}, quiet());
    cache.insert(key(1), segment(1000, 1));
    cache.insert(key(2), segment(1000, 2));  // 1 goes to disk
    ASSERT_TRUE(cache.on_disk(key(1)));
  }
  // Flip a byte of the data (the last byte of the file).
  for (const auto& e : fs::directory_iterator(dir.path())) {
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('\x7f');
  }
  SegmentCache again({1000, 1u << 20, dir.path()}, quiet());
  ASSERT_TRUE(again.on_disk(key(1)));
  EXPECT_FALSE(again.lookup_disk(key(1)));
  EXPECT_FALSE(again.on_disk(key(1))) << "the bad file was removed";
  EXPECT_EQ(again.stats().disk_rejected, 1u);
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(SegmentCache, TruncatedSpillFilesAreRemovedAtStart) {
  TempDir dir;
  {
    SegmentCache cache({1000, 1u << 20, dir.path()}, quiet());
    cache.insert(key(1), segment(1000, 1));
    cache.insert(key(2), segment(1000, 2));
  }
  for (const auto& e : fs::directory_iterator(dir.path())) fs::resize_file(e.path(), 100);
  SegmentCache again({1000, 1u << 20, dir.path()}, quiet());
  EXPECT_EQ(again.stats().disk_entries, 0u);
  EXPECT_EQ(again.stats().disk_rejected, 1u);
}

TEST(SingleFlight, ManyWaitersShareOneFetch) {
  boost::asio::io_context io;
  SingleFlight<std::uint64_t, int> flights;
  int fetches = 0;
  std::vector<int> results;
  auto fetch = [&]() -> boost::asio::awaitable<int> {
    ++fetches;
    boost::asio::steady_timer t(io, 20ms);
    co_await t.async_wait(boost::asio::use_awaitable);
    co_return 42;
  };
  for (int i = 0; i < 30; ++i) {
    boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
      results.push_back(co_await flights.run(7, fetch));
    }, boost::asio::detached);
  }
  io.run();
  EXPECT_EQ(fetches, 1);
  EXPECT_EQ(flights.coalesced(), 29u);
  ASSERT_EQ(results.size(), 30u);
  for (int r : results) EXPECT_EQ(r, 42);
  // Once done, the next miss fetches again.
  io.restart();
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> { co_await flights.run(7, fetch); },
                        boost::asio::detached);
  io.run();
  EXPECT_EQ(fetches, 2);
}

}  // namespace
}  // namespace rw::cache
