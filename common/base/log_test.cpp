#include "common/base/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace rw {
namespace {

TEST(LogEscape, ControlCharactersCannotStartALine) {
  EXPECT_EQ(log_escape("cam\n2026-01-01T00:00:00Z ERROR forged"), "cam\\x0a2026-01-01T00:00:00Z ERROR forged");
  EXPECT_EQ(log_escape(std::string("a\rb\0c\x7f\\", 7)), "a\\x0db\\x00c\\x7f\\x5c");
  EXPECT_EQ(log_escape("caf\xc3\xa9 live"), "caf\xc3\xa9 live") << "UTF-8 and spaces pass";
  EXPECT_EQ(log_field("a b"), "a\\x20b") << "a field value cannot pose as more fields";
}

TEST(LogEscape, LongTextIsCut) {
  const std::string long_name(1000, 'x');
  EXPECT_EQ(log_escape(long_name, 10), "xxxxxxxxxx...");
  EXPECT_EQ(log_escape("short", 10), "short");
}

TEST(LogRateLimit, AllowsABurstThenCountsWhatItRefused) {
  LogRateLimit limit(3, std::chrono::seconds(10));
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  std::uint64_t suppressed = 99;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limit.allow(t0, suppressed));
    EXPECT_EQ(suppressed, 0u);
  }
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(limit.allow(t0 + std::chrono::seconds(1), suppressed));
  // The next window: allowed again, and told how many were dropped.
  EXPECT_TRUE(limit.allow(t0 + std::chrono::seconds(11), suppressed));
  EXPECT_EQ(suppressed, 5u);
  EXPECT_TRUE(limit.allow(t0 + std::chrono::seconds(11), suppressed));
  EXPECT_EQ(suppressed, 0u);
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

TEST(LogWriter, WritesLinesInOrderOnItsOwnThread) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  {
    LogWriter writer(fds[1]);
    Logger log(LogLevel::Info, writer.sink());
    for (int i = 0; i < 100; ++i) log.info() << "line " << i;
  }  // the writer flushes what is queued as it stops
  ::close(fds[1]);
  const std::string text = read_all(fds[0]);
  ::close(fds[0]);
  std::size_t at = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string want = "INFO line " + std::to_string(i) + "\n";
    const std::size_t found = text.find(want, at);
    ASSERT_NE(found, std::string::npos) << want;
    at = found + want.size();
  }
}

TEST(LogWriter, StoppingGivesUpOnAReaderThatNeverComesBack) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const auto start = std::chrono::steady_clock::now();
  {
    LogWriter writer(fds[1], 1u << 20);
    Logger log(LogLevel::Info, writer.sink());
    for (int i = 0; i < 5000; ++i) log.info() << "more than a pipe holds, never read " << i;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, LogWriter::kStopGrace + std::chrono::seconds(2));
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(LogWriter, AStalledReaderCostsDroppedLinesNotABlockedCaller) {
  // Nobody reads the pipe: once it and the queue are full, lines are
  // dropped and counted; the callers never wait.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  std::string text;
  {
    LogWriter writer(fds[1], 64 * 1024);
    Logger log(LogLevel::Info, writer.sink());
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 20000; ++i) log.info() << "a line of about eighty bytes to fill the pipe quickly " << i;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    EXPECT_GT(writer.dropped(), 0u);
    // The reader comes back: what is queued gets out, and the count.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (text.find("lines dropped") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      text += read_all(fds[0]);
      log.info() << "after the stall";
    }
  }
  ::close(fds[1]);
  ::close(fds[0]);
  EXPECT_NE(text.find("lines dropped (the log output was not keeping up)"), std::string::npos);
}

}  // namespace
}  // namespace rw
