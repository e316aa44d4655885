#include "common/server/connection.hpp"

#include <algorithm>
#include <cmath>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/media/stream_name.hpp"
#include "common/server/play_stream.hpp"
#include "common/server/publish_stream.hpp"
#include "common/server/dvr_access.hpp"
#include "common/server/dvr_calls.hpp"
#include "common/server/worker.hpp"

namespace rw::server {

namespace asio = boost::asio;

namespace {

// How many buffers one writev takes from the output queue.
constexpr std::size_t kMaxWriteBuffers = 64;
// A publisher's own read buffer.
constexpr std::size_t kPublisherReadBuffer = 64 * 1024;
// Streams a downstream relay or edge may hold on its one connection per
// application: one per stream it pulls (docs/cluster.md, "Live").
constexpr std::size_t kDownstreamServerStreams = 1024;

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

asio::awaitable<void> NetStream::on_seek(const rtmp::SeekEvent& event) {
  (void)event;
  connection_.session().send_status(stream_id_, "error", "NetStream.Seek.Failed",
                                    "This stream cannot seek.", amf::Object{{"details", name_}});
  connection_.flush_session();
  co_return;
}

asio::awaitable<void> NetStream::on_pause(const rtmp::PauseEvent& event) {
  (void)event;
  co_return;
}

Connection::Connection(asio::ip::tcp::socket socket, Worker& worker, ServerContext& context)
    : socket_(std::move(socket)),
      worker_(worker),
      context_(context),
      id_(context.next_connection_id.fetch_add(1)),
      peer_(endpoint_string(socket_)),
      session_(session_options(context, worker)),
      out_(context.options.out_queue),
      started_(context.clock.now()),
      last_input_(started_),
      last_media_(started_),
      client_(std::make_shared<ClientEntry>(id_, peer_, std::chrono::system_clock::now())) {
  prefix_ = "conn=" + std::to_string(id_) + " peer=" + peer_ + " ";
  context_.connections.fetch_add(1);
  context_.clients.add(client_);
  worker_.add(this);
}

Connection::~Connection() {
  worker_.remove(this);
  context_.clients.remove(*client_);
  context_.connections.fetch_sub(1);
}

void Connection::start() {
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  // We batch writes ourselves; Nagle would only add delay to the last chunk.
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  log_line(LogLevel::Debug) << "accepted";
  // The admin API's kick: closed on the connection's own thread.
  client_->set_kick([weak = weak_from_this(), &worker = worker_] {
    asio::post(worker.io(), [weak] {
      if (auto self = weak.lock()) self->close(CloseCause::Kicked, "kicked by the admin API");
    });
  });
  asio::co_spawn(worker_.io(), [self = shared_from_this()] { return self->read_loop(); }, asio::detached);
}

void Connection::emit(EventType type, std::string_view stream, std::string_view detail,
                      std::chrono::nanoseconds duration) {
  ServerEvent event{type, id_, peer_, app_, std::string(stream), std::string(detail), {}, {}, {}};
  event.duration = duration;
  if (type == EventType::Disconnect) event.cause = to_string(close_cause_);
  const ClientTotals totals = client_->totals();
  event.bytes_in = totals.bytes_in;
  event.bytes_out = totals.bytes_out;
  context_.events.publish(event);
}

LogLine Connection::log_line(LogLevel level) {
  if (!context_.log.enabled(level)) return LogLine(nullptr, level);
  std::uint64_t suppressed = 0;
  if (!log_limit_.allow(context_.clock.now(), suppressed)) return LogLine(nullptr, level);
  LogLine line(&context_.log, level);
  line << prefix_;
  if (suppressed > 0) line << "(" << suppressed << " lines about this connection suppressed) ";
  return line;
}

void Connection::limit_send_buffer() {
  if (send_buffer_limited_ || context_.options.player_send_buffer == 0) return;
  send_buffer_limited_ = true;
  boost::system::error_code ec;
  socket_.set_option(asio::socket_base::send_buffer_size(static_cast<int>(context_.options.player_send_buffer)),
                     ec);
}

asio::awaitable<void> Connection::read_loop() {
  auto self = shared_from_this();
  bool readable = false;  // drain before waiting: the socket is edge-triggered underneath
  while (!closing_) {
    ByteView data;
    boost::system::error_code ec;
    if (!own_buffer_.empty()) {
      // A publisher: a read of its own buffer that Asio tries at once,
      // without re-arming epoll for every read as waiting would.
      auto [read_error, n] =
          co_await socket_.async_read_some(asio::buffer(own_buffer_), asio::as_tuple(asio::use_awaitable));
      ec = read_error;
      data = ByteView(own_buffer_.data(), n);
    } else {
      // Players and new connections hold no buffer while idle: wait, then
      // read into the worker's scratch buffer, which the session drains.
      if (!readable) {
        auto [wait_error] =
            co_await socket_.async_wait(asio::socket_base::wait_read, asio::as_tuple(asio::use_awaitable));
        if (wait_error || closing_) break;
        readable = true;
      }
      std::span<std::uint8_t> buffer = worker_.read_buffer();
      std::size_t n = socket_.read_some(asio::buffer(buffer.data(), buffer.size()), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        readable = false;
        continue;
      }
      data = ByteView(buffer.data(), n);
    }
    if (closing_) break;
    if (ec) {
      if (ec == asio::error::eof) {
        close(CloseCause::ClientClosed, "client closed the connection");
      } else {
        close(CloseCause::ReadFailed, "read failed: " + ec.message());
      }
      break;
    }
    // Liveness: a clock reading per read, not per message. While the
    // events are handled (they may wait for the DVR store) the socket is
    // not read, so the timeouts do not judge it then (busy_).
    last_input_ = context_.clock.now();
    client_->add_bytes_in(data.size());
    busy_ = true;
    co_await consume(data);
    busy_ = false;
    if (media_messages_ != media_seen_) {
      media_seen_ = media_messages_;
      last_media_ = context_.clock.now();
      last_input_ = last_media_;
    }
  }
}

asio::awaitable<void> Connection::consume(ByteView data) {
  const std::span<std::uint8_t> shared = worker_.read_buffer();
  bool in_shared = data.data() >= shared.data() && data.data() < shared.data() + shared.size();
  while (!data.empty() && !closing_) {
    auto result = session_.feed(data, events_);
    data = data.subspan(result.consumed);
    client_->add_messages_in(events_.size());
    if (!data.empty() && !result.error && in_shared) {
      // feed() stopped after a batch of messages; handling them may wait
      // (for the DVR store), and meanwhile other connections read into the
      // worker's buffer: keep the rest.
      unread_.assign(data.begin(), data.end());
      data = ByteView(unread_);
      in_shared = false;
    }
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
      close(CloseCause::ProtocolError, std::string("protocol error: ") + rtmp::to_string(result.error->kind) + ": " + result.error->detail);
    }
    if (result.error || result.consumed == 0) break;
  }
  unread_ = Bytes();
}

void Connection::handle_media(rtmp::MediaEvent& event) {
  auto* s = stream(event.message.header.stream_id);
  if (s && s->is_publisher()) {
    client_->add_ingest(event.message.payload.size());
    s->on_media(event);
  }
}

asio::awaitable<void> Connection::handle(rtmp::SessionEvent& event) {
  if (auto* connect = std::get_if<rtmp::ConnectEvent>(&event)) {
    co_await on_connect(*connect);
  } else if (auto* create = std::get_if<rtmp::CreateStreamEvent>(&event)) {
    session_.create_stream(create->transaction_id);
  } else if (auto* publish = std::get_if<rtmp::PublishEvent>(&event)) {
    co_await on_publish(*publish);
  } else if (auto* play = std::get_if<rtmp::PlayEvent>(&event)) {
    const PlayStream::Request request{play->name, play->start, play->length, play->reset, {}};
    co_await on_play(play->stream_id, request);
  } else if (auto* play2 = std::get_if<rtmp::Play2Event>(&event)) {
    co_await on_play2(*play2);
  } else if (auto* seek = std::get_if<rtmp::SeekEvent>(&event)) {
    if (auto* s = stream(seek->stream_id)) co_await s->on_seek(*seek);
  } else if (auto* pause = std::get_if<rtmp::PauseEvent>(&event)) {
    if (auto* s = stream(pause->stream_id)) co_await s->on_pause(*pause);
  } else if (auto* receive = std::get_if<rtmp::ReceiveMediaEvent>(&event)) {
    if (auto* s = stream(receive->stream_id)) s->on_receive_media(*receive);
  } else if (auto* close_stream = std::get_if<rtmp::CloseStreamEvent>(&event)) {
    on_close_stream(*close_stream);
  } else if (auto* command = std::get_if<rtmp::CommandEvent>(&event)) {
    co_await on_command(*command);
  } else if (auto* data = std::get_if<rtmp::DataEvent>(&event)) {
    auto* s = stream(data->stream_id);
    if (s && s->is_publisher()) s->on_data(*data);
  } else if (auto* buffer = std::get_if<rtmp::BufferLengthEvent>(&event)) {
    // Players announce their buffer; recorded playback runs that far ahead.
    if (auto* s = stream(buffer->stream_id)) s->on_buffer_length(buffer->ms);
  } else if (auto* notice = std::get_if<rtmp::NoticeEvent>(&event)) {
    log_line(LogLevel::Warn) << notice->text;
  }
  co_return;
}

namespace {

// What an application holds of a client: posts to the connection's worker,
// where a connection that is gone is found gone.
class ConnectionLink final : public ClientLink {
 public:
  ConnectionLink(std::weak_ptr<Connection> connection, asio::any_io_executor executor)
      : connection_(std::move(connection)), executor_(std::move(executor)) {}
  void invoke(std::string name, std::vector<amf::Value> args) override {
    asio::post(executor_, [c = connection_, name = std::move(name), args = std::move(args)]() mutable {
      if (auto connection = c.lock(); connection && !connection->closing()) {
        connection->session().send_call(name, std::move(args));
        connection->flush_session();
      }
    });
  }
  void close(std::string why) override {
    asio::post(executor_, [c = connection_, why = std::move(why)] {
      if (auto connection = c.lock()) connection->close(CloseCause::Kicked, "closed by the application: " + why);
    });
  }
  bool closed() const override {
    auto connection = connection_.lock();
    return !connection || connection->closing();
  }
  void check_bandwidth() override {
    asio::post(executor_, [c = connection_] {
      auto connection = c.lock();
      if (!connection || connection->closing()) return;
      const AppSettings* app = connection->context().find_app(connection->app());
      if (app) connection->start_bandwidth_check(app->bandwidth);
    });
  }

