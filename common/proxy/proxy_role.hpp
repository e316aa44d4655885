// The main() of a relay and of an edge: the same server as the origin's,
// with live streams and DVR segments from upstream instead of publishers
// and a store (docs/cluster.md). The role ("relay" or "edge") names the
// server and says what it is to its upstreams.
#pragma once

#include <string_view>

namespace rw::proxy {

int run_proxy_role(std::string_view role, std::string_view program, std::string_view summary, int argc,
                   char** argv);

}  // namespace rw::proxy
