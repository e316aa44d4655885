#include "common/dvr/test_store.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

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

}  // namespace rw::dvr::test_store
