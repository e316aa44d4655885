// The origin's DVR store and the threads that touch it: RocksDB calls block,
// so reads run on a small pool and writes on one thread (in order, so a
// stream's segments are stored in the order they were cut), and
// connections await the results without blocking their worker.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <type_traits>

#include "common/base/log.hpp"
#include "common/dvr/recorder.hpp"
#include "common/dvr/retention.hpp"
#include "common/server/event_bus.hpp"
#include "common/dvr/segment_store.hpp"
#include "common/server/segment_source.hpp"
#include "common/media/stream_hub.hpp"

namespace rw::server {

// The origin's SegmentSource: its own store.
class DvrAccess final : public SegmentSource {
 public:
  DvrAccess(std::unique_ptr<dvr::SegmentStore> store, unsigned reader_threads);
  ~DvrAccess();
  DvrAccess(const DvrAccess&) = delete;
  DvrAccess& operator=(const DvrAccess&) = delete;

  dvr::SegmentStore& store() { return *store_; }
  // What the recorders of this store did (the metrics read it).
  dvr::RecordingStats& recording_stats() { return recording_stats_; }
  // The writer thread as an executor, for recorders.
  media::Executor& writer() { return writer_executor_; }

  // Store operations for coroutines: each runs the blocking call on the
  // reader pool (or, for writes, the writer thread, after every write queued
  // before it) and resumes the caller on its own executor.
  //
  // Arguments are references: GCC 12 mishandles temporaries with
  // destructors inside a co_await expression (they are not kept in the
  // coroutine frame), so callers pass named objects, which outlive the call.
  boost::asio::awaitable<Result<std::optional<dvr::StreamInfo>>> stream_info(const std::string& app,
                                                                             const std::string& name, const std::string& via) override;
  boost::asio::awaitable<Result<std::optional<dvr::SegmentInfo>>> find_segment(const std::string& app,
                                                                               const std::string& name,
                                                                               std::uint32_t media_ms, const std::string& via) override;
  boost::asio::awaitable<Result<std::vector<dvr::SegmentInfo>>> segment_infos(const std::string& app,
                                                                              const std::string& name,
                                                                              std::uint64_t from_sequence,
                                                                              std::size_t limit, const std::string& via) override;
  boost::asio::awaitable<Result<std::optional<SharedBuffer>>> read_segment_bytes(const std::string& app,
                                                                                const std::string& name,
                                                                                std::uint64_t sequence, const std::string& via) override;
  boost::asio::awaitable<Result<std::optional<dvr::Segment>>> read_segment(const std::string& app,
                                                                           const std::string& name,
                                                                           std::uint64_t sequence, const std::string& via) override;
  boost::asio::awaitable<Result<dvr::StreamInfo>> begin_recording(const std::string& app, const std::string& name,
                                                                  dvr::RecordMode mode, std::int64_t wall_ms);

  // Runs dvr::run_retention on the writer thread now and every `interval`
  // (between the recorders' writes, never beside them), logging what it
  // removed. Stops with stop().
  // Each deletion is also an EventType::DvrDelete on `events` (on_dvr).
  void start_retention(dvr::RetentionFor retention_for, std::uint64_t store_max_bytes,
                       std::chrono::milliseconds interval, const Logger& log, const EventBus* events = nullptr);

  // Finishes queued writes and stops the threads.
  void stop();

 private:
  class WriterExecutor final : public media::Executor {
   public:
    explicit WriterExecutor(boost::asio::io_context& io) : io_(io) {}
    void post(std::function<void()> fn) override;

   private:
    boost::asio::io_context& io_;
  };

  // Runs op(store) on the writer thread or the reader pool.
  template <class Op>
  boost::asio::awaitable<std::invoke_result_t<Op&, dvr::SegmentStore&>> run(bool on_writer, Op& op) {
    std::optional<std::invoke_result_t<Op&, dvr::SegmentStore&>> result;
    auto work = [&]() -> boost::asio::awaitable<void> {
      result.emplace(op(*store_));
      co_return;
    };
    if (on_writer) {
      co_await boost::asio::co_spawn(writer_io_, work, boost::asio::use_awaitable);
    } else {
      co_await boost::asio::co_spawn(readers_, work, boost::asio::use_awaitable);
    }
    co_return std::move(*result);
  }

  void run_retention_pass();

  std::unique_ptr<dvr::SegmentStore> store_;
  dvr::RecordingStats recording_stats_;
  boost::asio::thread_pool readers_;
  boost::asio::io_context writer_io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> writer_work_;
  WriterExecutor writer_executor_{writer_io_};
  std::thread writer_thread_;
  std::atomic<bool> stopped_{false};  // read by the writer thread too
  // Retention passes (writer thread only).
  struct RetentionSchedule {
    dvr::RetentionFor retention_for;
    std::uint64_t store_max_bytes = 0;
    std::chrono::milliseconds interval{0};
    const Logger* log = nullptr;
    const EventBus* events = nullptr;
  };
  RetentionSchedule retention_;
  boost::asio::steady_timer retention_timer_{writer_io_};
};

}  // namespace rw::server
