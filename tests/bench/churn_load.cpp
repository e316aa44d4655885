#include "tests/bench/churn_load.hpp"

#include <cstdio>


namespace rw::bench {

namespace {
// How often slots are checked for a player due to vanish.
constexpr auto kTick = std::chrono::milliseconds(10);
}  // namespace

ChurnLoad::ChurnLoad(boost::asio::io_context& io, const Options& options, boost::asio::ip::tcp::endpoint endpoint)
    : LoadRun(io, options), context_(io, options, endpoint), tick_timer_(io), random_(options.seed) {
  slots_.resize(options.clients);
  tick();
}

void ChurnLoad::start_client(std::size_t index) {
  Slot& slot = slots_[index];
  slot.player = std::make_unique<Player>(context_, index);
  slot.vanish_at_us = 0;
  ++totals_.started;
  slot.player->start();
}

void ChurnLoad::tally(const Player& player) {
  const PlayerTimeline& t = player.timeline();
  if (t.started()) startup_ms_.push_back(static_cast<double>(t.first_media_us() - player.started_at()) / 1000.0);
  switch (player.stage()) {
    case Player::Stage::Stopped: ++totals_.vanished; break;
    case Player::Stage::Failed:
      ++totals_.failed;
      ++totals_.failures[player.failure()];
      break;
    case Player::Stage::Closed:
      ++totals_.cut_off;
      ++totals_.failures["cut off while playing: " + player.failure()];
      break;
    default: break;
  }
}

void ChurnLoad::replace(Slot& slot, std::size_t index) {
  tally(*slot.player);
  retired_.push_back(std::move(slot.player));
  if (!stopping_) start_client(index);
}

void ChurnLoad::tick() {
  retired_.clear();
  const std::int64_t now = now_us();
  std::uniform_int_distribution<std::uint32_t> play_ms(options_.churn_min_ms, options_.churn_max_ms);
  for (std::size_t i = 0; i < slots_.size() && !stopping_; ++i) {
    Slot& slot = slots_[i];
    if (!slot.player) continue;  // not started by the ramp yet
    Player& p = *slot.player;
    if (p.closed()) {
      replace(slot, i);
      continue;
    }
    if (p.stage() != Player::Stage::Playing) continue;
    if (slot.vanish_at_us == 0) {
      slot.vanish_at_us = p.timeline().first_media_us() + static_cast<std::int64_t>(play_ms(random_)) * 1000;
    }
    if (now >= slot.vanish_at_us) {
      p.vanish(now);
      replace(slot, i);
    }
  }
  tick_timer_.expires_after(kTick);
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

void ChurnLoad::on_second(std::int64_t now) {
  const auto timeout = static_cast<std::int64_t>(options_.timeout_s * 1e6);
  for (auto& slot : slots_) {
    if (slot.player) slot.player->check_timeout(now, timeout);
  }
}

std::string ChurnLoad::progress() {
  std::size_t playing = 0;
  for (const auto& slot : slots_) {
    if (slot.player && slot.player->stage() == Player::Stage::Playing) ++playing;
  }
  char buf[256];
  std::snprintf(buf, sizeof buf, "churn: %zu playing now; %zu started, %zu vanished, %zu failed, %zu cut off",
                playing, totals_.started, totals_.vanished, totals_.failed, totals_.cut_off);
  return buf;
}

void ChurnLoad::on_window_open() {}

void ChurnLoad::stop_clients(std::int64_t now) {
  stopping_ = true;
  tick_timer_.cancel();
  for (auto& slot : slots_) {
    if (!slot.player) continue;
    // A player still starting at the end is neither a failure nor a cycle.
    if (!slot.player->closed() && slot.player->stage() != Player::Stage::Playing) {
      retired_.push_back(std::move(slot.player));
      continue;
    }
    slot.player->stop(now);
    tally(*slot.player);
  }
}

bool ChurnLoad::all_done() const { return false; }  // replaced until the end

ChurnResult ChurnLoad::result() const {
  ChurnResult r = totals_;
  r.slots = slots_.size();
  r.vanished -= std::min(r.vanished, r.slots);  // the final stop() of each slot is not a reset
  r.startup_ms = summarize(startup_ms_);
  return r;
}

}  // namespace rw::bench
