// Reads an FLV file incrementally: feed bytes, get tags. The same bytes
// give the same tags however they are split across feed() calls.
//
// Lenient where real files are sloppy: PreviousTagSize is skipped without
// checking (many muxers write wrong ones), the stream id is ignored, and a
// header whose DataOffset is larger than 9 has its extra bytes skipped.
#pragma once

#include <cstddef>
#include <cstdint>
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
  // max_tag_size bounds a tag's body (and the memory one tag can take).
  explicit FileReader(std::size_t max_tag_size = 16u << 20) : max_tag_size_(max_tag_size) {}

  struct FeedResult {
    std::size_t consumed = 0;
    std::optional<ReadError> error;
  };
  // Appends every complete tag to `out`; partial tags wait inside the
  // reader (a tag is emitted once its body is complete, before its
  // PreviousTagSize arrives). Without an error every byte is consumed. On
  // an error, `consumed` counts the bytes up to the end of the offending
  // header, and the reader stays failed: later calls consume nothing and
  // return the same error. Each body is copied once, into its Tag.
  FeedResult feed(ByteView in, std::vector<Tag>& out);
  bool header_seen() const { return header_seen_; }
  bool has_audio() const { return has_audio_; }
  bool has_video() const { return has_video_; }

 private:
  enum class State : std::uint8_t { FileHeader, Skip, TagHeader, TagBody, Failed };

  // Moves bytes of `in` from `pos` into pending_ until it holds `need`
  // bytes; false when `in` ran out first.
  bool gather(ByteView in, std::size_t& pos, std::size_t need);
  FeedResult fail(ReadError e, std::size_t consumed);

  std::size_t max_tag_size_;
  State state_ = State::FileHeader;
  ReadError error_ = ReadError::NotFlv;  // meaningful in State::Failed
  Bytes pending_;         // a file or tag header split across feeds
  Tag tag_;               // the tag whose body is still arriving
  std::size_t body_size_ = 0;
  std::size_t skip_ = 0;  // header padding and PreviousTagSize bytes left to skip
  bool header_seen_ = false;
  bool has_audio_ = false;
  bool has_video_ = false;
};

}  // namespace rw::flv
