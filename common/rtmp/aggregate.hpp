// Aggregate messages (type 22): a run of FLV-tag-like sub-messages
// (docs/protocol.md, "Aggregate messages"). FMS, Wowza and some encoders
// send them; ffmpeg and OBS do not.
#pragma once

#include <cstddef>

#include "common/base/bytes.hpp"
#include "common/rtmp/message.hpp"

namespace rw::rtmp {

// Reads an aggregate's sub-messages one at a time. An 8 MB aggregate can
// hold half a million empty tags: splitting it into a vector up front would
// cost tens of bytes of bookkeeping per input byte; this costs one message
// at a time.
//
// The body is checked whole when the reader is made (a walk over the tag
// headers, nothing copied), so a malformed aggregate yields nothing rather
// than its first half. Timestamps become absolute by adding (aggregate
// timestamp - first sub-message timestamp), mod 2^32. Sub-messages keep the
// aggregate's chunk stream and message stream ids (the tags' own stream id
// field is ignored, as nginx-rtmp and SRS do).
class AggregateReader {
 public:
  explicit AggregateReader(const Message& aggregate);

  // False when the body is malformed; next() then yields nothing.
  bool valid() const { return valid_; }
  // The next sub-message, false at the end.
  bool next(Message& out);

 private:
  const Message& aggregate_;
  bool valid_ = false;
  std::size_t pos_ = 0;
  bool first_ = true;
  std::uint32_t offset_ = 0;  // aggregate timestamp - first sub-message timestamp, mod 2^32
};

}  // namespace rw::rtmp
