#include "common/dvr/test_store.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <filesystem>
#include <system_error>

extern char** environ;

namespace rw::dvr::test_store {

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/rewind-dvr-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp " << pattern;
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Recorded record(SegmentStore& store, std::string_view app, std::string_view name,
                 const std::vector<media::FramePtr>& frames, RecordMode mode, const SegmenterOptions& options,
                 const Retention& retention) {
  Recorded out;
  std::int64_t wall = 1'000'000;
  auto begun = store.begin_recording(app, name, mode, wall);
  if (!begun) {
    ADD_FAILURE() << "begin_recording: " << begun.error().describe();
    return out;
  }
  Segmenter segmenter(options, SegmenterStart::after(*begun));
  auto store_segment = [&](Segment&& segment) {
    auto info = store.append_segment(app, name, segment, retention);
    EXPECT_TRUE(info) << "append_segment: " << info.error().describe();
    out.segments.push_back(std::move(segment));
  };
  for (const auto& frame : frames) {
    if (auto s = segmenter.push(*frame, wall++)) store_segment(std::move(*s));
  }
  if (auto s = segmenter.flush()) store_segment(std::move(*s));
  auto ended = store.end_recording(app, name, wall);
  if (!ended) {
    ADD_FAILURE() << "end_recording: " << ended.error().describe();
    return out;
  }
  out.info = std::move(*ended);
  return out;
}

bool catch_up_until_complete(SegmentStore& secondary, std::string_view app, std::string_view name) {
  for (int tries = 0; tries < 100; ++tries) {
    auto complete = secondary.stream_complete(app, name);
    if (!complete) {
      ADD_FAILURE() << complete.error().describe();
      return false;
    }
    if (*complete) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (auto ok = secondary.catch_up(); !ok) {
      ADD_FAILURE() << ok.error().describe();
      return false;
    }
  }
  return false;
}

WriterProcess::WriterProcess(const std::string& dir, const std::string& mode, const std::string& write_buffer_bytes) {
  int fds[2];
  if (::pipe(fds) != 0) {
    ADD_FAILURE() << "pipe";
    return;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  std::string program = REWIND_DVR_CRASH_WRITER;
  std::vector<std::string> args{program, dir, "live", "crash/test", mode, "0", write_buffer_bytes};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ) != 0) {
    ADD_FAILURE() << "spawn " << program;
  } else {
    pid_ = pid;
  }
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  out_ = ::fdopen(fds[0], "r");
}

WriterProcess::~WriterProcess() {
  kill();
  if (out_) std::fclose(out_);
}

std::int64_t WriterProcess::wait_for(int count) {
  char line[64];
  for (int i = 0; i < count; ++i) {
    if (!out_ || !std::fgets(line, sizeof line, out_)) return -1;
    last_ = std::atoll(line);
  }
  return last_;
}

void WriterProcess::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace rw::dvr::test_store
