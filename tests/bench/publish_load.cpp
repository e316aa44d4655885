#include "tests/bench/publish_load.hpp"

#include <cstdio>
#include <optional>

namespace rw::bench {

namespace {

// How often publishers send what is due: frames are 21 to 33 ms apart, so
// this batches about one frame per write and keeps them within 10 ms of
// their time.
constexpr auto kPumpInterval = std::chrono::milliseconds(10);
// A publisher whose socket has not taken this much stops making frames
// until it has: its lateness then grows, which is what gets reported.
constexpr std::size_t kMaxBacklog = 8u << 20;
// The Window Ack Size publishers announce: the server acknowledges every
// 64 KB (half a second of a 1 Mbit/s stream), which shows how far behind
// its reading is (see PublishProgress).
constexpr std::uint32_t kAckWindow = 64 * 1024;
// C0+C1, then C2: what a connection sends before its chunk stream.
constexpr std::uint64_t kHandshakeBytes = 1 + 2 * rtmp::kHandshakeSize;

rtmp::ClientOptions publisher_session_options(LoadContext& context) {
  rtmp::ClientOptions o = context.session_options();
  o.window_ack_size = kAckWindow;
  return o;
}

const char* stage_name(Publisher::Stage stage) {
  switch (stage) {
    case Publisher::Stage::Connecting: return "connecting";
    case Publisher::Stage::CreatingStream: return "creating stream";
    case Publisher::Stage::Starting: return "waiting for Publish.Start";
    case Publisher::Stage::Publishing: return "publishing";
    case Publisher::Stage::Failed: return "failed";
    case Publisher::Stage::Dropped: return "dropped";
    case Publisher::Stage::Stopped: return "stopped";
  }
  return "?";
}

}  // namespace

Publisher::Publisher(LoadContext& context, std::size_t index, const FlvSource& source, std::string stream_name)
    : Connection(context, index, publisher_session_options(context)),
      loop_(source),
      stream_name_(std::move(stream_name)),
      started_at_(now_us()),
      progress_(kAckWindow, kHandshakeBytes) {}

void Publisher::on_open() {
  rtmp::ConnectParams params;
  params.app = context_.options.url.app;
  params.tc_url = context_.options.url.tc_url;
  params.flash_version = "FMLE/3.0 (compatible; rewind-bench)";
  params.extra_fields = amf::Object{{"type", "nonprivate"}};
  session_.connect(params);
}

void Publisher::on_event(rtmp::ClientEvent& event, std::int64_t now) {
  std::visit(
      [&](auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, rtmp::ConnectedEvent>) {
          connected_ = true;
          stage_ = Stage::CreatingStream;
          // ffmpeg's sequence; servers may answer the first two or not.
          session_.call("releaseStream", {stream_name_});
          session_.call("FCPublish", {stream_name_});
          session_.create_stream();
        } else if constexpr (std::is_same_v<T, rtmp::ConnectFailedEvent>) {
          const amf::Value* code = e.info.find("code");
          fail("connect rejected: " + std::string(code ? code->as_string() : "?"));
        } else if constexpr (std::is_same_v<T, rtmp::StreamCreatedEvent>) {
          stream_id_ = e.stream_id;
          stage_ = Stage::Starting;
          session_.publish(stream_id_, stream_name_, "live");
        } else if constexpr (std::is_same_v<T, rtmp::StatusEvent>) {
          if (e.code == "NetStream.Publish.Start" && stage_ == Stage::Starting) {
            stage_ = Stage::Publishing;
            published_ = true;
            schedule_start_us_ = now;
            pump(now);
          } else if (e.level == "error") {
            fail(e.code);
          }
        }
      },
      event);
}

void Publisher::pump(std::int64_t now) {
  if (stage_ != Stage::Publishing || closed()) return;
  // Everything due goes out in one write; the batch counts as late as its
  // oldest frame until the socket has taken all of it.
  std::optional<std::int64_t> oldest_due;
  while (backlog() < kMaxBacklog) {
    const std::int64_t due = schedule_start_us_ + loop_.due_ms() * 1000;
    if (due > now) break;
    const SourceTag& tag = loop_.tag();
    session_.send_media(stream_id_, tag.type, loop_.timestamp(), tag.body);
    ++frames_sent_;
    if (!oldest_due) oldest_due = due;
    loop_.advance();
  }
  if (oldest_due) {
    flush();
    if (closed()) return;
    progress_.queued(bytes_queued(), *oldest_due);
  }
  progress_.sent(bytes_sent());
  if (session_.acknowledgements_received() != acknowledgements_seen_) {
    acknowledgements_seen_ = session_.acknowledgements_received();
    progress_.acknowledged(session_.peer_acknowledged());
  }
  // Nothing outstanding: the next frame not yet made is the one that could
  // be late (when the backlog cap held it back).
  const std::int64_t next_due = schedule_start_us_ + loop_.due_ms() * 1000;
  behind_.sample(now, std::min(progress_.oldest_late_due().value_or(next_due), next_due));
}

std::string Publisher::stage_detail() const {
  if (stage_ == Stage::Connecting) return std::string("connecting (") + opening_step() + ")";
  return stage_name(stage_);
}

