// Where a DVR player's recording comes from: the origin's own store, or,
// at a relay or an edge, the upstream through the segment cache. PlayStream
// and the DVR calls read recordings only through this, so the same code
// serves DVR on every tier.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/base/expected.hpp"
#include "common/base/shared_buffer.hpp"
#include "common/dvr/store_error.hpp"
#include "proto/dvr.pb.h"

namespace rw::server {

class SegmentSource {
 public:
  template <class T>
  using Result = Expected<T, dvr::StoreError>;
  virtual ~SegmentSource() = default;

  // Arguments are references: GCC 12 mishandles temporaries with
  // destructors inside a co_await expression, so callers pass named
  // objects that outlive the call. `via`: the servers a downstream request
  // came through (docs/cluster.md, "Loops"), empty for a local player; a
  // relay passes it on with its own id, the store ignores it.

  // The stream's recording: its window, live or not (nullopt: none).
  virtual boost::asio::awaitable<Result<std::optional<dvr::StreamInfo>>> stream_info(const std::string& app,
                                                                                     const std::string& name, const std::string& via) = 0;
  // The index entry of the last stored segment starting at or before
  // media_ms (as SegmentStore::find_segment).
  virtual boost::asio::awaitable<Result<std::optional<dvr::SegmentInfo>>> find_segment(const std::string& app,
                                                                                       const std::string& name,
                                                                                       std::uint32_t media_ms, const std::string& via) = 0;
  // Index entries from `from_sequence` on, at most `limit`.
  virtual boost::asio::awaitable<Result<std::vector<dvr::SegmentInfo>>> segment_infos(const std::string& app,
                                                                                      const std::string& name,
                                                                                      std::uint64_t from_sequence,
                                                                                      std::size_t limit, const std::string& via) = 0;
  // A segment of the stream's current recording, as the serialized Segment
  // message (what a relay passes on) and parsed (what a player reads).
  virtual boost::asio::awaitable<Result<std::optional<SharedBuffer>>> read_segment_bytes(const std::string& app,
                                                                                        const std::string& name,
                                                                                        std::uint64_t sequence, const std::string& via) = 0;
  virtual boost::asio::awaitable<Result<std::optional<dvr::Segment>>> read_segment(const std::string& app,
                                                                                  const std::string& name,
                                                                                  std::uint64_t sequence, const std::string& via) = 0;
};

}  // namespace rw::server
