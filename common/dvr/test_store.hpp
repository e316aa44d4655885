// Helpers for tests that need a store on disk: a temporary directory, and
// recording a run of frames the way the Recorder does.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "common/dvr/segment_store.hpp"
#include "common/dvr/segmenter.hpp"
#include "common/media/frame.hpp"

namespace rw::dvr::test_store {

// mkdtemp under $TMPDIR (or /tmp); removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string sub(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

struct Recorded {
  StreamInfo info;                // after end_recording
  std::vector<Segment> segments;  // as appended
};

// begin_recording, every frame through a Segmenter into append_segment,
// flush, end_recording. Wall clock: 1'000'000 + the frame's index. Test
// failures are reported through gtest; the result is then partial.
Recorded record(SegmentStore& store, std::string_view app, std::string_view name,
                const std::vector<media::FramePtr>& frames, RecordMode mode = RecordMode::NewRecording,
                const SegmenterOptions& options = {}, const Retention& retention = {});

// Catches a secondary up until the stream's view is complete (see
// SegmentStore::stream_complete); false if it never was in 100 tries.
bool catch_up_until_complete(SegmentStore& secondary, std::string_view app, std::string_view name);

// The crash writer (crash_writer.cpp) in a child process, recording real
// frames into `dir` as live/crash/test, as fast as it can, its stdout (one
// line per stored segment) on a pipe. Killed (SIGKILL) when destroyed.
class WriterProcess {
 public:
  // mode "record" or "append"; write_buffer_bytes "0" for the default.
  WriterProcess(const std::string& dir, const std::string& mode, const std::string& write_buffer_bytes = "0");
  ~WriterProcess();
  WriterProcess(const WriterProcess&) = delete;
  WriterProcess& operator=(const WriterProcess&) = delete;

  // Waits until the child has reported `count` more stored segments;
  // returns the last sequence reported, or -1 if it stopped first.
  std::int64_t wait_for(int count);
  void kill();

 private:
  int pid_ = -1;
  std::FILE* out_ = nullptr;
  std::int64_t last_ = -1;
};

}  // namespace rw::dvr::test_store
