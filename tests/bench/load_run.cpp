#include "tests/bench/load_run.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>
#include <csignal>
#include <iostream>

#include "tests/bench/connection.hpp"

namespace rw::bench {

namespace asio = boost::asio;

namespace {
// Clients are started in small batches this often during the ramp.
constexpr auto kRampStep = std::chrono::milliseconds(5);
}  // namespace

double own_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

LoadRun::LoadRun(asio::io_context& io, const Options& options)
    : io_(io),
      options_(options),
      ramp_timer_(io),
      second_timer_(io),
      end_timer_(io),
      signals_(io, SIGINT, SIGTERM) {
  if (options.server_pid > 0) server_.emplace(options.server_pid);
}

RunTiming LoadRun::run() {
  started_at_ = now_us();
  last_report_at_ = started_at_;
  if (server_) {
    timing_.server = ServerUsage{};
    timing_.server->pid = server_->pid();
    sample_server_rss();
  }
  signals_.async_wait([this](const boost::system::error_code& ec, int) {
    if (!ec) finish(true);
  });
  ramp_tick();
  second_timer_.expires_after(std::chrono::seconds(1));
  second_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) second_tick();
  });
  io_.run();
  return timing_;
}

void LoadRun::ramp_tick() {
  if (finished_) return;
  const double elapsed = static_cast<double>(now_us() - started_at_) / 1e6;
  const std::size_t due = clients_due(elapsed, options_.ramp, options_.clients);
  while (started_ < due) start_client(started_++);
  if (started_ == options_.clients) {
    open_window();
    return;
  }
  ramp_timer_.expires_after(kRampStep);
  ramp_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) ramp_tick();
  });
}

void LoadRun::open_window() {
  window_open_ = true;
  window_open_at_ = now_us();
  timing_.ramp_s = static_cast<double>(window_open_at_ - started_at_) / 1e6;
  bench_cpu_at_open_ = own_cpu_seconds();
  machine_at_open_ = machine_ticks();
  if (server_) {
    server_cpu_at_open_ = server_->cpu();
    timing_.server->rss_start_kb = server_->rss_kb().value_or(0);
  }
  on_window_open();
  end_timer_.expires_after(std::chrono::microseconds(static_cast<std::int64_t>(options_.duration_s * 1e6)));
  end_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) finish(false);
  });
}

void LoadRun::sample_server_rss() {
  if (!server_) return;
  if (auto rss = server_->rss_kb()) timing_.server->rss_max_kb = std::max(timing_.server->rss_max_kb, *rss);
}

void LoadRun::second_tick() {
  if (finished_) return;
  const std::int64_t now = now_us();
  on_second(now);
  sample_server_rss();
  if (options_.report_interval_s > 0 &&
      static_cast<double>(now - last_report_at_) / 1e6 >= options_.report_interval_s - 0.01) {
    last_report_at_ = now;
    std::cerr << "[" << static_cast<double>(now - started_at_) / 1e6 << "s] " << progress() << std::endl;
  }
  if (started_ == options_.clients && all_done()) {
    finish(false);
    return;
  }
  second_timer_.expires_after(std::chrono::seconds(1));
  second_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) second_tick();
  });
}

void LoadRun::end_if_all_done() {
  asio::post(io_, [this] {
    if (!finished_ && started_ == options_.clients && all_done()) finish(false);
  });
}

void LoadRun::finish(bool interrupted) {
  if (finished_) return;
  finished_ = true;
  const std::int64_t now = now_us();
  timing_.interrupted = interrupted;
  if (window_open_) {
    timing_.window_s = static_cast<double>(now - window_open_at_) / 1e6;
    if (timing_.window_s > 0) {
      timing_.bench_cpu_percent = (own_cpu_seconds() - bench_cpu_at_open_) / timing_.window_s * 100;
      if (auto machine = machine_ticks(); machine && machine_at_open_) {
        timing_.machine_cpu_percent = static_cast<double>(machine->busy - machine_at_open_->busy) /
                                      clock_ticks_per_second() / timing_.window_s * 100;
      }
      if (server_ && server_cpu_at_open_) {
        if (auto cpu = server_->cpu()) {
          timing_.server->cpu_percent = static_cast<double>(cpu->total() - server_cpu_at_open_->total()) /
                                        clock_ticks_per_second() / timing_.window_s * 100;
        }
      }
    }
  } else {
    timing_.ramp_s = static_cast<double>(now - started_at_) / 1e6;
  }
  if (server_) {
    sample_server_rss();
    timing_.server->rss_end_kb = server_->rss_kb().value_or(0);
    timing_.server->peak_rss_kb = server_->peak_rss_kb().value_or(0);
  }
  stop_clients(now);
  boost::system::error_code ignored;
  ramp_timer_.cancel();
  second_timer_.cancel();
  end_timer_.cancel();
  signals_.cancel(ignored);
  io_.stop();
}

}  // namespace rw::bench
