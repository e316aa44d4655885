// Command line of rewind-bench: the mode, the target URL and the load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/expected.hpp"

namespace rw::bench {

// rtmp://host[:port]/app/stream[?query]. The app is the first path
// segment (what nginx-rtmp, SRS and Rewind route by); the stream name is
// the rest, query included, as ffmpeg sends it.
struct RtmpUrl {
  std::string host;
  std::uint16_t port = 1935;
  std::string app;
  std::string stream;
  std::string tc_url;  // rtmp://host:port/app
};

std::optional<RtmpUrl> parse_rtmp_url(std::string_view url);

// The stream name of client `index` of `count`: "cam" stays "cam" for one
// client and becomes "cam-0", "cam-1"... for several, the suffix going
// before any "?query".
std::string indexed_stream_name(std::string_view stream, std::size_t index, std::size_t count);

// How many clients should have been started `elapsed_s` seconds into a
// ramp of `rate` clients per second (the first starts at once).
std::size_t clients_due(double elapsed_s, double rate, std::size_t total);

enum class Mode { Play, Publish, Seek, Churn };

struct Options {
  Mode mode = Mode::Play;
  std::string url_text;
  RtmpUrl url;
  std::size_t clients = 1;
  double ramp = 200;            // clients started per second
  // How long all clients run once the ramp is over. Seek clients end by
  // themselves after their seeks; for them this is only a cap, by default
  // enough for every seek to time out (seek_duration_cap_s).
  double duration_s = 30;
  std::string json_path;        // where the JSON report goes ("-": stdout)
  std::string file;             // publish: the FLV file
  double play_start = -2;       // play's start argument: -2 live or recorded, -1 live only (seek: 0)
  std::uint32_t buffer_ms = 1000;   // SetBufferLength sent before play
  double timeout_s = 10;        // a client without media (play) or Publish.Start by then fails
  double report_interval_s = 5; // progress lines on stderr; 0: none
  int server_pid = 0;           // measure this process's CPU and RSS over the run
  std::size_t read_buffer = 8192;   // per connection
  std::uint32_t chunk_size = 4096;  // announced to the server
  // Players keep their sockets in delayed-ACK mode (TCP_QUICKACK off after
  // every read). On loopback a reader otherwise acknowledges every segment
  // at once, and processing those ACKs costs both sides; but a server that
  // leaves Nagle on (nginx-rtmp) then coalesces its small writes while it
  // waits for ACKs, as it would on a network with some round-trip time.
  bool delayed_ack = false;

  // Seek: each client plays the recording, then seeks `seeks` times to
  // uniformly random positions in [0, range_ms), `seek_interval_ms` plus a
  // random [0, seek_jitter_ms) after the keyframe of the previous seek
  // arrived. range_ms 0: each client asks the server (getStreamLength).
  // Targets and jitter are a function of the seed and the client's index,
  // so a run can be repeated.
  std::size_t seeks = 10;
  std::uint32_t seek_interval_ms = 1000;
  std::uint32_t seek_jitter_ms = 100;
  std::uint32_t range_ms = 0;
  std::uint64_t seed = 1;
  // Seek: log this client's commands, statuses and media on stderr (-1: none).
  long trace_client = -1;

  // Churn: each of `clients` slots plays, and once its first media arrived
  // it plays a uniformly random [churn_min_ms, churn_max_ms] more, then
  // closes with a TCP reset and a new player takes the slot, for the whole
  // duration: viewers that vanish (killed players, mobile networks).
  std::uint32_t churn_min_ms = 100;
  std::uint32_t churn_max_ms = 1500;
};

// The longest a seek run may take once all clients have started: every
// seek timing out, each followed by the longest wait (interval + jitter).
double seek_duration_cap_s(std::size_t seeks, std::uint32_t wait_ms, double timeout_s);

// Parses the arguments after the program name. The error is a message for
// the user.
Expected<Options, std::string> parse_options(const std::vector<std::string_view>& args);

std::string usage();

}  // namespace rw::bench
