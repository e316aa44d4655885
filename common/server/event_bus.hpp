// Every connection and stream event, published for whoever listens: the
// log, metrics, HTTP callbacks, scripts. Listeners are added before the
// server starts and then only read, so publishing needs no lock; a listener
// must be thread-safe because events come from every worker thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace rw::server {

enum class EventType {
  Connect,       // a client's connect was accepted
  Reject,        // a client's connect was rejected
  Disconnect,    // a connection ended (reason in detail)
  Publish,       // a publisher started (detail: live/record/append)
  Unpublish,
  Play,          // a player started (detail: start/len)
  Stop,          // a player stopped
  Seek,
  Pause,
  Unpause,
  Command,       // any other command from a client (detail: its name)
  RecordStart,   // a stream's recording started (detail: record/append)
  RecordStop,
  Error,         // a client misbehaved or failed (detail: why)
  Proxy,         // ProxyStream status at a relay or an edge (code; peer: the upstream)
  Failover,      // a relay or an edge left its current upstream (peer: it; cause: why; detail: the next)
  Fetch,         // a relay or an edge fetched a segment from upstream (peer: it; duration)
  DvrDelete,     // retention deleted segments of a recording (stream; detail: why; segments, segment_bytes)
};

// Why a connection ended, in a few words that a metric may count by
// (rewind_disconnects_total{reason}); the event's detail says the rest.
enum class CloseCause {
  ClientClosed,      // the peer closed the connection
  ReadFailed,        // a reset, most often
  WriteFailed,
  ProtocolError,     // it broke RTMP (chunking, AMF, limits)
  Rejected,          // its connect was refused
  HandshakeTimeout,  // no connect in time
  SlowPlayer,        // fell too far behind
  SendTimeout,       // stopped reading
  Idle,              // sent nothing, answered no ping
  PublisherIdle,     // published but sent no media
  Kicked,            // by the admin API
  Shutdown,          // the server stopped
};
const char* to_string(CloseCause cause);

const char* to_string(EventType type);

// The address of a peer written "address:port" (ServerEvent::peer,
// ClientEntry::peer; an IPv6 address keeps its colons).
std::string address_of(std::string_view peer);

struct ServerEvent {
  EventType type;
  std::uint64_t connection_id = 0;
  std::string peer;    // address:port
  std::string app;
  std::string stream;  // stream name, when the event is about a stream
  std::string detail;
  std::string code;    // a status code (ProxyStream.Proxy.Start...), when the event has one
  std::string cause;   // Disconnect: to_string(CloseCause); Failover: not_responding, closed, refused...
  std::chrono::nanoseconds duration{0};    // Seek: until the player had its first frame; Fetch: the call
  // The connection's totals when the event happened (0 for events of no
  // connection): SRS's on_close send_bytes/recv_bytes, the access log's
  // sc-bytes/cs-bytes.
  std::uint64_t bytes_in = 0, bytes_out = 0;
  // DvrDelete: the segments and bytes retention deleted.
  std::uint64_t segments = 0, segment_bytes = 0;
};

class EventBus {
 public:
  using Listener = std::function<void(const ServerEvent&)>;
  void subscribe(Listener listener) { listeners_.push_back(std::move(listener)); }
  void publish(const ServerEvent& event) const {
    for (const auto& l : listeners_) l(event);
  }

 private:
  std::vector<Listener> listeners_;
};

}  // namespace rw::server
