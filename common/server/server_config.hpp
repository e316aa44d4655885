// Server options from a role's configuration.
#pragma once

#include "common/base/clock.hpp"
#include "common/dvr/segment_store.hpp"
#include "common/media/stream_hub.hpp"
#include "common/server/server_context.hpp"
#include "proto/config.pb.h"

namespace rw::server {

// The config must have passed config::validate.
ServerOptions server_options(const config::Config& config);
media::HubOptions hub_options(const config::Config& config);

// The retention of an application's recordings: its own dvr settings, or
// default_app's for a recording of an application no longer configured.
dvr::Retention retention_of(const ServerOptions& options, std::string_view app);

// Logs each server event as one line: "conn=12 peer=... app=live stream=x
// publish live". At most a burst of lines per connection per window (a
// client repeating play or publish cannot flood the log); its disconnect
// line is always written and says how many were left out.
void log_events(EventBus& bus, Logger& log, const Clock& clock);

}  // namespace rw::server
