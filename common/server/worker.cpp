#include "common/server/worker.hpp"

#include <boost/asio/post.hpp>

#include "common/server/connection.hpp"

namespace rw::server {

namespace asio = boost::asio;

namespace {
// Big enough for a burst from a publisher; one per thread, not per connection.
constexpr std::size_t kReadBufferSize = 256 * 1024;
constexpr std::chrono::seconds kHousekeepingPeriod{1};
}  // namespace

Worker::Worker(std::size_t index, std::chrono::milliseconds write_interval)
    : index_(index),
      write_interval_(write_interval),
      work_(asio::make_work_guard(io_)),
      write_tick_(io_),
      housekeeping_(io_),
      read_buffer_(kReadBufferSize),
      random_(std::random_device{}() ^ (static_cast<std::uint64_t>(index) << 32)) {}

void Worker::post(std::function<void()> fn) { asio::post(io_, std::move(fn)); }

void Worker::run() {
  arm_housekeeping();
  if (write_interval_.count() > 0) {
    next_write_tick_ = std::chrono::steady_clock::now() + write_interval_;
    arm_write_tick();
  }
  io_.run();
}

void Worker::stop() {
  asio::post(io_, [this] {
    // A timer that expired just before the cancel below still runs its
    // handler, with success: the handlers check this instead of re-arming.
    stopping_ = true;
    // Whoever did not take their goodbye yet will not get it.
    std::vector<std::shared_ptr<Connection>> all;
    for (Connection* c : connections_) all.push_back(c->shared_from_this());
    for (auto& c : all) c->teardown();
    write_tick_.cancel();
    housekeeping_.cancel();
    work_.reset();
  });
}

void Worker::fill_random(std::span<std::uint8_t> out) {
  for (std::size_t i = 0; i < out.size(); i += 8) {
    std::uint64_t r = random_();
    for (std::size_t j = 0; j < 8 && i + j < out.size(); ++j) out[i + j] = static_cast<std::uint8_t>(r >> (8 * j));
  }
}

void Worker::schedule_write(const std::shared_ptr<Connection>& connection) {
  if (connection->write_scheduled_) return;
  connection->write_scheduled_ = true;
  pending_writes_.push_back(connection);
  post_write_batch();
}

void Worker::write_soon(const std::shared_ptr<Connection>& connection) {
  if (write_interval_.count() == 0) {
    schedule_write(connection);  // every batch is written at once anyway
    return;
  }
  if (connection->write_soon_scheduled_) return;
  connection->write_soon_scheduled_ = true;
  soon_writes_.push_back(connection);
  if (soon_posted_) return;
  soon_posted_ = true;
  asio::post(io_, [this] {
    soon_posted_ = false;
    writing_soon_.swap(soon_writes_);
    // A connection also waiting for the tick stays there: write() sends
    // what is queued now, the tick whatever comes later.
    for (auto& soon : writing_soon_) {
      soon->write_soon_scheduled_ = false;
      soon->write();
    }
    writing_soon_.clear();
  });
}

void Worker::feed_grew(const std::shared_ptr<media::LiveFeed>& feed) {
  if (feed->write_scheduled) return;
  feed->write_scheduled = true;
  grown_feeds_.push_back(feed);
  post_write_batch();
}

void Worker::post_write_batch() {
  // With a write interval, the tick writes the batch.
  if (write_posted_ || write_interval_.count() > 0) return;
  write_posted_ = true;
  // After the frames already posted to this thread: they join this batch.
  asio::post(io_, [this] { write_all(); });
}

void Worker::arm_write_tick() {
  // A steady cadence: each tick is due one interval after the last was
  // due, not after it finished, so a player's writes stay evenly spaced
  // however long a tick takes.
  write_tick_.expires_at(next_write_tick_);
  write_tick_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    write_all();
    next_write_tick_ += write_interval_;
    const auto now = std::chrono::steady_clock::now();
    if (next_write_tick_ < now) next_write_tick_ = now;  // overloaded: do not pile up ticks
    arm_write_tick();
  });
}

void Worker::write_all() {
  write_posted_ = false;
  writing_feeds_.swap(grown_feeds_);
  for (auto& feed : writing_feeds_) {
    feed->write_scheduled = false;
    // Readers may leave the feed (a failed write tears a connection down)
    // while it calls them: the feed allows for that.
    feed->notify_readers();
  }
  writing_feeds_.clear();
  writing_.swap(pending_writes_);
  for (auto& connection : writing_) {
    connection->write_scheduled_ = false;
    connection->write();
  }
  writing_.clear();
}

void Worker::arm_housekeeping() {
  housekeeping_.expires_after(kHousekeepingPeriod);
  housekeeping_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    // check_timeouts may close (and so remove) connections: iterate a copy.
    std::vector<std::shared_ptr<Connection>> all;
    all.reserve(connections_.size());
    for (Connection* c : connections_) all.push_back(c->shared_from_this());
    for (auto& c : all) c->check_timeouts();
    arm_housekeeping();
  });
}

void Worker::close_all(const char* reason) {
  std::vector<std::shared_ptr<Connection>> all;
  for (Connection* c : connections_) all.push_back(c->shared_from_this());
  for (auto& c : all) c->close(CloseCause::Shutdown, reason);
}

}  // namespace rw::server
