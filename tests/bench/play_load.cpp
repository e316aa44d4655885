#include "tests/bench/play_load.hpp"

#include <cstdio>

namespace rw::bench {

namespace {

const char* stage_name(Player::Stage stage) {
  switch (stage) {
    case Player::Stage::Connecting: return "connecting";
    case Player::Stage::CreatingStream: return "creating stream";
    case Player::Stage::Starting: return "waiting for media";
    case Player::Stage::Playing: return "playing";
    case Player::Stage::Failed: return "failed";
    case Player::Stage::Closed: return "closed";
    case Player::Stage::Stopped: return "stopped";
  }
  return "?";
}

}  // namespace

Player::Player(LoadContext& context, std::size_t index)
    : Connection(context, index, context.session_options()), started_at_(now_us()) {}

void Player::on_open() {
  rtmp::ConnectParams params;
  params.app = context_.options.url.app;
  params.tc_url = context_.options.url.tc_url;
  session_.connect(params);
}

void Player::on_event(rtmp::ClientEvent& event, std::int64_t now) {
  // Media first: it is nearly every event.
  if (auto* message = std::get_if<rtmp::StreamMessageEvent>(&event)) {
    ++messages_;
    const rtmp::MessageHeader& h = message->message.header;
    if (h.type == rtmp::msg_type::kAudio || h.type == rtmp::msg_type::kVideo) {
      timeline_.on_media(h.timestamp, now);
      if (stage_ == Stage::Starting) stage_ = Stage::Playing;
    }
    return;
  }
  std::visit(
      [&](auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, rtmp::ConnectedEvent>) {
          connected_ = true;
          stage_ = Stage::CreatingStream;
          session_.create_stream();
        } else if constexpr (std::is_same_v<T, rtmp::ConnectFailedEvent>) {
          const amf::Value* code = e.info.find("code");
          fail("connect rejected: " + std::string(code ? code->as_string() : "?"));
        } else if constexpr (std::is_same_v<T, rtmp::StreamCreatedEvent>) {
          stream_id_ = e.stream_id;
          stage_ = Stage::Starting;
          // What ffmpeg and librtmp do before play.
          session_.set_buffer_length(stream_id_, context_.options.buffer_ms);
          session_.play(stream_id_, context_.options.url.stream, context_.options.play_start, -1, true);
        } else if constexpr (std::is_same_v<T, rtmp::CallErrorEvent>) {
          if (stage_ == Stage::CreatingStream) fail("createStream refused");
        } else if constexpr (std::is_same_v<T, rtmp::StatusEvent>) {
          if (e.level == "error" && stage_ != Stage::Playing) fail(e.code);
        }
      },
      event);
}

std::string Player::stage_detail() const {
  if (stage_ == Stage::Connecting) return std::string("connecting (") + opening_step() + ")";
  return stage_name(stage_);
}

void Player::fail(const std::string& reason) {
  if (stage_ == Stage::Failed || stage_ == Stage::Closed || stage_ == Stage::Stopped) return;
  failure_ = reason;
  stage_ = Stage::Failed;
  close(reason);
}

void Player::on_closed(const std::string& reason) {
  if (stopping_) {
    stage_ = Stage::Stopped;
    return;
  }
  // A player that lost its stream is measured up to that moment.
  timeline_.finish(now_us());
  if (stage_ == Stage::Playing) {
    stage_ = Stage::Closed;
    failure_ = reason;
  } else if (stage_ != Stage::Failed) {
    failure_ = stage_detail() + ": " + reason;
    stage_ = Stage::Failed;
  }
}

void Player::check_timeout(std::int64_t now, std::int64_t timeout_us) {
  if (closed() || stage_ == Stage::Playing) return;
  if (now - started_at_ < timeout_us) return;
  fail(std::string("timeout while ") + stage_detail());
}

void Player::stop(std::int64_t now) {
  if (closed()) return;
  timeline_.finish(now);
  stopping_ = true;
  if (stage_ != Stage::Playing) {
    // Still starting when the run ended: a failure to start in time.
    stopping_ = false;
    fail(std::string("run ended while ") + stage_detail());
    return;
  }
  close("stopped");
}

