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
    const std::string& app, const std::string& name) {
  auto op = [&](dvr::SegmentStore& s) { return s.stream_info(app, name); };
  co_return co_await run(false, op);
}

boost::asio::awaitable<DvrAccess::Result<std::optional<dvr::SegmentInfo>>> DvrAccess::find_segment(
    const std::string& app, const std::string& name, std::uint32_t media_ms) {
  auto op = [&](dvr::SegmentStore& s) { return s.find_segment(app, name, media_ms); };
  co_return co_await run(false, op);
}

boost::asio::awaitable<DvrAccess::Result<std::optional<dvr::Segment>>> DvrAccess::read_segment(
    const std::string& app, const std::string& name, std::uint64_t sequence) {
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

void DvrAccess::stop() {
  if (stopped_) return;
  stopped_ = true;
  // Queued writes (recorders' last segments) run before the thread ends.
  writer_work_.reset();
  writer_thread_.join();
  readers_.join();
}

}  // namespace rw::server
