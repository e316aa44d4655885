// Where a relay or an edge pulls from: `rtmp://HOST[:PORT][/APP]`, and
// who it says it is when it connects (docs/cluster.md, "Upstreams").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/cluster/identity.hpp"

namespace rw::cluster {

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

}  // namespace rw::cluster
