// `rewind-bench publish`: many publishers of an FLV file at real-time pace.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <vector>

#include "tests/bench/connection.hpp"
#include "tests/bench/flv_source.hpp"
#include "tests/bench/load_run.hpp"
#include "tests/bench/report.hpp"
#include "tests/bench/stats.hpp"

namespace rw::bench {

// One publisher, as ffmpeg does it: connect, releaseStream, FCPublish,
// createStream, publish; then the file's frames, each when it is due.
class Publisher final : public Connection {
 public:
  enum class Stage { Connecting, CreatingStream, Starting, Publishing, Failed, Dropped, Stopped };

  Publisher(LoadContext& context, std::size_t index, const FlvSource& source, std::string stream_name);

  // Sends every frame due by now and measures how late the oldest unsent
  // one is.
  void pump(std::int64_t now);
  void check_timeout(std::int64_t now, std::int64_t timeout_us);
  void stop(std::int64_t now);

  Stage stage() const { return stage_; }
  bool connected() const { return connected_; }
  bool published() const { return published_; }
  const ScheduleLag& behind() const { return behind_; }
  std::uint64_t frames_sent() const { return frames_sent_; }
  std::uint64_t loops() const { return loop_.loops(); }
  const std::string& failure() const { return failure_; }

 protected:
  void on_open() override;
  void on_event(rtmp::ClientEvent& event, std::int64_t now) override;
  void on_closed(const std::string& reason) override;

 private:
  void fail(const std::string& reason);
  std::string stage_detail() const;

  FlvLoop loop_;
  std::string stream_name_;
  Stage stage_ = Stage::Connecting;
  bool connected_ = false;
  bool published_ = false;
  bool stopping_ = false;
  std::uint32_t stream_id_ = 0;
  std::int64_t started_at_ = 0;
  std::int64_t schedule_start_us_ = 0;  // when the first frame was due
  PublishProgress progress_;
  std::uint64_t acknowledgements_seen_ = 0;
  std::uint64_t frames_sent_ = 0;
  ScheduleLag behind_;
  std::string failure_;
};

class PublishLoad final : public LoadRun {
 public:
  PublishLoad(boost::asio::io_context& io, const Options& options, boost::asio::ip::tcp::endpoint endpoint,
              FlvSource source);
  PublishResult result() const;

 protected:
  void start_client(std::size_t index) override;
  void on_second(std::int64_t now) override;
  std::string progress() override;
  void on_window_open() override;
  void stop_clients(std::int64_t now) override;
  bool all_done() const override;

 private:
  void pump_tick();
  std::uint64_t total_bytes_sent() const;

  LoadContext context_;
  FlvSource source_;
  std::vector<std::unique_ptr<Publisher>> publishers_;
  boost::asio::steady_timer pump_timer_;
  bool stopped_ = false;
  std::uint64_t bytes_at_window_open_ = 0;
  std::uint64_t bytes_at_end_ = 0;
  RateMeter rate_{0, now_us()};  // for progress lines
};

}  // namespace rw::bench
