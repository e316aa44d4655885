#include "common/server/access_log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace rw::server {
namespace {

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ServerEvent event(EventType type, std::string stream = {}) {
  ServerEvent e{type, 7, "10.1.2.3:50000", "live", std::move(stream), {}, {}, {}, {}};
  e.bytes_in = 3500;
  e.bytes_out = 1200;
  return e;
}

class AccessLogTest : public ::testing::Test {
 protected:
  std::filesystem::path dir_ = std::filesystem::temp_directory_path() /
                               ("rewind-access-log-" + std::to_string(::getpid()) + "-" +
                                ::testing::UnitTest::GetInstance()->current_test_info()->name());
  void SetUp() override { std::filesystem::create_directories(dir_); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  Logger log_{LogLevel::Error, [](LogLevel, std::string_view) {}};
  SystemClock clock_;
};

TEST_F(AccessLogTest, SessionAndStreamLinesHaveFmsFields) {
  AccessLog access(dir_ / "access.log", clock_, log_);
  const std::string connect = access.format(event(EventType::Connect));
  // x-event x-category date time c-ip c-client-id x-app x-sname x-duration sc-bytes cs-bytes x-status
  std::istringstream f(connect);
  std::vector<std::string> fields;
  for (std::string w; f >> w;) fields.push_back(w);
  ASSERT_EQ(fields.size(), 12u) << connect;
  EXPECT_EQ(fields[0], "connect");
  EXPECT_EQ(fields[1], "session");
  EXPECT_EQ(fields[2].size(), 10u);  // YYYY-MM-DD
  EXPECT_EQ(fields[3].size(), 8u);   // HH:MM:SS
  EXPECT_EQ(fields[4], "10.1.2.3");
  EXPECT_EQ(fields[5], "7");
  EXPECT_EQ(fields[6], "live");
  EXPECT_EQ(fields[7], "-");
  EXPECT_EQ(fields[9], "1200");
  EXPECT_EQ(fields[10], "3500");
  EXPECT_EQ(fields[11], "200");
  EXPECT_EQ(connect.back(), '\n');

  EXPECT_EQ(access.format(event(EventType::Publish, "cam")).rfind("publish stream ", 0), 0u);
  EXPECT_TRUE(access.format(event(EventType::Command)).empty());
  EXPECT_TRUE(access.format(event(EventType::Proxy)).empty());
  EXPECT_NE(access.format(event(EventType::Reject)).find(" 401\n"), std::string::npos);
}

TEST_F(AccessLogTest, DurationRunsFromTheStartOfTheSessionOrStream) {
  AccessLog access(dir_ / "access.log", clock_, log_);
  access.format(event(EventType::Connect));
  access.format(event(EventType::Play, "cam"));
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  auto duration = [](const std::string& line) {
    std::istringstream f(line);
    std::string w;
    for (int i = 0; i < 9; ++i) f >> w;
    return std::stod(w);
  };
  EXPECT_GE(duration(access.format(event(EventType::Seek, "cam"))), 0.1);
  EXPECT_GE(duration(access.format(event(EventType::Stop, "cam"))), 0.1);
  // The stop ended the play: a later event of that name starts from 0.
  EXPECT_EQ(duration(access.format(event(EventType::Pause, "cam"))), 0.0);
  EXPECT_GE(duration(access.format(event(EventType::Disconnect))), 0.1);
}

TEST_F(AccessLogTest, NamesCannotSplitFieldsOrForgeLines) {
  AccessLog access(dir_ / "access.log", clock_, log_);
  ServerEvent e = event(EventType::Play, "a b\nplay stream x");
  e.app = "li ve";
  const std::string line = access.format(e);
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  EXPECT_NE(line.find(" li%20ve "), std::string::npos) << line;
  EXPECT_NE(line.find(" a%20b%0Aplay%20stream%20x "), std::string::npos) << line;
}

TEST_F(AccessLogTest, WritesAHeaderAndReopensForRotation) {
  const auto path = dir_ / "access.log";
  EventBus bus;
  {
    AccessLog access(path.string(), clock_, log_);
    access.subscribe(bus);
    bus.publish(event(EventType::Connect));
    // logrotate moves the file, then signals: the next lines go to a new
    // file at the same path, with its own header.
    for (int i = 0; i < 200 && read_all(path).find("connect session") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::filesystem::rename(path, dir_ / "access.log.1");
    access.reopen();
    bus.publish(event(EventType::Disconnect));
  }  // the destructor writes what is queued
  const std::string rotated = read_all(dir_ / "access.log.1");
  const std::string current = read_all(path);
  EXPECT_EQ(rotated.rfind("#Software: Rewind\n#Version: 1.0\n", 0), 0u) << rotated;
  EXPECT_NE(rotated.find(std::string("#Fields: ") + AccessLog::kFields + "\n"), std::string::npos);
  EXPECT_NE(rotated.find("connect session"), std::string::npos);
  EXPECT_EQ(rotated.find("disconnect session"), std::string::npos);
  EXPECT_EQ(current.rfind("#Software: Rewind\n", 0), 0u) << current;
  EXPECT_NE(current.find("disconnect session"), std::string::npos);
}

}  // namespace
}  // namespace rw::server
