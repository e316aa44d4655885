// One RTMP NetConnection from a relay or an edge to an upstream server, for
// one application: every live pull of that application and every segment
// fetch go over it, as an FMS ProxyStream's NetConnection did. A thin
// coroutine layer over rtmp::ClientSession, on the proxy thread's
// executor; every method is called there.
//
// States (as SRS's SrsEdgeUpstream has them): Connecting (TCP, handshake,
// connect) -> Ready -> Closed; a connection that sends nothing and answers
// no ping for not_responding goes NotResponding and is then closed. The
// owner is told of every change; calls in flight fail and plays are told
// the connection was lost, so the owner can fail over.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/base/expected.hpp"
#include "common/base/log.hpp"
#include "common/cluster/identity.hpp"
#include "common/cluster/upstream_url.hpp"
#include "common/rtmp/client_session.hpp"

namespace rw::proxy {

using cluster::Identity;
using cluster::UpstreamUrl;

struct UpstreamOptions {
  std::chrono::milliseconds connect_timeout{5000};
  // No data and no answer to a ping this long: NotResponding.
  std::chrono::milliseconds not_responding{3000};
  std::chrono::milliseconds call_timeout{10000};
  // Limits on what the upstream may send (a hostile upstream is a peer
  // like any other).
  rtmp::ChunkDecoderLimits chunk_limits{16u << 20, 64, 20u << 20};
  amf::Limits amf_limits{32, 16'384, 2u << 20, 8u << 20};
};

// A live play on the connection. Called on the proxy thread.
class PlaySink {
 public:
  virtual ~PlaySink() = default;
  virtual void on_status(const rtmp::StatusEvent& status) = 0;
  // Audio, video, a data message or an aggregate of the stream.
  virtual void on_message(rtmp::Message&& message) = 0;
  // The connection is gone (closed, not responding): the play with it.
  virtual void on_play_lost(const std::string& why) = 0;
};

class UpstreamConnection : public std::enable_shared_from_this<UpstreamConnection> {
 public:
  enum class State { Connecting, Ready, NotResponding, Closed };
  using StateListener = std::function<void(State state, const std::string& why)>;

  // Connects at once. `app` is the upstream application to connect to.
  static std::shared_ptr<UpstreamConnection> open(boost::asio::any_io_executor executor, UpstreamUrl url,
                                                  std::string app, Identity identity, UpstreamOptions options,
                                                  const Logger& log, StateListener listener);
  ~UpstreamConnection();
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  State state() const { return state_; }
  const UpstreamUrl& url() const { return url_; }
  const std::string& app() const { return app_; }
  // Whether the upstream said it is a Rewind server (its connect reply
  // carries rewindServer): only then does it answer the segment protocol.
  bool speaks_segment_protocol() const { return upstream_is_rewind_; }
  const std::string& upstream_server_id() const { return upstream_server_id_; }

  struct CallError {
    std::string reason;       // NotFound, BadRequest, Unavailable, Lost, Timeout
    std::string description;
  };
  // [name, txn, null, args...]; the result's values, or why not. Waits for
  // the connection to be ready first.
  boost::asio::awaitable<Expected<std::vector<amf::Value>, CallError>> call(const std::string& name,
                                                                             std::vector<amf::Value> args);

  // Plays `name` (createStream, SetBufferLength, play) once ready; the
  // sink gets its messages until stop_play() or the connection is lost.
  // The handle names the play.
  std::uint64_t play(const std::string& name, PlaySink& sink);
  void stop_play(std::uint64_t handle);

  void close(const std::string& why);
  // Who is told of state changes from now on (a probe that becomes the
  // current connection).
  void set_listener(StateListener listener) { listener_ = std::move(listener); }

 private:
  UpstreamConnection(boost::asio::any_io_executor executor, UpstreamUrl url, std::string app, Identity identity,
                     UpstreamOptions options, const Logger& log, StateListener listener);

  struct Play {
    std::string name;
    PlaySink* sink = nullptr;
    double create_transaction = 0;  // createStream sent
    std::uint32_t stream_id = 0;    // 0 until created
  };
  struct PendingCall {
    boost::asio::steady_timer signal;  // cancelled when the answer (or a failure) arrives
    std::optional<Expected<std::vector<amf::Value>, CallError>> result;
    explicit PendingCall(boost::asio::any_io_executor e) : signal(e, std::chrono::steady_clock::time_point::max()) {}
  };

  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> watch();
  void handle(rtmp::ClientEvent& event);
  void start_play(Play& play);
  void flush();
  boost::asio::awaitable<void> write_loop();
  void set_state(State state, const std::string& why);
  void fail_everything(const std::string& why);

  boost::asio::any_io_executor executor_;
  const UpstreamUrl url_;
  const std::string app_;
  const Identity identity_;
  const UpstreamOptions options_;
  const Logger& log_;
  StateListener listener_;
  boost::asio::ip::tcp::socket socket_;
  rtmp::ClientSession session_;
  std::vector<rtmp::ClientEvent> events_;
  State state_ = State::Connecting;
  bool upstream_is_rewind_ = false;
  std::string upstream_server_id_;

  std::map<std::uint64_t, Play> plays_;
  std::set<double> abandoned_creates_;  // createStream sent for plays that stopped
  std::uint64_t next_play_ = 1;
  std::map<double, std::shared_ptr<PendingCall>> calls_;   // by transaction id
  std::vector<std::shared_ptr<PendingCall>> waiting_ready_;  // calls made before Ready
  boost::asio::steady_timer ready_signal_;
  bool ready_signalled_ = false;

  // Writing: one async write at a time, what the session queued meanwhile
  // waits in `outgoing_`.
  Bytes outgoing_;
  bool writing_ = false;
  boost::asio::steady_timer write_signal_;

  std::chrono::steady_clock::time_point last_input_{};
  std::uint32_t ping_counter_ = 0;
  boost::asio::steady_timer watchdog_;
};

const char* to_string(UpstreamConnection::State state);

}  // namespace rw::proxy
