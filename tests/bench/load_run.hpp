// The shape of every run: start clients at the ramp rate, hold them all for
// the duration (the measuring window), then stop them. Modes fill in what a
// client is.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "tests/bench/options.hpp"
#include "tests/bench/proc_stats.hpp"
#include "tests/bench/report.hpp"

namespace rw::bench {

class LoadRun {
 public:
  LoadRun(boost::asio::io_context& io, const Options& options);
  virtual ~LoadRun() = default;
  LoadRun(const LoadRun&) = delete;
  LoadRun& operator=(const LoadRun&) = delete;

  // Runs the event loop until the run is over.
  RunTiming run();

 protected:
  virtual void start_client(std::size_t index) = 0;
  // Once a second, for timeouts.
  virtual void on_second(std::int64_t now) = 0;
  // A progress line for stderr.
  virtual std::string progress() = 0;
  // All clients have been started: the measuring window opens.
  virtual void on_window_open() {}
  virtual void stop_clients(std::int64_t now) = 0;
  // Every client has failed or closed: nothing is left to measure.
  virtual bool all_done() const = 0;
  // Ends the run as soon as all clients are started and done, rather than
  // at the next second's check: seek runs end when their clients do, and
  // the server's figures should not include an idle second. Safe to call
  // from a client's handler (the check runs after it).
  void end_if_all_done();

  boost::asio::io_context& io_;
  const Options& options_;

 private:
  void ramp_tick();
  void second_tick();
  void open_window();
  void finish(bool interrupted);
  void sample_server_rss();

  boost::asio::steady_timer ramp_timer_;
  boost::asio::steady_timer second_timer_;
  boost::asio::steady_timer end_timer_;
  boost::asio::signal_set signals_;
  std::int64_t started_at_ = 0;
  std::int64_t window_open_at_ = 0;
  std::int64_t last_report_at_ = 0;
  std::size_t started_ = 0;
  bool window_open_ = false;
  bool finished_ = false;
  double bench_cpu_at_open_ = 0;
  std::optional<ProcessProbe> server_;
  std::optional<CpuTicks> server_cpu_at_open_;
  std::optional<MachineTicks> machine_at_open_;
  RunTiming timing_;
};

// CPU seconds this process has used.
double own_cpu_seconds();

}  // namespace rw::bench