void Player::vanish(std::int64_t now) {
  if (closed()) return;
  timeline_.finish(now);
  stopping_ = true;
  reset("vanished");
}

PlayLoad::PlayLoad(boost::asio::io_context& io, const Options& options, boost::asio::ip::tcp::endpoint endpoint)
    : LoadRun(io, options), context_(io, options, endpoint) {
  players_.reserve(options.clients);
}

void PlayLoad::start_client(std::size_t index) {
  players_.push_back(std::make_unique<Player>(context_, index));
  players_.back()->start();
}

void PlayLoad::on_second(std::int64_t now) {
  const auto timeout = static_cast<std::int64_t>(options_.timeout_s * 1e6);
  for (auto& p : players_) p->check_timeout(now, timeout);
}

std::uint64_t PlayLoad::total_bytes_received() const {
  std::uint64_t total = 0;
  for (const auto& p : players_) total += p->bytes_received();
  return total;
}

std::string PlayLoad::progress() {
  std::size_t playing = 0, starting = 0, failed = 0, closed = 0, behind = 0;
  double worst_lag = 0;
  for (const auto& p : players_) {
    switch (p->stage()) {
      case Player::Stage::Playing: ++playing; break;
      case Player::Stage::Failed: ++failed; break;
      case Player::Stage::Closed: ++closed; break;
      case Player::Stage::Stopped: break;
      default: ++starting;
    }
    const double lag = p->timeline().lag_ms();
    if (lag > 1000) ++behind;
    worst_lag = std::max(worst_lag, lag);
  }
  const double mbit = rate_.mbit_per_s(total_bytes_received(), now_us());
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "started %zu, playing %zu, starting %zu, failed %zu, closed %zu; lag now: worst %.0f ms, %zu over 1 s; "
                "%.1f Mbit/s in",
                players_.size(), playing, starting, failed, closed, worst_lag, behind, mbit);
  return buf;
}

void PlayLoad::on_window_open() { bytes_at_window_open_ = total_bytes_received(); }

void PlayLoad::stop_clients(std::int64_t now) {
  bytes_at_end_ = total_bytes_received();
  for (auto& p : players_) p->stop(now);
}

bool PlayLoad::all_done() const {
  for (const auto& p : players_) {
    if (!p->closed()) return false;
  }
  return true;
}

PlayResult PlayLoad::result() const {
  PlayResult r;
  r.clients = players_.size();
  std::vector<double> final_lag, max_lag, max_gap, startup, ahead;
  for (const auto& p : players_) {
    if (p->connected()) ++r.connected;
    const PlayerTimeline& t = p->timeline();
    if (t.started()) {
      ++r.playing;
      final_lag.push_back(t.lag_ms());
      max_lag.push_back(t.max_lag_ms());
      max_gap.push_back(t.max_gap_ms());
      ahead.push_back(t.ahead_ms());
      startup.push_back(static_cast<double>(t.first_media_us() - p->started_at()) / 1000.0);
      if (t.max_lag_ms() > 1000) ++r.behind_1s;
    }
    if (p->stage() == Player::Stage::Failed) {
      ++r.failed;
      ++r.failures[p->failure()];
    } else if (p->stage() == Player::Stage::Closed) {
      ++r.closed;
      ++r.failures["closed while playing: " + p->failure()];
    }
    r.bytes_received += p->bytes_received();
    r.messages_received += p->messages();
    r.acknowledgements_sent += p->session().acknowledgements_sent();
    r.pings_answered += p->session().pings_answered();
  }
  r.window_bytes_received = bytes_at_end_ - bytes_at_window_open_;
  r.final_lag_ms = summarize(std::move(final_lag));
  r.max_lag_ms = summarize(std::move(max_lag));
  r.max_gap_ms = summarize(std::move(max_gap));
  r.startup_ms = summarize(std::move(startup));
  r.ahead_ms = summarize(std::move(ahead));
  return r;
}

}  // namespace rw::bench
