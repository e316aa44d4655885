#include "common/proxy/proxy_stream.hpp"

#include <gtest/gtest.h>

#include <deque>

namespace rw::proxy {
namespace {

const Logger& quiet() {
  static const Logger log(LogLevel::Off);
  return log;
}

class InlineExecutor final : public media::Executor {
 public:
  void post(std::function<void()> fn) override { queue_.push_back(std::move(fn)); }
  void run() {
    while (!queue_.empty()) {
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      fn();
    }
  }

 private:
  std::deque<std::function<void()>> queue_;
};

// What a player of the local stream sees: frames as "v1000", "k2000"
// (keyframe), "h2000" (a header), "a1000".
struct Player final : media::LiveSubscriber {
  void on_publish_start() override { seen.push_back("start"); }
  void on_frame(media::ChunkedFrameCache& f) override {
    const media::Frame& frame = *f.frame();
    const char* kind = frame.sequence_header ? "h" : frame.keyframe ? "k" : frame.kind == media::FrameKind::Audio ? "a" : "v";
    seen.push_back(kind + std::to_string(frame.timestamp));
  }
  void on_unpublish() override { seen.push_back("unpublish"); }
  std::vector<std::string> seen;
};

media::MutableFramePtr video(std::uint32_t ts, bool key) {
  Bytes body = key ? Bytes{0x17, 0x01, 0, 0, 0, 0xAA} : Bytes{0x27, 0x01, 0, 0, 0, 0xBB};
  return media::make_media_frame(rtmp::msg_type::kVideo, ts, std::move(body));
}
media::MutableFramePtr header(std::uint32_t ts) {
  return media::make_media_frame(rtmp::msg_type::kVideo, ts, Bytes{0x17, 0x00, 0, 0, 0, 1, 2});
}

rtmp::StatusEvent status(std::string code, std::string level = "status") {
  rtmp::StatusEvent s;
  s.stream_id = 1;
  s.level = std::move(level);
  s.code = std::move(code);
  return s;
}

struct Fixture {
  media::StreamRegistry streams;
  std::vector<std::string> codes;
  ProxyStreamSettings settings;
  std::unique_ptr<ProxyStream> pull;
  std::shared_ptr<media::StreamHub> hub;
  InlineExecutor executor;
  Player player;

