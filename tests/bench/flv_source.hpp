// The FLV file a publisher sends, in memory, and the endless real-time
// sequence of messages made from it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/bytes.hpp"
#include "common/base/expected.hpp"

namespace rw::bench {

struct SourceTag {
  std::uint8_t type = 0;        // 8 audio, 9 video, 18 data
  std::uint32_t timestamp = 0;  // ms from the file's first tag
  // Metadata and codec sequence headers: sent on the first pass only.
  bool config = false;
  Bytes body;  // data tags: "@setDataFrame" prepended, as encoders publish onMetaData
};

struct FlvSource {
  std::vector<SourceTag> tags;
  // How much the timestamps move forward on each pass: the span of the file
  // plus one video frame, so the first frame of the next pass follows the
  // last frame of this one at the usual interval.
  std::uint32_t loop_period_ms = 0;
};

// Reads a whole FLV file. Errors: not FLV, truncated or no audio or video.
Expected<FlvSource, std::string> load_flv(ByteView file);

// Walks a source forever: the whole file once, then its audio and video
// again and again with timestamps moved on by loop_period_ms each pass, so
// they keep increasing.
class FlvLoop {
 public:
  explicit FlvLoop(const FlvSource& source) : source_(&source) {}

  const SourceTag& tag() const { return source_->tags[index_]; }
  // The current tag's timestamp on the wire.
  std::uint32_t timestamp() const;
  // Milliseconds from the start of the stream until the current tag is due.
  std::int64_t due_ms() const;
  void advance();
  std::uint64_t loops() const { return loops_; }

 private:
  const FlvSource* source_;
  std::size_t index_ = 0;
  std::uint64_t loops_ = 0;
};

}  // namespace rw::bench
