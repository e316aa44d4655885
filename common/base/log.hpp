// Line-oriented logging without globals: a Logger is made by main() and
// passed to whoever logs. Each line is written with one write(2), so lines
// from several threads never interleave.
//
//   log.info() << "conn=" << id << " app=" << app << " publish";
#pragma once

#include <functional>
#include <sstream>
#include <string>
#include <string_view>

namespace rw {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

const char* to_string(LogLevel level);
// Parses debug|info|warn|error|off; false when the name is unknown.
bool parse_log_level(std::string_view name, LogLevel& out);

class Logger;

class LogLine {
 public:
  LogLine(const Logger* logger, LogLevel level) : logger_(logger), level_(level) {}
  LogLine(LogLine&& other) noexcept
      : logger_(other.logger_), level_(other.level_), text_(std::move(other.text_)) {
    other.logger_ = nullptr;
  }
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  LogLine& operator=(LogLine&&) = delete;
  ~LogLine();

  template <class T>
  LogLine& operator<<(const T& v) {
    if (logger_) text_ << v;
    return *this;
  }

 private:
  const Logger* logger_;
  LogLevel level_;
  std::ostringstream text_;
};

class Logger {
 public:
  // A sink receives complete lines (without the newline); the default one
  // writes them to stderr with a UTC timestamp and the level.
  using Sink = std::function<void(LogLevel, std::string_view)>;

  explicit Logger(LogLevel min_level = LogLevel::Info, Sink sink = {});

  bool enabled(LogLevel level) const { return level >= min_level_; }
  void set_level(LogLevel level) { min_level_ = level; }
  LogLevel level() const { return min_level_; }

  LogLine debug() const { return line(LogLevel::Debug); }
  LogLine info() const { return line(LogLevel::Info); }
  LogLine warn() const { return line(LogLevel::Warn); }
  LogLine error() const { return line(LogLevel::Error); }

  void write(LogLevel level, std::string_view text) const;

 private:
  LogLine line(LogLevel level) const { return LogLine(enabled(level) ? this : nullptr, level); }

  LogLevel min_level_;
  Sink sink_;
};

}  // namespace rw
