// The calls a client makes about recordings, answered from the server's
// SegmentSource (the store at the origin, the upstream at a relay or an
// edge): getStreamLength (FMS applications), the DVRCast calls of OSMF,
// Strobe and FLVPlayback (docs/dvr.md), and the calls a downstream Rewind
// server makes for the index and the segments (docs/cluster.md, "Segment
// protocol"). Kept out of Connection: it is application logic, and the
// connection only routes the calls here.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>

#include "common/rtmp/command.hpp"
#include "common/rtmp/server_session.hpp"
#include "common/server/server_context.hpp"

namespace rw::server {

class DvrCalls {
 public:
  // `closing` is the connection's own flag: answers are not sent once it
  // is set (a call may wait for the store or the upstream).
  // `downstream_server`: the connection said it is a Rewind relay or edge
  // (rewindServer in its connect); only such a peer gets the segment
  // protocol.
  DvrCalls(ServerContext& context, rtmp::ServerSession& session, const std::string& app, const bool& closing,
           bool downstream_server)
      : context_(context), session_(session), app_(app), closing_(closing), downstream_server_(downstream_server) {}

  // Whether the command is one of these calls (DVRSetStreamInfo is not: it
  // controls the connection's own publisher).
  static bool handles(std::string_view name);
  boost::asio::awaitable<void> answer(const rtmp::Command& command);

 private:
  boost::asio::awaitable<void> stream_length(const rtmp::Command& command, const std::string& name);
  boost::asio::awaitable<void> dvr_stream_info(const rtmp::Command& command, const std::string& name);
  // The segment protocol, for a downstream Rewind server.
  boost::asio::awaitable<void> index(const rtmp::Command& command, const std::string& name);
  boost::asio::awaitable<void> segment(const rtmp::Command& command, const std::string& name);
  // _error with NetConnection.Call.Failed and a `reason` a downstream acts
  // on: NotFound, BadRequest, Unavailable (the store or the upstream
  // failed) or Loop.
  void fail(double transaction_id, std::string_view reason, const std::string& description);

  ServerContext& context_;
  rtmp::ServerSession& session_;
  const std::string& app_;
  const bool& closing_;
  const bool downstream_server_;
  std::string via_;  // of the call being answered
};

}  // namespace rw::server