 private:
  std::weak_ptr<Connection> connection_;
  asio::any_io_executor executor_;
};

}  // namespace

asio::awaitable<void> Connection::on_connect(rtmp::ConnectEvent& event) {
  std::string why = media::validate_app_name(event.app);
  const AppSettings* settings = why.empty() ? context_.find_app(event.app) : nullptr;
  if (why.empty() && !settings) why = "no application named '" + event.app + "'";
  if (!why.empty()) {
    session_.reject_connect("NetConnection.Connect.InvalidApp", why);
    app_ = event.app;
    prefix_ += "app=" + rw::log_field(app_) + " ";
    emit(EventType::Reject, {}, why);
    close(CloseCause::Rejected, "connect rejected: " + why);
    co_return;
  }
  app_ = event.app;
  prefix_ += "app=" + rw::log_field(app_) + " ";
  const ServerOptions& options = context_.options;
  if (const amf::Value* peer = event.command_object.find("rewindServer");
      peer && !options.server_id.empty() && peer->as_string() == options.server_id) {
    // This server is its own upstream (a relay or edge configured with its
    // own address): refused, or it would connect to itself without end.
    why = "loop: " + options.server_id + " connected to itself (is it its own upstream?)";
    session_.reject_connect("NetConnection.Connect.Rejected", why);
    log_line(LogLevel::Warn) << why;
    emit(EventType::Reject, {}, why);
    close(CloseCause::Rejected, "connect rejected: " + why);
    co_return;
  }
  if (event.command_object.find("rewindServer") != nullptr) {
    // A downstream Rewind server: every pull of this application goes over
    // this one connection (still bounded), and it may use the segment
    // protocol.
    downstream_server_ = true;
    session_.set_max_streams(std::max<std::size_t>(options.session.max_streams, kDownstreamServerStreams));
  }
  client_info_ = client_info(event);
  amf::Object extra;
  if (Application* application = context_.application) {
    // The connection's reading waits here, and with it every later message
    // of this client: nothing it sends is handled before the answer.
    Decision decision = co_await application->on_connect(
        client_info_, std::make_shared<ConnectionLink>(weak_from_this(), socket_.get_executor()), event.args);
    if (closing_) co_return;
    if (!decision.redirect.empty()) {
      // FMS's and SRS's redirect: Rejected, with ex.code 302 and
      // ex.redirect, which Flash players and OSMF follow.
      why = "redirected to " + decision.redirect;
      session_.reject_connect("NetConnection.Connect.Rejected", why, std::nullopt,
                              amf::Object{{"ex", amf::Object{{"code", 302.0}, {"redirect", decision.redirect}}}});
      emit(EventType::Reject, {}, why);
      close(CloseCause::Rejected, "connect " + why);
      co_return;
    }
    if (!decision.allowed) {
      why = decision.description.empty() ? "client rejected" : decision.description;
      session_.reject_connect("NetConnection.Connect.Rejected", why);
      emit(EventType::Reject, {}, why);
      close(CloseCause::Rejected, "connect rejected: " + why);
      co_return;
    }
    extra = std::move(decision.info);
  }
  if (!options.server_id.empty()) {
    extra.set("rewindServer", options.server_id);
    extra.set("rewindRole", options.role);
  }
  session_.accept_connect(extra);
  connected_ = true;
  // Only an accepted connect is described: the names of refused ones are
  // the client's to make up (the registry keeps totals by application).
  describe_connect(event);
  describe_streams();
  emit(EventType::Connect, {}, event.flash_version);
}

asio::awaitable<void> Connection::on_publish(const rtmp::PublishEvent& event) {
  // A second publish or a publish over a play on one stream id replaces it.
  streams_.erase(event.stream_id);
  // A name that is not valid is refused as such by PublishStream::start,
  // without asking.
  media::StreamName name = media::split_stream_name(event.name);
  if (Application* application = context_.application; application && media::validate_stream_name(name.name).empty()) {
    const Decision decision = co_await application->on_publish(client_info_, stream_request(name));
    if (closing_) co_return;
    if (!decision.allowed) {
      refuse_stream(event.stream_id, "NetStream.Publish.Rejected", name.name, decision.description);
      streams_changed();
      co_return;
    }
  }
  auto stream = co_await PublishStream::start(*this, event);
  if (!stream || closing_) {
    streams_changed();
    co_return;
  }
  streams_[event.stream_id] = std::move(stream);
  describe_streams();
  // The publisher idle timeout runs from the accepted publish: an encoder
  // that connected long before it started is not idle.
  media_seen_ = media_messages_;
  last_media_ = context_.clock.now();
  // Publishers send all the time: give them a read buffer of their own.
  if (own_buffer_.empty()) own_buffer_.resize(kPublisherReadBuffer);
}

asio::awaitable<void> Connection::on_play(std::uint32_t stream_id, const PlayStream::Request& request) {
  streams_.erase(stream_id);  // play on a playing stream replaces it
  streams_changed();
  media::StreamName name = media::split_stream_name(request.raw_name);
  if (Application* application = context_.application; application && media::validate_stream_name(name.name).empty()) {
    const Decision decision = co_await application->on_play(client_info_, stream_request(name));
    if (closing_) co_return;
    if (!decision.allowed) {
      refuse_stream(stream_id, "NetStream.Play.Failed", name.name, decision.description);
      co_return;
    }
  }
  auto stream = co_await PlayStream::start(*this, stream_id, request);
  if (stream && !closing_) {
    streams_[stream_id] = std::move(stream);
    describe_streams();
  }
}

asio::awaitable<void> Connection::on_play2(const rtmp::Play2Event& event) {
  // NetStreamPlayTransitions: "stop" ends the stream; "resume" (a client
  // that reconnected) continues at its offset; every other transition
  // (switch, swap, reset, append...) plays the new name. play2's object
  // carries ActionScript NetStreamPlayOptions, whose times are seconds.
  if (event.transition == "stop") {
    on_close_stream(rtmp::CloseStreamEvent{event.stream_id, false});
    co_return;
  }
  PlayStream::Request request{event.name, event.start < 0 ? event.start : event.start * 1000, -1, true, {}};
  if (event.length >= 0) request.length = event.length * 1000;
  if (event.transition == "resume") {
    const double at = event.offset >= 0 ? event.offset : event.start;
    if (at >= 0) request.resume_at_ms = at * 1000;
    request.reset = false;
  }
  co_await on_play(event.stream_id, request);
}

std::string Connection::connect_query(const rtmp::ConnectEvent& event) {
  // Clients put it on the app ("live?token=abc") or only on the tcUrl.
  if (!event.app_query.empty()) return "?" + event.app_query;
  if (auto q = event.tc_url.find('?'); q != std::string::npos) return event.tc_url.substr(q);
  return {};
}

ClientInfo Connection::client_info(const rtmp::ConnectEvent& event) const {
  auto text = [&](const char* key) {
    const amf::Value* v = event.command_object.find(key);
    return v ? std::string(v->as_string()) : std::string();
  };
  ClientInfo info;
  info.connection_id = id_;
  info.ip = address_of(peer_);
  info.app = event.app;
  info.tc_url = event.tc_url;
  info.page_url = text("pageUrl");
  info.param = connect_query(event);
  info.rewind_role = text("rewindRole");
  info.rewind_server = text("rewindServer");
  return info;
}

StreamRequest Connection::stream_request(const media::StreamName& name) {
  return StreamRequest{name.name, name.query.empty() ? std::string() : "?" + name.query};
}

void Connection::refuse_stream(std::uint32_t stream_id, std::string_view code, const std::string& name,
                               const std::string& description) {
  const std::string why = description.empty() ? "refused by the application" : description;
  session_.send_status(stream_id, "error", code, why, amf::Object{{"details", name}});
  flush_session();
  emit(EventType::Error, name, std::string(code) + ": " + why);
  log_line(LogLevel::Info) << code << " " << rw::log_field(name) << ": " << rw::log_escape(why);
}

void Connection::start_bandwidth_check(const BandwidthSettings& settings) {
  if (bandwidth_ || closing_) return;  // one at a time: a second request joins the running one
  bandwidth_ = std::make_unique<BandwidthProbe>(settings, next_call_transaction_, context_.clock.now());
  if (!bandwidth_timer_) bandwidth_timer_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
  asio::co_spawn(socket_.get_executor(), run_bandwidth_check(shared_from_this(), settings.data_size), asio::detached);
}

asio::awaitable<void> Connection::run_bandwidth_check(std::shared_ptr<Connection> self, std::size_t data_size) {
  // The payload, made once: a string of data_size bytes in each call.
  const amf::Value payload(std::string(data_size, 'x'));
  const auto started = context_.clock.now();
  while (!closing_) {
    const auto now = context_.clock.now();
    while (auto call = bandwidth_->next(now)) {
      next_call_transaction_ = std::max(next_call_transaction_, call->transaction_id + 1);
      std::vector<amf::Value> args;
      if (call->payload) args.push_back(payload);
      session_.send_call("onBWCheck", std::move(args), call->transaction_id);
    }
    flush_session();
    const BandwidthProbe::State state = bandwidth_->state(now);
    if (state == BandwidthProbe::State::Abandoned) {
      // ffmpeg, rtmpdump and players without an onBWCheck: left alone.
      log_line(LogLevel::Debug) << "bandwidth check: no answer to onBWCheck, given up";
      break;
    }
    if (state == BandwidthProbe::State::Done) {
      const BandwidthProbe::Result r = bandwidth_->result();
      session_.send_call("onBWDone", {amf::Value(std::round(r.kbps)), amf::Value(r.delta_down_kbit),
                                      amf::Value(r.delta_time_s), amf::Value(std::round(r.latency_ms))});
      flush_session();
      log_line(LogLevel::Info) << "bandwidth check: " << std::lround(r.kbps) << " kbit/s, latency "
                               << std::lround(r.latency_ms) << " ms, "
                               << std::chrono::duration_cast<std::chrono::milliseconds>(now - started).count()
                               << " ms";
      break;
    }
    bandwidth_timer_->expires_at(bandwidth_->wake_at(now));
    co_await bandwidth_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
  }
  bandwidth_.reset();
  (void)self;  // held for the check's life
}

void Connection::on_close_stream(const rtmp::CloseStreamEvent& event) {
  auto it = streams_.find(event.stream_id);
  if (it == streams_.end()) return;
  it->second->on_close();
  streams_.erase(it);
  streams_changed();
}

void Connection::streams_changed() {
  // A client that no longer publishes may send small messages only again:
  // publishing once must not keep the publisher's limits (8 MB messages).
  if (!publishing()) session_.restrict_to_commands();
  describe_streams();
}

void Connection::describe_connect(const rtmp::ConnectEvent& event) {
  auto bounded = [](std::string_view s) { return std::string(s.substr(0, ClientEntry::kMaxTextBytes)); };
  auto text = [&](const char* key) {
    const amf::Value* v = event.command_object.find(key);
    return v ? bounded(v->as_string()) : std::string();
  };
  ClientEntry::Description d;
  d.app = event.app;
  d.tc_url = bounded(event.tc_url);
  d.page_url = text("pageUrl");
  d.swf_url = text("swfUrl");
  d.flash_version = bounded(event.flash_version);
  d.query = bounded(connect_query(event));
  client_->describe(std::move(d));
}

void Connection::describe_streams() {
  if (!connected_) return;
  ClientEntry::Description d = client_->description();
  d.streams = streams_.size();
  d.stream = streams_.empty() ? std::string() : streams_.begin()->second->name();
  d.published.clear();
  for (const auto& [id, s] : streams_) {
    if (s->is_publisher()) d.published.push_back(s->name());
  }
  if (downstream_server_) {
    d.kind = ClientEntry::Kind::Downstream;
  } else if (publishing()) {
    d.kind = ClientEntry::Kind::Publisher;
  } else {
    d.kind = streams_.empty() ? ClientEntry::Kind::Idle : ClientEntry::Kind::Player;
  }
  client_->describe(std::move(d));
}

asio::awaitable<void> Connection::on_command(rtmp::CommandEvent& event) {
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
    co_return;
  }
  if (name == "FCSubscribe") {
    // CDN-style players (Akamai, Limelight) wait for onFCSubscribe.
    session_.send_call("onFCSubscribe", {rtmp::status_object("status", "NetStream.Play.Start", arg_name())});
    co_return;
  }
  if (name == "FCUnsubscribe") {
    session_.send_call("onFCUnsubscribe", {rtmp::status_object("status", "NetStream.Play.Stop", arg_name())});
    co_return;
  }
  if (DvrCalls::handles(name)) {
    DvrCalls calls(context_, session_, app_, closing_, downstream_server_);
    co_await calls.answer(cmd);
    co_return;
  }
  if (name == "DVRSetStreamInfo") {
    co_await on_dvr_set_stream_info(cmd);
    co_return;
  }
  if (name == "checkBandwidth") {
    const AppSettings* app = context_.find_app(app_);
    if (!app || !app->bandwidth.enabled) {
      session_.send_call_error(cmd.transaction_id, "bandwidth detection is off for application " + app_);
      co_return;
    }
    if (cmd.transaction_id != 0) session_.send_result(cmd.transaction_id, {amf::Null{}});
    start_bandwidth_check(app->bandwidth);
    co_return;
  }
  if (name == "_result" && bandwidth_ && bandwidth_->answer(cmd.transaction_id, context_.clock.now())) {
    bandwidth_timer_->cancel();  // the check sends the next call at once
    co_return;
  }
  if (name == "_result" || name == "_error" || name == "_checkbw" || name == "onBWDone") {
    // Answers to our calls, and librtmp's bandwidth check ping: nothing to do.
    co_return;
  }
  if (Application* application = context_.application; application && connected_) {
    // A method of the application's (a script's client:onMessage).
    CallAnswer answer = co_await application->on_call(client_info_, name, cmd.args);
    if (closing_) co_return;
    if (answer.handled) {
      if (cmd.transaction_id == 0) co_return;  // nobody waits for it
      if (answer.ok) {
        session_.send_result(cmd.transaction_id, {std::move(answer.value)});
      } else {
        session_.send_call_error(cmd.transaction_id, answer.error);
      }
      co_return;
    }
  }
  log_line(LogLevel::Info) << "unknown command '" << rw::log_escape(name) << "'";
  session_.send_call_error(cmd.transaction_id, "Method not found (" + name + ").");
}

