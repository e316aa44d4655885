#include "tests/bench/seek_load.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>

namespace rw::bench {

namespace {

const char* stage_name(SeekClient::Stage stage) {
  switch (stage) {
    case SeekClient::Stage::Connecting: return "connecting";
    case SeekClient::Stage::AskingLength: return "waiting for getStreamLength";
    case SeekClient::Stage::CreatingStream: return "creating stream";
    case SeekClient::Stage::Starting: return "waiting for the first keyframe";
    case SeekClient::Stage::Waiting: return "waiting between seeks";
    case SeekClient::Stage::Seeking: return "seeking";
    case SeekClient::Stage::Done: return "done";
    case SeekClient::Stage::Failed: return "failed";
    case SeekClient::Stage::Closed: return "closed";
    case SeekClient::Stage::Unfinished: return "unfinished";
  }
  return "?";
}

const char* kind_name(MediaKind kind) {
  switch (kind) {
    case MediaKind::VideoHeader: return "video sequence header";
    case MediaKind::Keyframe: return "keyframe";
    case MediaKind::InterFrame: return "inter frame";
    case MediaKind::AudioHeader: return "audio sequence header";
    case MediaKind::AudioFrame: return "audio";
    case MediaKind::Other: return "other";
  }
  return "?";
}

std::string seconds_text(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", seconds);
  return buf;
}

}  // namespace

SeekClient::SeekClient(LoadContext& context, std::size_t index, SeekTally& tally, std::function<void()> on_finished)
    : Connection(context, index, context.session_options()),
      tally_(tally),
      targets_(context.options.seed, index),
      // Another sequence, so the targets do not depend on the jitter.
      jitter_(~context.options.seed, index),
      timer_(context.io),
      on_finished_(std::move(on_finished)),
      range_ms_(context.options.range_ms),
      started_at_(now_us()) {
  tracing_ = context.options.trace_client >= 0 && static_cast<std::size_t>(context.options.trace_client) == index;
}

void SeekClient::trace(const std::string& line) const {
  char time[32];
  std::snprintf(time, sizeof time, "%.1f", static_cast<double>(now_us() - started_at_) / 1000.0);
  std::cerr << "trace client " << index() << " +" << time << " ms: " << line << std::endl;
}

void SeekClient::on_open() {
  rtmp::ConnectParams params;
  params.app = context_.options.url.app;
  params.tc_url = context_.options.url.tc_url;
  session_.connect(params);
}

void SeekClient::on_event(rtmp::ClientEvent& event, std::int64_t now) {
  // Media first: it is nearly every event.
  if (auto* message = std::get_if<rtmp::StreamMessageEvent>(&event)) {
    ++messages_;
    on_media(message->message, now);
    return;
  }
  if (tracing_) {
    if (const auto* status = std::get_if<rtmp::StatusEvent>(&event)) trace("onStatus " + status->code);
    if (const auto* control = std::get_if<rtmp::ServerControlEvent>(&event)) {
      trace("user control " + std::to_string(static_cast<int>(control->control.event)));
    }
  }
  std::visit(
      [&](auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, rtmp::ConnectedEvent>) {
          connected_ = true;
          if (range_ms_ == 0) {
            // What OSMF-era players ask before they offer a seek bar.
            stage_ = Stage::AskingLength;
            length_transaction_ = session_.call("getStreamLength", {amf::Value(context_.options.url.stream)});
          } else {
            stage_ = Stage::CreatingStream;
            session_.create_stream();
          }
        } else if constexpr (std::is_same_v<T, rtmp::ConnectFailedEvent>) {
          const amf::Value* code = e.info.find("code");
          fail("connect rejected: " + std::string(code ? code->as_string() : "?"));
        } else if constexpr (std::is_same_v<T, rtmp::ResultEvent>) {
          if (stage_ != Stage::AskingLength || e.transaction_id != length_transaction_) return;
          const double seconds = e.values.empty() ? 0 : e.values[0].as_number();
          if (!(seconds > 0) || seconds * 1000 >= 4294967295.0) {
            fail("getStreamLength answered " + seconds_text(seconds) + ": nothing recorded to seek into");
            return;
          }
          stream_length_ms_ = static_cast<std::uint32_t>(std::lround(seconds * 1000));
          range_ms_ = *stream_length_ms_;
          stage_ = Stage::CreatingStream;
          session_.create_stream();
        } else if constexpr (std::is_same_v<T, rtmp::StreamCreatedEvent>) {
          stage_ = Stage::Starting;
          stream_id_ = e.stream_id;
          session_.set_buffer_length(stream_id_, context_.options.buffer_ms);
          session_.play(stream_id_, context_.options.url.stream, context_.options.play_start, -1, true);
        } else if constexpr (std::is_same_v<T, rtmp::CallErrorEvent>) {
          if (stage_ == Stage::CreatingStream) fail("createStream refused");
          if (stage_ == Stage::AskingLength && e.transaction_id == length_transaction_) fail("getStreamLength refused");
        } else if constexpr (std::is_same_v<T, rtmp::StatusEvent>) {
          on_status(e, now);
        }
      },
      event);
}

