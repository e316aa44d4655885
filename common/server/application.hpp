// What a server application decides (docs/applications.md): whether a
// client may connect, publish or play. HTTP callbacks (common/hooks) and,
// later, scripts implement it. A connection's coroutine awaits each
// decision, so a slow callback server holds up that client only, never the
// worker thread that runs the others.
//
// Events that only inform (close, unpublish, stop, DVR, proxy status) are
// not here: they go through the event bus, which the same implementations
// listen to.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>

namespace rw::server {

// Who is asking: what its connect said. The texts are the client's and
// bounded by the session's limits on commands.
struct ClientInfo {
  std::uint64_t connection_id = 0;
  std::string ip;        // without the port
  std::string app;       // without a "?query"
  std::string tc_url;
  std::string page_url;
  std::string param;     // the connect's query string with its '?' ("?token=abc"), or empty
  // A downstream Rewind server (relay, edge) says who it is in its
  // connect: its role and server id; empty for every other client.
  std::string rewind_role;
  std::string rewind_server;
};

// The stream a client asks to publish or play.
struct StreamRequest {
  std::string name;   // without the query string
  std::string param;  // "?token=abc" as it followed the name, or empty
};

struct Decision {
  bool allowed = true;
  // Why not, for the client's status description and the log.
  std::string description;

  static Decision allow() { return {}; }
  static Decision deny(std::string why) { return {false, std::move(why)}; }
};

class Application {
 public:
  virtual ~Application() = default;
  // Each runs on the asking connection's worker and resumes there; a
  // client that disconnects meanwhile gets no answer (the connection
  // checks that it is still open).
  virtual boost::asio::awaitable<Decision> on_connect(ClientInfo client) = 0;
  virtual boost::asio::awaitable<Decision> on_publish(ClientInfo client, StreamRequest stream) = 0;
  virtual boost::asio::awaitable<Decision> on_play(ClientInfo client, StreamRequest stream) = 0;
};

}  // namespace rw::server
