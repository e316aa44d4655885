#include "common/proxy/proxy_stream.hpp"

#include "common/server/ingest.hpp"

namespace rw::proxy {

namespace {

// a - b on the 32-bit RTMP clock.
std::int32_t timestamp_diff(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b); }

// A timeline this far behind the last frame published is a restarted one
// (an encoder that reconnected to the backup), not the same one late.
constexpr std::int32_t kRestartedTimelineMs = 3000;

bool is_header(const media::Frame& frame) { return frame.kind == media::FrameKind::Metadata || frame.sequence_header; }

}  // namespace

struct ProxyStream::Sink : PlaySink {
  Sink(ProxyStream& o, bool c) : owner(o), candidate(c) {}
  void on_status(const rtmp::StatusEvent& status) override { owner.on_status(candidate, status); }
  void on_message(rtmp::Message&& message) override { owner.on_message(candidate, std::move(message)); }
  void on_play_lost(const std::string& why) override { owner.on_play_lost(candidate, why); }
  ProxyStream& owner;
  bool candidate;
};

void ProxyStream::Headers::keep(const media::MutableFramePtr& frame) {
  if (frame->kind == media::FrameKind::Metadata) {
    metadata = frame;
  } else if (frame->kind == media::FrameKind::Video) {
    video = frame;
  } else {
    audio = frame;
  }
}

ProxyStream::ProxyStream(media::StreamRegistry& streams, std::string app, std::string local_name,
                         std::string remote_name, ProxyStreamSettings settings, const Logger& log,
                         StatusListener status)
    : streams_(streams),
      app_(std::move(app)),
      local_name_(std::move(local_name)),
      remote_name_(std::move(remote_name)),
      settings_(settings),
      log_(log),
      status_(std::move(status)),
      hub_(streams_.acquire(app_, local_name_)),
      main_sink_(std::make_unique<Sink>(*this, false)),
      candidate_sink_(std::make_unique<Sink>(*this, true)) {}

PlaySink& ProxyStream::main_play() { return *main_sink_; }

ProxyStream::~ProxyStream() {
  stop("the pull ended");
  streams_.release(hub_);
}

void ProxyStream::report(const std::string& code, const std::string& level, const std::string& description) {
  if (status_) status_(ProxyStatus{app_, local_name_, code, level, main_.url, description, {}});
}

void ProxyStream::stop_play(PlayOn& play) {
  if (auto c = play.connection.lock()) c->stop_play(play.handle);
  play = PlayOn{};
}

void ProxyStream::start_on(UpstreamConnection& connection) {
  if (stopped_) return;
  stop_play(main_);
  if (published_ && !resyncing_) {
    // A new play of a stream players are watching: it goes on after the
    // last frame they have, as after a lost connection.
    resyncing_ = true;
    resync_headers_.clear();
    lost_since_ = std::chrono::steady_clock::now();
    hub_->unanchor();
  }
  main_.connection = connection.weak_from_this();
  main_.url = connection.url().text;
  main_.handle = connection.play(remote_name_, *main_sink_);
}

void ProxyStream::begin_switch(UpstreamConnection& primary) {
  if (stopped_ || !published_) return;
  stop_play(candidate_);
  candidate_headers_.clear();
  switching_ = true;
  candidate_.connection = primary.weak_from_this();
  candidate_.url = primary.url().text;
  candidate_.handle = primary.play(remote_name_, *candidate_sink_);
}

void ProxyStream::cancel_switch() {
  stop_play(candidate_);
  candidate_headers_.clear();
  switching_ = false;
}

void ProxyStream::stop(const std::string& why) {
  if (stopped_) return;
  stopped_ = true;
  cancel_switch();
  stop_local(why);
  stop_play(main_);
}

