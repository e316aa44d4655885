// Who a Rewind server is in a chain, and the path a request took through
// it (docs/cluster.md, "Loops"): every relay and edge says its role and
// server id when it connects upstream, and forwards plays and calls with
// the ids of the servers they went through, so that a server finds its own
// id in a request that went round a loop and refuses it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rw::cluster {

// What a Rewind server says of itself in its upstream connect (so the
// upstream can refuse a loop and its hooks can tell a relay from a viewer)
// and in the `rewindVia` query of every play and call it forwards.
struct Identity {
  std::string role;       // origin, relay or edge
  std::string server_id;  // unique in the cluster
};

// The query parameter (in a play's stream name and a call's stream
// argument) that carries the servers a request went through.
inline constexpr std::string_view kViaParameter = "rewindVia";

// The servers a request went through, downstream first, as carried in the
// `rewindVia` query parameter or argument: "edge-1,relay-1".
std::vector<std::string> parse_via(std::string_view via);
std::string join_via(const std::vector<std::string>& via);
// The value of one parameter in a query string ("a=1&rewindVia=x,y").
std::optional<std::string> query_parameter(std::string_view query, std::string_view key);

// Whether `server_id` is among the servers of `via` (a loop).
bool via_contains(std::string_view via, std::string_view server_id);
// The via a server forwards: the one it got, then its own id.
std::string forward_via(std::string_view via, std::string_view server_id);
// `name` with the via in its query: "cam?rewindVia=edge-1,relay-1" (an
// existing query is kept and the parameter replaced).
std::string name_with_via(std::string_view name, std::string_view query, std::string_view via);
// The via parameter of a stream name's query ("" when none).
std::string via_of_query(std::string_view query);

}  // namespace rw::cluster