asio::awaitable<void> Connection::on_dvr_set_stream_info(const rtmp::Command& cmd) {
  const double txn = cmd.transaction_id;
  const amf::Value* arg = cmd.args.empty() ? nullptr : &cmd.args[0];
  std::string name(arg ? arg->as_string() : std::string_view());
  if (const amf::Object* o = arg ? arg->as_object() : nullptr) {
    if (const amf::Value* v = o->find("streamName")) name = std::string(v->as_string());
  }
  name = media::split_stream_name(name).name;
  // FMLE's DVR button: startRec starts recording the stream it publishes
  // here, stopRec (or offline) stops it.
  const amf::Object* o = arg ? arg->as_object() : nullptr;
  PublishStream* publisher = nullptr;
  for (auto& [id, s] : streams_) {
    if (s->is_publisher() && s->name() == name) publisher = static_cast<PublishStream*>(s.get());
  }
  if (!o || !publisher) {
    session_.send_call_error(txn, name + " is not published on this connection.");
    co_return;
  }
  const amf::Value* start_rec = o->find("startRec");
  const amf::Value* stop_rec = o->find("stopRec");
  const amf::Value* offline = o->find("offline");
  auto when = [](const amf::Value* v) -> std::optional<double> {
    if (!v) return std::nullopt;
    if (auto* d = std::get_if<amf::Date>(&v->storage())) return d->ms;
    return std::nullopt;
  };
  const bool stop = (offline && offline->as_bool()) ||
                    (when(stop_rec) && (!when(start_rec) || *when(stop_rec) >= *when(start_rec)));
  if (stop) {
    publisher->stop_recording();
  } else if (when(start_rec) && !publisher->recording()) {
    const amf::Value* append = o->find("append");
    const std::uint32_t id = publisher->stream_id();
    co_await publisher->start_recording(append && append->as_bool() ? dvr::RecordMode::Append
                                                                    : dvr::RecordMode::NewRecording);
    if (closing_ || !stream(id)) co_return;
  }
  session_.send_result(txn, {rtmp::status_object("status", "NetStream.DVRStreamInfo.Success", name)});
}

