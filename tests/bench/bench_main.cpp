// rewind-bench: a load tool for RTMP servers. One process, one thread,
// thousands of players, publishers or seeking DVR viewers on one Asio
// event loop.
//
// Exit status: 0 when every client ran to the end without falling more than
// 1 s behind (seek: made every seek, none failed or broke the seek
// sequence; churn: every player started and none was cut off), 2 when some failed, were dropped or fell behind, 1 on a usage
// or set-up error. CI's smoke benchmarks rely on it.
#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/bench/churn_load.hpp"
#include "tests/bench/flv_source.hpp"
#include "tests/bench/options.hpp"
#include "tests/bench/play_load.hpp"
#include "tests/bench/publish_load.hpp"
#include "tests/bench/report.hpp"
#include "tests/bench/seek_load.hpp"

namespace {

namespace asio = boost::asio;
using rw::bench::Options;

// Thousands of sockets need more descriptors than the usual soft limit.
void raise_descriptor_limit(std::size_t clients) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur < clients + 64) {
    std::cerr << "warning: the descriptor limit (" << limit.rlim_cur << ") is below " << clients
              << " clients; raise it with ulimit -n" << std::endl;
  }
}

bool write_json(const std::string& path, const std::string& json) {
  if (path.empty()) return true;
  if (path == "-") {
    std::cout << json << std::endl;
    return true;
  }
  std::ofstream out(path);
  out << json << '\n';
  return static_cast<bool>(out);
}

int run(const Options& options) {
  // One thread: the hint lets Asio skip waking other threads.
  asio::io_context io(1);
  asio::ip::tcp::resolver resolver(io);
  boost::system::error_code ec;
  auto endpoints = resolver.resolve(options.url.host, std::to_string(options.url.port), ec);
  if (ec || endpoints.empty()) {
    std::cerr << "cannot resolve " << options.url.host << ": " << ec.message() << std::endl;
    return 1;
  }
  const asio::ip::tcp::endpoint endpoint = endpoints.begin()->endpoint();
  raise_descriptor_limit(options.clients);

  std::string json;
  std::string summary;
  bool clean = false;
  if (options.mode == rw::bench::Mode::Play) {
    rw::bench::PlayLoad load(io, options, endpoint);
    rw::bench::RunTiming timing = load.run();
    rw::bench::PlayResult result = load.result();
    result.timing = timing;
    json = rw::bench::to_json(options, result);
    summary = rw::bench::summary_line(result);
    clean = result.failed == 0 && result.closed == 0 && result.behind_1s == 0 && !timing.interrupted;
  } else if (options.mode == rw::bench::Mode::Churn) {
    rw::bench::ChurnLoad load(io, options, endpoint);
    rw::bench::RunTiming timing = load.run();
    rw::bench::ChurnResult result = load.result();
    result.timing = timing;
    json = rw::bench::to_json(options, result);
    summary = rw::bench::summary_line(result);
    clean = result.failed == 0 && result.cut_off == 0 && result.vanished > 0 && !timing.interrupted;
  } else if (options.mode == rw::bench::Mode::Seek) {
    rw::bench::SeekLoad load(io, options, endpoint);
    rw::bench::RunTiming timing = load.run();
    rw::bench::SeekResult result = load.result();
    result.timing = timing;
    json = rw::bench::to_json(options, result);
    summary = rw::bench::summary_line(result);
    clean = result.completed == result.clients && result.seeks.failed == 0 && result.seeks.violations == 0 &&
            !timing.interrupted;
  } else {
    std::ifstream in(options.file, std::ios::binary);
    if (!in) {
      std::cerr << "cannot open " << options.file << std::endl;
      return 1;
    }
    rw::Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto source = rw::bench::load_flv(bytes);
    if (!source) {
      std::cerr << options.file << ": " << source.error() << std::endl;
      return 1;
    }
    rw::bench::PublishLoad load(io, options, endpoint, std::move(*source));
    rw::bench::RunTiming timing = load.run();
    rw::bench::PublishResult result = load.result();
    result.timing = timing;
    json = rw::bench::to_json(options, result);
    summary = rw::bench::summary_line(result);
    clean = result.failed == 0 && result.dropped == 0 && result.behind_1s == 0 && !timing.interrupted;
  }
  if (!write_json(options.json_path, json)) {
    std::cerr << "cannot write " << options.json_path << std::endl;
    return 1;
  }
  std::cout << summary << std::endl;
  return clean ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
    std::cout << rw::bench::usage();
    return 0;
  }
  auto options = rw::bench::parse_options(args);
  if (!options) {
    std::cerr << "rewind-bench: " << options.error() << "\n" << rw::bench::usage();
    return 1;
  }
  return run(*options);
}
