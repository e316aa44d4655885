// `rewind-bench churn`: players that come and go. Each slot plays the
// stream; a random while after its first media it vanishes with a TCP
// reset and a new player takes the slot at once, over and over, for the
// whole run. This is the traffic a server sees from killed players and
// dropped mobile links, and the run fails when any player cannot start or
// is cut off by the server.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tests/bench/connection.hpp"
#include "tests/bench/load_run.hpp"
#include "tests/bench/play_load.hpp"
#include "tests/bench/report.hpp"

namespace rw::bench {

class ChurnLoad final : public LoadRun {
 public:
  ChurnLoad(boost::asio::io_context& io, const Options& options, boost::asio::ip::tcp::endpoint endpoint);
  ChurnResult result() const;

 protected:
  void start_client(std::size_t index) override;
  void on_second(std::int64_t now) override;
  std::string progress() override;
  void on_window_open() override;
  void stop_clients(std::int64_t now) override;
  bool all_done() const override;

 private:
  struct Slot {
    std::unique_ptr<Player> player;
    std::int64_t vanish_at_us = 0;  // 0: not playing yet
  };
  void tick();
  // Records how the slot's player ended and starts a new one there.
  void replace(Slot& slot, std::size_t index);
  void tally(const Player& player);

  LoadContext context_;
  std::vector<Slot> slots_;
  // Players that ended keep their socket until the next tick has run:
  // their handlers may still be on the stack.
  std::vector<std::unique_ptr<Player>> retired_;
  boost::asio::steady_timer tick_timer_;
  std::mt19937_64 random_;
  bool stopping_ = false;
  ChurnResult totals_;
  std::vector<double> startup_ms_;
};

}  // namespace rw::bench
