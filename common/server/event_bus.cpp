#include "common/server/event_bus.hpp"

namespace rw::server {

const char* to_string(EventType type) {
  switch (type) {
    case EventType::Connect: return "connect";
    case EventType::Reject: return "reject";
    case EventType::Disconnect: return "disconnect";
    case EventType::Publish: return "publish";
    case EventType::Unpublish: return "unpublish";
    case EventType::Play: return "play";
    case EventType::Stop: return "stop";
    case EventType::Seek: return "seek";
    case EventType::Pause: return "pause";
    case EventType::Unpause: return "unpause";
    case EventType::Command: return "command";
    case EventType::RecordStart: return "record-start";
    case EventType::RecordStop: return "record-stop";
    case EventType::Error: return "error";
    case EventType::Proxy: return "proxy";
    case EventType::Failover: return "failover";
    case EventType::Fetch: return "fetch";
    case EventType::DvrDelete: return "dvr_delete";
  }
  return "?";
}

const char* to_string(CloseCause cause) {
  switch (cause) {
    case CloseCause::ClientClosed: return "client_closed";
    case CloseCause::ReadFailed: return "read_failed";
    case CloseCause::WriteFailed: return "write_failed";
    case CloseCause::ProtocolError: return "protocol_error";
    case CloseCause::Rejected: return "rejected";
    case CloseCause::HandshakeTimeout: return "handshake_timeout";
    case CloseCause::SlowPlayer: return "slow_player";
    case CloseCause::SendTimeout: return "send_timeout";
    case CloseCause::Idle: return "idle";
    case CloseCause::PublisherIdle: return "publisher_idle";
    case CloseCause::Kicked: return "kicked";
    case CloseCause::Shutdown: return "shutdown";
  }
  return "other";
}

std::string address_of(std::string_view peer) {
  const auto colon = peer.rfind(':');
  return std::string(colon == std::string_view::npos ? peer : peer.substr(0, colon));
}

}  // namespace rw::server
