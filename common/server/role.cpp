#include "common/server/role.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <iostream>
#include <map>

#include "common/config/config_loader.hpp"

extern char** environ;

namespace rw::server {

namespace {

std::map<std::string, std::string> rewind_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string_view::npos && kv.rfind("REWIND_", 0) == 0) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

}  // namespace

std::optional<int> load_role_config(std::string_view program, std::string_view summary, int argc, char** argv,
                                    config::Config& config) {
  auto loaded = config::load(std::vector<std::string>(argv + 1, argv + argc), rewind_environment());
  if (!loaded) {
    std::cerr << program << ": " << loaded.error() << "\n";
    return 2;
  }
  if (loaded->help) {
    std::cout << config::help_text(program, summary);
    return 0;
  }
  config = std::move(loaded->config);
  // A peer that disconnects while we write must not kill the process.
  ::signal(SIGPIPE, SIG_IGN);
  return std::nullopt;
}

std::string server_id_of(const config::Config& config, std::string_view role) {
  if (!config.server_id().empty()) return config.server_id();
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::string port = config.listen();
  if (auto colon = port.rfind(':'); colon != std::string::npos) port = port.substr(colon + 1);
  std::string id = std::string(role) + "-" + (host[0] ? host : "host") + "-" + port + "-" + std::to_string(::getpid());
  // Only the characters a server id may have (a hostname has no others,
  // but be sure).
  for (char& c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.';
    if (!ok) c = '-';
  }
  return id;
}

void raise_open_file_limit(const Logger& log) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    log.info() << "open files: soft limit raised from " << before << " to " << limit.rlim_cur;
  }
}

void wait_for_shutdown_signal(const Logger& log, const std::function<void()>& on_hangup) {
  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  boost::asio::signal_set hangup(io, SIGHUP);
  std::function<void()> wait_hangup = [&] {
    hangup.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      log.info() << "signal SIGHUP: reopening log files";
      if (on_hangup) on_hangup();
      wait_hangup();
    });
  };
  wait_hangup();
  signals.async_wait([&](const boost::system::error_code&, int signal) {
    log.info() << "signal " << signal << ": shutting down";
    hangup.cancel();
  });
  io.run();
}

}  // namespace rw::server
