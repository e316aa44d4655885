// The crash test's child process (segment_store_test.cpp): records the
// real test frames into a store as fast as it can, printing each stored
// segment's sequence on its own line, until killed (or until it has stored
// the number of segments given, then ends the recording).
//
//   rewind_dvr_crash_writer DIR APP NAME record|append [MAX_SEGMENTS [WRITE_BUFFER_BYTES]]
//
// MAX_SEGMENTS 0: no limit. A small WRITE_BUFFER_BYTES makes RocksDB flush
// and compact while it writes.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/dvr/segment_store.hpp"
#include "common/dvr/segmenter.hpp"
#include "common/dvr/test_media.hpp"

int main(int argc, char** argv) {
  using namespace rw::dvr;
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s DIR APP NAME record|append [MAX_SEGMENTS]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const std::string app = argv[2];
  const std::string name = argv[3];
  const RecordMode mode = std::string_view(argv[4]) == "append" ? RecordMode::Append : RecordMode::NewRecording;
  const long max_segments = argc > 5 ? std::atol(argv[5]) : 0;
  StoreOptions options;
  if (argc > 6 && std::atol(argv[6]) > 0) options.write_buffer_bytes = static_cast<std::size_t>(std::atol(argv[6]));

  auto store = SegmentStore::open(dir, options);
  if (!store) {
    std::fprintf(stderr, "open: %s\n", store.error().describe().c_str());
    return 1;
  }
  auto info = (*store)->begin_recording(app, name, mode, 1'000'000);
  if (!info) {
    std::fprintf(stderr, "begin: %s\n", info.error().describe().c_str());
    return 1;
  }
  // Continue the timeline of an appended recording, as the Recorder does.
  const std::uint32_t offset = info->next_sequence() > 0 ? info->last_timestamp_ms() + 100 : 0;
  Segmenter segmenter({.target_ms = 500}, SegmenterStart::after(*info));
  const Retention retention{.max_duration_ms = 20'000, .max_bytes = 0};
  long stored = 0;
  std::int64_t wall = 1'000'000;
  for (std::uint32_t round = 0;; ++round) {
    const auto frames = test_media::real_frames(5, offset + round * 5 * test_media::kRealLoopMs);
    if (frames.empty()) {
      std::fprintf(stderr, "cannot read %s\n", test_media::real_file_path().c_str());
      return 1;
    }
    for (const auto& frame : frames) {
      auto segment = segmenter.push(*frame, wall++);
      if (!segment) continue;
      auto updated = (*store)->append_segment(app, name, *segment, retention);
      if (!updated) {
        std::fprintf(stderr, "append: %s\n", updated.error().describe().c_str());
        return 1;
      }
      std::printf("%llu\n", static_cast<unsigned long long>(segment->sequence()));
      std::fflush(stdout);
      if (max_segments > 0 && ++stored >= max_segments) {
        auto ended = (*store)->end_recording(app, name, wall);
        return ended ? 0 : 1;
      }
    }
  }
}
