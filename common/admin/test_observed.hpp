// A server's shared context without a server, for the metrics and API
// tests: clients are registered and events published by hand.
#pragma once

#include <memory>
#include <string>

#include "common/admin/observed.hpp"
#include "common/base/clock.hpp"
#include "common/base/log.hpp"

namespace rw::admin {

struct ObservedFixture {
  explicit ObservedFixture(std::string role = "origin") {
    options.role = std::move(role);
    options.server_id = options.role + "-test";
  }

  // A connected client of `app` doing `kind` with `stream`.
  std::shared_ptr<server::ClientEntry> add_client(std::uint64_t id, const std::string& app,
                                                  server::ClientEntry::Kind kind, const std::string& stream = {}) {
    auto entry = std::make_shared<server::ClientEntry>(id, "127.0.0.1:" + std::to_string(40000 + id),
                                                       std::chrono::system_clock::now());
    server::ClientEntry::Description d;
    d.app = app;
    d.tc_url = "rtmp://127.0.0.1/" + app;
    d.flash_version = kind == server::ClientEntry::Kind::Publisher ? "FMLE/3.0" : "LNX 9,0,124,2";
    d.kind = kind;
    d.stream = stream;
    d.streams = stream.empty() ? 0 : 1;
    if (kind == server::ClientEntry::Kind::Publisher && !stream.empty()) d.published = {stream};
    entry->describe(d);
    context.clients.add(entry);
    return entry;
  }

  server::ServerOptions options;
  Logger log{LogLevel::Error, [](LogLevel, std::string_view) {}};
  SystemClock clock;
  media::StreamRegistry streams;
  server::EventBus events;
  server::ServerContext context{options, log, clock, streams, events};
  Observed observed{context};
};

}  // namespace rw::admin
