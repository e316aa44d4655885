// Exports a recorded range of a stream as a standalone, seekable FLV file:
// onMetaData (the recording's fields plus duration, filesize and a
// keyframes index), the codec headers, then the frames from the keyframe
// at or before the range's start, with timestamps rebased to start at 0.
// For clips: `rewind-export` (tools/export) runs it against a live store.
//
// The file is written in two passes over the range (flv::FileWriter puts
// the keyframe index before the frames it points at), one segment in memory
// at a time, so a range longer than memory exports fine. The store's view
// must not change between the passes in a way that touches the range: a
// secondary store (open_secondary) gives a fixed view; against a live
// primary, retention deleting the range's start meanwhile fails the export
// with Changed. Nothing reaches the sink before pass 2, so an export that
// fails with Changed before writing can simply be retried.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/bytes.hpp"
#include "common/base/expected.hpp"
#include "common/dvr/segment_store.hpp"

namespace rw::dvr {

struct ExportRange {
  // Media timestamps, ms. The file starts at the keyframe at or before
  // from_ms (the window's first one when from_ms is before the window; in
  // audio-only streams, the first audio frame at or after from_ms), and
  // holds every frame stamped up to to_ms (nullopt: to the end).
  std::uint32_t from_ms = 0;
  std::optional<std::uint32_t> to_ms = std::nullopt;
};

struct ExportError {
  enum class Code : std::uint8_t {
    NotFound,  // no such stream, or nothing recorded
    Empty,     // no frame in the range
    Store,     // the store failed (message says how)
    Changed,   // the range changed between the two passes (retention, a new recording), or a
               // secondary's view is incomplete (SegmentStore::stream_complete): catch up, retry
    Format,    // a tag too large for FLV, or a malformed stored segment
    Write,     // the sink refused the bytes
  };
  Code code = Code::NotFound;
  std::string message;
};
const char* to_string(ExportError::Code code);

struct ExportSummary {
  std::uint32_t first_ms = 0;  // media timestamp written as 0 (the start keyframe)
  std::uint32_t last_ms = 0;   // the last audio or video frame's media timestamp
  std::uint64_t tags = 0;      // tags after the onMetaData tag
  std::uint64_t keyframes = 0;
  std::uint64_t file_bytes = 0;
};

// Receives the file's bytes in order (about 1 MB at a time); false aborts
// the export with Write.
using ExportSink = std::function<bool(ByteView)>;

Expected<ExportSummary, ExportError> export_flv(const SegmentStore& store, std::string_view app, std::string_view name,
                                                const ExportRange& range, const ExportSink& sink);

}  // namespace rw::dvr
