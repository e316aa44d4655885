#include "common/dvr/rocksdb_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace rw::dvr {
namespace {

const char* level_name(rocksdb::InfoLogLevel level) {
  switch (level) {
    case rocksdb::DEBUG_LEVEL: return "DEBUG";
    case rocksdb::INFO_LEVEL: return "INFO";
    case rocksdb::WARN_LEVEL: return "WARN";
    case rocksdb::ERROR_LEVEL: return "ERROR";
    case rocksdb::FATAL_LEVEL: return "FATAL";
    case rocksdb::HEADER_LEVEL: return "HEADER";
    default: return "?";
  }
}

std::string format_message(const char* format, va_list ap) {
  char stack[512];
  va_list copy;
  va_copy(copy, ap);
  const int n = std::vsnprintf(stack, sizeof stack, format, copy);
  va_end(copy);
  if (n < 0) return "(unformattable RocksDB message)";
  if (static_cast<std::size_t>(n) < sizeof stack) return std::string(stack, static_cast<std::size_t>(n));
  std::string text(static_cast<std::size_t>(n) + 1, '\0');
  std::vsnprintf(text.data(), text.size(), format, ap);
  text.resize(static_cast<std::size_t>(n));
  return text;
}

}  // namespace

RocksLog::RocksLog(std::string path, const rw::Logger* forward, std::size_t max_file_bytes)
    : rocksdb::Logger(rocksdb::INFO_LEVEL), path_(std::move(path)), forward_(forward), max_file_bytes_(max_file_bytes) {
  open_file();
}

RocksLog::~RocksLog() {
  if (fd_ >= 0) ::close(fd_);
}

void RocksLog::open_file() {
  if (path_.empty()) return;
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  struct stat st {};
  file_bytes_ = fd_ >= 0 && ::fstat(fd_, &st) == 0 ? static_cast<std::size_t>(st.st_size) : 0;
}

void RocksLog::Logv(const char* format, va_list ap) { Logv(rocksdb::INFO_LEVEL, format, ap); }

void RocksLog::Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) {
  if (level < GetInfoLogLevel()) return;
  const std::string text = format_message(format, ap);
  if (forward_ && level >= rocksdb::WARN_LEVEL && level != rocksdb::HEADER_LEVEL) {
    forward_->write(level == rocksdb::WARN_LEVEL ? LogLevel::Warn : LogLevel::Error, "rocksdb: " + text);
  }
  write_line(level, text);
}

void RocksLog::write_line(rocksdb::InfoLogLevel level, const std::string& text) {
  if (path_.empty()) return;
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  tm utc{};
  ::gmtime_r(&now.tv_sec, &utc);
  char stamp[64];
  const int n = std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s ", utc.tm_year + 1900,
                              utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, now.tv_nsec / 1000,
                              level_name(level));
  std::string line(stamp, n > 0 ? static_cast<std::size_t>(n) : 0);
  line += text;
  line += '\n';

  std::lock_guard lock(mutex_);
  if (file_bytes_ > max_file_bytes_) {
    if (fd_ >= 0) ::close(fd_);
    ::rename(path_.c_str(), (path_ + ".old").c_str());
    open_file();
  }
  if (fd_ < 0) return;
  // One write(2) per line; a failure (a full disk) loses the line, nothing more.
  const ssize_t written = ::write(fd_, line.data(), line.size());
  if (written > 0) file_bytes_ += static_cast<std::size_t>(written);
}

}  // namespace rw::dvr
