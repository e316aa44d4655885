// Line-oriented logging without globals: a Logger is made by main() and
// passed to whoever logs. Each line is written with one write(2), so lines
// from several threads never interleave; with a LogWriter the write happens
// on the writer's thread, so a slow stderr never stalls a worker.
//
//   log.info() << "conn=" << id << " app=" << log_field(app) << " publish";
//
// Anything a peer chose (names, commands, flashVer) goes through
// log_field() or log_escape(): a name with a newline in it must not forge
// a log line.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

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

  // A complete line as the default sink writes it: UTC time, level, text
  // and a newline.
  static std::string format_line(LogLevel level, std::string_view text);

 private:
  LogLine line(LogLevel level) const { return LogLine(enabled(level) ? this : nullptr, level); }

  LogLevel min_level_;
  Sink sink_;
};

// Peer-supplied text made safe for a log line: control characters,
// backslashes and DEL become \xNN escapes, and at most `max_bytes` of it is
// kept (the rest becomes "..."), so a peer can neither start a line of its
// own nor make one huge.
std::string log_escape(std::string_view text, std::size_t max_bytes = 256);
// The same for the value of a key=value field (a name): spaces are escaped
// too, so the value cannot pose as further fields.
std::string log_field(std::string_view text, std::size_t max_bytes = 256);

// At most `burst` lines per `window` from one source (a connection); the
// lines beyond are counted, so the next allowed line can say how many.
class LogRateLimit {
 public:
  explicit LogRateLimit(unsigned burst = 20, std::chrono::milliseconds window = std::chrono::seconds(10))
      : burst_(burst), window_(window) {}
  // True when a line may be written now; `suppressed` is then the number of
  // lines refused since the last one allowed.
  bool allow(std::chrono::steady_clock::time_point now, std::uint64_t& suppressed);
  // Lines refused since the last one allowed.
  std::uint64_t suppressed() const { return suppressed_; }

 private:
  const unsigned burst_;
  const std::chrono::milliseconds window_;
  std::chrono::steady_clock::time_point window_start_{};
  unsigned in_window_ = 0;
  std::uint64_t suppressed_ = 0;
};

// Writes log lines to a file descriptor on a thread of its own. A line is
// queued without blocking; when more than max_queued_bytes wait (the reader
// of stderr has stalled), new lines are dropped and counted, and the count
// is written once the queue has room again. Lines are written in order.
// Destruction writes what is queued, giving a stalled reader kStopGrace.
class LogWriter {
 public:
  explicit LogWriter(int fd, std::size_t max_queued_bytes = 4u << 20);
  ~LogWriter();  // writes what is queued, then stops
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // A Logger sink that formats the line here and queues it.
  Logger::Sink sink();
  void write(std::string line);
  std::uint64_t dropped() const;

  static constexpr std::chrono::seconds kStopGrace{2};

 private:
  void run();
  // Writes all of text; false when stopping and the descriptor stayed full
  // past the grace period, or on an error.
  bool write_out(std::string_view text);

  const int fd_;
  const std::size_t max_queued_bytes_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  std::uint64_t dropped_ = 0;           // since the last report
  std::uint64_t dropped_total_ = 0;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point stop_deadline_{};
  std::thread thread_;
};

}  // namespace rw