  Fixture() {
    settings.restore_within = std::chrono::milliseconds(100);
    pull = std::make_unique<ProxyStream>(streams, "live", "cam", "cam?rewindVia=edge-1", settings, quiet(),
                                         [this](const ProxyStatus& s) { codes.push_back(s.code); });
    hub = streams.acquire("live", "cam");
    hub->subscribe(player, executor, nullptr);
  }
  ~Fixture() {
    hub->unsubscribe(player, executor);
    streams.release(hub);
  }
  // A GOP of 3 frames at `key_ts`.
  void gop(std::uint32_t key_ts) {
    pull->ingest(video(key_ts, true));
    pull->ingest(video(key_ts + 33, false));
    pull->ingest(video(key_ts + 66, false));
  }
  std::vector<std::string> seen() {
    executor.run();
    auto out = std::move(player.seen);
    player.seen.clear();
    return out;
  }
};

using Seen = std::vector<std::string>;

TEST(ProxyStream, PublishesLocallyAtTheFirstFrame) {
  Fixture f;
  f.pull->main_play().on_status(status("NetStream.Play.Start"));
  EXPECT_EQ(f.pull->answer(), ProxyStream::Answer::Playing);
  EXPECT_FALSE(f.pull->published());
  f.pull->ingest(header(0));
  f.gop(0);
  EXPECT_TRUE(f.pull->published());
  EXPECT_EQ(f.seen(), (Seen{"start", "h0", "k0", "v33", "v66"}));
  EXPECT_EQ(f.codes, (std::vector<std::string>{"ProxyStream.Proxy.Start"}));
  f.pull->main_play().on_status(status("NetStream.Play.UnpublishNotify"));
  EXPECT_FALSE(f.pull->published());
  EXPECT_EQ(f.seen(), (Seen{"unpublish"}));
  EXPECT_EQ(f.codes.back(), "ProxyStream.Proxy.Stop");
}

TEST(ProxyStream, AFailoverGoesOnAtTheNextKeyframeWithNoDuplicate) {
  Fixture f;
  f.pull->ingest(header(0));
  f.gop(0);
  f.gop(2000);
  f.seen();
  f.pull->main_play().on_play_lost("upstream closed the connection");
  EXPECT_TRUE(f.pull->published()) << "players keep the stream meanwhile";
  // The backup's play starts with its headers and GOP cache: the GOP at
  // 2000 was sent already, so the stream goes on at 4000.
  f.pull->ingest(header(2000));
  f.gop(2000);
  f.gop(4000);
  EXPECT_EQ(f.seen(), (Seen{"h4000", "k4000", "v4033", "v4066"}));
  EXPECT_EQ(f.codes, (std::vector<std::string>{"ProxyStream.Proxy.Start"})) << "no Stop, no second Start";
}

TEST(ProxyStream, ATimelineThatRestartedIsMovedOnPastTheOldOne) {
  Fixture f;
  f.pull->ingest(header(0));
  f.gop(60000);
  f.seen();
  f.pull->main_play().on_play_lost("not responding");
  // An encoder that reconnected to the backup starts again at 0.
  f.pull->ingest(header(0));
  f.gop(0);
  EXPECT_EQ(f.seen(), (Seen{"h60067", "k60067", "v60100", "v60133"}));
}

TEST(ProxyStream, ALostStreamNotRestoredInTimeStops) {
  Fixture f;
  f.gop(0);
  f.seen();
  f.pull->main_play().on_play_lost("upstream closed the connection");
  f.pull->tick(std::chrono::steady_clock::now());
  EXPECT_TRUE(f.pull->published());
  f.pull->tick(std::chrono::steady_clock::now() + std::chrono::milliseconds(200));
  EXPECT_FALSE(f.pull->published());
  EXPECT_EQ(f.seen(), (Seen{"unpublish"}));
  EXPECT_EQ(f.codes.back(), "ProxyStream.Proxy.Stop");
}

TEST(ProxyStream, ANameAlreadyPublishedHereIsBadName) {
  Fixture f;
  ASSERT_TRUE(f.hub->start_publish());  // a local publisher has it
  f.gop(0);
  f.gop(2000);
  EXPECT_FALSE(f.pull->published());
  EXPECT_EQ(f.codes, (std::vector<std::string>{"ProxyStream.Proxy.BadName"})) << "reported once";
  f.hub->stop_publish();
  f.pull->ingest(video(2099, false));
  EXPECT_FALSE(f.pull->published()) << "taken again only at a keyframe";
  f.gop(4000);
  EXPECT_TRUE(f.pull->published());
  EXPECT_EQ(f.codes.back(), "ProxyStream.Proxy.Start");
}

TEST(ProxyStream, FramesAreNumberedAsTheUpstreamsPlayStartSays) {
  Fixture f;
  rtmp::StatusEvent start = status("NetStream.Play.Start");
  start.info.set("rewindLive", true);
  start.info.set("rewindKeyframeMs", 2000.0);
  start.info.set("rewindPosition", 50.0);
  f.pull->main_play().on_status(start);
  f.pull->ingest(header(2000));
  f.gop(2000);
  EXPECT_TRUE(f.hub->anchored());
  auto tail = f.hub->read_tail(51, 10);
  ASSERT_EQ(tail.result, media::StreamHub::TailJoin::Result::Joined);
  ASSERT_EQ(tail.frames.size(), 2u);
  EXPECT_EQ(tail.frames[0]->timestamp, 2033u);
  EXPECT_EQ(tail.frames[1]->position, 52u);
}

TEST(ProxyStream, AnUpstreamThatRefusesIsNotFound) {
  Fixture f;
  rtmp::StatusEvent refused = status("NetStream.Play.StreamNotFound", "error");
  refused.description = "no stream cam is published or recorded here";
  f.pull->main_play().on_status(refused);
  EXPECT_EQ(f.pull->answer(), ProxyStream::Answer::NotFound);
  EXPECT_EQ(f.pull->not_found_reason(), refused.description);
}

}  // namespace
}  // namespace rw::proxy
