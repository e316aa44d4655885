#include "common/apps/server_apps.hpp"

namespace rw::apps {

ServerApplications::ServerApplications(const config::Config& config, const std::string& role,
                                       const std::string& server_id, Logger& log, server::EventBus& events,
                                       server::StreamProxies* proxies)
    : hooks_(hooks::HttpHooks::from(config, role, server_id, log)), scripts_(scripting::LuaApplications::from(config, log)) {
  if (hooks_) hooks_->subscribe(events);
  if (scripts_) {
    scripts_->set_proxies(proxies);
    scripts_->subscribe(events);
    scripts_->start();
  }
  // Callbacks first: a client an SRS callback server refuses never reaches
  // a script.
  chain_.add(hooks_.get());
  chain_.add(scripts_.get());
}

}  // namespace rw::apps
