// Server options from a role's configuration.
#pragma once

#include "common/media/stream_hub.hpp"
#include "common/server/server_context.hpp"
#include "proto/config.pb.h"

namespace rw::server {

// The config must have passed config::validate.
ServerOptions server_options(const config::Config& config);
media::HubOptions hub_options(const config::Config& config);

// Logs each server event as one line: "conn=12 peer=... app=live stream=x publish live".
void log_events(EventBus& bus, Logger& log);

}  // namespace rw::server
