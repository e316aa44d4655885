#include "common/proxy/proxy_role.hpp"

#include <unistd.h>

#include <filesystem>

#include "common/admin/admin_server.hpp"
#include "common/apps/server_apps.hpp"
#include "common/base/clock.hpp"
#include "common/base/log.hpp"
#include "common/cache/segment_cache.hpp"
#include "common/media/stream_hub.hpp"
#include "common/proxy/proxy_manager.hpp"
#include "common/server/access_log.hpp"
#include "common/server/role.hpp"
#include "common/server/server.hpp"
#include "common/server/server_config.hpp"

namespace rw::proxy {

int run_proxy_role(std::string_view role, std::string_view program, std::string_view summary, int argc,
                   char** argv) {
  config::Config config;
  if (auto exit_code = server::load_role_config(program, summary, argc, argv, config)) return *exit_code;

  LogLevel level = LogLevel::Info;
  parse_log_level(config.log_level(), level);
  LogWriter log_writer(STDERR_FILENO);
  Logger log(level, log_writer.sink());
  SystemClock clock;
  server::raise_open_file_limit(log);

  server::ServerOptions options = server::server_options(config);
  options.role = std::string(role);
  options.server_id = server::server_id_of(config, role);
  ProxyManagerSettings settings = proxy_settings(config, Identity{options.role, options.server_id});
  if (settings.upstreams.empty() && settings.app_upstreams.empty()) {
    log.error() << program << " needs an upstream: --upstream rtmp://HOST[:PORT][/APP] (repeat it for backups)";
    return 2;
  }

  std::error_code ec;
  std::filesystem::create_directories(config.data_dir(), ec);
  if (ec) {
    log.error() << "data_dir " << config.data_dir() << ": " << ec.message();
    return 1;
  }
  cache::CacheOptions cache_options;
  cache_options.memory_bytes = config.cache().memory_bytes();
  cache_options.disk_bytes = config.cache().disk_bytes();
  cache_options.dir = config.cache().dir().empty() ? std::filesystem::path(config.data_dir()) / "cache"
                                                   : std::filesystem::path(config.cache().dir());
  cache::SegmentCache cache(cache_options, log);

  media::StreamRegistry streams(server::hub_options(config));
  server::EventBus events;
  server::log_events(events, log, clock);
  // Lines for every connect, publish, play... (docs/applications.md).
  std::unique_ptr<server::AccessLog> access_log;
  if (!config.access_log().empty()) {
    access_log = std::make_unique<server::AccessLog>(config.access_log(), clock, log);
    access_log->subscribe(events);
  }
  ProxyManager manager(streams, events, cache, std::move(settings), log);
  // HTTP callbacks and Lua scripts, when configured (docs/applications.md);
  // scripts' ProxyStreams pull through the manager.
  apps::ServerApplications applications(config, options.role, options.server_id, log, events, &manager);
  server::ServerContext context(options, log, clock, streams, events);
  context.application = applications.get();
  context.segments = &manager.segments();
  context.puller = &manager;
  admin::Observed observed(context);
  observed.puller = &manager;
  observed.cache = &cache;
  auto http = admin::AdminServer::start(config, observed, log);
  if (!http) {
    log.error() << http.error();
    return 1;
  }
  manager.start();

  auto server = server::Server::create(context);
  if (!server) {
    log.error() << server.error();
    // Its last statuses go to the metrics, which go before it.
    manager.stop();
    return 1;
  }
  (*server)->start();
  observed.listening = true;
  std::string upstreams;
  for (const auto& u : config.upstream()) upstreams += (upstreams.empty() ? "" : ", ") + u;
  log.info() << program << " listening on " << options.listen_host << ":" << (*server)->port() << " with "
             << (*server)->worker_count() << " threads, server id " << options.server_id << ", upstreams "
             << (upstreams.empty() ? std::string("per application") : upstreams);

  server::wait_for_shutdown_signal(log, [&] {
    if (access_log) access_log->reopen();
  });
  // Not ready any more: a load balancer stops sending viewers here.
  observed.listening = false;
  // Players first (they hold the pulls), then the pulls and upstreams.
  (*server)->stop();
  if (*http) (*http)->stop();
  manager.stop();
  log.info() << program << " stopped";
  return 0;
}

}  // namespace rw::proxy