void Publisher::fail(const std::string& reason) {
  if (stage_ == Stage::Failed || stage_ == Stage::Dropped || stage_ == Stage::Stopped) return;
  failure_ = reason;
  stage_ = Stage::Failed;
  close(reason);
}

void Publisher::on_closed(const std::string& reason) {
  if (stopping_) {
    stage_ = Stage::Stopped;
  } else if (stage_ == Stage::Publishing) {
    stage_ = Stage::Dropped;
    failure_ = reason;
  } else if (stage_ != Stage::Failed) {
    failure_ = stage_detail() + ": " + reason;
    stage_ = Stage::Failed;
  }
}

void Publisher::check_timeout(std::int64_t now, std::int64_t timeout_us) {
  if (closed() || stage_ == Stage::Publishing) return;
  if (now - started_at_ < timeout_us) return;
  fail(std::string("timeout while ") + stage_detail());
}

void Publisher::stop(std::int64_t now) {
  if (closed()) return;
  if (stage_ != Stage::Publishing) {
    fail(std::string("run ended while ") + stage_detail());
    return;
  }
  pump(now);
  stopping_ = true;
  close("stopped");
}

PublishLoad::PublishLoad(boost::asio::io_context& io, const Options& options, boost::asio::ip::tcp::endpoint endpoint,
                         FlvSource source)
    : LoadRun(io, options), context_(io, options, endpoint), source_(std::move(source)), pump_timer_(io) {
  publishers_.reserve(options.clients);
  pump_tick();
}

void PublishLoad::start_client(std::size_t index) {
  publishers_.push_back(std::make_unique<Publisher>(
      context_, index, source_, indexed_stream_name(options_.url.stream, index, options_.clients)));
  publishers_.back()->start();
}

void PublishLoad::pump_tick() {
  if (stopped_) return;
  const std::int64_t now = now_us();
  for (auto& p : publishers_) p->pump(now);
  pump_timer_.expires_after(kPumpInterval);
  pump_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) pump_tick();
  });
}

void PublishLoad::on_second(std::int64_t now) {
  const auto timeout = static_cast<std::int64_t>(options_.timeout_s * 1e6);
  for (auto& p : publishers_) p->check_timeout(now, timeout);
}

std::uint64_t PublishLoad::total_bytes_sent() const {
  std::uint64_t total = 0;
  for (const auto& p : publishers_) total += p->bytes_sent();
  return total;
}

std::string PublishLoad::progress() {
  std::size_t publishing = 0, starting = 0, failed = 0, dropped = 0, behind = 0;
  double worst = 0;
  for (const auto& p : publishers_) {
    switch (p->stage()) {
      case Publisher::Stage::Publishing: ++publishing; break;
      case Publisher::Stage::Failed: ++failed; break;
      case Publisher::Stage::Dropped: ++dropped; break;
      case Publisher::Stage::Stopped: break;
      default: ++starting;
    }
    const double late = p->behind().current_ms();
    if (late > 1000) ++behind;
    worst = std::max(worst, late);
  }
  const double mbit = rate_.mbit_per_s(total_bytes_sent(), now_us());
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "started %zu, publishing %zu, starting %zu, failed %zu, dropped %zu; behind schedule now: worst %.0f "
                "ms, %zu over 1 s; %.1f Mbit/s out",
                publishers_.size(), publishing, starting, failed, dropped, worst, behind, mbit);
  return buf;
}

void PublishLoad::on_window_open() { bytes_at_window_open_ = total_bytes_sent(); }

void PublishLoad::stop_clients(std::int64_t now) {
  stopped_ = true;
  pump_timer_.cancel();
  for (auto& p : publishers_) p->pump(now);
  bytes_at_end_ = total_bytes_sent();
  for (auto& p : publishers_) p->stop(now);
}

bool PublishLoad::all_done() const {
  for (const auto& p : publishers_) {
    if (!p->closed()) return false;
  }
  return true;
}

PublishResult PublishLoad::result() const {
  PublishResult r;
  r.clients = publishers_.size();
  std::vector<double> final_behind, max_behind;
  for (const auto& p : publishers_) {
    if (p->connected()) ++r.connected;
    if (p->published()) {
      ++r.publishing;
      final_behind.push_back(p->behind().current_ms());
      max_behind.push_back(p->behind().max_ms());
      if (p->behind().max_ms() > 1000) ++r.behind_1s;
    }
    if (p->stage() == Publisher::Stage::Failed) {
      ++r.failed;
      ++r.failures[p->failure()];
    } else if (p->stage() == Publisher::Stage::Dropped) {
      ++r.dropped;
      ++r.failures["dropped while publishing: " + p->failure()];
    }
    r.bytes_sent += p->bytes_sent();
    r.messages_sent += p->frames_sent();
    r.loops += p->loops();
  }
  r.window_bytes_sent = bytes_at_end_ - bytes_at_window_open_;
  r.final_behind_ms = summarize(std::move(final_behind));
  r.max_behind_ms = summarize(std::move(max_behind));
  return r;
}

}  // namespace rw::bench
