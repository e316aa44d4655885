// rewind-origin: takes publishers, serves live streams to players and
// downstream servers.
#include <unistd.h>

#include <filesystem>

#include "common/admin/admin_server.hpp"
#include "common/apps/server_apps.hpp"
#include "common/base/clock.hpp"
#include "common/base/log.hpp"
#include "common/dvr/segment_store.hpp"
#include "common/media/stream_hub.hpp"
#include "common/server/server.hpp"
#include "common/server/access_log.hpp"
#include "common/server/dvr_access.hpp"
#include "common/server/role.hpp"
#include "common/server/server_config.hpp"

namespace {

constexpr std::string_view kSummary =
    "Rewind origin: accepts RTMP publishers and serves their streams live.";

}  // namespace

int main(int argc, char** argv) {
  rw::config::Config config;
  if (auto exit_code = rw::server::load_role_config("rewind-origin", kSummary, argc, argv, config)) return *exit_code;

  rw::LogLevel level = rw::LogLevel::Info;
  rw::parse_log_level(config.log_level(), level);
  // Lines are written on the writer's thread: a slow reader of stderr (a
  // supervisor, a pipe) never stalls a worker; past 4 MB waiting, lines
  // are dropped and counted.
  rw::LogWriter log_writer(STDERR_FILENO);
  rw::Logger log(level, log_writer.sink());
  rw::SystemClock clock;
  rw::server::raise_open_file_limit(log);

  std::error_code ec;
  std::filesystem::create_directories(config.data_dir(), ec);
  if (ec) {
    log.error() << "data_dir " << config.data_dir() << ": " << ec.message();
    return 1;
  }

  // Before the DVR threads: their retention passes read it until dvr stops.
  rw::server::ServerOptions options = rw::server::server_options(config);
  // Downstream relays and edges learn it is a Rewind server from its id.
  options.role = "origin";
  options.server_id = rw::server::server_id_of(config, "origin");

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
  // Lines for every connect, publish, play... (docs/applications.md).
  std::unique_ptr<rw::server::AccessLog> access_log;
  if (!config.access_log().empty()) {
    access_log = std::make_unique<rw::server::AccessLog>(config.access_log(), clock, log);
    access_log->subscribe(events);
  }
  // HTTP callbacks and Lua scripts, when configured (docs/applications.md).
  rw::apps::ServerApplications applications(config, options.role, options.server_id, log, events);
  rw::server::ServerContext context(options, log, clock, streams, events);
  context.application = applications.get();
  context.dvr = &dvr;
  context.segments = &dvr;
  // Retention over every recording (finished ones too) and the store's cap.
  dvr.start_retention([&options](std::string_view app) { return rw::server::retention_of(options, app); },
                      config.dvr().store_max_bytes(), std::chrono::seconds(config.dvr().retention_interval_s()),
                      log, &events);

  // Metrics and the admin API see the server from its first event.
  rw::admin::Observed observed(context);
  observed.dvr = &dvr;
  auto admin = rw::admin::AdminServer::start(config, observed, log);
  if (!admin) {
    log.error() << admin.error();
    return 1;
  }

  auto server = rw::server::Server::create(context);
  if (!server) {
    log.error() << server.error();
    return 1;
  }
  (*server)->start();
  observed.listening = true;
  log.info() << "rewind-origin listening on " << options.listen_host << ":" << (*server)->port() << " with "
             << (*server)->worker_count() << " threads, data_dir " << config.data_dir() << ", server id "
             << options.server_id;

  rw::server::wait_for_shutdown_signal(log, [&] {
    if (access_log) access_log->reopen();
  });
  // Not ready any more: a load balancer stops sending viewers here.
  observed.listening = false;
  // Publishers unpublish as their connections close; their recorders queue
  // their last segments, which the DVR writer stores before it stops.
  (*server)->stop();
  if (*admin) (*admin)->stop();
  dvr.stop();
  log.info() << "rewind-origin stopped";
  return 0;
}
