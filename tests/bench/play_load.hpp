// `rewind-bench play`: many players of one stream.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <vector>

#include "tests/bench/connection.hpp"
#include "tests/bench/load_run.hpp"
#include "tests/bench/report.hpp"
#include "tests/bench/stats.hpp"

namespace rw::bench {

// One player: handshake, connect, createStream, SetBufferLength, play;
// then it times every audio and video message.
class Player final : public Connection {
 public:
  enum class Stage { Connecting, CreatingStream, Starting, Playing, Failed, Closed, Stopped };

  Player(LoadContext& context, std::size_t index);

  // Fails the player if it has no media `timeout_us` after it started.
  void check_timeout(std::int64_t now, std::int64_t timeout_us);
  // Ends the run for this player.
  void stop(std::int64_t now);
  // Ends this player with a TCP reset, as a player that vanishes does.
  void vanish(std::int64_t now);

  Stage stage() const { return stage_; }
  bool connected() const { return connected_; }
  const PlayerTimeline& timeline() const { return timeline_; }
  std::uint64_t messages() const { return messages_; }
  std::int64_t started_at() const { return started_at_; }
  const std::string& failure() const { return failure_; }

 protected:
  void on_open() override;
  void on_event(rtmp::ClientEvent& event, std::int64_t now) override;
  void on_closed(const std::string& reason) override;

 private:
  void fail(const std::string& reason);
  std::string stage_detail() const;

  Stage stage_ = Stage::Connecting;
  bool connected_ = false;
  bool stopping_ = false;
  std::uint32_t stream_id_ = 0;
  std::int64_t started_at_ = 0;
  std::uint64_t messages_ = 0;
  PlayerTimeline timeline_;
  std::string failure_;
};

class PlayLoad final : public LoadRun {
 public:
  PlayLoad(boost::asio::io_context& io, const Options& options, boost::asio::ip::tcp::endpoint endpoint);
  PlayResult result() const;

 protected:
  void start_client(std::size_t index) override;
  void on_second(std::int64_t now) override;
  std::string progress() override;
  void on_window_open() override;
  void stop_clients(std::int64_t now) override;
  bool all_done() const override;

 private:
  std::uint64_t total_bytes_received() const;

  LoadContext context_;
  std::vector<std::unique_ptr<Player>> players_;
  std::uint64_t bytes_at_window_open_ = 0;
  std::uint64_t bytes_at_end_ = 0;
  RateMeter rate_{0, now_us()};  // for progress lines
};

}  // namespace rw::bench
