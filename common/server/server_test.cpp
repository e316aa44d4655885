// The server layer (Server, Worker, Connection, PlayStream, PublishStream)
// with real sockets on loopback: players that come and go with TCP resets
// while frames flow, on one worker and across workers; half-open peers;
// streams whose names share a joined form. Run in the sanitizer build
// too, where a use after free fails the test.
#include "common/server/server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "common/dvr/retention.hpp"
#include "common/server/dvr_access.hpp"
#include "common/server/server_config.hpp"
#include "common/server/test_client.hpp"

namespace rw::server {
namespace {

using namespace std::chrono_literals;
using testing::TestClient;
using testing::TestStream;

// A DVR store in a temporary directory, removed with it.
class TempStore {
 public:
  TempStore() {
    char pattern[] = "/tmp/rewind-server-test-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    auto store = dvr::SegmentStore::open(dir_ + "/dvr");
    if (!store) throw std::runtime_error(store.error().describe());
    access_ = std::make_unique<DvrAccess>(std::move(*store), 1);
  }
  ~TempStore() {
    access_.reset();
    std::filesystem::remove_all(dir_);
  }
  DvrAccess& access() { return *access_; }

 private:
  std::string dir_;
  std::unique_ptr<DvrAccess> access_;
};

// One server on 127.0.0.1:0 with its own registry, bus and log.
class ServerFixture {
 public:
  explicit ServerFixture(ServerOptions options, DvrAccess* dvr = nullptr)
      : options_(with_defaults(std::move(options))),
        log_(LogLevel::Info, [this](LogLevel, std::string_view line) {
          std::lock_guard lock(mutex_);
          lines_.emplace_back(line);
        }),
        context_(options_, log_, clock_, streams_, events_) {
    context_.dvr = dvr;
    context_.segments = dvr;
    log_events(events_, log_, clock_);
    auto created = Server::create(context_);
    if (!created) throw std::runtime_error(created.error());
    server_ = std::move(*created);
    server_->start();
  }
  ~ServerFixture() { server_->stop(); }

  std::uint16_t port() const { return server_->port(); }
  bool logged(std::string_view part) {
    std::lock_guard lock(mutex_);
    for (const auto& l : lines_) {
      if (l.find(part) != std::string::npos) return true;
    }
    return false;
  }

 private:
  static ServerOptions with_defaults(ServerOptions o) {
    o.listen_host = "127.0.0.1";
    o.listen_port = 0;
    return o;
  }

  ServerOptions options_;
  std::mutex mutex_;
  std::vector<std::string> lines_;
  Logger log_;
  SystemClock clock_;
  media::StreamRegistry streams_;
  EventBus events_;
  ServerContext context_;
  std::unique_ptr<Server> server_;
};

// Publishes a synthetic stream as fast as a frame every `interval` until
// stopped, reading what the server sends back (acknowledgements, pings).
class Publisher {
 public:
  Publisher(std::uint16_t port, std::string name, std::chrono::milliseconds interval = 5ms)
      : thread_([this, port, name = std::move(name), interval] { run(port, name, interval); }) {}
  ~Publisher() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  bool wait_started() {
    for (int i = 0; i < 500 && !started_ && !failed_; ++i) std::this_thread::sleep_for(10ms);
    return started_;
  }
  std::uint32_t frames() const { return frames_; }

