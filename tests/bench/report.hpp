// The load tool's results, as JSON and as a one-line summary.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "tests/bench/options.hpp"
#include "tests/bench/seek_check.hpp"
#include "tests/bench/stats.hpp"

namespace rw::bench {

// The server process over the measuring window (--server-pid).
struct ServerUsage {
  int pid = 0;
  double cpu_percent = 0;        // of one core
  std::uint64_t rss_start_kb = 0;  // when the window opened
  std::uint64_t rss_max_kb = 0;    // sampled every second over the whole run
  std::uint64_t rss_end_kb = 0;
  std::uint64_t peak_rss_kb = 0;   // VmHWM at the end
};

// Timing of the run: the ramp, then the measuring window (all clients
// started, for --duration seconds).
// Above this share of its core the load tool itself delays reading, and
// lag and gap figures are partly its own.
inline constexpr double kBenchSaturatedPercent = 85;

struct RunTiming {
  double ramp_s = 0;
  double window_s = 0;
  double bench_cpu_percent = 0;  // this process over the window
  // Every process on the machine over the window (100 = one core busy):
  // what is left after the bench and the server is noise from elsewhere.
  double machine_cpu_percent = 0;
  std::optional<ServerUsage> server;
  bool interrupted = false;
};

struct PlayResult {
  std::size_t clients = 0;
  std::size_t connected = 0;  // got NetConnection.Connect.Success
  std::size_t playing = 0;    // got media
  std::size_t failed = 0;     // never got media
  std::size_t closed = 0;     // got media, then lost the connection before the end
  std::size_t behind_1s = 0;  // max lag over 1000 ms
  std::map<std::string, std::size_t> failures;  // reason -> count
  std::uint64_t bytes_received = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t window_bytes_received = 0;
  std::uint64_t acknowledgements_sent = 0;
  std::uint64_t pings_answered = 0;
  Summary final_lag_ms;
  Summary max_lag_ms;
  Summary max_gap_ms;
  Summary startup_ms;  // from TCP connect to first media
  Summary ahead_ms;    // how far ahead of real time the start burst took players
  RunTiming timing;
};

struct PublishResult {
  std::size_t clients = 0;
  std::size_t connected = 0;
  std::size_t publishing = 0;  // got NetStream.Publish.Start
  std::size_t failed = 0;      // never published
  std::size_t dropped = 0;     // published, then lost the connection before the end
  std::size_t behind_1s = 0;   // fell more than 1 s behind schedule at some point
  std::map<std::string, std::size_t> failures;
  std::uint64_t bytes_sent = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t window_bytes_sent = 0;
  std::uint64_t loops = 0;     // passes over the file, all publishers
  Summary final_behind_ms;
  Summary max_behind_ms;
  RunTiming timing;
};

struct SeekResult {
  std::size_t clients = 0;
  std::size_t connected = 0;
  std::size_t playing = 0;     // got the first keyframe of play
  std::size_t completed = 0;   // made every seek
  std::size_t failed = 0;      // never played
  std::size_t closed = 0;      // lost the connection after playing
  std::size_t unfinished = 0;  // still seeking when the run ended
  std::map<std::string, std::size_t> failures;
  // getStreamLength's answers (when the range was not given).
  std::optional<std::uint32_t> stream_length_min_ms;
  std::optional<std::uint32_t> stream_length_max_ms;
  SeekTally seeks;
  Summary seek_to_keyframe_ms;        // over all landed seeks
  Summary seek_to_notify_ms;
  Summary keyframe_before_target_ms;  // target minus the keyframe's timestamp
  Summary startup_ms;                 // TCP connect to the first keyframe of play
  std::uint64_t bytes_received = 0;
  std::uint64_t messages_received = 0;
  RunTiming timing;
};

// rewind-bench churn.
struct ChurnResult {
  std::size_t slots = 0;
  std::size_t started = 0;    // players started, replacements included
  std::size_t vanished = 0;   // played and then reset their connection
  std::size_t failed = 0;     // could not start (refused, timed out, error status)
  std::size_t cut_off = 0;    // the server closed them while they played
  std::map<std::string, std::size_t> failures;  // reason -> count
  Summary startup_ms;         // TCP connect to the first media
  RunTiming timing;
};

std::string to_json(const Options& options, const PlayResult& result);
std::string to_json(const Options& options, const PublishResult& result);
std::string summary_line(const PlayResult& result);
std::string summary_line(const PublishResult& result);
std::string to_json(const Options& options, const SeekResult& result);
std::string summary_line(const SeekResult& result);
std::string to_json(const Options& options, const ChurnResult& result);
std::string summary_line(const ChurnResult& result);

}  // namespace rw::bench
