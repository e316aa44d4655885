#include "common/admin/admin_server.hpp"

#include "common/config/config_loader.hpp"

namespace rw::admin {

AdminServer::AdminServer(Observed& observed, std::string api_token)
    : metrics_(observed), api_(observed, metrics_, std::move(api_token)) {}

AdminServer::~AdminServer() { stop(); }

Expected<std::unique_ptr<AdminServer>, std::string> AdminServer::start(const config::Config& config,
                                                                      Observed& observed, const Logger& log) {
  if (config.http().listen() == "off") return std::unique_ptr<AdminServer>();
  http::HttpServerOptions options;
  if (!config::parse_host_port(config.http().listen(), options.host, options.port)) {
    return unexpected("http.listen: expected HOST:PORT or off, not " + config.http().listen());
  }
  std::unique_ptr<AdminServer> admin(new AdminServer(observed, config.http().api_token()));
  AdminApi& api = admin->api_;
  auto http = http::HttpServer::create(
      options, [&api](const http::Request& request, const http::Peer& peer) { return api.handle(request, peer); },
      log);
  if (!http) return unexpected(http.error());
  admin->http_ = std::move(*http);
  api.probe_on(admin->http_->executor());
  admin->http_->every(std::chrono::seconds(5), [&api] { api.sample_rates(); });
  admin->http_->start();
  log.info() << "http: metrics, admin API and health checks on " << options.host << ":" << admin->http_->port()
             << (config.http().api_token().empty() ? " (read-only: no http.api_token)" : "");
  return admin;
}

void AdminServer::stop() {
  if (http_) http_->stop();
}

}  // namespace rw::admin