void ProxyStream::on_status(bool candidate, const rtmp::StatusEvent& status) {
  const std::string& code = status.code;
  if (candidate) {
    if (status.level == "error" || code == "NetStream.Play.UnpublishNotify") cancel_switch();
    return;
  }
  if (code == "NetStream.Play.Start") {
    if (const amf::Value* live = status.info.find("rewindLive")) upstream_live_ = live->as_bool();
    const amf::Value* key_ms = status.info.find("rewindKeyframeMs");
    const amf::Value* position = status.info.find("rewindPosition");
    if (key_ms && position && key_ms->as_uint32() && position->as_uint64() && *position->as_uint64() > 0) {
      start_anchor_ = media::StreamHub::KeyframeAnchor{*key_ms->as_uint32(), *position->as_uint64()};
    }
    if (answer_ == Answer::Waiting) answer_ = Answer::Playing;
    return;
  }
  if (code == "NetStream.Play.PublishNotify") {
    if (upstream_live_) upstream_live_ = true;
    return;
  }
  if (code == "NetStream.Play.UnpublishNotify" || code == "NetStream.Play.Stop" ||
      code == "NetStream.Play.Complete") {
    // The stream ended upstream; the pull stays (players wait for the next
    // publish, as at the origin) until it lingers out.
    stop_local("the upstream says " + code);
    // Players that join now wait for no first frames.
    if (upstream_live_) upstream_live_ = false;
    any_published_ = false;
    offset_ = 0;
    saw_video_ = false;
    return;
  }
  if (status.level == "error") {
    const std::string why = status.description.empty() ? code : code + ": " + status.description;
    log_.info() << "proxy: " << log_field(app_) << "/" << log_field(local_name_) << " refused by " << main_.url
                << ": " << log_escape(why);
    stop_play(main_);
    if (answer_ == Answer::Waiting) {
      answer_ = Answer::NotFound;
      not_found_reason_ = status.description.empty() ? code : status.description;
    }
    stop_local(why);
  }
}

void ProxyStream::on_message(bool candidate, rtmp::Message&& message) {
  rtmp::Message m = std::move(message);
  // An aggregate's parts after the keyframe a switch happens at belong to
  // the play that is now the main one.
  bool from_main = !candidate;
  server::frames_of_message(m, settings_.amf_limits, [this, &from_main](media::MutableFramePtr frame) {
    if (from_main) {
      ingest(std::move(frame));
    } else if (candidate_frame(std::move(frame))) {
      from_main = true;
    }
  });
}

void ProxyStream::on_play_lost(bool candidate, const std::string& why) {
  if (candidate) {
    candidate_ = PlayOn{};
    candidate_headers_.clear();
    switching_ = false;
    return;
  }
  main_.connection.reset();
  if (answer_ == Answer::Waiting && why.rfind("connect refused", 0) == 0) {
    // The upstream refused the application: no stream of it is there.
    answer_ = Answer::NotFound;
    not_found_reason_ = why;
  }
  if (published_ && !resyncing_) {
    // Players keep the stream while the next upstream is tried.
    resyncing_ = true;
    resync_headers_.clear();
    lost_since_ = std::chrono::steady_clock::now();
    hub_->unanchor();
    log_.info() << "proxy: " << log_field(app_) << "/" << log_field(local_name_) << " lost its upstream play ("
                << log_escape(why) << "); players keep the stream while it is restored";
  }
}

void ProxyStream::tick(std::chrono::steady_clock::time_point now) {
  if (lost_since_ && now - *lost_since_ > settings_.restore_within) {
    stop_local("no upstream played it again within " + std::to_string(settings_.restore_within.count()) + " ms");
    any_published_ = false;
    offset_ = 0;
  }
}

namespace {

// Whether a frame is one a player can start from: a video keyframe, or any
// audio of a stream without video.
bool start_point(const media::Frame& frame, bool saw_video) {
  if (frame.kind == media::FrameKind::Video) return frame.keyframe && !frame.sequence_header;
  return frame.kind == media::FrameKind::Audio && !saw_video;
}

}  // namespace

void ProxyStream::ingest(media::MutableFramePtr frame) {
  if (stopped_) return;
  if (frame->kind == media::FrameKind::Video) saw_video_ = true;
  if (!resyncing_) {
    frame->timestamp += offset_;
    publish(std::move(frame));
    return;
  }
  if (is_header(*frame)) {
    resync_headers_.keep(frame);
    return;
  }
  if (!start_point(*frame, saw_video_)) return;
  // The first frame after the last one published: no duplicate. A
  // timeline that restarted far behind is moved on past the old one.
  const std::int32_t ahead = timestamp_diff(frame->timestamp + offset_, last_ts_);
  if (ahead <= 0 && ahead > -kRestartedTimelineMs) return;
  if (ahead <= 0) offset_ = last_ts_ + 1 - frame->timestamp;
  const std::uint32_t ts = frame->timestamp + offset_;
  publish_headers(resync_headers_, ts);
  resyncing_ = false;
  lost_since_.reset();
  log_.info() << "proxy: " << log_field(app_) << "/" << log_field(local_name_) << " restored from " << main_.url
              << " at " << ts << " ms" << (offset_ != 0 ? " (its timeline moved by " + std::to_string(offset_) + " ms)" : "");
  frame->timestamp = ts;
  publish(std::move(frame));
}

