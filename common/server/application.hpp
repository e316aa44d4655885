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
#include <memory>
#include <string>
#include <vector>

#include "common/amf/value.hpp"

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
  // Connect only: fields for the NetConnection.Connect.Success info object
  // (a script's `return {message="welcome"}`).
  amf::Object info;
  // Connect only: refuse with a redirect to this URL (ex.code 302).
  std::string redirect;

  static Decision allow() { return {}; }
  static Decision deny(std::string why) {
    Decision d;
    d.allowed = false;
    d.description = std::move(why);
    return d;
  }
};

// A client method call the application may answer (NetConnection.call).
struct CallAnswer {
  bool handled = false;  // false: no such method here ("Method not found")
  bool ok = true;        // false: an _error with `error` as its description
  amf::Value value;      // the _result's value
  std::string error;
};

// What an application may do to a client it was told about, from any
// thread, after the fact; a link to a client that is gone does nothing.
class ClientLink {
 public:
  virtual ~ClientLink() = default;
  // Calls a method of the client: [name, 0, null, args...].
  virtual void invoke(std::string name, std::vector<amf::Value> args) = 0;
  // Closes the connection; `why` goes to the log.
  virtual void close(std::string why) = 0;
  // Starts FMS's bandwidth detection on it (onBWCheck... onBWDone).
  virtual void check_bandwidth() = 0;
  // Whether the client has gone (or is going). On its worker thread only.
  virtual bool closed() const { return false; }
};

class Application {
 public:
  virtual ~Application() = default;
  // Each runs on the asking connection's worker and resumes there; a
  // client that disconnects meanwhile gets no answer (the connection
  // checks that it is still open).
  // `args` are the connect's extra arguments (logins, tokens).
  virtual boost::asio::awaitable<Decision> on_connect(ClientInfo client, std::shared_ptr<ClientLink> link,
                                                      std::vector<amf::Value> args) = 0;
  virtual boost::asio::awaitable<Decision> on_publish(ClientInfo client, StreamRequest stream) = 0;
  virtual boost::asio::awaitable<Decision> on_play(ClientInfo client, StreamRequest stream) = 0;
  // A command the server itself does not know: a method of the
  // application's, or not handled.
  virtual boost::asio::awaitable<CallAnswer> on_call(ClientInfo client, std::string name,
                                                     std::vector<amf::Value> args);
};

// Several applications asked in turn (HTTP callbacks, then scripts): the
// first that denies decides; connect info fields are merged; a call goes
// to the first that handles it.
class ApplicationChain final : public Application {
 public:
  void add(Application* application) {
    if (application) parts_.push_back(application);
  }
  // nullptr with no parts, the part itself with one, else the chain.
  Application* get() {
    if (parts_.empty()) return nullptr;
    return parts_.size() == 1 ? parts_.front() : this;
  }
  boost::asio::awaitable<Decision> on_connect(ClientInfo client, std::shared_ptr<ClientLink> link,
                                              std::vector<amf::Value> args) override;
  boost::asio::awaitable<Decision> on_publish(ClientInfo client, StreamRequest stream) override;
  boost::asio::awaitable<Decision> on_play(ClientInfo client, StreamRequest stream) override;
  boost::asio::awaitable<CallAnswer> on_call(ClientInfo client, std::string name,
                                             std::vector<amf::Value> args) override;

 private:
  std::vector<Application*> parts_;
};

}  // namespace rw::server
