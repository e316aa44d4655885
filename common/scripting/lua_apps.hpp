// Lua applications in MonaServer's style (docs/applications.md, "Lua
// applications"): DIR/main.lua is the root application, DIR/APP/main.lua
// the script of application APP, loaded when its first client connects (a
// script that changes on disk is loaded again for new connections). An
// application without a script of its own is the root's.
//
// Every script runs on one thread of its own: a connection's coroutine
// posts the event there and resumes on its worker with the answer, so a
// script never runs beside another and never blocks a worker. Scripts are
// sandboxed: a budget of instructions per event handler (an endless loop
// is cut off), a cap on memory per application, no os.execute, io.popen,
// loadfile, require or debug, bytecode refused, io.open only under the
// application's folder. A script error is logged with file and line; where
// a decision was asked it refuses, elsewhere it is ignored.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>

#include "common/base/log.hpp"
#include "common/server/application.hpp"
#include "common/server/event_bus.hpp"
#include "common/server/live_puller.hpp"
#include "proto/config.pb.h"

struct lua_State;

namespace rw::scripting {

struct ScriptOptions {
  std::filesystem::path apps_dir;
  std::uint64_t instruction_budget = 10'000'000;  // per event handler
  std::size_t memory_bytes = 64u << 20;           // per application
  std::chrono::milliseconds manage_interval{2000};
};

class LuaApplications final : public server::Application {
 public:
  // One application's script and its Lua state (lua_apps.cpp).
  struct Script;

  LuaApplications(ScriptOptions options, Logger& log);
  // The scripts of config.apps_dir, or nullptr when it is not set.
  static std::unique_ptr<LuaApplications> from(const config::Config& config, Logger& log);
  // Calls onStop of every loaded script, then stops the thread.
  ~LuaApplications() override;
  LuaApplications(const LuaApplications&) = delete;
  LuaApplications& operator=(const LuaApplications&) = delete;

  // At a relay or an edge: where a script's ProxyStream pulls go (before
  // start; without it ProxyStream.new fails).
  void set_proxies(server::StreamProxies* proxies) { proxies_ = proxies; }
  server::StreamProxies* proxies() const { return proxies_; }
  // Loads the root application (onStart) and starts onManage.
  void start();
  // A status of a script's ProxyStream (from the proxy thread): its
  // onStatus is called on the script thread.
  void proxy_status(std::uint64_t id, std::string code, std::string level, std::string description);
  // Remembers the ProxyStream table at the top of `script`'s stack as
  // pull `id` (popping it); forget_proxy drops it.
  void keep_proxy(std::uint64_t id, Script& script);
  void forget_proxy(std::uint64_t id);
  std::uint64_t next_proxy_id() { return ++last_proxy_id_; }
  // Disconnect, unpublish and stop events go to the scripts.
  void subscribe(server::EventBus& bus);

  boost::asio::awaitable<server::Decision> on_connect(server::ClientInfo client,
                                                      std::shared_ptr<server::ClientLink> link,
                                                      std::vector<amf::Value> args) override;
  boost::asio::awaitable<server::Decision> on_publish(server::ClientInfo client, server::StreamRequest stream) override;
  boost::asio::awaitable<server::Decision> on_play(server::ClientInfo client, server::StreamRequest stream) override;
  boost::asio::awaitable<server::CallAnswer> on_call(server::ClientInfo client, std::string name,
                                                     std::vector<amf::Value> args) override;

  // The link of a connection the scripts know, or nullptr (a client table
  // a script kept after its client left). On the script thread only.
  server::ClientLink* client_link(std::uint64_t connection_id) const;

 private:
  // What runs on the script thread.
  boost::asio::awaitable<server::Decision> connect_there(server::ClientInfo client,
                                                         std::shared_ptr<server::ClientLink> link,
                                                         std::vector<amf::Value> args);
  boost::asio::awaitable<server::Decision> stream_there(std::string event, server::ClientInfo client,
                                                        server::StreamRequest stream);
  boost::asio::awaitable<server::CallAnswer> call_there(server::ClientInfo client, std::string name,
                                                        std::vector<amf::Value> args);
  void event_there(const server::ServerEvent& event);
  void manage();

  // The script for application `app`, loaded or reloaded as needed; the
  // root's when app has none.
  std::shared_ptr<Script> script_for(const std::string& app);
  std::shared_ptr<Script> load(const std::string& app, const std::filesystem::path& file);
  void unload(Script& script);

  ScriptOptions options_;
  Logger& log_;
  // Connections the scripts know: their script and client table.
  struct Known {
    std::shared_ptr<Script> script;
    int client_ref = 0;  // the client table, in the script's registry
    std::shared_ptr<server::ClientLink> link;
  };
  std::unordered_map<std::uint64_t, Known> clients_;
  std::map<std::string, std::shared_ptr<Script>> scripts_;  // by application; "" is the root
  std::unordered_map<std::string, std::uint32_t> attempts_;  // connects by address, for onHandshake
  // Scripts' ProxyStream objects by pull id: their script and table.
  struct KeptProxy {
    std::weak_ptr<Script> script;
    int ref = 0;
  };
  std::unordered_map<std::uint64_t, KeptProxy> proxies_kept_;
  server::StreamProxies* proxies_ = nullptr;
  std::uint64_t last_proxy_id_ = 0;  // script thread
  // Scripts that did not load, by application: tried again once changed.
  std::map<std::string, std::filesystem::file_time_type> failed_;

  // Last: the thread ends (in the destructor) before the state it uses.
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer manage_timer_;
  std::thread thread_;
};

}  // namespace rw::scripting