NetStream* Connection::stream(std::uint32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void Connection::write_soon() { worker_.write_soon(shared_from_this()); }

void Connection::flush_session() {
  if (!session_.has_output()) return;
  materialize_feeds();
  out_.push_control(SharedBuffer(session_.take_output()));
  worker_.write_soon(shared_from_this());
}

void Connection::attach_feed(std::uint32_t stream_id, std::shared_ptr<media::LiveFeed> feed,
                             std::uint64_t first_sequence, bool waiting_for_keyframe,
                             std::optional<std::uint64_t> from) {
  media::FeedCursor cursor;
  cursor.next = from ? *from : feed->end();
  cursor.first_sequence = first_sequence;
  cursor.waiting_for_resume = waiting_for_keyframe;
  cursor.registration = media::FeedRegistration(std::move(feed), *this);
  feeds_.push_back(FeedRead{stream_id, std::move(cursor)});
}

void Connection::feed_wait_for_keyframe(std::uint32_t stream_id) {
  for (auto& read : feeds_) {
    if (read.stream_id == stream_id) read.cursor.waiting_for_resume = true;
  }
}

std::optional<Connection::FeedStop> Connection::detach_feed(std::uint32_t stream_id, bool keep_pending) {
  auto it = std::find_if(feeds_.begin(), feeds_.end(), [&](const FeedRead& r) { return r.stream_id == stream_id; });
  if (it == feeds_.end()) return std::nullopt;
  media::FeedCursor& c = it->cursor;
  const media::LiveFeed& feed = c.feed();
  if (keep_pending) move_to_queue(*it);
  std::optional<FeedStop> stop;
  for (std::uint64_t i = std::max(c.next, feed.begin()); i < feed.end(); ++i) {
    const media::Frame& f = *feed.at(i).frame;
    if (f.position != 0) {
      stop = FeedStop{f.position, f.timestamp};
      break;
    }
  }
  if (!stop && !feed.empty() && c.next > feed.begin()) {
    // Everything was sent: the next frame is the one after the last.
    const media::Frame& last = *feed.at(feed.end() - 1).frame;
    if (last.position != 0) stop = FeedStop{last.position + 1, last.timestamp};
  }
  if (!stop && c.next > feed.begin() && c.next <= feed.end()) {
    // No numbers (a pull not anchored yet): at least when the last frame
    // sent was, so that the player can be placed by time.
    stop = FeedStop{0, feed.at(c.next - 1).frame->timestamp};
  }
  feeds_.erase(it);  // its registration leaves the feed
  return stop;
}

bool Connection::prepare(FeedRead& read) {
  media::FeedCursor& c = read.cursor;
  const media::LiveFeed& feed = c.feed();
  const auto& options = context_.options.out_queue;
  // Behind by stream time (on the feed's clock, which a republish does not
  // reset) or by bytes: the same limits as the player's own queue.
  const bool lost = c.next < feed.begin();
  const bool behind = !lost && c.next < feed.end() &&
                      (feed.lag_ms(c.next) > options.max_lag_ms || feed.bytes_from(c.next) > options.max_bytes);
  if (lost || behind) {
    if (++feed_skips_ > options.max_skips) {
      close(CloseCause::SlowPlayer, "player too slow: fell more than " + std::to_string(options.max_lag_ms) +
            " ms behind live again after skipping to keyframes");
      return false;
    }
    log_line(LogLevel::Warn) << "player fell behind, skipping to the next keyframe (skip " << feed_skips_ << ")";
    client_->add_skip();
    c.next = std::max(c.next, feed.begin());
    c.waiting_for_resume = true;
  }
  while (c.next < feed.end()) {
    const auto& e = feed.at(c.next);
    // Events before the join snapshot's end went out with the snapshot.
    if (e.sequence < c.first_sequence) {
      ++c.next;
      continue;
    }
    if (!c.waiting_for_resume) break;
    if (feed.resume_point(e)) {
      c.waiting_for_resume = false;
      out_.resumed();
      break;
    }
    // Skipping, but codec headers and metadata still go out, in order.
    if (media::LiveFeed::essential(e)) {
      out_.push_media(e.bytes, MediaTag{read.stream_id, e.frame->timestamp, false, true});
      client_->add_messages_out(1);
    }
    ++c.next;
  }
  return true;
}

void Connection::move_to_queue(FeedRead& read) {
  if (!prepare(read)) return;
  media::FeedCursor& c = read.cursor;
  const media::LiveFeed& feed = c.feed();
  for (; c.next < feed.end(); ++c.next) {
    const auto& e = feed.at(c.next);
    if (e.sequence < c.first_sequence) continue;
    const auto pushed = out_.push_media(e.bytes, MediaTag{read.stream_id, e.frame->timestamp, feed.resume_point(e),
                                                          media::LiveFeed::essential(e)});
    if (pushed == OutQueue::Push::Queued) client_->add_messages_out(1);
    if (pushed == OutQueue::Push::Skipped) client_->add_skip();
    if (pushed == OutQueue::Push::TooSlow) {
      c.next = feed.end();
      close(CloseCause::SlowPlayer, "player too slow: fell more than " + std::to_string(context_.options.out_queue.max_lag_ms) +
            " ms behind live again after skipping to keyframes");
      return;
    }
  }
  // The queue cut back and waits for a keyframe: so does the cursor, or
  // the frames it writes later straight from the feed would follow a gap.
  if (out_.waiting_for_resume()) c.waiting_for_resume = true;
}

void Connection::materialize_feeds() {
  for (auto& read : feeds_) {
    if (read.cursor.next < read.cursor.feed().end()) move_to_queue(read);
  }
}

OutQueue::Push Connection::send_media(SharedBuffer bytes, const MediaTag& tag) {
  materialize_feeds();
  auto result = out_.push_media(std::move(bytes), tag);
  if (result == OutQueue::Push::Queued) client_->add_messages_out(1);
  if (result == OutQueue::Push::Queued && !write_scheduled_) worker_.schedule_write(shared_from_this());
  if (result == OutQueue::Push::Skipped) {
    client_->add_skip();
    context_.log.warn() << "conn=" << id_ << " peer=" << peer_ << " app=" << app_
                        << " player fell behind, skipping to the next keyframe (skip " << out_.skips() << ")";
  }
  return result;
}

void Connection::write() {
  if (closed_ || waiting_writable_) return;
  for (;;) {
    for (auto& read : feeds_) {
      if (!prepare(read) || closed_) return;
    }
    // The output queue first (it holds everything older than what the
    // feeds hold), then each feed from its cursor, whole entries only.
    ByteView views[kMaxWriteBuffers];
    std::size_t count = out_.gather(views);
    const std::size_t queued = count;
    std::size_t queue_bytes = 0;
    for (std::size_t i = 0; i < count; ++i) queue_bytes += views[i].size();
    if (count == out_.entries()) {
      for (auto& read : feeds_) {
        const media::FeedCursor& c = read.cursor;
        for (std::uint64_t i = c.next; i < c.feed().end() && count < kMaxWriteBuffers; ++i) {
          views[count++] = c.feed().at(i).bytes.view();
        }
      }
    }
    if (count == 0) break;
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
      // The peer is gone (a reset, most often). Tear down now: nothing
      // queued can reach it, and the feeds must not call us again.
      close_reason_ = "write failed: " + ec.message();
      close_cause_ = CloseCause::WriteFailed;
      teardown();
      return;
    }
    client_->add_bytes_out(written);
    // What was written: the queue's part, then the feeds' in gather order.
    const std::size_t from_queue = std::min(written, queue_bytes);
    out_.consume(from_queue);
    std::size_t left = queued == count ? 0 : written - from_queue;
    std::uint64_t feed_messages = 0;  // counted once per write, not per message
    for (auto& read : feeds_) {
      media::FeedCursor& c = read.cursor;
      while (left > 0 && c.next < c.feed().end()) {
        const auto& e = c.feed().at(c.next);
        const std::size_t size = e.bytes.size();
        if (left < size) {
          // Part of a message is on the wire: the rest moves to our own
          // queue (which is empty now: all of it was written before any
          // feed entry), so the feed may forget the entry whenever it likes.
          out_.push_started(e.bytes, static_cast<std::uint32_t>(left), MediaTag{read.stream_id, e.frame->timestamp,
                                                                              false, true});
          left = 0;
        } else {
          left -= size;
        }
        ++feed_messages;
        ++c.next;
      }
    }
    client_->add_messages_out(feed_messages);
    if (written < total) {
      wait_writable();
      return;
    }
  }
  // Caught up with every feed: the player earns its skips back.
  feed_skips_ = 0;
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
  auto ms = [](std::chrono::milliseconds d) { return std::to_string(d.count()); };
  if (!connected_ && !closing_ && now - started_ > options.handshake_timeout) {
    close(CloseCause::HandshakeTimeout, "no connect within " + ms(options.handshake_timeout) + " ms");
  } else if (waiting_writable_ && now - blocked_since_ > options.send_timeout) {
    // The client stopped reading (or closing could not write the goodbye).
    closing_ = true;
    if (close_reason_.empty()) {
      close_reason_ = "client read nothing for " + ms(options.send_timeout) + " ms";
      close_cause_ = CloseCause::SendTimeout;
    }
    teardown();
  } else if (closing_ || busy_) {
    return;
  } else if (options.idle_timeout.count() > 0 && now - last_input_ > options.idle_timeout) {
    // A half-open peer (its host vanished, a NAT forgot it) sends nothing,
    // not even an answer to our pings.
    close(CloseCause::Idle, "client sent nothing for " + ms(options.idle_timeout) + " ms, not even an answer to a ping");
  } else if (options.publisher_idle_timeout.count() > 0 && publishing() &&
             now - last_media_ > options.publisher_idle_timeout) {
    close(CloseCause::PublisherIdle, "publisher sent no media for " + ms(options.publisher_idle_timeout) + " ms");
  } else if (connected_ && options.ping_interval.count() > 0 && now - last_input_ >= options.ping_interval &&
             now - last_ping_ >= options.ping_interval) {
    // FMS and nginx-rtmp ping quiet clients; Flash, librtmp and ffmpeg
    // answer, and the answer is input like any other.
    last_ping_ = now;
    session_.send_user_control(rtmp::UserControlEvent::PingRequest,
                               static_cast<std::uint32_t>(context_.clock.now_ms()));
    flush_session();
  }
}

bool Connection::publishing() const {
  for (const auto& [id, stream] : streams_) {
    if (stream->is_publisher()) return true;
  }
  return false;
}

void Connection::close(CloseCause cause, std::string_view reason) {
  if (closing_) return;
  closing_ = true;
  client_->set_kick(nullptr);  // nothing left to kick
  if (bandwidth_timer_) bandwidth_timer_->cancel();  // the check sees closing_ and ends
  close_cause_ = cause;
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
  client_->set_kick(nullptr);
  streams_.clear();
  feeds_.clear();  // their registrations leave the feeds
  out_ = OutQueue(context_.options.out_queue);
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  emit(EventType::Disconnect, {}, close_reason_);
}

}  // namespace rw::server
