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
  }
  return "?";
}

}  // namespace rw::server
