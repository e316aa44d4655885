#include "common/cluster/identity.hpp"

namespace rw::cluster {

std::vector<std::string> parse_via(std::string_view via) {
  std::vector<std::string> out;
  while (!via.empty()) {
    const std::size_t comma = via.find(',');
    std::string_view id = via.substr(0, comma);
    if (!id.empty()) out.emplace_back(id);
    if (comma == std::string_view::npos) break;
    via.remove_prefix(comma + 1);
  }
  return out;
}

std::string join_via(const std::vector<std::string>& via) {
  std::string out;
  for (const auto& id : via) {
    if (!out.empty()) out += ',';
    out += id;
  }
  return out;
}

std::optional<std::string> query_parameter(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    const std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) return std::string(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

bool via_contains(std::string_view via, std::string_view server_id) {
  if (server_id.empty()) return false;
  for (const auto& id : parse_via(via)) {
    if (id == server_id) return true;
  }
  return false;
}

std::string forward_via(std::string_view via, std::string_view server_id) {
  std::vector<std::string> ids = parse_via(via);
  ids.emplace_back(server_id);
  return join_via(ids);
}

std::string name_with_via(std::string_view name, std::string_view query, std::string_view via) {
  std::string out(name);
  std::string rest;
  // Keep the other parameters (a token the upstream's hooks check).
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (pair.substr(0, pair.find('=')) != kViaParameter && !pair.empty()) {
      if (!rest.empty()) rest += '&';
      rest += pair;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  if (!via.empty()) {
    if (!rest.empty()) rest += '&';
    rest += std::string(kViaParameter) + "=" + std::string(via);
  }
  if (!rest.empty()) out += "?" + rest;
  return out;
}

std::string via_of_query(std::string_view query) {
  return query_parameter(query, kViaParameter).value_or(std::string());
}

}  // namespace rw::cluster
