// `rewind-bench seek`: DVR viewers seeking at random into a recording, each
// seek timed from sending it to the first video keyframe after
// NetStream.Seek.Notify, and what arrives checked (seek_check.hpp).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/bench/connection.hpp"
#include "tests/bench/load_run.hpp"
#include "tests/bench/report.hpp"
#include "tests/bench/seek_check.hpp"

namespace rw::bench {

// One DVR viewer: handshake, connect, getStreamLength (unless the range is
// given), createStream, SetBufferLength, play from --start (0); once the
// first keyframe is in, it waits the interval, seeks, waits for the
// keyframe and the interval again, --seeks times, then disconnects.
// Each wait is the interval plus a random jitter: a client that seeks a
// whole number of server write ticks after a keyframe arrived would always
// catch the server just after a tick, and measure its worst case.
class SeekClient final : public Connection {
 public:
  enum class Stage {
    Connecting,
    AskingLength,    // getStreamLength
    CreatingStream,
    Starting,        // play sent, waiting for the first keyframe
    Waiting,         // the interval between seeks
    Seeking,         // seek sent, waiting for its keyframe
    Done,            // every seek made
    Failed,          // never played
    Closed,          // lost the connection after playing
    Unfinished,      // the run ended first
  };

  SeekClient(LoadContext& context, std::size_t index, SeekTally& tally, std::function<void()> on_finished);

  // Fails a client that has not started playing, or a seek without its
  // keyframe, `timeout_us` after it began.
  void check_timeout(std::int64_t now, std::int64_t timeout_us);
  // Ends the run for this client.
  void stop(std::int64_t now);

  Stage stage() const { return stage_; }
  bool connected() const { return connected_; }
  bool played() const { return first_keyframe_at_ != 0; }
  // From TCP connect to the first keyframe of play.
  double startup_ms() const { return static_cast<double>(first_keyframe_at_ - started_at_) / 1000.0; }
  // getStreamLength's answer, when asked.
  std::optional<std::uint32_t> stream_length_ms() const { return stream_length_ms_; }
  std::size_t seeks_sent() const { return seeks_sent_; }
  std::uint64_t messages() const { return messages_; }
  const std::string& failure() const { return failure_; }

 protected:
  void on_open() override;
  void on_event(rtmp::ClientEvent& event, std::int64_t now) override;
  void on_closed(const std::string& reason) override;

 private:
  void on_media(const rtmp::Message& message, std::int64_t now);
  void on_status(const rtmp::StatusEvent& status, std::int64_t now);
  // Waits the interval, then seeks again or finishes.
  void wait_interval();
  void next_step();
  void send_seek();
  // The seek in progress failed; the next comes after the interval.
  void seek_failed(const std::string& reason);
  // Closes the books on the last seek: its violations are final.
  void end_seek();
  void finish();
  void fail(const std::string& reason);
  std::string stage_detail() const;
  // --trace: one line on stderr, with the time since this client started.
  void trace(const std::string& line) const;

  SeekTally& tally_;
  RandomMs targets_;
  RandomMs jitter_;
  boost::asio::steady_timer timer_;
  std::function<void()> on_finished_;
  Stage stage_ = Stage::Connecting;
  bool connected_ = false;
  bool stopping_ = false;
  bool tracing_ = false;
  std::uint32_t stream_id_ = 0;
  double length_transaction_ = 0;
  std::uint32_t range_ms_ = 0;
  std::optional<std::uint32_t> stream_length_ms_;
  // Where a seek before the recording's first keyframe lands (play from 0
  // starts there).
  std::optional<std::uint32_t> first_keyframe_ms_;
  std::int64_t started_at_ = 0;
  std::int64_t first_keyframe_at_ = 0;
  std::uint32_t last_timestamp_ = 0;  // of the last audio or video message
  std::optional<SeekProbe> probe_;  // the last seek, until the next one
  std::size_t seeks_sent_ = 0;
  std::uint64_t messages_ = 0;
  std::string failure_;
};

class SeekLoad final : public LoadRun {
 public:
  SeekLoad(boost::asio::io_context& io, const Options& options, boost::asio::ip::tcp::endpoint endpoint);
  SeekResult result() const;

 protected:
  void start_client(std::size_t index) override;
  void on_second(std::int64_t now) override;
  std::string progress() override;
  void stop_clients(std::int64_t now) override;
  bool all_done() const override;

 private:
  LoadContext context_;
  SeekTally tally_;
  std::vector<std::unique_ptr<SeekClient>> clients_;
};

}  // namespace rw::bench
