#include "common/server/connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/media/stream_name.hpp"
#include "common/server/play_stream.hpp"
#include "common/server/publish_stream.hpp"
#include "common/server/worker.hpp"

namespace rw::server {

namespace asio = boost::asio;

namespace {

// How many buffers one writev takes from the output queue.
constexpr std::size_t kMaxWriteBuffers = 64;

std::string endpoint_string(const asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

rtmp::SessionOptions session_options(const ServerContext& context, Worker& worker) {
  rtmp::SessionOptions options = context.options.session;
  options.random = [&worker](std::span<std::uint8_t> out) { worker.fill_random(out); };
  options.handshake_time_ms = static_cast<std::uint32_t>(context.clock.now_ms());
  return options;
}

}  // namespace

void NetStream::on_seek(const rtmp::SeekEvent& event) {
  (void)event;
  connection_.session().send_status(stream_id_, "error", "NetStream.Seek.Failed",
                                    "Seeking is not possible on a live stream.", amf::Object{{"details", name_}});
  connection_.flush_session();
}

Connection::Connection(asio::ip::tcp::socket socket, Worker& worker, ServerContext& context)
    : socket_(std::move(socket)),
      worker_(worker),
      context_(context),
      id_(context.next_connection_id.fetch_add(1)),
      peer_(endpoint_string(socket_)),
      session_(session_options(context, worker)),
      out_(context.options.out_queue),
      started_(context.clock.now()) {
  context_.connections.fetch_add(1);
  worker_.add(this);
}

Connection::~Connection() {
  worker_.remove(this);
  context_.connections.fetch_sub(1);
}

void Connection::start() {
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  // We batch writes ourselves; Nagle would only add delay to the last chunk.
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  context_.log.debug() << "conn=" << id_ << " peer=" << peer_ << " accepted";
  asio::co_spawn(worker_.io(), [self = shared_from_this()] { return self->read_loop(); }, asio::detached);
}

void Connection::emit(EventType type, std::string_view stream, std::string_view detail) {
  context_.events.publish(ServerEvent{type, id_, peer_, app_, std::string(stream), std::string(detail)});
}

asio::awaitable<void> Connection::read_loop() {
  auto self = shared_from_this();
  while (!closing_) {
    auto [wait_error] = co_await socket_.async_wait(asio::socket_base::wait_read, asio::as_tuple(asio::use_awaitable));
    if (wait_error || closing_) break;
    // The socket is edge-triggered underneath: drain it before waiting again.
    for (;;) {
      boost::system::error_code ec;
      std::span<std::uint8_t> buffer = worker_.read_buffer();
      std::size_t n = socket_.read_some(asio::buffer(buffer.data(), buffer.size()), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec) {
        close(ec == asio::error::eof ? "client closed the connection" : "read failed: " + ec.message());
        break;
      }
      auto result = session_.feed(ByteView(buffer.data(), n), events_);
      for (auto& event : events_) {
        if (closing_) break;
        if (auto* media = std::get_if<rtmp::MediaEvent>(&event)) {
          handle_media(*media);
        } else {
          co_await handle(event);
        }
      }
      events_.clear();
      flush_session();
      if (result.error && !closing_) {
        emit(EventType::Error, {}, std::string(rtmp::to_string(result.error->kind)) + ": " + result.error->detail);
        close(std::string("protocol error: ") + rtmp::to_string(result.error->kind) + ": " + result.error->detail);
      }
      if (closing_) break;
    }
  }
}

void Connection::handle_media(rtmp::MediaEvent& event) {
  auto* s = stream(event.message.header.stream_id);
  if (s && s->is_publisher()) s->on_media(event);
}

asio::awaitable<void> Connection::handle(rtmp::SessionEvent& event) {
  if (auto* connect = std::get_if<rtmp::ConnectEvent>(&event)) {
    on_connect(*connect);
  } else if (auto* create = std::get_if<rtmp::CreateStreamEvent>(&event)) {
    session_.create_stream(create->transaction_id);
  } else if (auto* publish = std::get_if<rtmp::PublishEvent>(&event)) {
    on_publish(*publish);
  } else if (auto* play = std::get_if<rtmp::PlayEvent>(&event)) {
    on_play(*play);
  } else if (auto* play2 = std::get_if<rtmp::Play2Event>(&event)) {
    on_play2(*play2);
  } else if (auto* seek = std::get_if<rtmp::SeekEvent>(&event)) {
    if (auto* s = stream(seek->stream_id)) s->on_seek(*seek);
  } else if (auto* pause = std::get_if<rtmp::PauseEvent>(&event)) {
    if (auto* s = stream(pause->stream_id)) s->on_pause(*pause);
  } else if (auto* receive = std::get_if<rtmp::ReceiveMediaEvent>(&event)) {
    if (auto* s = stream(receive->stream_id)) s->on_receive_media(*receive);
  } else if (auto* close_stream = std::get_if<rtmp::CloseStreamEvent>(&event)) {
    on_close_stream(*close_stream);
  } else if (auto* command = std::get_if<rtmp::CommandEvent>(&event)) {
    on_command(*command);
  } else if (auto* data = std::get_if<rtmp::DataEvent>(&event)) {
    auto* s = stream(data->stream_id);
    if (s && s->is_publisher()) s->on_data(*data);
  } else if (std::get_if<rtmp::BufferLengthEvent>(&event)) {
    // Players announce their buffer; live delivery does not depend on it.
  } else if (auto* notice = std::get_if<rtmp::NoticeEvent>(&event)) {
    context_.log.warn() << "conn=" << id_ << " peer=" << peer_ << " app=" << app_ << " " << notice->text;
  }
  co_return;
}

void Connection::on_connect(rtmp::ConnectEvent& event) {
  std::string why = media::validate_app_name(event.app);
  const AppSettings* settings = why.empty() ? context_.find_app(event.app) : nullptr;
  if (why.empty() && !settings) why = "no application named '" + event.app + "'";
  if (!why.empty()) {
    session_.reject_connect("NetConnection.Connect.InvalidApp", why);
    app_ = event.app;
    emit(EventType::Reject, {}, why);
    close("connect rejected: " + why);
    return;
  }
  app_ = event.app;
  session_.accept_connect();
  connected_ = true;
  emit(EventType::Connect, {}, event.flash_version);
}

void Connection::on_publish(const rtmp::PublishEvent& event) {
  if (auto* existing = stream(event.stream_id)) {
    // A second publish or a publish over a play on one stream id: replace it.
    (void)existing;
    streams_.erase(event.stream_id);
  }
  if (auto s = PublishStream::start(*this, event)) streams_[event.stream_id] = std::move(s);
}

void Connection::on_play(const rtmp::PlayEvent& event) {
  streams_.erase(event.stream_id);  // play on a playing stream replaces it
  if (auto s = PlayStream::start(*this, event.stream_id, event.name, event.start, event.length, event.reset)) {
    streams_[event.stream_id] = std::move(s);
  }
}

void Connection::on_play2(const rtmp::Play2Event& event) {
  // NetStreamPlayTransitions: "stop" ends the stream; every other
  // transition (switch, swap, reset, append...) plays the new name.
  if (event.transition == "stop") {
    on_close_stream(rtmp::CloseStreamEvent{event.stream_id, false});
    return;
  }
  streams_.erase(event.stream_id);
  if (auto s = PlayStream::start(*this, event.stream_id, event.name, event.start, event.length, true)) {
    streams_[event.stream_id] = std::move(s);
  }
}

void Connection::on_close_stream(const rtmp::CloseStreamEvent& event) {
  auto it = streams_.find(event.stream_id);
  if (it == streams_.end()) return;
  it->second->on_close();
  streams_.erase(it);
}

void Connection::on_command(rtmp::CommandEvent& event) {
  const rtmp::Command& cmd = event.command;
  const std::string& name = cmd.name;
  auto arg_name = [&] { return cmd.args.empty() ? std::string() : std::string(cmd.args[0].as_string()); };
  emit(EventType::Command, {}, name);
  if (name == "releaseStream" || name == "FCPublish" || name == "FCUnpublish") {
    // FMLE and ffmpeg send these around publish; FMS answered the
    // transaction and, for FCPublish/FCUnpublish, called back.
    if (cmd.transaction_id != 0) session_.send_result(cmd.transaction_id, {amf::Undefined{}});
    if (name == "FCPublish") {
      session_.send_call("onFCPublish", {rtmp::status_object("status", "NetStream.Publish.Start", arg_name())});
    } else if (name == "FCUnpublish") {
      session_.send_call("onFCUnpublish",
                         {rtmp::status_object("status", "NetStream.Unpublish.Success", arg_name())});
    }
    return;
  }
  if (name == "FCSubscribe") {
    // CDN-style players (Akamai, Limelight) wait for onFCSubscribe.
    session_.send_call("onFCSubscribe", {rtmp::status_object("status", "NetStream.Play.Start", arg_name())});
    return;
  }
  if (name == "FCUnsubscribe") {
    session_.send_call("onFCUnsubscribe", {rtmp::status_object("status", "NetStream.Play.Stop", arg_name())});
    return;
  }
  if (name == "getStreamLength") {
    // Players (librtmp, FLVPlayback) ask before playing. A live stream has
    // no recorded length yet.
    session_.send_result(cmd.transaction_id, {0.0});
    return;
  }
  if (name == "_result" || name == "_error" || name == "_checkbw" || name == "onBWDone") {
    // Answers to our calls, and librtmp's bandwidth check ping: nothing to do.
    return;
  }
  context_.log.info() << "conn=" << id_ << " peer=" << peer_ << " app=" << app_ << " unknown command '" << name
                      << "'";
  session_.send_call_error(cmd.transaction_id, "Method not found (" + name + ").");
}

NetStream* Connection::stream(std::uint32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void Connection::flush_session() {
  if (!session_.has_output()) return;
  out_.push_control(SharedBuffer(session_.take_output()));
  worker_.schedule_write(shared_from_this());
}

OutQueue::Push Connection::send_media(SharedBuffer bytes, const MediaTag& tag) {
  auto result = out_.push_media(std::move(bytes), tag);
  if (result == OutQueue::Push::Queued && !write_scheduled_) worker_.schedule_write(shared_from_this());
  if (result == OutQueue::Push::Skipped) {
    context_.log.warn() << "conn=" << id_ << " peer=" << peer_ << " app=" << app_
                        << " player fell behind, skipping to the next keyframe (skip " << out_.skips() << ")";
  }
  return result;
}

void Connection::write() {
  if (closed_ || waiting_writable_) return;
  while (!out_.empty()) {
    ByteView views[kMaxWriteBuffers];
    std::size_t count = out_.gather(views);
    asio::const_buffer buffers[kMaxWriteBuffers];
    std::size_t total = 0;
    for (std::size_t i = 0; i < count; ++i) {
      buffers[i] = asio::const_buffer(views[i].data(), views[i].size());
      total += views[i].size();
    }
    boost::system::error_code ec;
    std::size_t written = socket_.write_some(std::span<const asio::const_buffer>(buffers, count), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      wait_writable();
      return;
    }
    if (ec) {
      out_ = OutQueue(context_.options.out_queue);
      close("write failed: " + ec.message());
      return;
    }
    out_.consume(written);
    if (written < total) {
      wait_writable();
      return;
    }
  }
  if (closing_ && !closed_) teardown();
}

void Connection::wait_writable() {
  if (waiting_writable_) return;
  waiting_writable_ = true;
  blocked_since_ = context_.clock.now();
  socket_.async_wait(asio::socket_base::wait_write, [self = shared_from_this()](boost::system::error_code ec) {
    self->waiting_writable_ = false;
    if (ec || self->closed_) return;
    self->write();
  });
}

void Connection::check_timeouts() {
  if (closed_) return;
  const auto now = context_.clock.now();
  const auto& options = context_.options;
  if (!connected_ && !closing_ && now - started_ > options.handshake_timeout) {
    close("no connect within " + std::to_string(options.handshake_timeout.count()) + " ms");
  } else if (waiting_writable_ && now - blocked_since_ > options.send_timeout) {
    // The client stopped reading (or closing could not write the goodbye).
    closing_ = true;
    close_reason_ = close_reason_.empty()
                        ? "client read nothing for " + std::to_string(options.send_timeout.count()) + " ms"
                        : close_reason_;
    teardown();
  }
}

void Connection::close(std::string_view reason) {
  if (closing_) return;
  closing_ = true;
  close_reason_ = std::string(reason);
  // Tear down later: close() may be called from inside a stream's callback.
  asio::post(worker_.io(), [self = shared_from_this()] {
    self->streams_.clear();
    self->flush_session();
    self->write();
    if (!self->closed_ && self->out_.empty()) self->teardown();
    // Otherwise write() tears down once the goodbye is out, or
    // check_timeouts gives up on a client that does not read it.
  });
}

void Connection::teardown() {
  if (closed_) return;
  closed_ = true;
  closing_ = true;
  streams_.clear();
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  emit(EventType::Disconnect, {}, close_reason_);
}

}  // namespace rw::server
