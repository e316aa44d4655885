// One client connection: the socket, its RTMP session and its NetStreams.
//
// Reading is a coroutine that waits for the socket to become readable,
// drains it into the worker's scratch buffer and feeds the session; the
// session's events are handled in order. Writing is non-blocking writev of
// the output queue and the shared live feeds, batched by the worker; when
// the socket is full the connection waits for it to drain, and the
// slow-player policy decides what a player that falls behind loses.
//
// Liveness (docs/architecture.md, "Liveness"): a connection that has sent
// nothing for rtmp.ping_interval_ms is pinged; one that has sent nothing
// for rtmp.idle_timeout_ms (a half-open peer) is closed; a publisher that
// has sent no media for publisher.idle_timeout_ms is closed, so its stream
// name is free for the encoder's reconnect.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/log.hpp"
#include "common/rtmp/server_session.hpp"
#include "common/media/stream_name.hpp"
#include "common/server/application.hpp"
#include "common/server/out_queue.hpp"
#include "common/server/play_stream.hpp"
#include "common/server/server_context.hpp"

namespace rw::server {

class Worker;
class NetStream;

class Connection : public std::enable_shared_from_this<Connection>, public media::FeedReader {
 public:
  Connection(boost::asio::ip::tcp::socket socket, Worker& worker, ServerContext& context);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start();
  // Stops reading, writes what is queued (for at most a moment, so the
  // client sees why) and closes. Safe to call from inside any callback.
  void close(CloseCause cause, std::string_view reason);
  bool closing() const { return closing_; }

  std::uint64_t id() const { return id_; }
  const std::string& peer() const { return peer_; }
  const std::string& app() const { return app_; }
  Worker& worker() { return worker_; }
  ServerContext& context() { return context_; }
  rtmp::ServerSession& session() { return session_; }

  // Moves what the session queued (replies, status) to the output queue and
  // schedules a write.
  void flush_session();
  std::size_t queued_bytes() const { return out_.bytes(); }
  // Whether a cursor that paces itself (recorded playback) should wait
  // before queueing media of the stream stamped `timestamp`: the queue is
  // near the slow-player policy's limits, or holds kRecordedQueueBytes of
  // the player's own frames already (what a DVR player that stops reading
  // can make us hold).
  static constexpr std::size_t kRecordedQueueBytes = 1u << 20;
  bool queue_near_limits(std::uint32_t stream_id, std::uint32_t timestamp) const {
    const auto& limits = out_.options();
    return out_.memory() > std::min(limits.max_bytes / 2, kRecordedQueueBytes) ||
           out_.lag_ms(stream_id, timestamp) > limits.max_lag_ms / 2;
  }
  // A live player of stream_id reads this feed from entry `from` (by
  // default the feed's end), skipping events numbered before
  // first_sequence (they were sent from its join snapshot).
  // waiting_for_keyframe: nothing before the next keyframe.
  void attach_feed(std::uint32_t stream_id, std::shared_ptr<media::LiveFeed> feed, std::uint64_t first_sequence,
                   bool waiting_for_keyframe, std::optional<std::uint64_t> from = std::nullopt);
  // Stops reading the stream's feed. keep_pending: what the feed holds for
  // the player is still sent (it switches to per-frame delivery); otherwise
  // it is dropped (a pause). Returns the recording position and timestamp
  // of the first frame not sent, when known; for frames without positions
  // (a pull not yet anchored), position 0 and the last sent frame's
  // timestamp.
  struct FeedStop {
    std::uint64_t next_position = 0;
    std::uint32_t timestamp = 0;
  };
  std::optional<FeedStop> detach_feed(std::uint32_t stream_id, bool keep_pending);
  // After a republish: wait for a keyframe again.
  void feed_wait_for_keyframe(std::uint32_t stream_id);
  // media::FeedReader: a feed this connection reads got frames.
  void feed_ready() override { write(); }
  // This connection plays: bound what the kernel may hold for it
  // (player.send_buffer_bytes), so a player that stops reading costs at
  // most that much kernel memory.
  void limit_send_buffer();
  // A publisher of this connection received media (for its idle timeout).
  void note_media() { ++media_messages_; }

  // Queues a player's media; returns what the output queue did with it.
  OutQueue::Push send_media(SharedBuffer bytes, const MediaTag& tag);
  // A seek: media of this stream queued but not begun on the wire is from
  // the old place; drop it so the new place starts at once.
  void drop_queued_media(std::uint32_t stream_id) { out_.drop_unsent_media(stream_id); }
  // Writes what is queued without waiting for the next write tick.
  void write_soon();
  // Publishes an event about this connection on the server's event bus.
  void emit(EventType type, std::string_view stream = {}, std::string_view detail = {},
            std::chrono::nanoseconds duration = {});
  // A log line about this connection ("conn=... peer=... app=... "),
  // limited to a burst per window so that a misbehaving client cannot
  // flood the log; the first line after a pause says how many were dropped.
  LogLine log_line(LogLevel level);

  // FMS's bandwidth detection (docs/applications.md): onBWCheck calls,
  // then onBWDone. One at a time; asked by the client's checkBandwidth.
  void start_bandwidth_check(const BandwidthSettings& settings);

  // Closes the socket now, without writing what is queued.
  void teardown();