void SeekClient::on_status(const rtmp::StatusEvent& status, std::int64_t now) {
  if (stage_ == Stage::Starting) {
    if (status.level == "error") fail(status.code);
    return;
  }
  if (!probe_ || stage_ != Stage::Seeking) return;
  if (status.code == "NetStream.Seek.Notify") {
    probe_->on_notify(now);
  } else if (status.level == "error") {
    // Seek.InvalidTime, Seek.Failed, or the stream went away.
    seek_failed(status.code);
  }
}

void SeekClient::on_media(const rtmp::Message& message, std::int64_t now) {
  const std::uint8_t type = message.header.type;
  if (type != rtmp::msg_type::kVideo && type != rtmp::msg_type::kAudio) {
    if (tracing_) trace("message type " + std::to_string(type) + " " + std::to_string(message.header.timestamp));
    return;
  }
  const MediaClass media = classify_media(type, message.payload);
  last_timestamp_ = message.header.timestamp;
  if (tracing_) trace(std::string(kind_name(media.kind)) + " " + std::to_string(message.header.timestamp));
  if (stage_ == Stage::Starting) {
    if (media.kind != MediaKind::Keyframe) return;
    first_keyframe_at_ = now;
    // Playing from 0 starts at the recording's first keyframe; a seek
    // before it lands there.
    if (context_.options.play_start == 0) first_keyframe_ms_ = message.header.timestamp;
    if (context_.options.seeks == 0) {
      finish();
      return;
    }
    wait_interval();
    return;
  }
  if (!probe_) return;
  // After its keyframe the probe still watches for a later keyframe that
  // was also at or before the target.
  if (probe_->on_media(media, message.header.timestamp, now) && stage_ == Stage::Seeking) {
    tally_.record_landing(*probe_);
    wait_interval();
  }
}

void SeekClient::wait_interval() {
  stage_ = Stage::Waiting;
  const std::uint32_t jitter = jitter_.next(context_.options.seek_jitter_ms);
  timer_.expires_after(std::chrono::milliseconds(context_.options.seek_interval_ms + jitter));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !closed() && stage_ == Stage::Waiting) next_step();
  });
}

void SeekClient::next_step() {
  end_seek();
  if (seeks_sent_ >= context_.options.seeks) {
    finish();
    return;
  }
  send_seek();
}

void SeekClient::send_seek() {
  const std::uint32_t target = targets_.next(range_ms_);
  ++seeks_sent_;
  tally_.sent_one();
  stage_ = Stage::Seeking;
  probe_.emplace(target, now_us(), last_timestamp_, first_keyframe_ms_);
  if (tracing_) trace("seek " + std::to_string(target));
  session_.seek(stream_id_, target);
  flush();
}

void SeekClient::seek_failed(const std::string& reason) {
  tally_.record_failure(reason);
  wait_interval();
}

void SeekClient::end_seek() {
  if (!probe_) return;
  tally_.record_violations(*probe_, index(), seeks_sent_);
  probe_.reset();
}

void SeekClient::finish() {
  end_seek();
  stage_ = Stage::Done;
  stopping_ = true;
  close("done");
}

std::string SeekClient::stage_detail() const {
  if (stage_ == Stage::Connecting) return std::string("connecting (") + opening_step() + ")";
  if (stage_ == Stage::Seeking || stage_ == Stage::Waiting) {
    return std::string(stage_name(stage_)) + " (seek " + std::to_string(seeks_sent_) + " of " +
           std::to_string(context_.options.seeks) + ")";
  }
  return stage_name(stage_);
}

void SeekClient::fail(const std::string& reason) {
  if (closed()) return;
  failure_ = reason;
  stage_ = played() ? Stage::Closed : Stage::Failed;
  stopping_ = true;
  close(reason);
}

void SeekClient::on_closed(const std::string& reason) {
  timer_.cancel();
  if (!stopping_) {
    if (stage_ == Stage::Seeking) tally_.record_failure("connection lost during the seek");
    end_seek();
    failure_ = stage_detail() + ": " + reason;
    stage_ = played() ? Stage::Closed : Stage::Failed;
  }
  if (on_finished_) on_finished_();
}

