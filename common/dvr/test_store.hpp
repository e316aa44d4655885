// Helpers for tests that need a store on disk: a temporary directory, and
// recording a run of frames the way the Recorder does.
#pragma once

#include <cstdint>
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

}  // namespace rw::dvr::test_store
