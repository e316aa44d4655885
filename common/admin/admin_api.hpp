// The HTTP side of a Rewind process (docs/operations.md): Prometheus's
// /metrics, the JSON admin API under /api/v1/ (field names as SRS's
// /api/v1/streams and /api/v1/clients, so that SRS dashboards and scripts
// work with little change), and the container health checks /healthz and
// /readyz. Kicking a client needs the bearer token http.api_token; with
// none set, the API is read-only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <mutex>
#include <string>

#include "common/admin/metrics.hpp"
#include "common/admin/observed.hpp"
#include "common/http/http_server.hpp"

namespace rw::admin {

class AdminApi {
 public:
  AdminApi(Observed& observed, ServerMetrics& metrics, std::string api_token);

  // Where /readyz probes upstreams from (the HTTP thread's executor);
  // without it only an upstream in use makes a relay or an edge ready.
  void probe_on(boost::asio::any_io_executor executor) { executor_ = std::move(executor); }
  // The server's handler (HTTP thread).
  http::Response handle(const http::Request& request, const http::Peer& peer);
  // Samples every client's byte counters, for the 30 s rates (kbps) the
  // API shows; the HTTP server calls it every few seconds.
  void sample_rates();

  // The JSON documents, as the routes answer them.
  boost::json::object summary();
  boost::json::object streams();
  // SRS's paging: clients from `start`, at most `count` (kMaxClients).
  static constexpr std::size_t kDefaultClients = 100, kMaxClients = 1000;
  boost::json::object clients(std::size_t start = 0, std::size_t count = kDefaultClients);
  boost::json::object proxies();
  boost::json::object cache();
  boost::json::object recordings();

 private:
  struct Sample {
    std::chrono::steady_clock::time_point at;
    std::uint64_t bytes_in = 0, bytes_out = 0;
  };
  struct Rate {
    double recv_kbps = 0, send_kbps = 0;
  };
  Rate rate_of(std::uint64_t client_id) const;  // under mutex_
  boost::json::object client_json(const server::ClientRegistry::Client& c,
                                  std::chrono::system_clock::time_point now) const;  // under mutex_
  boost::json::object envelope() const;
  http::Response kick(const http::Request& request, const std::string& id);
  bool authorized(const http::Request& request) const;
  bool upstream_reachable(const server::ProxyReport& report);
  void probe(const std::vector<server::UpstreamAddress>& upstreams);

  Observed& observed_;
  ServerMetrics& metrics_;
  const std::string api_token_;
  mutable std::mutex mutex_;
  std::map<std::uint64_t, std::deque<Sample>> samples_;  // by client id, the last 30 s
  // /readyz's probe of the configured upstreams (HTTP thread only).
  std::optional<boost::asio::any_io_executor> executor_;
  std::optional<std::chrono::steady_clock::time_point> probed_at_;
  bool probing_ = false;
  bool reachable_ = false;
};

}  // namespace rw::admin
