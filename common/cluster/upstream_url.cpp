#include "common/cluster/upstream_url.hpp"

#include <charconv>

#include "common/media/stream_name.hpp"

namespace rw::cluster {

std::optional<UpstreamUrl> parse_upstream_url(std::string_view text) {
  constexpr std::string_view kScheme = "rtmp://";
  if (text.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  std::string_view rest = text.substr(kScheme.size());
  UpstreamUrl url;
  url.text = std::string(text);
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view app = rest.substr(slash + 1);
    while (!app.empty() && app.back() == '/') app.remove_suffix(1);
    if (!app.empty() && !media::validate_app_name(app).empty()) return std::nullopt;
    url.app = std::string(app);
  }
  if (authority.empty()) return std::nullopt;
  // [v6]:port, host:port or host.
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return std::nullopt;
      port = authority.substr(close + 2);
    }
  } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return std::nullopt;
  url.host = std::string(host);
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) return std::nullopt;
    url.port = static_cast<std::uint16_t>(value);
  }
  return url;
}

}  // namespace rw::cluster
