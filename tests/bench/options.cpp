#include "tests/bench/options.hpp"

#include <charconv>
#include <cmath>

namespace rw::bench {

std::optional<RtmpUrl> parse_rtmp_url(std::string_view url) {
  constexpr std::string_view kScheme = "rtmp://";
  if (url.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  url.remove_prefix(kScheme.size());
  const std::size_t slash = url.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view authority = url.substr(0, slash);
  std::string_view path = url.substr(slash + 1);

  RtmpUrl out;
  if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    std::string_view port = authority.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) return std::nullopt;
    out.port = static_cast<std::uint16_t>(value);
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return std::nullopt;
  out.host = std::string(authority);

  const std::size_t app_end = path.find('/');
  if (app_end == std::string_view::npos || app_end == 0 || app_end + 1 == path.size()) return std::nullopt;
  out.app = std::string(path.substr(0, app_end));
  out.stream = std::string(path.substr(app_end + 1));
  out.tc_url = "rtmp://" + out.host + ":" + std::to_string(out.port) + "/" + out.app;
  return out;
}

std::string indexed_stream_name(std::string_view stream, std::size_t index, std::size_t count) {
  if (count <= 1) return std::string(stream);
  const std::size_t query = stream.find('?');
  std::string name(stream.substr(0, query));
  // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict, a false
  // positive: its bug 105329) about "-" + std::to_string(index).
  name += '-';
  name += std::to_string(index);
  if (query != std::string_view::npos) name += stream.substr(query);
  return name;
}

std::size_t clients_due(double elapsed_s, double rate, std::size_t total) {
  if (total == 0) return 0;
  if (rate <= 0 || elapsed_s < 0) return elapsed_s < 0 ? 0 : total;
  const double due = std::floor(elapsed_s * rate) + 1;
  return due >= static_cast<double>(total) ? total : static_cast<std::size_t>(due);
}

namespace {

bool parse_number(std::string_view text, double& out) {
  // from_chars for double is in GCC 12's library.
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && std::isfinite(out);
}

template <class T>
bool parse_integer(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

Expected<Options, std::string> parse_options(const std::vector<std::string_view>& args) {
  Options o;
  if (args.empty()) return unexpected(std::string("missing mode (play, publish, seek or churn)"));
  if (args[0] == "play") {
    o.mode = Mode::Play;
  } else if (args[0] == "publish") {
    o.mode = Mode::Publish;
  } else if (args[0] == "seek") {
    o.mode = Mode::Seek;
  } else if (args[0] == "churn") {
    o.mode = Mode::Churn;
  } else {
    return unexpected("unknown mode '" + std::string(args[0]) + "' (play, publish, seek or churn)");
  }
  bool duration_given = false;
  bool start_given = false;

  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string_view flag = args[i];
    if (i + 1 >= args.size()) return unexpected("missing value after " + std::string(flag));
    const std::string_view value = args[++i];
    auto bad = [&] { return unexpected("bad value '" + std::string(value) + "' for " + std::string(flag)); };
    if (flag == "--url") {
      auto url = parse_rtmp_url(value);
      if (!url) return unexpected("bad URL '" + std::string(value) + "' (rtmp://host[:port]/app/stream)");
      o.url_text = std::string(value);
      o.url = std::move(*url);
    } else if (flag == "--clients") {
      if (!parse_integer(value, o.clients) || o.clients == 0) return bad();
    } else if (flag == "--ramp") {
      if (!parse_number(value, o.ramp) || o.ramp <= 0) return bad();
    } else if (flag == "--duration") {
      if (!parse_number(value, o.duration_s) || o.duration_s < 0) return bad();
      duration_given = true;
    } else if (flag == "--json") {
      o.json_path = std::string(value);
    } else if (flag == "--file") {
      o.file = std::string(value);
    } else if (flag == "--start") {
      if (!parse_number(value, o.play_start)) return bad();
      start_given = true;
    } else if (flag == "--buffer-ms") {
      if (!parse_integer(value, o.buffer_ms)) return bad();
    } else if (flag == "--timeout") {
      if (!parse_number(value, o.timeout_s) || o.timeout_s <= 0) return bad();
    } else if (flag == "--report-interval") {
      if (!parse_number(value, o.report_interval_s) || o.report_interval_s < 0) return bad();
    } else if (flag == "--server-pid") {
      if (!parse_integer(value, o.server_pid) || o.server_pid <= 0) return bad();
    } else if (flag == "--read-buffer") {
      if (!parse_integer(value, o.read_buffer) || o.read_buffer < 512) return bad();
    } else if (flag == "--chunk-size") {
      if (!parse_integer(value, o.chunk_size) || o.chunk_size < 128 || o.chunk_size > 0xFFFFFF) return bad();
    } else if (flag == "--delayed-ack") {
      if (value != "on" && value != "off") return bad();
      o.delayed_ack = value == "on";
    } else if (flag == "--seeks") {
      if (!parse_integer(value, o.seeks)) return bad();
    } else if (flag == "--interval-ms") {
      if (!parse_integer(value, o.seek_interval_ms)) return bad();
    } else if (flag == "--jitter-ms") {
      if (!parse_integer(value, o.seek_jitter_ms)) return bad();
    } else if (flag == "--range-ms") {
      if (!parse_integer(value, o.range_ms) || o.range_ms == 0) return bad();
    } else if (flag == "--trace") {
      if (!parse_integer(value, o.trace_client) || o.trace_client < 0) return bad();
    } else if (flag == "--seed") {
      if (!parse_integer(value, o.seed)) return bad();
    } else if (flag == "--churn-min-ms") {
      if (!parse_integer(value, o.churn_min_ms)) return bad();
    } else if (flag == "--churn-max-ms") {
      if (!parse_integer(value, o.churn_max_ms)) return bad();
    } else {
      return unexpected("unknown option " + std::string(flag));
    }
  }
  if (o.url_text.empty()) return unexpected(std::string("--url is required"));
  if (o.mode == Mode::Publish && o.file.empty()) return unexpected(std::string("publish needs --file"));
  if (o.churn_min_ms > o.churn_max_ms) return unexpected(std::string("--churn-min-ms is over --churn-max-ms"));
  if (o.mode == Mode::Seek) {
    // Seeking is into a recording: play it from its start.
    if (!start_given) o.play_start = 0;
    if (!duration_given) {
      o.duration_s = seek_duration_cap_s(o.seeks, o.seek_interval_ms + o.seek_jitter_ms, o.timeout_s);
    }
  }
  return o;
}

double seek_duration_cap_s(std::size_t seeks, std::uint32_t wait_ms, double timeout_s) {
  // Starting to play counts as one more wait for media.
  return static_cast<double>(seeks + 1) * (timeout_s + static_cast<double>(wait_ms) / 1000.0) + timeout_s;
}

std::string usage() {
  return "usage:\n"
         "  rewind-bench play    --url rtmp://HOST[:PORT]/APP/STREAM [options]\n"
         "  rewind-bench publish --url rtmp://HOST[:PORT]/APP/STREAM --file FILE.flv [options]\n"
         "  rewind-bench seek    --url rtmp://HOST[:PORT]/APP/STREAM --seeks S [options]\n"
         "  rewind-bench churn   --url rtmp://HOST[:PORT]/APP/STREAM --clients N [options]\n"
         "options:\n"
         "  --clients N          concurrent clients (default 1); publishers of several get STREAM-0, STREAM-1...\n"
         "  --ramp R             clients started per second (default 200)\n"
         "  --duration S         seconds all clients run after the ramp (default 30; seek: a cap, by default\n"
         "                       long enough for every seek to time out)\n"
         "  --json FILE          write the report as JSON ('-' for stdout)\n"
         "  --start MS           play start argument: -2 live or recorded (default), -1 live only; seek: 0\n"
         "  --buffer-ms MS       SetBufferLength sent before play (default 1000)\n"
         "  --timeout S          fail a client without media/Publish.Start after S seconds (default 10)\n"
         "  --report-interval S  progress line on stderr every S seconds (default 5, 0 = none)\n"
         "  --server-pid PID     also report that process's CPU% and RSS over the measuring window\n"
         "  --read-buffer BYTES  read buffer per connection (default 8192)\n"
         "  --chunk-size BYTES   chunk size announced to the server (default 4096)\n"
         "  --delayed-ack on|off players delay their TCP ACKs (TCP_QUICKACK off; default off). Halves the\n"
         "                       kernel work of both sides on loopback, but lets a server without TCP_NODELAY\n"
         "                       (nginx-rtmp) batch its writes behind Nagle's algorithm: compare servers\n"
         "                       with the same setting only\n"
         "seek (each client plays the recording, then seeks S times at random and times each seek\n"
         "from sending it to the first video keyframe after NetStream.Seek.Notify):\n"
         "  --seeks S            seeks per client (default 10; 0 only plays and reports the length)\n"
         "  --interval-ms MS     receive this long after each seek's keyframe before the next (default 1000)\n"
         "  --jitter-ms MS       plus a random [0, MS) (default 100), so that seeks do not lock onto the\n"
         "                       server's write cadence (0: exactly the interval)\n"
         "  --range-ms MS        seek targets are uniform in [0, MS) (default: getStreamLength's answer)\n"
         "  --seed N             seed of the targets (default 1); client i's targets depend on N and i only\n"
         "  --timeout S          also: a seek without its keyframe after S seconds has failed\n"
         "  --trace N            log client N's seeks, statuses and media messages on stderr\n"
         "churn (N slots of players that each play briefly, then vanish with a TCP reset and are\n"
         "replaced at once, for the whole duration; fails when a player cannot start or is cut off):\n"
         "  --churn-min-ms MS    shortest play after the first media (default 100)\n"
         "  --churn-max-ms MS    longest play after the first media (default 1500)\n";
}

}  // namespace rw::bench
