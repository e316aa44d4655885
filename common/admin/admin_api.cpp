#include "common/admin/admin_api.hpp"

#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <functional>
#include <set>

#include "common/admin/stream_codecs.hpp"
#include "common/base/bytes.hpp"
#include "common/base/log.hpp"

namespace rw::admin {

namespace json = boost::json;
namespace bhttp = boost::beast::http;

namespace {

constexpr auto kRateWindow = std::chrono::seconds(30);

http::Response json_response(unsigned status, const json::object& body) {
  http::Response response = http::text_response(status, json::serialize(body) + "\n", "application/json");
  // The admin API is read by dashboards on other origins (SRS's console).
  response.set(bhttp::field::access_control_allow_origin, "*");
  return response;
}

http::Response json_error(unsigned status, const std::string& message) {
  return json_response(status, json::object{{"code", status}, {"message", message}});
}

std::int64_t ms_since_epoch(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// What a client chose (names, URLs, flashVer) need not be UTF-8; JSON must be.
std::string utf8(std::string_view text) { return to_valid_utf8(text); }

// SRS's client types: what the connection does.
const char* srs_type(const server::ClientEntry::Description& d) {
  using Kind = server::ClientEntry::Kind;
  switch (d.kind) {
    case Kind::Publisher: return d.flash_version.rfind("FMLE", 0) == 0 ? "fmle-publish" : "flash-publish";
    case Kind::Player: return "rtmp-play";
    case Kind::Downstream: return "rewind-pull";
    case Kind::Connecting: return "connecting";
    case Kind::Idle: return "idle";
  }
  return "unknown";
}

std::string stream_id(const std::string& app, const std::string& name) {
  // Stable while the stream exists, and free of '/' (SRS ids are opaque).
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016zx", std::hash<std::string>{}(app + '\0' + name));
  return std::string("vid-") + buf;
}

// The number `key` of a target's query (?start=0&count=10), or `fallback`.
std::size_t query_number(std::string_view target, std::string_view key, std::size_t fallback) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return fallback;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (pair.size() > key.size() && pair.substr(0, key.size()) == key && pair[key.size()] == '=') {
      std::size_t value = 0;
      const std::string_view digits = pair.substr(key.size() + 1);
      const auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), value);
      return parsed.ec == std::errc() ? value : fallback;
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return fallback;
}

// The path of a target, without its query.
std::string path_of(std::string_view target) {
  const auto q = target.find('?');
  std::string path(target.substr(0, q));
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

AdminApi::AdminApi(Observed& observed, ServerMetrics& metrics, std::string api_token)
    : observed_(observed), metrics_(metrics), api_token_(std::move(api_token)) {}

json::object AdminApi::envelope() const {
  return json::object{{"code", 0},
                      {"server", observed_.context.options.server_id},
                      {"service", observed_.context.options.role},
                      {"pid", std::to_string(getpid())}};
}

void AdminApi::sample_rates() {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  std::set<std::uint64_t> alive;
  for (const auto& c : observed_.context.clients.clients()) {
    alive.insert(c.id);
    auto& samples = samples_[c.id];
    samples.push_back(Sample{now, c.totals.bytes_in, c.totals.bytes_out});
    while (samples.size() > 2 && now - samples[1].at >= kRateWindow) samples.pop_front();
  }
  std::erase_if(samples_, [&](const auto& entry) { return !alive.count(entry.first); });
}

AdminApi::Rate AdminApi::rate_of(std::uint64_t client_id) const {
  auto it = samples_.find(client_id);
  if (it == samples_.end() || it->second.size() < 2) return {};
  const Sample& first = it->second.front();
  const Sample& last = it->second.back();
  const double seconds = std::chrono::duration<double>(last.at - first.at).count();
  if (seconds <= 0) return {};
  return Rate{static_cast<double>(last.bytes_in - first.bytes_in) * 8 / 1000 / seconds,
              static_cast<double>(last.bytes_out - first.bytes_out) * 8 / 1000 / seconds};
}

json::object AdminApi::summary() {
  const auto clients = observed_.context.clients.clients();
  std::size_t players = 0, publishers = 0, downstream = 0;
  server::ClientTotals live;
  for (const auto& c : clients) {
    using Kind = server::ClientEntry::Kind;
    players += c.description.kind == Kind::Player;
    publishers += c.description.kind == Kind::Publisher;
    downstream += c.description.kind == Kind::Downstream;
  }
  server::ClientTotals all;
  for (const auto& [app, t] : observed_.context.clients.totals_by_app()) all += t;
  std::size_t streams = 0;
  for (const auto& hub : observed_.context.streams.hubs()) streams += hub->publishing();
  const auto now = std::chrono::system_clock::now();
  json::object self{{"version", REWIND_VERSION},
                    {"pid", getpid()},
                    {"role", observed_.context.options.role},
                    {"server_id", observed_.context.options.server_id},
                    {"uptime_s", std::chrono::duration<double>(now - observed_.started).count()}};
  json::object rtmp{{"connections", clients.size()}, {"players", players},
                    {"publishers", publishers},      {"downstream_servers", downstream},
                    {"live_streams", streams},       {"recv_bytes", all.bytes_in},
                    {"send_bytes", all.bytes_out},   {"skips", all.skips}};
  json::object out = envelope();
  out["data"] = json::object{{"ok", true}, {"now_ms", ms_since_epoch(now)}, {"self", self}, {"rtmp", rtmp}};
  return out;
}

json::object AdminApi::client_json(const server::ClientRegistry::Client& c,
                                   std::chrono::system_clock::time_point now) const {
  const auto& d = c.description;
  const Rate rate = rate_of(c.id);
  return json::object{
      {"id", std::to_string(c.id)},
      {"vhost", "__defaultVhost__"},
      {"stream", d.stream.empty() ? json::value(nullptr) : json::value(stream_id(d.app, d.stream))},
      {"ip", server::address_of(c.peer)},
      {"peer", c.peer},
      {"pageUrl", utf8(d.page_url)},
      {"swfUrl", utf8(d.swf_url)},
      {"tcUrl", utf8(d.tc_url)},
      {"url", utf8("/" + d.app + (d.stream.empty() ? "" : "/" + d.stream))},
      {"app", utf8(d.app)},
      {"name", utf8(d.stream)},
      {"param", utf8(d.query)},
      {"type", srs_type(d)},
      {"publish", d.kind == server::ClientEntry::Kind::Publisher},
      {"streams", d.streams},
      {"flashVer", utf8(d.flash_version)},
      {"alive", std::chrono::duration<double>(now - c.started).count()},
      {"send_bytes", c.totals.bytes_out},
      {"recv_bytes", c.totals.bytes_in},
      {"skips", c.totals.skips},
      {"kbps", json::object{{"recv_30s", rate.recv_kbps}, {"send_30s", rate.send_kbps}}},
  };
}

json::object AdminApi::clients(std::size_t start, std::size_t count) {
  const auto now = std::chrono::system_clock::now();
  const auto all = observed_.context.clients.clients();
  count = std::min(count, kMaxClients);
  json::array list;
  std::lock_guard lock(mutex_);
  for (std::size_t i = start; i < all.size() && i - start < count; ++i) list.push_back(client_json(all[i], now));
  json::object out = envelope();
  out["total"] = all.size();
  out["clients"] = std::move(list);
  return out;
}

json::object AdminApi::streams() {
  struct StreamClients {
    std::size_t clients = 0;
    std::uint64_t recv = 0, send = 0;
    double recv_kbps = 0, send_kbps = 0;
    std::optional<std::uint64_t> publisher;
    std::chrono::system_clock::time_point publish_started{};
    std::string tc_url;
  };
  std::map<std::pair<std::string, std::string>, StreamClients> by_stream;
  {
    std::lock_guard lock(mutex_);
    for (const auto& c : observed_.context.clients.clients()) {
      const auto& d = c.description;
      if (d.stream.empty() || d.kind == server::ClientEntry::Kind::Downstream) continue;
      const Rate rate = rate_of(c.id);
      if (d.kind == server::ClientEntry::Kind::Publisher) {
        // A connection may publish several streams: each is its own (the
        // bytes are the connection's, counted at its first).
        for (std::size_t i = 0; i < d.published.size(); ++i) {
          StreamClients& s = by_stream[{d.app, d.published[i]}];
          ++s.clients;
          if (i == 0) {
            s.recv += c.totals.bytes_in;
            s.recv_kbps += rate.recv_kbps;
          }
          s.publisher = c.id;
          s.publish_started = c.started;
          s.tc_url = d.tc_url;
        }
        continue;
      }
      StreamClients& s = by_stream[{d.app, d.stream}];
      ++s.clients;
      s.recv += c.totals.bytes_in;
      s.send += c.totals.bytes_out;
      s.recv_kbps += rate.recv_kbps;
      s.send_kbps += rate.send_kbps;
    }
  }
  const auto now = std::chrono::system_clock::now();
  json::array list;
  for (const auto& hub : observed_.context.streams.hubs()) {
    const StreamClients& s = by_stream[{hub->app(), hub->name()}];
    const bool active = hub->publishing();
    if (!active && s.clients == 0) continue;
    json::object stream{
        {"id", stream_id(hub->app(), hub->name())},
        {"name", utf8(hub->name())},
        {"vhost", "__defaultVhost__"},
        {"app", utf8(hub->app())},
        {"tcUrl", utf8(s.tc_url)},
        {"url", utf8("/" + hub->app() + "/" + hub->name())},
        {"live_ms", ms_since_epoch(now)},
        {"clients", s.clients},
        {"players", hub->subscriber_count()},
        {"send_bytes", s.send},
        {"recv_bytes", s.recv},
        {"kbps", json::object{{"recv_30s", s.recv_kbps}, {"send_30s", s.send_kbps}}},
        {"publish",
         json::object{{"active", active},
                      {"cid", s.publisher ? json::value(std::to_string(*s.publisher)) : json::value(nullptr)},
                      // A relay's or an edge's stream is published by its pull.
                      {"pulled", active && !s.publisher && observed_.puller != nullptr &&
                                     observed_.puller->pulls(hub->app())}}},
    };
    if (s.publisher) {
      stream["publish_alive"] = std::chrono::duration<double>(now - s.publish_started).count();
    }
    const media::StreamHub::CodecState codec = hub->codec_state();
    stream["video"] = video_json(codec);
    stream["audio"] = audio_json(codec);
    list.push_back(std::move(stream));
  }
  json::object out = envelope();
  out["streams"] = std::move(list);
  return out;
}

json::object AdminApi::proxies() {
  json::object out = envelope();
  if (!observed_.puller) {
    out["proxies"] = json::array();
    out["upstreams"] = json::array();
    return out;
  }
  auto report = observed_.puller->report(kPullerReportWait);
  if (!report) {
    out["code"] = 503;
    out["message"] = "the proxy thread did not answer in time";
    return out;
  }
  json::array upstreams;
  for (const auto& u : report->upstreams) {
    upstreams.push_back(json::object{{"app", utf8(u.app)},
                                     {"url", u.url},
                                     {"primary", u.primary},
                                     {"current", u.current},
                                     {"ready", u.ready}});
  }
  json::array pulls;
  for (const auto& p : report->pulls) {
    pulls.push_back(json::object{
        {"app", utf8(p.app)},
        {"stream", utf8(p.stream)},
        {"remote", utf8(p.remote)},
        {"upstream", p.upstream},
        {"state", p.state},
        {"code", p.last_code},
        {"since_ms", p.last_code.empty() ? json::value(nullptr) : json::value(ms_since_epoch(p.since))},
        {"players", p.players},
        {"static", p.is_static},
    });
  }
  out["upstreams"] = std::move(upstreams);
  out["proxies"] = std::move(pulls);
  return out;
}

json::object AdminApi::cache() {
  json::object out = envelope();
  if (!observed_.cache) {
    out["cache"] = nullptr;
    return out;
  }
  const cache::CacheStats s = observed_.cache->stats();
  const cache::CacheOptions& o = observed_.cache->options();
  auto ratio = [](std::uint64_t hits, std::uint64_t misses) {
    return hits + misses == 0 ? json::value(nullptr) : json::value(static_cast<double>(hits) / static_cast<double>(hits + misses));
  };
  json::object c{
      {"memory", json::object{{"bytes", s.memory_bytes},
                              {"capacity_bytes", o.memory_bytes},
                              {"entries", s.memory_entries},
                              {"hits", s.memory_hits},
                              {"misses", s.memory_misses},
                              {"hit_ratio", ratio(s.memory_hits, s.memory_misses)},
                              {"evictions", s.memory_evictions}}},
      {"disk", json::object{{"enabled", o.disk_bytes > 0},
                            {"bytes", s.disk_bytes},
                            {"capacity_bytes", o.disk_bytes},
                            {"entries", s.disk_entries},
                            {"hits", s.disk_hits},
                            {"misses", s.disk_misses},
                            {"hit_ratio", ratio(s.disk_hits, s.disk_misses)},
                            {"evictions", s.disk_evictions},
                            {"rejected", s.disk_rejected}}},
  };
  if (observed_.puller) {
    if (auto report = observed_.puller->report(kPullerReportWait)) {
      const auto& t = report->segments;
      c["upstream"] = json::object{{"fetches", t.fetches},
                                   {"fetch_errors", t.fetch_errors},
                                   {"fetched_bytes", t.fetched_bytes},
                                   {"served_bytes", t.served_bytes},
                                   {"saved_bytes", t.served_bytes > t.fetched_bytes ? t.served_bytes - t.fetched_bytes : 0},
                                   {"coalesced_waits", t.coalesced}};
    }
  }
  out["cache"] = std::move(c);
  return out;
}

json::object AdminApi::recordings() {
  json::object out = envelope();
  json::array list;
  if (observed_.dvr) {
    auto listed = observed_.dvr->store().list_streams();
    if (!listed) {
      out["code"] = 500;
      out["message"] = listed.error().message;
      return out;
    }
    for (const auto& info : *listed) {
      const bool stored = info.next_sequence() > info.first_sequence();
      list.push_back(json::object{
          {"app", utf8(info.app())},
          {"stream", utf8(info.name())},
          {"live", info.live()},
          {"recording_id", info.recording_id()},
          {"segments", info.next_sequence() - info.first_sequence()},
          {"bytes", info.total_bytes()},
          {"window_start_ms", info.start_ms()},
          {"window_end_ms", info.end_ms()},
          {"window_s", stored ? (info.end_ms() - info.start_ms()) / 1000.0 : 0.0},
          {"recorded_s", stored ? (info.end_ms() - info.recording_start_ms()) / 1000.0 : 0.0},
          {"started_ms", info.record_start_wall_ms()},
          {"updated_ms", info.last_update_wall_ms()},
      });
    }
  }
  out["recordings"] = std::move(list);
  return out;
}

bool AdminApi::upstream_reachable(const server::ProxyReport& report) {
  for (const auto& u : report.upstreams) {
    if (u.ready) return true;  // a connection in use answers
  }
  // No connection yet (nobody has asked for a stream) or none answering:
  // the last probe says whether an upstream can be reached at all, and a
  // new one starts when that is over 2 s old. The answer never waits for a
  // probe: a slow name server must not hold up /healthz.
  const auto now = std::chrono::steady_clock::now();
  if (executor_ && !probing_ && (!probed_at_ || now - *probed_at_ >= std::chrono::seconds(2))) {
    probe(report.configured);
  }
  return reachable_;
}

void AdminApi::probe(const std::vector<server::UpstreamAddress>& upstreams) {
  namespace asio = boost::asio;
  if (upstreams.empty()) {
    reachable_ = false;
    probed_at_ = std::chrono::steady_clock::now();
    return;
  }
  probing_ = true;
  struct Round {
    std::size_t pending;
    bool any = false;
  };
  auto round = std::make_shared<Round>(Round{upstreams.size()});
  // Each upstream's try ends once (resolved and connected, or failed, or
  // cut by its timer); the round ends with the last.
  auto done = [this, round](bool connected) {
    round->any = round->any || connected;
    if (--round->pending > 0) return;
    reachable_ = round->any;
    probing_ = false;
    probed_at_ = std::chrono::steady_clock::now();
  };
  for (const auto& u : upstreams) {
    auto resolver = std::make_shared<asio::ip::tcp::resolver>(*executor_);
    auto socket = std::make_shared<asio::ip::tcp::socket>(*executor_);
    auto timer = std::make_shared<asio::steady_timer>(*executor_, std::chrono::seconds(1));
    timer->async_wait([resolver, socket](boost::system::error_code ec) {
      if (ec) return;  // the try ended first
      resolver->cancel();
      boost::system::error_code ignored;
      socket->close(ignored);
    });
    resolver->async_resolve(u.host, std::to_string(u.port),
                            [done, socket, timer](boost::system::error_code ec, const auto& results) {
                              if (ec) {
                                timer->cancel();
                                done(false);
                                return;
                              }
                              asio::async_connect(*socket, results,
                                                  [done, socket, timer](boost::system::error_code error, const auto&) {
                                                    timer->cancel();
                                                    done(!error);
                                                  });
                            });
  }
}

bool AdminApi::authorized(const http::Request& request) const {
  auto it = request.find(bhttp::field::authorization);
  if (it == request.end()) return false;
  const std::string_view value(it->value().data(), it->value().size());
  // The scheme is case-insensitive (RFC 7235).
  constexpr std::string_view kBearer = "bearer ";
  if (value.size() < kBearer.size()) return false;
  for (std::size_t i = 0; i < kBearer.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kBearer[i]) return false;
  }
  const std::string_view token = value.substr(kBearer.size());
  // Constant time in the secret: neither how much of a guess matched nor
  // the token's length shows in the timing (the loop runs over the guess).
  unsigned char diff = token.size() == api_token_.size() ? 0 : 1;
  for (std::size_t i = 0; i < token.size(); ++i) {
    diff |= static_cast<unsigned char>(token[i] ^ api_token_[i % api_token_.size()]);
  }
  return diff == 0;
}

http::Response AdminApi::kick(const http::Request& request, const std::string& id) {
  if (api_token_.empty()) return json_error(403, "the API is read-only: set http.api_token to allow kicking clients");
  if (!authorized(request)) {
    http::Response response = json_error(401, "a bearer token is needed (Authorization: Bearer TOKEN)");
    response.set(bhttp::field::www_authenticate, "Bearer");
    return response;
  }
  std::uint64_t client = 0;
  const auto parsed = std::from_chars(id.data(), id.data() + id.size(), client);
  if (parsed.ec != std::errc() || parsed.ptr != id.data() + id.size()) {
    return json_error(404, "no client " + log_escape(id, 40));
  }
  if (!observed_.context.clients.kick(client)) return json_error(404, "no client " + log_escape(id, 40));
  observed_.context.log.info() << "http: kicked client " << client << " (DELETE /api/v1/clients/" << client << ")";
  json::object out = envelope();
  out["kicked"] = std::to_string(client);
  return json_response(200, out);
}

http::Response AdminApi::handle(const http::Request& request, const http::Peer& peer) {
  (void)peer;
  const std::string path = path_of(std::string_view(request.target().data(), request.target().size()));
  const bool get = request.method() == bhttp::verb::get || request.method() == bhttp::verb::head;
  constexpr std::string_view kClient = "/api/v1/clients/";
  if (request.method() == bhttp::verb::delete_ && path.rfind(kClient, 0) == 0) {
    return kick(request, path.substr(kClient.size()));
  }
  if (request.method() == bhttp::verb::options) {
    http::Response response = http::text_response(204, "");
    response.set(bhttp::field::access_control_allow_origin, "*");
    response.set(bhttp::field::access_control_allow_methods, "GET, DELETE, OPTIONS");
    response.set(bhttp::field::access_control_allow_headers, "Authorization");
    return response;
  }
  using Route = json::object (AdminApi::*)();
  static const std::map<std::string, Route, std::less<>> routes{
      {"/api/v1/summaries", &AdminApi::summary}, {"/api/v1/summary", &AdminApi::summary},
      {"/api/v1/streams", &AdminApi::streams},   {"/api/v1/clients", &AdminApi::summary},  // (paged: below)
      {"/api/v1/proxies", &AdminApi::proxies},   {"/api/v1/cache", &AdminApi::cache},
      {"/api/v1/recordings", &AdminApi::recordings}};
  const bool known = path == "/metrics" || path == "/healthz" || path == "/readyz" || path == "/api/v1" ||
                     routes.count(path) || path.rfind(kClient, 0) == 0;
  if (!known) return json_error(404, "no such path: " + log_escape(path, 200));
  if (!get) {
    http::Response response = json_error(405, "method not allowed");
    response.set(bhttp::field::allow, path.rfind(kClient, 0) == 0 ? "GET, DELETE" : "GET");
    return response;
  }
  if (path == "/metrics") return http::text_response(200, metrics_.scrape(), "text/plain; version=0.0.4; charset=utf-8");
  if (path == "/healthz") return http::text_response(200, "ok\n");
  if (path == "/readyz") {
    if (!observed_.listening) return http::text_response(503, "not listening yet\n");
    if (observed_.puller) {
      auto report = observed_.puller->report(kPullerReportWait);
      if (!report) return http::text_response(503, "the proxy thread did not answer\n");
      if (!upstream_reachable(*report)) return http::text_response(503, "no upstream reachable\n");
    }
    return http::text_response(200, "ready\n");
  }
  if (path == "/api/v1") {
    json::object out = envelope();
    out["urls"] = json::object{{"summaries", "/api/v1/summaries"}, {"streams", "/api/v1/streams"},
                               {"clients", "/api/v1/clients"},     {"proxies", "/api/v1/proxies"},
                               {"cache", "/api/v1/cache"},         {"recordings", "/api/v1/recordings"}};
    return json_response(200, out);
  }
  if (path.rfind(kClient, 0) == 0) {
    const std::string id = path.substr(kClient.size());
    const auto now = std::chrono::system_clock::now();
    for (const auto& c : observed_.context.clients.clients()) {
      if (std::to_string(c.id) != id) continue;
      json::object out = envelope();
      std::lock_guard lock(mutex_);
      out["client"] = client_json(c, now);
      return json_response(200, out);
    }
    return json_error(404, "no client " + log_escape(id, 40));
  }
  if (path == "/api/v1/clients") {
    const std::string_view target(request.target().data(), request.target().size());
    return json_response(200, clients(query_number(target, "start", 0), query_number(target, "count", kDefaultClients)));
  }
  return json_response(200, (this->*routes.find(path)->second)());
}

}  // namespace rw::admin
