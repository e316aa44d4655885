// Where a relay or an edge pulls from: `rtmp://HOST[:PORT][/APP]`, and
// who it says it is when it connects (docs/cluster.md, "Upstreams").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rw::proxy {

struct UpstreamUrl {
  std::string host;
  std::uint16_t port = 1935;
  // The upstream application; empty: the same as the local one.
  std::string app;
  std::string text;  // as configured, for logs

  // The application to connect to upstream for a local one.
  const std::string& app_for(const std::string& local_app) const { return app.empty() ? local_app : app; }
};

// Parses rtmp://HOST[:PORT][/APP]; nullopt when it is not that.
std::optional<UpstreamUrl> parse_upstream_url(std::string_view text);

// What a Rewind server says of itself in its upstream connect (so the
// upstream can refuse a loop and its hooks can tell a relay from a viewer)
// and in the `rewindVia` query of every play and call it forwards.
struct Identity {
  std::string role;       // origin, relay or edge
  std::string server_id;  // unique in the cluster
};

// The servers a request went through, downstream first, as carried in the
// `rewindVia` query parameter or argument: "edge-1,relay-1".
std::vector<std::string> parse_via(std::string_view via);
std::string join_via(const std::vector<std::string>& via);
// The value of one parameter in a query string ("a=1&rewindVia=x,y").
std::optional<std::string> query_parameter(std::string_view query, std::string_view key);

}  // namespace rw::proxy
