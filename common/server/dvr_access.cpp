#include "common/server/dvr_access.hpp"

#include <boost/asio/post.hpp>

namespace rw::server {

void DvrAccess::WriterExecutor::post(std::function<void()> fn) { boost::asio::post(io_, std::move(fn)); }

DvrAccess::DvrAccess(std::unique_ptr<dvr::SegmentStore> store, unsigned reader_threads)
    : store_(std::move(store)),
      readers_(reader_threads),
      writer_work_(boost::asio::make_work_guard(writer_io_)),
      writer_thread_([this] { writer_io_.run(); }) {}

DvrAccess::~DvrAccess() { stop(); }

boost::asio::awaitable<DvrAccess::Result<std::optional<dvr::StreamInfo>>> DvrAccess::stream_info(
    const std::string& app, const std::string& name, const std::string&) {
  auto op = [&](dvr::SegmentStore& s) { return s.stream_info(app, name); };
  co_return co_await run(false, op);
}

boost::asio::awaitable<DvrAccess::Result<std::optional<dvr::SegmentInfo>>> DvrAccess::find_segment(
    const std::string& app, const std::string& name, std::uint32_t media_ms, const std::string&) {
  auto op = [&](dvr::SegmentStore& s) { return s.find_segment(app, name, media_ms); };
  co_return co_await run(false, op);
}

boost::asio::awaitable<DvrAccess::Result<std::vector<dvr::SegmentInfo>>> DvrAccess::segment_infos(
    const std::string& app, const std::string& name, std::uint64_t from_sequence, std::size_t limit, const std::string&) {
  auto op = [&](dvr::SegmentStore& s) { return s.segment_infos(app, name, from_sequence, limit); };
  co_return co_await run(false, op);
}

boost::asio::awaitable<DvrAccess::Result<std::optional<SharedBuffer>>> DvrAccess::read_segment_bytes(
    const std::string& app, const std::string& name, std::uint64_t sequence, const std::string&) {
  auto op = [&](dvr::SegmentStore& s) { return s.read_segment_bytes(app, name, sequence); };
  co_return co_await run(false, op);
}

boost::asio::awaitable<DvrAccess::Result<std::optional<dvr::Segment>>> DvrAccess::read_segment(
    const std::string& app, const std::string& name, std::uint64_t sequence, const std::string&) {
  auto op = [&](dvr::SegmentStore& s) { return s.read_segment(app, name, sequence); };
  co_return co_await run(false, op);
}

boost::asio::awaitable<DvrAccess::Result<dvr::StreamInfo>> DvrAccess::begin_recording(const std::string& app,
                                                                                      const std::string& name,
                                                                                      dvr::RecordMode mode,
                                                                                      std::int64_t wall_ms) {
  auto op = [&](dvr::SegmentStore& s) { return s.begin_recording(app, name, mode, wall_ms); };
  co_return co_await run(true, op);
}

void DvrAccess::start_retention(dvr::RetentionFor retention_for, std::uint64_t store_max_bytes,
                                std::chrono::milliseconds interval, const Logger& log, const EventBus* events) {
  boost::asio::post(writer_io_, [this, retention_for = std::move(retention_for), store_max_bytes, interval, &log,
                                 events] {
    retention_ = RetentionSchedule{retention_for, store_max_bytes, interval, &log, events};
    run_retention_pass();
  });
}

void DvrAccess::run_retention_pass() {
  const Logger& log = *retention_.log;
  auto pass = dvr::run_retention(*store_, retention_.retention_for, retention_.store_max_bytes);
  if (!pass) {
    log.warn() << "dvr: retention pass failed: " << pass.error().describe();
  } else {
    for (const auto& change : pass->changes) {
      using Why = dvr::RetentionPass::Change::Why;
      const char* why = change.why == Why::Window            ? "beyond its window or byte cap"
                        : change.why == Why::StoreCap        ? "the store is over dvr.store_max_bytes"
                                                             : "the store is over dvr.store_max_bytes (whole recording)";
      log.info() << "dvr: deleted " << change.removed.segments << " segments (" << change.removed.bytes
                 << " bytes) of app=" << log_field(change.app) << " stream=" << log_field(change.name) << ": " << why;
      if (retention_.events) {
        ServerEvent event{EventType::DvrDelete, 0, {}, change.app, change.name, why, {}, {}, {}};
        event.segments = change.removed.segments;
        event.segment_bytes = change.removed.bytes;
        retention_.events->publish(event);
      }
    }
    log.debug() << "dvr: retention pass done, " << pass->store_bytes << " bytes recorded";
  }
  if (retention_.interval.count() <= 0 || stopped_) return;
  retention_timer_.expires_after(retention_.interval);
  retention_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec && !stopped_) run_retention_pass();
  });
}

void DvrAccess::stop() {
  if (stopped_.exchange(true)) return;
  // Queued writes (recorders' last segments) run before the thread ends;
  // the next retention pass does not.
  boost::asio::post(writer_io_, [this] { retention_timer_.cancel(); });
  writer_work_.reset();
  writer_thread_.join();
  readers_.join();
}

}  // namespace rw::server
