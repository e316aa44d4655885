// What every role's main() does the same way: read the configuration
// (flags, REWIND_* environment, --config file), name the server in a
// chain, and wait for SIGINT or SIGTERM.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/log.hpp"
#include "proto/config.pb.h"

namespace rw::server {

// Loads `config` from the command line and the environment. A value when
// main() should return it at once: 0 after --help, 2 for a bad
// configuration (said on stderr).
std::optional<int> load_role_config(std::string_view program, std::string_view summary, int argc, char** argv,
                                    config::Config& config);

// The server's id in a chain: the configured one, else
// ROLE-HOSTNAME-PORT-PID, unique on one machine and across machines.
std::string server_id_of(const config::Config& config, std::string_view role);

// Every viewer is a descriptor: raises the soft limit on open files to the
// hard one (as nginx's worker_rlimit_nofile does), so that a server started
// by a shell or a container runtime with a soft limit of 1024 is not
// capped there. Logs what it did.
void raise_open_file_limit(const Logger& log);

// Blocks until SIGINT or SIGTERM; logs which. SIGHUP meanwhile calls
// on_hangup (the access log reopens its file for logrotate).
void wait_for_shutdown_signal(const Logger& log, const std::function<void()>& on_hangup = {});

}  // namespace rw::server
