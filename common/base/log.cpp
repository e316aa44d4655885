#include "common/base/log.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <utility>

namespace rw {

const char* to_string(LogLevel level) {
  switch (level) {
    case LogLevel::Debug: return "DEBUG";
    case LogLevel::Info: return "INFO";
    case LogLevel::Warn: return "WARN";
    case LogLevel::Error: return "ERROR";
    case LogLevel::Off: return "OFF";
  }
  return "?";
}

bool parse_log_level(std::string_view name, LogLevel& out) {
  if (name == "debug") out = LogLevel::Debug;
  else if (name == "info") out = LogLevel::Info;
  else if (name == "warn") out = LogLevel::Warn;
  else if (name == "error") out = LogLevel::Error;
  else if (name == "off") out = LogLevel::Off;
  else return false;
  return true;
}

LogLine::~LogLine() {
  if (logger_) logger_->write(level_, text_.str());
}

Logger::Logger(LogLevel min_level, Sink sink) : min_level_(min_level), sink_(std::move(sink)) {}

namespace {

// Writes all of `text` to fd, retrying short writes.
void write_all(int fd, std::string_view text) {
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace

void Logger::write(LogLevel level, std::string_view text) const {
  if (!enabled(level)) return;
  if (sink_) {
    sink_(level, text);
    return;
  }
  // One write per line keeps lines whole when several threads log.
  write_all(STDERR_FILENO, format_line(level, text));
}

std::string Logger::format_line(LogLevel level, std::string_view text) {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[96];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  std::string line;
  line.reserve(text.size() + 48);
  line += stamp;
  line += to_string(level);
  line += ' ';
  line += text;
  line += '\n';
  return line;
}

namespace {

std::string escape(std::string_view text, std::size_t max_bytes, bool spaces) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 8);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i >= max_bytes) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || (spaces && c == 0x20) || c == 0x7f || c == '\\') {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

std::string log_escape(std::string_view text, std::size_t max_bytes) { return escape(text, max_bytes, false); }
std::string log_field(std::string_view text, std::size_t max_bytes) { return escape(text, max_bytes, true); }

bool LogRateLimit::allow(std::chrono::steady_clock::time_point now, std::uint64_t& suppressed) {
  if (now - window_start_ >= window_) {
    window_start_ = now;
    in_window_ = 0;
  }
  if (in_window_ >= burst_) {
    ++suppressed_;
    return false;
  }
  ++in_window_;
  suppressed = std::exchange(suppressed_, 0);
  return true;
}

LogWriter::LogWriter(int fd, std::size_t max_queued_bytes)
    : fd_(fd), max_queued_bytes_(max_queued_bytes), thread_([this] { run(); }) {}

LogWriter::~LogWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    stop_deadline_ = std::chrono::steady_clock::now() + kStopGrace;
  }
  wake_.notify_one();
  thread_.join();
}

bool LogWriter::write_out(std::string_view text) {
  // Waits for the descriptor rather than blocking in write(): while
  // stopping, a reader that has stalled for good must not hold the
  // process's exit forever. stderr stays a blocking descriptor (other
  // processes share it), so each write is at most PIPE_BUF bytes: once poll
  // says a pipe is writable, that much goes in without blocking.
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    pollfd ready{fd_, POLLOUT, 0};
    if (::poll(&ready, 1, 100) <= 0) {
      std::lock_guard lock(mutex_);
      if (stopping_ && std::chrono::steady_clock::now() > stop_deadline_) return false;
      continue;
    }
    const ssize_t n = ::write(fd_, p, std::min<std::size_t>(left, PIPE_BUF));
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return false;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return true;
}

Logger::Sink LogWriter::sink() {
  return [this](LogLevel level, std::string_view text) { write(Logger::format_line(level, text)); };
}

void LogWriter::write(std::string line) {
  {
    std::lock_guard lock(mutex_);
    if (queued_bytes_ + line.size() > max_queued_bytes_) {
      ++dropped_;
      ++dropped_total_;
      return;
    }
    queued_bytes_ += line.size();
    queue_.push_back(std::move(line));
  }
  wake_.notify_one();
}

std::uint64_t LogWriter::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_total_;
}

void LogWriter::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty() && stopping_) return;
    std::deque<std::string> batch;
    batch.swap(queue_);
    queued_bytes_ = 0;
    const std::uint64_t dropped = std::exchange(dropped_, 0);
    lock.unlock();
    bool ok = true;
    if (dropped > 0) {
      ok = write_out(Logger::format_line(LogLevel::Warn, "log: " + std::to_string(dropped) +
                                                            " lines dropped (the log output was not keeping up)"));
    }
    std::string joined;
    for (const auto& line : batch) joined += line;
    if (ok) ok = write_out(joined);
    lock.lock();
    if (!ok) return;  // stopping, and the reader is gone
  }
}

}  // namespace rw