 private:
  void run(std::uint16_t port, const std::string& name, std::chrono::milliseconds interval) {
    TestClient c(port);
    const std::uint32_t id = c.connect() ? c.create_stream() : 0;
    if (id == 0 || !c.publish(id, name)) {
      failed_ = true;
      return;
    }
    TestStream stream;
    stream.send_headers(c, id);
    started_ = true;
    while (!stop_ && c.connected()) {
      stream.send_next(c, id);
      frames_ = stream.frame;
      c.pump(interval);
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<bool> started_{false};
  std::atomic<bool> failed_{false};
  std::atomic<std::uint32_t> frames_{0};
  std::thread thread_;
};

// A player that watches for the whole test: it must never be cut off.
class SteadyPlayer {
 public:
  SteadyPlayer(std::uint16_t port, std::string name)
      : thread_([this, port, name = std::move(name)] { run(port, name); }) {}
  ~SteadyPlayer() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::uint64_t media() const { return media_; }
  bool cut_off() const { return cut_off_; }
  std::string why() {
    std::lock_guard lock(mutex_);
    return why_;
  }

 private:
  void run(std::uint16_t port, const std::string& name) {
    TestClient c(port);
    const std::uint32_t id = c.connect() ? c.create_stream() : 0;
    if (id == 0 || !c.play(id, name)) {
      fail(c.error().empty() ? "could not start" : c.error());
      return;
    }
    while (!stop_) {
      if (!c.pump(50ms)) {
        fail(c.error());
        return;
      }
      media_ = c.media_received();
    }
  }
  void fail(const std::string& why) {
    std::lock_guard lock(mutex_);
    why_ = why;
    cut_off_ = true;
  }

  std::atomic<bool> stop_{false};
  std::atomic<bool> cut_off_{false};
  std::atomic<std::uint64_t> media_{0};
  std::mutex mutex_;
  std::string why_;
  std::thread thread_;
};

struct ChurnTally {
  std::atomic<int> cycles{0};
  std::atomic<int> failures{0};
  std::mutex mutex;
  std::string last_failure;
};

// Plays until a random number of media messages (1 to 40) arrived, then
// vanishes with a TCP reset, over and over, until `until`.
void churn(std::uint16_t port, const std::string& name, std::chrono::steady_clock::time_point until, unsigned seed,
           ChurnTally& tally) {
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> wanted(1, 40);
  while (std::chrono::steady_clock::now() < until) {
    TestClient c(port);
    const std::uint32_t id = c.connect() ? c.create_stream() : 0;
    const bool playing = id != 0 && c.play(id, name);
    const auto need = static_cast<std::uint64_t>(wanted(random));
    const bool got = playing && c.read_until([&](const rtmp::ClientEvent&) { return c.media_received() >= need; },
                                             3s);
    if (!got) {
      std::lock_guard lock(tally.mutex);
      tally.last_failure = c.error().empty() ? "no media" : c.error();
      ++tally.failures;
    }
    c.reset();
    ++tally.cycles;
  }
}

void churn_while_frames_flow(unsigned threads, ServerOptions options = {}) {
  options.threads = threads;
  ServerFixture server(options);
  Publisher publisher(server.port(), "churn");
  ASSERT_TRUE(publisher.wait_started());
  SteadyPlayer steady_a(server.port(), "churn");
  SteadyPlayer steady_b(server.port(), "churn");
  ChurnTally tally;
  const auto until = std::chrono::steady_clock::now() + 3s;
  std::vector<std::thread> churners;
  for (unsigned i = 0; i < 6; ++i) {
    churners.emplace_back([&, i] { churn(server.port(), "churn", until, 1000 + i, tally); });
  }
  for (auto& t : churners) t.join();
  const std::uint64_t steady_before = steady_a.media();
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(steady_a.cut_off()) << steady_a.why();
  EXPECT_FALSE(steady_b.cut_off()) << steady_b.why();
  EXPECT_GT(steady_a.media(), steady_before) << "a steady player stopped receiving";
  EXPECT_GT(tally.cycles.load(), 30) << "too few churn cycles to mean anything";
  EXPECT_EQ(tally.failures.load(), 0) << tally.last_failure;

  // The server still serves a new player.
  TestClient late(server.port());
  ASSERT_TRUE(late.connect());
  const std::uint32_t id = late.create_stream();
  ASSERT_TRUE(late.play(id, "churn"));
  EXPECT_TRUE(late.read_until([&](const rtmp::ClientEvent&) { return late.media_received() >= 10; }, 3s));
}

TEST(ServerChurn, PlayersResettingWhileFramesFlowOnOneWorker) { churn_while_frames_flow(1); }

TEST(ServerChurn, PlayersResettingWhileFramesFlowAcrossWorkers) { churn_while_frames_flow(2); }

TEST(ServerChurn, PlayersResettingWithWritesAsFramesCome) {
  // Without the write tick every frame is written at once: the write that
  // fails on a reset peer happens while the feed is calling its readers.
  ServerOptions options;
  options.write_interval = 0ms;
  churn_while_frames_flow(2, options);
}

TEST(ServerChurn, PublisherResettingWhilePlayersWatch) {
  ServerOptions options;
  options.threads = 2;
  ServerFixture server(options);
  for (int round = 0; round < 5; ++round) {
    TestClient publisher(server.port());
    ASSERT_TRUE(publisher.connect());
    const std::uint32_t id = publisher.create_stream();
    ASSERT_TRUE(publisher.publish(id, "flaky")) << "round " << round << ": " << publisher.error();
    TestStream stream;
    stream.send_headers(publisher, id);
    std::vector<std::unique_ptr<TestClient>> players;
    for (int i = 0; i < 4; ++i) {
      auto p = std::make_unique<TestClient>(server.port());
      ASSERT_TRUE(p->connect());
      ASSERT_TRUE(p->play(p->create_stream(), "flaky"));
      players.push_back(std::move(p));
    }
    for (int f = 0; f < 60; ++f) stream.send_next(publisher, id);
    for (auto& p : players) {
      EXPECT_TRUE(p->read_until([&](const rtmp::ClientEvent&) { return p->media_received() >= 20; }, 3s));
    }
    publisher.reset();
    for (auto& p : players) {
      EXPECT_TRUE(p->read_until(
          [](const rtmp::ClientEvent& e) {
            const auto* s = std::get_if<rtmp::StatusEvent>(&e);
            return s && s->code == "NetStream.Play.UnpublishNotify";
          },
          3s))
          << "round " << round;
    }
  }
}

TEST(ServerLiveness, SilentPublisherReleasesItsStreamName) {
  // An encoder whose connection went half-open: it sends nothing more, but
  // its reconnect must be able to publish the same name.
  ServerOptions options;
  options.publisher_idle_timeout = 300ms;
  ServerFixture server(options);
  TestClient stuck(server.port());
  ASSERT_TRUE(stuck.connect());
  const std::uint32_t id = stuck.create_stream();
  ASSERT_TRUE(stuck.publish(id, "cam"));
  TestStream stream;
  stream.send_headers(stuck, id);
  stream.send_next(stuck, id);
  stuck.stop_reading();

  const auto start = std::chrono::steady_clock::now();
  bool published = false;
  while (!published && std::chrono::steady_clock::now() - start < 5s) {
    TestClient reconnect(server.port());
    ASSERT_TRUE(reconnect.connect());
    published = reconnect.publish(reconnect.create_stream(), "cam");
    if (!published) std::this_thread::sleep_for(100ms);
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  EXPECT_TRUE(published) << "the name was still taken after " << took.count() << " ms";
  // The idle timeout plus the once-a-second check.
  EXPECT_LT(took.count(), 300 + 1000 + 700);
  EXPECT_TRUE(server.logged("publisher sent no media for 300 ms"));
}

TEST(ServerLiveness, HalfOpenClientIsDroppedWhileOneAnsweringPingsStays) {
  ServerOptions options;
  // Checked once a second: the idle timeout must leave room for a ping
  // and its answer.
  options.ping_interval = 300ms;
  options.idle_timeout = 2500ms;
  ServerFixture server(options);
  TestClient silent(server.port());
  ASSERT_TRUE(silent.connect());
  TestClient answering(server.port());
  ASSERT_TRUE(answering.connect());
  silent.stop_reading();
  // Waiting for a stream that nobody publishes: nothing but pings arrive.
  ASSERT_TRUE(answering.play(answering.create_stream(), "nobody"));
  EXPECT_TRUE(answering.pump(4s)) << "a client that answers pings was dropped: " << answering.error();
  EXPECT_TRUE(server.logged("sent nothing for 2500 ms"));
  // The silent one was closed: reading now finds the end.
  silent.resume_reading();
  EXPECT_FALSE(silent.pump(1s)) << "a client that sent nothing for 4 s is still connected";
}

TEST(ServerDvr, PlayerOfARecordingGoesOnWhenRetentionDeletesWhatItHasNotRead) {
  // A player is a second into a 20 s recording that has ended when a
  // retention pass (the window lowered, or the store's cap) deletes the
  // segments it has not read yet: it must go on from the oldest segment
  // kept, not wait for the deleted one forever.
  TempStore store;
  ServerFixture server(ServerOptions{}, &store.access());
  {
    TestClient publisher(server.port());
    ASSERT_TRUE(publisher.connect());
    const std::uint32_t id = publisher.create_stream();
    ASSERT_TRUE(publisher.publish(id, "rec"));
    TestStream stream;
    stream.send_headers(publisher, id);
    for (int f = 0; f < 600; ++f) stream.send_next(publisher, id);  // 20 s of media, sent at once
    ASSERT_TRUE(publisher.pump(200ms));
  }
  dvr::SegmentStore& segments = store.access().store();
  for (int i = 0; i < 100; ++i) {
    auto info = segments.stream_info("live", "rec");
    if (info && *info && !(*info)->live() && (*info)->end_ms() >= 19'000) break;
    std::this_thread::sleep_for(50ms);
  }
  auto before = segments.stream_info("live", "rec");
  ASSERT_TRUE(before && *before && !(*before)->live());

  TestClient player(server.port());
  ASSERT_TRUE(player.connect());
  ASSERT_TRUE(player.play(player.create_stream(), "rec"));
  ASSERT_TRUE(player.read_until([&](const rtmp::ClientEvent&) { return player.video_timestamps().size() >= 30; },
                                5s));
  // Keep the last 6 s: the player, about 1 s in, loses what it had not read.
  auto pass = dvr::run_retention(segments, [](std::string_view) { return dvr::Retention{6000, 0}; }, 0);
  ASSERT_TRUE(pass) << pass.error().describe();
  ASSERT_FALSE(pass->changes.empty());
  const std::size_t before_pass = player.video_timestamps().size();
  EXPECT_TRUE(player.read_until(
      [&](const rtmp::ClientEvent&) { return player.video_timestamps().size() >= before_pass + 60; }, 8s))
      << "the player stalled after retention took the segments ahead of it: " << player.error() << ", "
      << player.video_timestamps().size() - before_pass << " more video frames, last at "
      << (player.video_timestamps().empty() ? 0 : player.video_timestamps().back()) << " ms; first kept "
      << (*segments.stream_info("live", "rec"))->start_ms() << " ms";
  std::uint32_t largest_step = 0;
  const auto& ts = player.video_timestamps();
  for (std::size_t i = 1; i < ts.size(); ++i) {
    EXPECT_GE(ts[i], ts[i - 1]) << "video went back at " << i;
    largest_step = std::max(largest_step, ts[i] - ts[i - 1]);
  }
  EXPECT_GT(largest_step, 5000u) << "the player did not jump over the deleted segments";
}

TEST(ServerStreams, NamesWithSlashesInAppAndStreamStayApart) {
  ServerFixture server(ServerOptions{});
  TestClient one(server.port());
  ASSERT_TRUE(one.connect("a/b"));
  ASSERT_TRUE(one.publish(one.create_stream(), "c"));
  TestClient two(server.port());
  ASSERT_TRUE(two.connect("a"));
  EXPECT_TRUE(two.publish(two.create_stream(), "b/c")) << "a/b + c and a + b/c were taken for one stream";
}

}  // namespace
}  // namespace rw::server
