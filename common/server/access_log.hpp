// The access log (docs/applications.md, "Access log"): one line per
// connect, disconnect, publish, unpublish, play, stop, seek, pause and
// unpause, in the W3C extended format Flash Media Server's access.log
// uses, so the tools that read FMS logs read these.
//
// Lines are formatted on the worker that had the event and written by a
// thread of the log's own: a slow disk never stalls a worker (past
// kMaxQueuedBytes waiting, lines are dropped and the next written line
// says how many). reopen() (SIGHUP) closes the file and opens the path
// again, for logrotate.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "common/base/clock.hpp"
#include "common/base/log.hpp"
#include "common/server/event_bus.hpp"

namespace rw::server {

class AccessLog {
 public:
  static constexpr std::size_t kMaxQueuedBytes = 4u << 20;
  static constexpr const char* kFields =
      "x-event x-category date time c-ip c-client-id x-app x-sname x-duration sc-bytes cs-bytes x-status";

  // Opens (creates, appends to) `path`; the first write fails loudly in
  // the server's log if it cannot be opened.
  AccessLog(std::string path, const Clock& clock, const Logger& log);
  ~AccessLog();  // writes what is queued, then stops
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Adds this log's listener to the bus (before the server starts).
  void subscribe(EventBus& bus);
  // Closes and opens the file again (log rotation); from any thread.
  void reopen();

  // The line an event makes, or empty for an event the log does not show.
  // Public for tests.
  std::string format(const ServerEvent& event);

 private:
  void write(std::string line);
  void run();
  bool open_file();

  const std::string path_;
  const Clock& clock_;
  const Logger& log_;

  // Start times, for x-duration: of each connection and of each of its
  // streams, so that a disconnect drops all of its own at once.
  struct Session {
    std::chrono::steady_clock::time_point started;
    std::map<std::string, std::chrono::steady_clock::time_point> streams;
  };
  std::mutex starts_mutex_;
  std::unordered_map<std::uint64_t, Session> sessions_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  std::uint64_t dropped_ = 0;
  bool reopen_ = false;
  bool stopping_ = false;
  int fd_ = -1;  // writer thread only
  std::thread thread_;
};

}  // namespace rw::server
