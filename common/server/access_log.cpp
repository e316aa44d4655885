#include "common/server/access_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

namespace rw::server {

namespace {

// A field is one token: what the client chose (names) is percent-encoded
// past the characters a URL keeps, so a space or a newline in a stream
// name can neither split a field nor forge a line; empty is "-".
std::string field(std::string_view text, std::size_t max_bytes = 256) {
  if (text.empty()) return "-";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text.substr(0, max_bytes)) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      std::strchr("-._~/:?=&+,;@!$*", c) != nullptr;
    if (keep && c != 0) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// The events the log shows, by the event bus's names; a refused connect
// is FMS's connect with status 401.
const char* event_name(EventType type) {
  if (type == EventType::Reject) return "connect";
  const bool shown = type == EventType::Connect || type == EventType::Disconnect || type == EventType::Publish ||
                     type == EventType::Unpublish || type == EventType::Play || type == EventType::Stop ||
                     type == EventType::Seek || type == EventType::Pause || type == EventType::Unpause;
  return shown ? to_string(type) : nullptr;
}

}  // namespace

AccessLog::AccessLog(std::string path, const Clock& clock, const Logger& log)
    : path_(std::move(path)), clock_(clock), log_(log) {
  thread_ = std::thread([this] { run(); });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

void AccessLog::subscribe(EventBus& bus) {
  bus.subscribe([this](const ServerEvent& event) {
    std::string line = format(event);
    if (!line.empty()) write(std::move(line));
  });
}

void AccessLog::reopen() {
  {
    std::lock_guard lock(mutex_);
    reopen_ = true;
  }
  wake_.notify_one();
}

std::string AccessLog::format(const ServerEvent& event) {
  const char* name = event_name(event.type);
  if (!name) return {};
  const bool session = event.type == EventType::Connect || event.type == EventType::Reject ||
                       event.type == EventType::Disconnect;
  const auto now = clock_.now();
  // x-duration: seconds since the connect (disconnect) or since the
  // stream's publish or play (unpublish, stop, and the seeks and pauses
  // between); 0 for the events that begin something.
  double duration = 0;
  {
    std::lock_guard lock(starts_mutex_);
    auto since = [&](std::chrono::steady_clock::time_point start) {
      duration = std::chrono::duration<double>(now - start).count();
    };
    if (event.type == EventType::Connect) {
      sessions_[event.connection_id].started = now;
    } else if (auto it = sessions_.find(event.connection_id); it != sessions_.end()) {
      Session& open = it->second;
      switch (event.type) {
        case EventType::Disconnect:
          // Its streams end with it (their stop or unpublish came first).
          since(open.started);
          sessions_.erase(it);
          break;
        // A play that goes on after a seek or an unpause is one play (from
        // its first start to its stop).
        case EventType::Publish:
        case EventType::Play: open.streams.emplace(event.stream, now); break;
        case EventType::Unpublish:
        case EventType::Stop:
          if (auto s = open.streams.find(event.stream); s != open.streams.end()) {
            since(s->second);
            open.streams.erase(s);
          }
          break;
        default:
          if (auto s = open.streams.find(event.stream); s != open.streams.end()) since(s->second);
          break;
      }
    }
  }
  // date and time are UTC (the header's #Remark says so).
  const std::time_t wall = std::chrono::system_clock::to_time_t(clock_.wall_now());
  std::tm tm{};
  ::gmtime_r(&wall, &tm);
  char date[16], time[16];
  std::strftime(date, sizeof date, "%Y-%m-%d", &tm);
  std::strftime(time, sizeof time, "%H:%M:%S", &tm);
  // x-status as FMS writes it: 200, or 401 for a refused connect (why it
  // was refused, and why a connection ended, are in the server's log).
  const int status = event.type == EventType::Reject ? 401 : 200;
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3f", duration);
  std::string line;
  line.reserve(160);
  line += name;
  line += session ? " session " : " stream ";
  line += date;
  line += ' ';
  line += time;
  line += ' ';
  line += field(address_of(event.peer));
  line += ' ';
  line += std::to_string(event.connection_id);
  line += ' ';
  line += field(event.app);
  line += ' ';
  line += session ? std::string("-") : field(event.stream);
  line += ' ';
  line += seconds;
  line += ' ';
  line += std::to_string(event.bytes_out);
  line += ' ';
  line += std::to_string(event.bytes_in);
  line += ' ';
  line += std::to_string(status);
  line += '\n';
  return line;
}

void AccessLog::write(std::string line) {
  {
    std::lock_guard lock(mutex_);
    if (queued_bytes_ + line.size() > kMaxQueuedBytes) {
      ++dropped_;
      return;
    }
    queued_bytes_ += line.size();
    queue_.push_back(std::move(line));
  }
  wake_.notify_one();
}

bool AccessLog::open_file() {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    log_.error() << "access log " << path_ << ": " << std::strerror(errno);
    return false;
  }
  struct stat st{};
  if (::fstat(fd_, &st) == 0 && st.st_size == 0) {
    // A new file (or one logrotate emptied) starts with the W3C header.
    const std::time_t wall = std::chrono::system_clock::to_time_t(clock_.wall_now());
    std::tm tm{};
    ::gmtime_r(&wall, &tm);
    char opened[32];
    std::strftime(opened, sizeof opened, "%Y-%m-%d %H:%M:%S", &tm);
    std::string header = std::string("#Software: Rewind\n#Version: 1.0\n#Date: ") + opened +
                         "\n#Remark: date and time are UTC\n#Fields: " + kFields + "\n";
    if (::write(fd_, header.data(), header.size()) < 0) return false;
  }
  return true;
}

void AccessLog::run() {
  std::unique_lock lock(mutex_);
  bool failed_open = false;
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || reopen_ || !queue_.empty(); });
    if (reopen_) {
      reopen_ = false;
      lock.unlock();
      if (fd_ >= 0) ::close(fd_);
      fd_ = -1;
      failed_open = false;
      log_.info() << "access log " << path_ << " reopened";
      lock.lock();
    }
    if (queue_.empty()) {
      if (stopping_) return;
      continue;
    }
    std::deque<std::string> lines;
    lines.swap(queue_);
    queued_bytes_ = 0;
    const std::uint64_t dropped = std::exchange(dropped_, 0);
    lock.unlock();
    if (fd_ < 0 && !failed_open) failed_open = !open_file();
    if (fd_ >= 0) {
      std::string text;
      if (dropped > 0) text = "#Remark: " + std::to_string(dropped) + " lines dropped (the disk was too slow)\n";
      for (auto& l : lines) text += l;
      std::string_view rest(text);
      while (!rest.empty()) {
        const ssize_t n = ::write(fd_, rest.data(), rest.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          log_.error() << "access log " << path_ << ": " << std::strerror(errno);
          break;
        }
        rest.remove_prefix(static_cast<std::size_t>(n));
      }
    }
    lock.lock();
  }
}

}  // namespace rw::server