void SeekClient::check_timeout(std::int64_t now, std::int64_t timeout_us) {
  if (closed()) return;
  const std::string limit = seconds_text(static_cast<double>(timeout_us) / 1e6);
  if (stage_ == Stage::Seeking && probe_ && now - probe_->sent_us() >= timeout_us) {
    seek_failed(probe_->notified() ? "no keyframe within " + limit + " of NetStream.Seek.Notify"
                                   : "no NetStream.Seek.Notify within " + limit);
    return;
  }
  if (!played() && now - started_at_ >= timeout_us) fail("timeout while " + stage_detail());
}

void SeekClient::stop(std::int64_t now) {
  (void)now;
  if (closed()) return;
  if (!played()) {
    fail("run ended while " + stage_detail());
    return;
  }
  if (stage_ == Stage::Seeking) tally_.record_failure("run ended during the seek");
  end_seek();
  failure_ = "run ended while " + stage_detail();
  stage_ = Stage::Unfinished;
  stopping_ = true;
  close("stopped");
}

SeekLoad::SeekLoad(boost::asio::io_context& io, const Options& options, boost::asio::ip::tcp::endpoint endpoint)
    : LoadRun(io, options), context_(io, options, endpoint) {
  clients_.reserve(options.clients);
}

void SeekLoad::start_client(std::size_t index) {
  clients_.push_back(std::make_unique<SeekClient>(context_, index, tally_, [this] { end_if_all_done(); }));
  clients_.back()->start();
}

void SeekLoad::on_second(std::int64_t now) {
  const auto timeout = static_cast<std::int64_t>(options_.timeout_s * 1e6);
  for (auto& c : clients_) c->check_timeout(now, timeout);
}

std::string SeekLoad::progress() {
  std::size_t starting = 0, seeking = 0, done = 0, failed = 0, closed = 0;
  for (const auto& c : clients_) {
    switch (c->stage()) {
      case SeekClient::Stage::Waiting:
      case SeekClient::Stage::Seeking: ++seeking; break;
      case SeekClient::Stage::Done: ++done; break;
      case SeekClient::Stage::Failed: ++failed; break;
      case SeekClient::Stage::Closed:
      case SeekClient::Stage::Unfinished: ++closed; break;
      default: ++starting;
    }
  }
  const Summary keyframe = summarize(tally_.keyframe_ms);
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "started %zu, starting %zu, seeking %zu, done %zu, failed %zu, closed %zu; seeks %zu sent, %zu landed, "
                "%zu failed, %zu with violations; seek to keyframe so far p50/p99/max %.1f/%.1f/%.1f ms",
                clients_.size(), starting, seeking, done, failed, closed, tally_.sent, tally_.landed, tally_.failed,
                tally_.violations, keyframe.p50, keyframe.p99, keyframe.max);
  return buf;
}

void SeekLoad::stop_clients(std::int64_t now) {
  for (auto& c : clients_) c->stop(now);
}

bool SeekLoad::all_done() const {
  for (const auto& c : clients_) {
    if (!c->closed()) return false;
  }
  return true;
}

SeekResult SeekLoad::result() const {
  SeekResult r;
  r.clients = clients_.size();
  std::vector<double> startup;
  for (const auto& c : clients_) {
    if (c->connected()) ++r.connected;
    if (c->played()) {
      ++r.playing;
      startup.push_back(c->startup_ms());
    }
    if (auto length = c->stream_length_ms()) {
      r.stream_length_min_ms = r.stream_length_max_ms ? std::min(*r.stream_length_min_ms, *length) : *length;
      r.stream_length_max_ms = r.stream_length_max_ms ? std::max(*r.stream_length_max_ms, *length) : *length;
    }
    switch (c->stage()) {
      case SeekClient::Stage::Done: ++r.completed; break;
      case SeekClient::Stage::Failed:
        ++r.failed;
        ++r.failures[c->failure()];
        break;
      case SeekClient::Stage::Closed:
        ++r.closed;
        ++r.failures["closed after playing: " + c->failure()];
        break;
      case SeekClient::Stage::Unfinished:
        ++r.unfinished;
        ++r.failures[c->failure()];
        break;
      default: break;
    }
    r.bytes_received += c->bytes_received();
    r.messages_received += c->messages();
  }
  r.seeks = tally_;
  r.startup_ms = summarize(std::move(startup));
  r.seek_to_keyframe_ms = summarize(tally_.keyframe_ms);
  r.seek_to_notify_ms = summarize(tally_.notify_ms);
  r.keyframe_before_target_ms = summarize(tally_.keyframe_before_target_ms);
  return r;
}

}  // namespace rw::bench
