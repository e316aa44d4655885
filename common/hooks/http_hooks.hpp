// SRS-compatible HTTP callbacks (docs/applications.md, "HTTP callbacks"):
// an application's `hooks` settings name URLs for on_connect, on_close,
// on_publish, on_unpublish, on_play, on_stop, on_dvr and on_proxy, and
// each event POSTs the JSON body SRS sends, so that an existing SRS
// callback server works unchanged.
//
// on_connect, on_publish and on_play decide: the connection's coroutine
// awaits every URL in order; each must answer HTTP 200 with body 0 (or a
// JSON object whose code is 0). The first that does not (another status,
// another body, a timeout, a refused connection) denies, and the log says
// which URL and what it answered. The other events inform: they are sent
// in the background, in order per connection, and hold nothing up.
//
// Every body also says who sends it (rewind_role, rewind_server) and, for
// a downstream Rewind server, who asks (client_role, client_server), so a
// callback at the origin can tell a relay's pull from a viewer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/base/log.hpp"
#include "common/http/http_client.hpp"
#include "common/server/application.hpp"
#include "common/server/event_bus.hpp"
#include "proto/config.pb.h"

namespace rw::hooks {

// What an answer means: allowed, or why not (for the log).
struct HookVerdict {
  bool allowed = false;
  std::string why;
};
// HTTP 200 and a body of "0", or a JSON object whose "code" is 0, allows.
HookVerdict verdict_of(unsigned status, std::string_view body);

class HttpHooks : public server::Application {
 public:
  // `config` gives each application's hooks (a listed application's own,
  // else default_app's); `role` and `server_id` say who this server is.
  HttpHooks(const config::Config& config, std::string role, std::string server_id, Logger& log);
  ~HttpHooks() override;
  HttpHooks(const HttpHooks&) = delete;
  HttpHooks& operator=(const HttpHooks&) = delete;

  // The hooks of `config`, or nullptr when no application has one (then
  // the server asks nothing and connects are not delayed at all).
  static std::unique_ptr<HttpHooks> from(const config::Config& config, std::string role, std::string server_id,
                                         Logger& log);
  // The informing callbacks follow the server's events.
  void subscribe(server::EventBus& bus);

  boost::asio::awaitable<server::Decision> on_connect(server::ClientInfo client,
                                                      std::shared_ptr<server::ClientLink> link,
                                                      std::vector<amf::Value> args) override;
  boost::asio::awaitable<server::Decision> on_publish(server::ClientInfo client, server::StreamRequest stream) override;
  boost::asio::awaitable<server::Decision> on_play(server::ClientInfo client, server::StreamRequest stream) override;

  // The JSON body of `action` (exposed for the tests).
  std::string body(std::string_view action, const server::ClientInfo& client, const server::StreamRequest* stream,
                    const server::ServerEvent* event = nullptr) const;

  // Informing calls queued and not yet sent, over all connections.
  std::size_t pending() const;
  // At most this many informing calls wait; more are dropped and logged
  // (a callback server that is down must not make us hold each event).
  static constexpr std::size_t kMaxPending = 10'000;

 private:
  const config::HookSettings& settings_of(std::string_view app) const;
  // Asks every URL in order; the first that does not allow denies.
  boost::asio::awaitable<server::Decision> decide(std::string_view action, std::vector<std::string> urls,
                                                  std::chrono::milliseconds timeout, std::string body);
  void on_event(const server::ServerEvent& event);
  // Queues an informing call after this connection's earlier ones.
  void inform(std::uint64_t connection_id, std::string_view action, std::vector<std::string> urls,
              std::chrono::milliseconds timeout, std::string body);
  boost::asio::awaitable<void> drain(std::uint64_t connection_id);

  struct Call {
    std::string action;
    std::vector<std::string> urls;
    std::chrono::milliseconds timeout;
    std::string body;
  };
  struct Chain {
    std::deque<Call> calls;
    bool running = false;
  };

  config::HookSettings default_hooks_;
  std::vector<std::pair<std::string, config::HookSettings>> app_hooks_;
  bool any_ = false;
  std::string role_;
  std::string server_id_;
  Logger& log_;

  mutable std::mutex mutex_;
  // Connections whose connect was asked about: what on_close and the
  // stream events need of them. Dropped at their disconnect.
  std::unordered_map<std::uint64_t, server::ClientInfo> clients_;
  std::unordered_map<std::uint64_t, Chain> chains_;
  std::size_t pending_ = 0;
  std::uint64_t dropped_ = 0;
  // Last: destroyed first, so its thread ends before the state it uses.
  http::HttpClient client_;
};

}  // namespace rw::hooks
