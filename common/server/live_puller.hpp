// At a relay or an edge, live streams come from upstream: a player's play
// asks the puller for the stream, which starts one upstream pull per stream
// however many players want it and publishes it into the local hub
// (docs/cluster.md, "Live"). The origin has none. The server layer knows
// only this interface; common/proxy implements it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>

namespace rw::server {

// Held by a player while it plays; released from any thread (the pull
// lingers, then stops once nobody holds it).
class PullLease {
 public:
  virtual ~PullLease() = default;
};

class LivePuller {
 public:
  virtual ~LivePuller() = default;

  // Whether this server pulls the application's streams from upstream.
  virtual bool pulls(const std::string& app) const = 0;

  struct Want {
    std::unique_ptr<PullLease> lease;  // null when refused
    // The upstream refused the stream (it does not know it, the name is
    // bad there, the application does not exist): the player gets
    // Play.StreamNotFound with this.
    std::string not_found;
  };
  // A player wants app/name. The first one waits (bounded) until the
  // upstream has answered the play, so that a stream unknown upstream gets
  // StreamNotFound instead of a player waiting forever; the others join the
  // running pull. `query`: the player's (tokens an upstream may check;
  // the first player's goes upstream). `via`: the servers the request
  // came through (loops). Arguments are references (GCC 12 and
  // temporaries in co_await).
  virtual boost::asio::awaitable<Want> want(const std::string& app, const std::string& name,
                                            const std::string& query, const std::string& via) = 0;
};

}  // namespace rw::server
