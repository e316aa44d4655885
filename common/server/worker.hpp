// One event-loop thread: an io_context, the connections it accepted, and
// the batching of their writes. A connection lives its whole life on the
// worker that accepted it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <unordered_set>
#include <vector>

#include "common/media/stream_hub.hpp"

namespace rw::server {

class Connection;

class Worker final : public media::Executor {
 public:
  Worker(std::size_t index, std::chrono::milliseconds write_interval);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  std::size_t index() const { return index_; }
  boost::asio::io_context& io() { return io_; }
  void post(std::function<void()> fn) override;
  // Readers of a feed that got frames are written with the next batch.
  void feed_grew(const std::shared_ptr<media::LiveFeed>& feed) override;

  // Runs the loop until stop(); call on the worker's own thread.
  void run();
  void stop();

  // Queues a connection to have its output written once the current batch
  // of events is handled, or at the next write tick when write_interval is
  // set. Each connection is written once per batch however many frames it
  // got.
  void schedule_write(const std::shared_ptr<Connection>& connection);
  // Writes a connection once the current batch of events is handled, even
  // between write ticks: replies to what the client asked (a command, a
  // seek, the first frame at a new place) are not batched, only the live
  // fan-out is.
  void write_soon(const std::shared_ptr<Connection>& connection);

  // Scratch space for socket reads. Connections read into it and hand the
  // bytes to their session at once, so idle connections hold no buffer.
  std::span<std::uint8_t> read_buffer() { return read_buffer_; }

  // Randomness for handshakes on this thread.
  void fill_random(std::span<std::uint8_t> out);

  void add(Connection* connection) { connections_.insert(connection); }
  void remove(Connection* connection) { connections_.erase(connection); }
  std::size_t connection_count() const { return connections_.size(); }
  // Closes every connection (server shutdown).
  void close_all(const char* reason);

 private:
  void write_all();
  void post_write_batch();
  void arm_write_tick();
  void arm_housekeeping();

  const std::size_t index_;
  const std::chrono::milliseconds write_interval_;
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer write_tick_;
  std::chrono::steady_clock::time_point next_write_tick_{};
  boost::asio::steady_timer housekeeping_;
  std::vector<std::shared_ptr<Connection>> pending_writes_;
  std::vector<std::shared_ptr<media::LiveFeed>> grown_feeds_;
  std::vector<std::shared_ptr<media::LiveFeed>> writing_feeds_;  // swapped with grown_feeds_
  std::vector<std::shared_ptr<Connection>> writing_;  // swapped with pending_writes_
  std::vector<std::shared_ptr<Connection>> soon_writes_;
  std::vector<std::shared_ptr<Connection>> writing_soon_;  // swapped with soon_writes_
  bool soon_posted_ = false;
  bool write_posted_ = false;
  bool stopping_ = false;
  std::vector<std::uint8_t> read_buffer_;
  std::mt19937_64 random_;
  std::unordered_set<Connection*> connections_;
};

}  // namespace rw::server