  // Called by the worker.
  void write();
  void check_timeouts();

 private:
  boost::asio::awaitable<void> read_loop();
  // Feeds bytes to the session and handles its events, a bounded batch at
  // a time; what a batch leaves of `data` is kept in unread_ while events
  // are awaited (the worker's scratch buffer is shared).
  boost::asio::awaitable<void> consume(ByteView data);
  // Handles one session event. Events are handled in order; one that needs
  // the DVR store awaits it, and reading this connection waits with it.
  boost::asio::awaitable<void> handle(rtmp::SessionEvent& event);
  // Media from a publisher: the hot path, never suspends.
  void handle_media(rtmp::MediaEvent& event);
  boost::asio::awaitable<void> on_connect(rtmp::ConnectEvent& event);
  // What the application is told about this client and its streams.
  ClientInfo client_info(const rtmp::ConnectEvent& event) const;
  static StreamRequest stream_request(const media::StreamName& name);
  // The connect's query string with its '?' ("?token=abc"), or empty.
  static std::string connect_query(const rtmp::ConnectEvent& event);
  // The application refused a publish or a play: an error status on the
  // stream (the connection stays, as FMS keeps it).
  void refuse_stream(std::uint32_t stream_id, std::string_view code, const std::string& name,
                     const std::string& description);
  boost::asio::awaitable<void> on_command(rtmp::CommandEvent& event);
  boost::asio::awaitable<void> on_publish(const rtmp::PublishEvent& event);
  boost::asio::awaitable<void> on_play(std::uint32_t stream_id, const PlayStream::Request& request);
  boost::asio::awaitable<void> on_play2(const rtmp::Play2Event& event);
  void on_close_stream(const rtmp::CloseStreamEvent& event);
  // FMLE's DVR button: starts and stops recording of a stream this
  // connection publishes.
  boost::asio::awaitable<void> on_dvr_set_stream_info(const rtmp::Command& command);
  NetStream* stream(std::uint32_t stream_id);
  bool publishing() const;
  // After a NetStream ended or was replaced.
  void streams_changed();
  // What the admin API shows of this connection: its connect, then what
  // its streams do.
  void describe_connect(const rtmp::ConnectEvent& event);
  void describe_streams();
  void wait_writable();
  boost::asio::awaitable<void> run_bandwidth_check(std::shared_ptr<Connection> self, std::size_t data_size);
  struct FeedRead {
    std::uint32_t stream_id;
    media::FeedCursor cursor;
  };
  // Applies the slow-player policy and skips what the cursor must not send;
  // false when the player is too slow and the connection closes.
  bool prepare(FeedRead& read);
  // Moves every frame the feeds hold for this player into the output queue,
  // so something queued now goes after them.
  void materialize_feeds();
  void move_to_queue(FeedRead& read);

  boost::asio::ip::tcp::socket socket_;
  Worker& worker_;
  ServerContext& context_;
  const std::uint64_t id_;
  std::string peer_;
  std::string app_;     // as the client sent it
  std::string prefix_;  // "conn=ID peer=ADDR app=APP " for log lines, escaped
  ClientInfo client_info_;  // from the accepted connect
  rtmp::ServerSession session_;
  std::vector<rtmp::SessionEvent> events_;  // reused between reads
  std::vector<std::uint8_t> own_buffer_;      // publishers only: see read_loop
  Bytes unread_;                              // input a bounded feed() left for later
  OutQueue out_;
  std::vector<FeedRead> feeds_;
  unsigned feed_skips_ = 0;  // skips since the feeds were last caught up
  std::map<std::uint32_t, std::unique_ptr<NetStream>> streams_;
  LogRateLimit log_limit_;

  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point blocked_since_{};
  // Liveness, noted after each read and checked once a second.
  std::chrono::steady_clock::time_point last_input_;  // the last read
  std::chrono::steady_clock::time_point last_ping_{};
  std::uint64_t media_messages_ = 0;                  // publishers: media received
  std::uint64_t media_seen_ = 0;                      // media_messages_ at the last read
  std::chrono::steady_clock::time_point last_media_;  // the last read that brought media
  bool busy_ = false;                                  // handling what a read brought
  bool send_buffer_limited_ = false;
  bool write_scheduled_ = false;  // in the worker's pending writes
  bool write_soon_scheduled_ = false;  // in the worker's soon writes
  bool waiting_writable_ = false;
  bool connected_ = false;  // connect accepted
  bool downstream_server_ = false;  // its connect said rewindServer: a relay or an edge
  bool closing_ = false;
  bool closed_ = false;
  std::string close_reason_;
  CloseCause close_cause_ = CloseCause::ClientClosed;
  // What the admin API and the metrics see of this connection.
  std::shared_ptr<ClientEntry> client_;
  // A bandwidth check running, and the timer it waits on (an answer
  // cancels it).
  std::unique_ptr<BandwidthProbe> bandwidth_;
  std::unique_ptr<boost::asio::steady_timer> bandwidth_timer_;
  // Transaction ids of our calls to the client (onBWCheck): far from the
  // small numbers clients number their own calls with, not that it
  // matters (answers to the client's calls are not ours).
  double next_call_transaction_ = 1'000'000;

  friend class Worker;
};

}  // namespace rw::server
