// DVR at a relay or an edge (docs/cluster.md, "DVR through the chain"):
// the server's SegmentSource, answered from upstream over the segment
// protocol through the segment cache. Players and downstream servers ask
// from worker threads; every upstream exchange runs on the proxy thread,
// and disk cache reads and writes on an I/O thread of their own.
//
// - The stream's index (its window, live or not) is asked upstream at most
//   once per index_ttl however many players ask, and entries already
//   fetched are kept, so a seek is usually answered here.
// - A segment is fetched once per server however many players want it at
//   the same time (single-flight), checked (pages in order, the
//   announced size and checksum, the index entry it holds), cached in
//   memory and spilled to disk when memory evicts it; the next read_ahead
//   segments are fetched before they are asked for.
// - The recording keeps one local id across a failover when the new
//   upstream's index holds the same segments (two origins fed by one
//   encoder): cached segments stay valid. Otherwise it is a new recording.
// - An upstream that is not a Rewind server (nginx-rtmp, SRS) has no
//   recordings to give: streams have none here.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/base/log.hpp"
#include "common/cache/segment_cache.hpp"
#include "common/cache/single_flight.hpp"
#include "common/cluster/segment_protocol.hpp"
#include "common/proxy/upstream.hpp"
#include "common/server/event_bus.hpp"
#include "common/server/live_puller.hpp"
#include "common/server/segment_source.hpp"

namespace rw::proxy {

struct ProxySegmentsSettings {
  cluster::ProtocolLimits limits;
  std::chrono::milliseconds index_ttl{1000};
  unsigned read_ahead = 1;
  std::string server_id;  // ours, added to the via of what we forward
};

class ProxySegments : public server::SegmentSource {
 public:
  // The upstream of a local application (nullptr: it has none).
  using UpstreamFor = std::function<std::shared_ptr<Upstream>(const std::string& app)>;

  // Each fetch from upstream is published on `events` (EventType::Fetch).
  ProxySegments(boost::asio::any_io_executor proxy_executor, UpstreamFor upstream_for, cache::SegmentCache& cache,
                ProxySegmentsSettings settings, const Logger& log, server::EventBus& events);
  ~ProxySegments() override;

  boost::asio::awaitable<Result<std::optional<dvr::StreamInfo>>> stream_info(const std::string& app,
                                                                             const std::string& name,
                                                                             const std::string& via) override;
  boost::asio::awaitable<Result<std::optional<dvr::SegmentInfo>>> find_segment(const std::string& app,
                                                                               const std::string& name,
                                                                               std::uint32_t media_ms,
                                                                               const std::string& via) override;
  boost::asio::awaitable<Result<std::vector<dvr::SegmentInfo>>> segment_infos(const std::string& app,
                                                                              const std::string& name,
                                                                              std::uint64_t from_sequence,
                                                                              std::size_t limit,
                                                                              const std::string& via) override;
  boost::asio::awaitable<Result<std::optional<SharedBuffer>>> read_segment_bytes(const std::string& app,
                                                                                const std::string& name,
                                                                                std::uint64_t sequence,
                                                                                const std::string& via) override;
  boost::asio::awaitable<Result<std::optional<dvr::Segment>>> read_segment(const std::string& app,
                                                                          const std::string& name,
                                                                          std::uint64_t sequence,
                                                                          const std::string& via) override;

  // Proxy thread: the stream started or stopped upstream (ProxyStream
  // said so): its index is asked again at the next read, and, for a
  // second, at most every 100 ms (the upstream's store may say the
  // recording ended a moment after its players were told).
  void forget_index(const std::string& app, const std::string& name);
  // Any thread: what was fetched and served.
  server::SegmentFetchTotals totals() const;
  // Proxy thread: the stream's index as last fetched (no upstream call).
  std::optional<dvr::StreamInfo> cached_info(const std::string& app, const std::string& name) const;
  // Proxy thread: the index, refreshed when older than index_ttl.
  boost::asio::awaitable<Result<std::optional<dvr::StreamInfo>>> info_here(const std::string& app,
                                                                           const std::string& name,
                                                                           const std::string& via);


 private:
  struct StreamState {
    bool fetched = false;
    std::chrono::steady_clock::time_point fetched_at{};
    std::chrono::steady_clock::time_point changing_until{};  // see forget_index
    std::optional<dvr::StreamInfo> info;  // its recording_id is the local one
    std::uint64_t upstream_recording = 0;
    std::map<std::uint64_t, dvr::SegmentInfo> entries;  // by sequence
  };
  using Key = std::pair<std::string, std::string>;

  // Proxy thread.
  boost::asio::awaitable<Result<std::optional<dvr::StreamInfo>>> refresh(const std::string& app,
                                                                         const std::string& name,
                                                                         const std::string& via);
  boost::asio::awaitable<Result<std::optional<dvr::SegmentInfo>>> find_here(const std::string& app,
                                                                            const std::string& name,
                                                                            std::uint32_t media_ms,
                                                                            const std::string& via);
  boost::asio::awaitable<Result<std::vector<dvr::SegmentInfo>>> infos_here(const std::string& app,
                                                                           const std::string& name,
                                                                           std::uint64_t from, std::size_t limit,
                                                                           const std::string& via);
  boost::asio::awaitable<Result<std::optional<SharedBuffer>>> segment_here(const std::string& app,
                                                                           const std::string& name,
                                                                           std::uint64_t sequence,
                                                                           const std::string& via, bool read_ahead);
  boost::asio::awaitable<Result<std::optional<SharedBuffer>>> fetch_segment(const std::string& app,
                                                                            const std::string& name,
                                                                            const dvr::SegmentInfo& entry,
                                                                            const cache::SegmentKey& key,
                                                                            const std::string& via);
  // An upstream call for the stream, the result's first ByteArray parsed.
  template <class Message>
  boost::asio::awaitable<Result<std::optional<Message>>> ask(Upstream& upstream, const std::string& name,
                                                             std::string_view call, std::vector<amf::Value> args,
                                                             const std::string& via, std::size_t max_bytes);
  void remember(StreamState& state, const google::protobuf::RepeatedPtrField<dvr::SegmentInfo>& entries);
  std::string forwarded(const std::string& name, const std::string& via) const;
  void trim_streams();

  boost::asio::any_io_executor executor_;
  UpstreamFor upstream_for_;
  cache::SegmentCache& cache_;
  const ProxySegmentsSettings settings_;
  const Logger& log_;
  server::EventBus& events_;
  // Written on the proxy thread, read by the admin API and the metrics.
  std::atomic<std::uint64_t> fetches_{0}, fetch_errors_{0}, fetched_bytes_{0}, served_bytes_{0};
  boost::asio::thread_pool disk_{1};  // the disk tier's blocking reads and writes
  std::map<Key, StreamState> streams_;
  cache::SingleFlight<std::string, Result<std::optional<dvr::StreamInfo>>> info_flights_;
  cache::SingleFlight<cache::SegmentKey, Result<std::optional<SharedBuffer>>, cache::SegmentKeyHash> segment_flights_;
  int fetching_ = 0;  // upstream segment fetches running
};

}  // namespace rw::proxy
