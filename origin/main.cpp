// rewind-origin: takes publishers, serves live streams to players and
// downstream servers.
#include <signal.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <filesystem>
#include <iostream>
#include <map>

#include "common/base/clock.hpp"
#include "common/base/log.hpp"
#include "common/config/config_loader.hpp"
#include "common/dvr/segment_store.hpp"
#include "common/media/stream_hub.hpp"
#include "common/server/server.hpp"
#include "common/server/dvr_access.hpp"
#include "common/server/server_config.hpp"

extern char** environ;

namespace {

constexpr std::string_view kSummary =
    "Rewind origin: accepts RTMP publishers and serves their streams live.";

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string_view::npos && kv.rfind("REWIND_", 0) == 0) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

}  // namespace

int main(int argc, char** argv) {
  auto loaded = rw::config::load(std::vector<std::string>(argv + 1, argv + argc), environment());
  if (!loaded) {
    std::cerr << "rewind-origin: " << loaded.error() << "\n";
    return 2;
  }
  if (loaded->help) {
    std::cout << rw::config::help_text("rewind-origin", kSummary);
    return 0;
  }
  const rw::config::Config& config = loaded->config;

  rw::LogLevel level = rw::LogLevel::Info;
  rw::parse_log_level(config.log_level(), level);
  // Lines are written on the writer's thread: a slow reader of stderr (a
  // supervisor, a pipe) never stalls a worker; past 4 MB waiting, lines
  // are dropped and counted.
  rw::LogWriter log_writer(STDERR_FILENO);
  rw::Logger log(level, log_writer.sink());
  rw::SystemClock clock;

  std::error_code ec;
  std::filesystem::create_directories(config.data_dir(), ec);
  if (ec) {
    log.error() << "data_dir " << config.data_dir() << ": " << ec.message();
    return 1;
  }

  // A player that disconnects while we write must not kill the process.
  ::signal(SIGPIPE, SIG_IGN);

  // Before the DVR threads: their retention passes read it until dvr stops.
  const rw::server::ServerOptions options = rw::server::server_options(config);

  // The DVR store: recordings of every application live here.
  rw::dvr::StoreOptions store_options;
  store_options.log = &log;
  const std::string store_dir = rw::dvr::SegmentStore::directory_in(config.data_dir());
  auto store = rw::dvr::SegmentStore::open(store_dir, store_options);
  if (!store) {
    log.error() << "cannot open the DVR store in " << store_dir << ": " << store.error().message;
    return 1;
  }
  rw::server::DvrAccess dvr(std::move(*store), 2);

  rw::media::StreamRegistry streams(rw::server::hub_options(config));
  rw::server::EventBus events;
  rw::server::log_events(events, log, clock);
  rw::server::ServerContext context(options, log, clock, streams, events);
  context.dvr = &dvr;
  context.segments = &dvr;
  // Retention over every recording (finished ones too) and the store's cap.
  dvr.start_retention([&options](std::string_view app) { return rw::server::retention_of(options, app); },
                      config.dvr().store_max_bytes(), std::chrono::seconds(config.dvr().retention_interval_s()),
                      log);

  auto server = rw::server::Server::create(context);
  if (!server) {
    log.error() << server.error();
    return 1;
  }
  (*server)->start();
  log.info() << "rewind-origin listening on " << options.listen_host << ":" << (*server)->port() << " with "
             << (*server)->worker_count() << " threads, data_dir " << config.data_dir();

  boost::asio::io_context main_io;
  boost::asio::signal_set signals(main_io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int signal) {
    log.info() << "signal " << signal << ": shutting down";
  });
  main_io.run();
  // Publishers unpublish as their connections close; their recorders queue
  // their last segments, which the DVR writer stores before it stops.
  (*server)->stop();
  dvr.stop();
  log.info() << "rewind-origin stopped";
  return 0;
}
