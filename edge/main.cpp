// rewind-edge: serves viewers. Pulls live streams and DVR segments from its
// upstreams (relays, origins, or for live any RTMP server) and caches
// segments, so viewers pause, rewind and seek at the edge.
#include "common/proxy/proxy_role.hpp"

int main(int argc, char** argv) {
  return rw::proxy::run_proxy_role(
      "edge", "rewind-edge",
      "Rewind edge: serves viewers live and DVR streams pulled from upstream, with a segment cache.", argc, argv);
}
