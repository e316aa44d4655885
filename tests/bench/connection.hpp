// One RTMP client connection of the load tool: a socket, a ClientSession
// and the reads and writes between them, on the single-threaded event loop.
//
// Reads go into a small buffer per connection with async_read_some, which
// Asio starts as a speculative recv and re-arms without a system call
// (its async_wait re-arms the descriptor with epoll_ctl on every wait, one
// extra system call per wakeup: too dear at several hundred thousand
// wakeups a second). The session copies what it keeps, so the buffer is
// reused at once. Writes go straight to the socket when it takes them,
// which is the common case; what it doesn't take waits in a backlog.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/base/bytes.hpp"
#include "common/rtmp/client_session.hpp"
#include "tests/bench/options.hpp"

namespace rw::bench {

std::int64_t now_us();

// What every connection of one run shares.
struct LoadContext {
  LoadContext(boost::asio::io_context& io_context, const Options& opts, boost::asio::ip::tcp::endpoint target)
      : io(io_context), options(opts), endpoint(target) {}

  boost::asio::io_context& io;
  const Options& options;
  boost::asio::ip::tcp::endpoint endpoint;
  // Filled by one connection's read and emptied before the next: one
  // vector for all of them keeps its capacity.
  std::vector<rtmp::ClientEvent> events;
  std::uint32_t random_state = 0x9e3779b9;

  rtmp::ClientOptions session_options();
};

class Connection {
 public:
  Connection(LoadContext& context, std::size_t index, rtmp::ClientOptions session_options);
  virtual ~Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects; the handshake starts as soon as the socket is open.
  void start();
  // Closes the socket (once); on_closed() says why.
  void close(const std::string& reason);
  // Closes with a TCP reset (SO_LINGER {1, 0}) instead of a FIN: how a
  // killed player or a dropped mobile link looks to the server.
  void reset(const std::string& reason);
  bool closed() const { return closed_; }
  // Where a connection that never got going got stuck: "TCP connect",
  // "handshake" or "connect" (waiting for connect's _result).
  const char* opening_step() const;
  std::size_t index() const { return index_; }
  std::uint64_t bytes_received() const { return bytes_received_; }
  // Bytes handed to the socket, and bytes queued in all (handed or not).
  std::uint64_t bytes_sent() const { return bytes_sent_; }
  std::uint64_t bytes_queued() const { return bytes_queued_; }
  const rtmp::ClientSession& session() const { return session_; }
  // Bytes the socket has not taken yet.
  std::size_t backlog() const { return backlog_.size() + sending_.size(); }

 protected:
  // The TCP connection is open; queue the connect command.
  virtual void on_open() = 0;
  virtual void on_event(rtmp::ClientEvent& event, std::int64_t now) = 0;
  virtual void on_closed(const std::string& reason) = 0;
  // Sends what the session has queued.
  void flush();

  LoadContext& context_;
  rtmp::ClientSession session_;

 private:
  void read();
  void on_read(const boost::system::error_code& ec, std::size_t n);
  void write_backlog();

  std::size_t index_;
  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<std::uint8_t[]> read_buffer_;
  Bytes backlog_;  // queued, not yet handed to the socket
  Bytes sending_;  // handed to an async_write in progress
  bool writing_ = false;
  bool tcp_open_ = false;
  bool closed_ = false;
  std::uint64_t bytes_received_ = 0;
  std::uint64_t bytes_sent_ = 0;
  std::uint64_t bytes_queued_ = 0;
};

}  // namespace rw::bench