bool ProxyStream::candidate_frame(media::MutableFramePtr frame) {
  if (stopped_ || !switching_) return false;
  if (is_header(*frame)) {
    candidate_headers_.keep(frame);
    return false;
  }
  if (resyncing_ || !start_point(*frame, saw_video_)) return false;
  // The primary's timeline is the encoder's, as the backup's was: switch
  // at its first keyframe after the last frame published.
  const std::int32_t ahead = timestamp_diff(frame->timestamp + offset_, last_ts_);
  if (ahead <= 0) return false;
  stop_play(main_);
  main_ = candidate_;
  candidate_ = PlayOn{};
  std::swap(main_sink_, candidate_sink_);
  main_sink_->candidate = false;
  candidate_sink_->candidate = true;
  switching_ = false;
  // The primary numbers its recording its own way.
  hub_->unanchor();
  const std::uint32_t ts = frame->timestamp + offset_;
  publish_headers(candidate_headers_, ts);
  log_.info() << "proxy: " << log_field(app_) << "/" << log_field(local_name_) << " switched to " << main_.url
              << " at " << ts << " ms";
  frame->timestamp = ts;
  publish(std::move(frame));
  return true;
}

void ProxyStream::publish_headers(Headers& headers, std::uint32_t timestamp) {
  // Stamped with the keyframe they go before, so a player's clock starts
  // where the media goes on.
  for (auto* header : {&headers.metadata, &headers.video, &headers.audio}) {
    if (!*header) continue;
    (*header)->timestamp = timestamp;
    publish(std::move(*header));
  }
  headers.clear();
}

void ProxyStream::publish(media::MutableFramePtr frame) {
  if (!published_) {
    // After a refusal, try again only where a player could start.
    if (bad_name_reported_ && !start_point(*frame, saw_video_)) return;
    if (!hub_->start_publish()) {
      if (!bad_name_reported_) {
        bad_name_reported_ = true;
        log_.warn() << "proxy: " << log_field(app_) << "/" << log_field(local_name_)
                    << " is already published here: the pull waits";
        report("ProxyStream.Proxy.BadName", "error", local_name_ + " is already published here");
      }
      return;
    }
    published_ = true;
    bad_name_reported_ = false;
    hub_->set_proxied_tail(settings_.tail_bytes, settings_.tail_ms);
    log_.info() << "proxy: " << log_field(app_) << "/" << log_field(local_name_) << " published from " << main_.url;
    report("ProxyStream.Proxy.Start", "status", "pulling " + remote_name_ + " from " + main_.url);
  }
  last_ts_ = frame->timestamp;
  any_published_ = true;
  const bool keyframe = frame->kind == media::FrameKind::Video && frame->keyframe && !frame->sequence_header;
  const std::uint32_t ts = frame->timestamp;
  hub_->publish(std::move(frame));
  if (start_anchor_ && keyframe) {
    // The play's first keyframe: numbered as upstream said (if it is that
    // one; otherwise the index anchors it later).
    if (offset_ == 0 && ts == start_anchor_->timestamp) hub_->anchor(ts, start_anchor_->position);
    start_anchor_.reset();
  }
}

void ProxyStream::stop_local(const std::string& why) {
  resyncing_ = false;
  lost_since_.reset();
  resync_headers_.clear();
  if (!published_) return;
  published_ = false;
  hub_->stop_publish();
  log_.info() << "proxy: " << log_field(app_) << "/" << log_field(local_name_) << " stopped: " << log_escape(why);
  report("ProxyStream.Proxy.Stop", "status", why);
}

void ProxyStream::anchor(const dvr::StreamInfo& info) {
  if (!published_ || resyncing_ || offset_ != 0 || !info.live() || info.next_sequence() <= info.first_sequence()) {
    return;
  }
  hub_->anchor(info.end_ms(), info.next_position());
}

}  // namespace rw::proxy
