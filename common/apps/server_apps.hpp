// The server applications of a role (docs/applications.md): SRS-style HTTP
// callbacks and MonaServer-style Lua scripts, each when configured, asked
// in that order. Made by every role's main() the same way.
#pragma once

#include <memory>
#include <string>

#include "common/base/log.hpp"
#include "common/hooks/http_hooks.hpp"
#include "common/scripting/lua_apps.hpp"
#include "common/server/application.hpp"
#include "common/server/event_bus.hpp"
#include "proto/config.pb.h"

namespace rw::apps {

class ServerApplications {
 public:
  // Subscribes what it made to `events`; call before the server starts.
  // `proxies`: a relay's or an edge's, for scripts' ProxyStream (nullptr
  // at the origin).
  ServerApplications(const config::Config& config, const std::string& role, const std::string& server_id,
                     Logger& log, server::EventBus& events, server::StreamProxies* proxies = nullptr);
  // What ServerContext::application should be: nullptr when nothing is
  // configured, so connects are not delayed at all.
  server::Application* get() { return chain_.get(); }

 private:
  std::unique_ptr<hooks::HttpHooks> hooks_;
  std::unique_ptr<scripting::LuaApplications> scripts_;
  server::ApplicationChain chain_;
};

}  // namespace rw::apps
