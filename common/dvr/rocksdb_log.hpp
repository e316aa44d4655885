// RocksDB's info log, written by us rather than by RocksDB's own file
// writer: Debian's RocksDB 7.8 is built with assertions on, and its
// WritableFileWriter asserts (aborting the whole origin) when it is used
// again after a failed write, which is what a full disk does to the LOG
// file (facebook/rocksdb#12448 fixed the same for the WAL, after 7.8).
// Here a failed write is simply lost.
#pragma once

#include <rocksdb/env.h>

#include <cstdarg>
#include <cstddef>
#include <mutex>
#include <string>

#include "common/base/log.hpp"

namespace rw::dvr {

class RocksLog final : public rocksdb::Logger {
 public:
  // Lines go to `path` (none when empty), rotated to path + ".old" at
  // max_file_bytes; warnings and errors also to `forward` (if given),
  // prefixed "rocksdb: ".
  RocksLog(std::string path, const rw::Logger* forward, std::size_t max_file_bytes = 16u << 20);
  ~RocksLog() override;

  void Logv(const char* format, va_list ap) override;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override;

 private:
  void open_file();
  void write_line(rocksdb::InfoLogLevel level, const std::string& text);

  std::string path_;
  const rw::Logger* forward_;
  std::size_t max_file_bytes_;
  std::mutex mutex_;  // guards the file and its size
  int fd_ = -1;
  std::size_t file_bytes_ = 0;
};

}  // namespace rw::dvr
