// The upstreams of one local application and the connection in use
// (docs/cluster.md, "Upstreams" and "Failover"): live plays registered
// here are played on whichever connection is current and played again on
// the next after a failure; calls wait for a ready connection and are
// tried once more after a failover. While a backup is in use the primary
// is probed; once it has answered for prefer_primary_after, every play is
// started on it beside the old one and switched at a keyframe
// (ProxyStream), then the old connection is closed. Proxy thread only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/base/log.hpp"
#include "common/proxy/upstream_connection.hpp"
#include "common/proxy/upstream_set.hpp"
#include "common/server/live_puller.hpp"

namespace rw::proxy {

// A status a relay or an edge reports (FMS's ProxyStream and
// NetConnection codes) on its event bus and in its log.
struct ProxyStatus {
  std::string app;
  std::string stream;    // empty for a connection's status
  std::string code;      // ProxyStream.Proxy.Start, NetConnection.Proxy.NotResponding...
  std::string level;     // status or error
  std::string upstream;  // rtmp://... of the upstream concerned
  std::string description;
  // NetConnection.Connect.Closed and NetConnection.Proxy.Switched: the
  // server leaves this upstream (a failover), and why, in a word:
  // not_responding, lost, unreachable, bad_upstream, primary_back.
  std::string failover_cause;
};
using StatusListener = std::function<void(const ProxyStatus&)>;

class Upstream;

// A live pull as Upstream drives it (ProxyStream).
class UpstreamPlay {
 public:
  virtual ~UpstreamPlay() = default;
  // Play on this connection (the current one, after a failover too).
  virtual void start_on(UpstreamConnection& connection) = 0;
  // Play on the primary beside the current play, and switch to it at a
  // keyframe; switch_done() once it has.
  virtual void begin_switch(UpstreamConnection& primary) = 0;
  virtual bool switch_done() const = 0;
  // The switch is given up on (the primary failed, or it took too long).
  virtual void cancel_switch() = 0;
  // Whether its play is on this connection.
  virtual bool plays_on(const UpstreamConnection& connection) const = 0;
};

struct UpstreamSettings {
  UpstreamOptions connection;
  UpstreamSetOptions selection;
  std::chrono::milliseconds probe_interval{5000};
  std::chrono::milliseconds switch_timeout{10000};
};

class Upstream : public std::enable_shared_from_this<Upstream> {
 public:
  Upstream(boost::asio::any_io_executor executor, std::string local_app, std::vector<UpstreamUrl> urls,
           Identity identity, UpstreamSettings settings, const Logger& log, StatusListener status);
  ~Upstream();
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  // Opens the first connection.
  void start();
  void stop();

  void add_play(UpstreamPlay& play);
  void remove_play(UpstreamPlay& play);

  // A call on the current connection, once more on the next after a lost
  // connection; Lost when there is none.
  boost::asio::awaitable<Expected<std::vector<amf::Value>, UpstreamConnection::CallError>> call(
      const std::string& name, std::vector<amf::Value> args);

  // Waits, at most `within`, until the current connection is ready; false
  // when none became ready.
  boost::asio::awaitable<bool> wait_ready(std::chrono::milliseconds within);
  // Gives up on the current connection (it sent something no Rewind server
  // would): the next upstream is tried.
  void fail_over(const std::string& why);

  bool speaks_segment_protocol() const { return connection_ && connection_->speaks_segment_protocol(); }
  // Each upstream of the application and whether it is the one in use.
  std::vector<server::UpstreamReport> upstreams() const;
  std::string current_url() const { return set_.current_url().text; }

 private:
  void connect_current();
  void on_state(const std::shared_ptr<UpstreamConnection>& c, UpstreamConnection::State state,
                const std::string& why);
  boost::asio::awaitable<void> probe_primary();
  boost::asio::awaitable<void> switch_to_primary(std::shared_ptr<UpstreamConnection> primary);
  void report(const std::string& code, const std::string& level, const std::string& upstream,
              const std::string& description, const std::string& failover_cause = {});

  boost::asio::any_io_executor executor_;
  const std::string local_app_;
  const Identity identity_;
  const UpstreamSettings settings_;
  const Logger& log_;
  StatusListener status_;
  UpstreamSet set_;
  std::shared_ptr<UpstreamConnection> connection_;
  std::vector<UpstreamPlay*> plays_;
  boost::asio::steady_timer reconnect_timer_;
  boost::asio::steady_timer probe_timer_;
  std::optional<std::chrono::steady_clock::time_point> ready_since_;
  std::string leaving_because_;  // a failover's cause, once known before the connection closes
  bool probing_ = false;
  bool switching_ = false;
  bool stopped_ = false;
};

}  // namespace rw::proxy
