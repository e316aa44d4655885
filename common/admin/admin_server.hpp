// The HTTP port of a role (http.listen): metrics, the admin API and health
// checks on a thread of their own (docs/operations.md). Made before the
// RTMP server starts, so that the metrics see its first events.
#pragma once

#include <memory>
#include <string>

#include "common/admin/admin_api.hpp"
#include "common/admin/metrics.hpp"
#include "common/admin/observed.hpp"
#include "common/base/expected.hpp"
#include "common/http/http_server.hpp"
#include "proto/config.pb.h"

namespace rw::admin {

class AdminServer {
 public:
  // Listens on config.http().listen(); nullptr when it is "off".
  static Expected<std::unique_ptr<AdminServer>, std::string> start(const config::Config& config, Observed& observed,
                                                                  const Logger& log);
  ~AdminServer();
  std::uint16_t port() const { return http_->port(); }
  ServerMetrics& metrics() { return metrics_; }
  // Before what it observes goes away.
  void stop();

 private:
  AdminServer(Observed& observed, std::string api_token);

  ServerMetrics metrics_;
  AdminApi api_;
  std::unique_ptr<http::HttpServer> http_;
};

}  // namespace rw::admin
