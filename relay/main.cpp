// rewind-relay: an intermediate tier. Pulls live streams and DVR segments
// from its upstreams (origins or other relays) for the relays and edges
// below it, one pull and one fetch per stream and segment however many ask.
#include "common/proxy/proxy_role.hpp"

int main(int argc, char** argv) {
  return rw::proxy::run_proxy_role(
      "relay", "rewind-relay",
      "Rewind relay: pulls live streams and DVR segments from upstream for the servers below it.", argc, argv);
}
