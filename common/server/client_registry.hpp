// Every connection of a server, as the operator sees it: who it is, what
// it does and what it has moved. The admin API lists and kicks clients from
// here and the metrics add up its counters (docs/operations.md).
//
// A connection owns its entry and is the only writer of its counters
// (relaxed atomics, no contention on the hot path); readers (the HTTP
// thread) take a snapshot under the registry's lock. When a connection
// ends, its counters move into its application's totals, so that the
// sums the metrics export never go down.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace rw::server {

// Counters of one connection, or the sum over many.
struct ClientTotals {
  std::uint64_t bytes_in = 0, bytes_out = 0;
  std::uint64_t messages_in = 0;   // RTMP messages received
  std::uint64_t messages_out = 0;  // media messages sent
  std::uint64_t skips = 0;         // slow-player skips to the next keyframe
  std::uint64_t ingest_bytes = 0;  // media payload bytes it published
  ClientTotals& operator+=(const ClientTotals& o);
};

class ClientEntry {
 public:
  ClientEntry(std::uint64_t id, std::string peer, std::chrono::system_clock::time_point started)
      : id_(id), peer_(std::move(peer)), started_(started) {}

  std::uint64_t id() const { return id_; }

  // The connection's own thread counts; anyone reads.
  void add_bytes_in(std::uint64_t n) { bump(bytes_in_, n); }
  void add_bytes_out(std::uint64_t n) { bump(bytes_out_, n); }
  void add_messages_in(std::uint64_t n) { bump(messages_in_, n); }
  void add_messages_out(std::uint64_t n) { bump(messages_out_, n); }
  void add_skip() { bump(skips_, 1); }
  void add_ingest(std::uint64_t n) { bump(ingest_bytes_, n); }
  ClientTotals totals() const;

  // What the connection is doing; set on its thread, read by the API.
  enum class Kind { Connecting, Idle, Publisher, Player, Downstream };
  struct Description {
    std::string app;
    std::string tc_url, page_url, swf_url, flash_version;
    std::string query;     // of the connect's tcUrl or app, "?..." or empty
    std::string stream;    // the stream it publishes or plays, if any
    std::vector<std::string> published;  // every stream it publishes
    Kind kind = Kind::Connecting;
    std::size_t streams = 0;  // publishing or playing NetStreams
  };
  // What a description may hold of each text the client chose (tcUrl,
  // pageUrl...): the API lists thousands of clients.
  static constexpr std::size_t kMaxTextBytes = 1024;
  Description description() const;
  void describe(Description description);

  // Asks the connection to close (from any thread): set by the connection,
  // cleared once it closes. False when there was nothing to kick.
  void set_kick(std::function<void()> kick);
  bool kick() const;

  const std::string& peer() const { return peer_; }
  std::chrono::system_clock::time_point started() const { return started_; }

 private:
  static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  const std::uint64_t id_;
  const std::string peer_;
  const std::chrono::system_clock::time_point started_;
  std::atomic<std::uint64_t> bytes_in_{0}, bytes_out_{0}, messages_in_{0}, messages_out_{0}, skips_{0},
      ingest_bytes_{0};
  mutable std::mutex mutex_;
  Description description_;
  std::function<void()> kick_;
};

const char* to_string(ClientEntry::Kind kind);

class ClientRegistry {
 public:
  // Applications whose ended connections are counted apart; the others'
  // go under "other" (bounded memory whatever names clients make up).
  static constexpr std::size_t kMaxEndedApps = 64;

  void add(std::shared_ptr<ClientEntry> entry);
  // The connection ended: its counters join its application's totals
  // (a connection that was never accepted counts under "").
  void remove(const ClientEntry& entry);

  struct Client {
    std::uint64_t id = 0;
    std::string peer;
    std::chrono::system_clock::time_point started;
    ClientEntry::Description description;
    ClientTotals totals;
  };
  std::vector<Client> clients() const;
  std::vector<std::shared_ptr<ClientEntry>> entries() const;
  std::size_t size() const;
  // Per application: the counters of its connections, live and ended.
  // Connections that were never accepted count under "".
  std::map<std::string, ClientTotals> totals_by_app() const;
  // False when no such client is connected.
  bool kick(std::uint64_t id) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::uint64_t, std::shared_ptr<ClientEntry>> entries_;
  std::map<std::string, ClientTotals> ended_;
};

}  // namespace rw::server
