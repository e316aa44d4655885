// Reads an FLV file incrementally: feed bytes, get tags.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "common/base/bytes.hpp"
#include "common/flv/tag.hpp"

namespace rw::flv {

enum class ReadError {
  NotFlv,          // the signature is not "FLV"
  BadHeader,       // header offset smaller than 9
  TagTooLarge,     // a tag bigger than the limit
  BadTagType,      // a tag type other than 8, 9, 18 (encrypted tags included)
};
const char* to_string(ReadError e);

class FileReader {
 public:
  explicit FileReader(std::size_t max_tag_size = 16u << 20) : max_tag_size_(max_tag_size) {}

  struct FeedResult {
    std::size_t consumed = 0;
    std::optional<ReadError> error;
  };
  // Appends every complete tag to `out`; partial tags wait for more bytes.
  FeedResult feed(ByteView in, std::vector<Tag>& out);
  bool header_seen() const { return header_seen_; }
  bool has_audio() const { return has_audio_; }
  bool has_video() const { return has_video_; }

 private:
  std::size_t max_tag_size_;
  Bytes pending_;
  bool header_seen_ = false;
  bool has_audio_ = false;
  bool has_video_ = false;
  std::size_t header_skip_ = 0;
};

}  // namespace rw::flv
