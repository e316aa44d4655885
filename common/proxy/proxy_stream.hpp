// One live stream pulled from upstream and published into the local hub,
// as an FMS server-side ProxyStream did (docs/cluster.md, "Live"): the
// relay's or edge's players of the stream are the hub's subscribers, so
// however many there are, there is one upstream play.
//
// It reports FMS's codes: ProxyStream.Proxy.Start once the stream is
// published locally, ProxyStream.Proxy.Stop when it stops (the upstream
// unpublished it, or the pull ends), ProxyStream.Proxy.BadName when the
// local name is already published.
//
// When the upstream connection is lost the local stream stays published
// while the next upstream is tried, so players keep their place: the
// new play's frames are dropped until a video keyframe newer than the last
// frame published (no duplicate, no frame without its keyframe), and a
// timeline that restarted is moved on past the old one. Switching back to
// the primary plays it beside the current play and changes over at a
// keyframe in the same way. Proxy thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/amf/codec.hpp"
#include "common/base/log.hpp"
#include "common/media/stream_hub.hpp"
#include "common/proxy/upstream.hpp"
#include "proto/dvr.pb.h"

namespace rw::proxy {

struct ProxyStreamSettings {
  // What the hub keeps of recent frames for DVR players going on from
  // upstream segments into live (StreamHub::set_proxied_tail).
  std::size_t tail_bytes = 64u << 20;
  std::uint32_t tail_ms = 30000;
  amf::Limits amf_limits{32, 16'384, 2u << 20, 8u << 20};
  // A lost stream not playing again within this is unpublished locally.
  std::chrono::milliseconds restore_within{15000};
};

class ProxyStream : public UpstreamPlay {
 public:
  // `remote_name`: the name played upstream, its query carrying the via.
  ProxyStream(media::StreamRegistry& streams, std::string app, std::string local_name, std::string remote_name,
              ProxyStreamSettings settings, const Logger& log, StatusListener status);
  ~ProxyStream() override;
  ProxyStream(const ProxyStream&) = delete;
  ProxyStream& operator=(const ProxyStream&) = delete;

  // What the upstream said of the play.
  enum class Answer { Waiting, Playing, NotFound };
  Answer answer() const { return answer_; }
  const std::string& not_found_reason() const { return not_found_reason_; }
  // Whether the upstream said, in its Play.Start, that the stream is live
  // (Rewind upstreams say; for others, unknown).
  std::optional<bool> upstream_live() const { return upstream_live_; }
  bool published() const { return published_; }

  // UpstreamPlay.
  void start_on(UpstreamConnection& connection) override;
  void begin_switch(UpstreamConnection& primary) override;
  bool switch_done() const override { return !candidate_.connection.lock() && !switching_; }
  void cancel_switch() override;
  bool plays_on(const UpstreamConnection& connection) const override {
    return main_.connection.lock().get() == &connection;
  }

  // Ends the pull: the upstream play stops, the local stream is unpublished.
  void stop(const std::string& why);

  // The upstream's recording of the stream, as its index says now: once
  // the hub holds the keyframe its next segment starts with, live frames
  // are numbered as the upstream numbered them, so a DVR player can go on
  // from the segments into live at exactly the next frame.
  void anchor(const dvr::StreamInfo& info);

  // What the current upstream play reports to (the connection calls it;
  // tests too).
  PlaySink& main_play();
  // A frame of the current play, after frames_of_message.
  void ingest(media::MutableFramePtr frame);

  // Called every few hundred ms by the owner: unpublishes a lost stream
  // not restored in time.
  void tick(std::chrono::steady_clock::time_point now);

 private:
  struct Sink;
  struct PlayOn {
    std::weak_ptr<UpstreamConnection> connection;
    std::uint64_t handle = 0;
    std::string url;
  };
  void on_status(bool candidate, const rtmp::StatusEvent& status);
  void on_message(bool candidate, rtmp::Message&& message);
  void on_play_lost(bool candidate, const std::string& why);
  void stop_play(PlayOn& play);
  // True when it switched to the candidate at this frame.
  bool candidate_frame(media::MutableFramePtr frame);
  void publish(media::MutableFramePtr frame);
  void stop_local(const std::string& why);
  struct Headers;
  void publish_headers(Headers& headers, std::uint32_t timestamp);
  void report(const std::string& code, const std::string& level, const std::string& description);

  media::StreamRegistry& streams_;
  const std::string app_;
  const std::string local_name_;
  const std::string remote_name_;
  const ProxyStreamSettings settings_;
  const Logger& log_;
  StatusListener status_;
  std::shared_ptr<media::StreamHub> hub_;
  std::unique_ptr<Sink> main_sink_;
  std::unique_ptr<Sink> candidate_sink_;
  PlayOn main_;
  PlayOn candidate_;
  bool switching_ = false;

  Answer answer_ = Answer::Waiting;
  std::string not_found_reason_;
  std::optional<bool> upstream_live_;
  // What the upstream's Play.Start said of the keyframe its play starts
  // from: numbered so in its recording. Applied once the hub has it.
  std::optional<media::StreamHub::KeyframeAnchor> start_anchor_;
  bool published_ = false;
  bool bad_name_reported_ = false;
  bool stopped_ = false;

  // The local timeline: the last frame published and what is added to the
  // upstream's timestamps (after a failover to a restarted timeline).
  bool any_published_ = false;
  std::uint32_t last_ts_ = 0;
  std::uint32_t offset_ = 0;
  bool saw_video_ = false;
  // Lost and waiting for a keyframe after last_ts_ (or a switch waiting for
  // one from the candidate): the headers that came meanwhile.
  bool resyncing_ = false;
  std::optional<std::chrono::steady_clock::time_point> lost_since_;
  struct Headers {
    media::MutableFramePtr metadata, video, audio;
    void keep(const media::MutableFramePtr& frame);
    void clear() { metadata = video = audio = nullptr; }
  };
  Headers resync_headers_;
  Headers candidate_headers_;
};

}  // namespace rw::proxy
