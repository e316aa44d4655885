#include "tests/bench/connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/write.hpp>
#include <chrono>

namespace rw::bench {

namespace asio = boost::asio;

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

rtmp::ClientOptions LoadContext::session_options() {
  rtmp::ClientOptions o;
  // Handshake bytes need not be unpredictable here, only different.
  o.random = [this](std::span<std::uint8_t> out) {
    for (auto& b : out) {
      random_state ^= random_state << 13;
      random_state ^= random_state >> 17;
      random_state ^= random_state << 5;
      b = static_cast<std::uint8_t>(random_state);
    }
  };
  o.handshake_time_ms = static_cast<std::uint32_t>(now_us() / 1000);
  o.out_chunk_size = options.chunk_size;
  return o;
}

Connection::Connection(LoadContext& context, std::size_t index, rtmp::ClientOptions session_options)
    : context_(context),
      session_(std::move(session_options)),
      index_(index),
      socket_(context.io),
      read_buffer_(new std::uint8_t[context.options.read_buffer]) {}

void Connection::start() {
  socket_.async_connect(context_.endpoint, [this](const boost::system::error_code& ec) {
    if (closed_) return;
    if (ec) {
      close("TCP connect: " + ec.message());
      return;
    }
    tcp_open_ = true;
    boost::system::error_code ignored;
    socket_.non_blocking(true, ignored);
    // Commands and acknowledgements are small and go out at once.
    socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    on_open();
    flush();
    read();
  });
}

const char* Connection::opening_step() const {
  if (!tcp_open_) return "TCP connect";
  if (!session_.handshake_done()) return "handshake";
  return "connect";
}

void Connection::close(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.close(ignored);
  // Free what a closed connection no longer needs; thousands may close.
  backlog_ = Bytes{};
  read_buffer_.reset();
  on_closed(reason);
}

void Connection::reset(const std::string& reason) {
  if (closed_) return;
  boost::system::error_code ignored;
  socket_.set_option(asio::socket_base::linger(true, 0), ignored);
  close(reason);
}

void Connection::read() {
  socket_.async_read_some(asio::buffer(read_buffer_.get(), context_.options.read_buffer),
                          [this](const boost::system::error_code& ec, std::size_t n) { on_read(ec, n); });
}

void Connection::on_read(const boost::system::error_code& ec, std::size_t n) {
  if (closed_) return;
  if (ec) {
    close(ec == asio::error::eof ? "server closed the connection" : "read: " + ec.message());
    return;
  }
  bytes_received_ += n;
  if (context_.options.delayed_ack) {
    // The kernel leaves delayed-ACK mode whenever its ACK timer fires, so
    // this is renewed after every read.
    const int quickack = 0;
    ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_QUICKACK, &quickack, sizeof quickack);
  }
  const std::int64_t now = now_us();
  auto& events = context_.events;
  // The session hands over a bounded batch of messages per feed(): feed
  // the rest of the read until it is all taken.
  ByteView data(read_buffer_.get(), n);
  while (!data.empty()) {
    events.clear();
    auto result = session_.feed(data, events);
    data = data.subspan(result.consumed);
    for (auto& event : events) {
      if (closed_) break;
      on_event(event, now);
    }
    events.clear();
    if (closed_) return;
    if (result.error) {
      close(std::string("protocol error: ") + rtmp::to_string(result.error->kind) + ": " + result.error->detail);
      return;
    }
    if (result.consumed == 0) break;
  }
  flush();
  if (!closed_) read();
}

void Connection::flush() {
  if (closed_ || !session_.has_output()) return;
  const std::size_t before = backlog_.size();
  session_.drain_output_to(backlog_);
  bytes_queued_ += backlog_.size() - before;
  if (!writing_) write_backlog();
}

void Connection::write_backlog() {
  if (backlog_.empty()) return;
  boost::system::error_code ec;
  const std::size_t n = socket_.write_some(asio::buffer(backlog_), ec);
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
    close("write: " + ec.message());
    return;
  }
  bytes_sent_ += n;
  if (n == backlog_.size()) {
    backlog_.clear();
    return;
  }
  backlog_.erase(backlog_.begin(), backlog_.begin() + static_cast<std::ptrdiff_t>(n));
  // The socket is full: hand the rest to Asio, and queue behind it.
  writing_ = true;
  sending_.swap(backlog_);
  asio::async_write(socket_, asio::buffer(sending_), [this](const boost::system::error_code& error, std::size_t sent) {
    writing_ = false;
    bytes_sent_ += sent;
    sending_.clear();
    if (closed_) return;
    if (error) {
      close("write: " + error.message());
      return;
    }
    write_backlog();
  });
}

}  // namespace rw::bench
