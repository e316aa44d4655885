#include "common/server/client_registry.hpp"

namespace rw::server {

ClientTotals& ClientTotals::operator+=(const ClientTotals& o) {
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
  messages_in += o.messages_in;
  messages_out += o.messages_out;
  skips += o.skips;
  ingest_bytes += o.ingest_bytes;
  return *this;
}

ClientTotals ClientEntry::totals() const {
  ClientTotals t;
  t.bytes_in = bytes_in_.load(std::memory_order_relaxed);
  t.bytes_out = bytes_out_.load(std::memory_order_relaxed);
  t.messages_in = messages_in_.load(std::memory_order_relaxed);
  t.messages_out = messages_out_.load(std::memory_order_relaxed);
  t.skips = skips_.load(std::memory_order_relaxed);
  t.ingest_bytes = ingest_bytes_.load(std::memory_order_relaxed);
  return t;
}

ClientEntry::Description ClientEntry::description() const {
  std::lock_guard lock(mutex_);
  return description_;
}

void ClientEntry::describe(Description description) {
  std::lock_guard lock(mutex_);
  description_ = std::move(description);
}

void ClientEntry::set_kick(std::function<void()> kick) {
  std::lock_guard lock(mutex_);
  kick_ = std::move(kick);
}

bool ClientEntry::kick() const {
  std::function<void()> kick;
  {
    std::lock_guard lock(mutex_);
    kick = kick_;
  }
  if (!kick) return false;
  kick();
  return true;
}

const char* to_string(ClientEntry::Kind kind) {
  switch (kind) {
    case ClientEntry::Kind::Connecting: return "connecting";
    case ClientEntry::Kind::Idle: return "idle";
    case ClientEntry::Kind::Publisher: return "publisher";
    case ClientEntry::Kind::Player: return "player";
    case ClientEntry::Kind::Downstream: return "downstream";
  }
  return "unknown";
}

void ClientRegistry::add(std::shared_ptr<ClientEntry> entry) {
  std::lock_guard lock(mutex_);
  entries_[entry->id()] = std::move(entry);
}

void ClientRegistry::remove(const ClientEntry& entry) {
  const std::string app = entry.description().app;
  const ClientTotals totals = entry.totals();
  std::lock_guard lock(mutex_);
  entries_.erase(entry.id());
  auto it = ended_.find(app);
  if (it == ended_.end()) it = ended_.try_emplace(ended_.size() < kMaxEndedApps ? app : "other").first;
  it->second += totals;
}

std::vector<std::shared_ptr<ClientEntry>> ClientRegistry::entries() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<ClientEntry>> out;
  out.reserve(entries_.size());
  for (const auto& [id, entry] : entries_) out.push_back(entry);
  return out;
}

std::vector<ClientRegistry::Client> ClientRegistry::clients() const {
  // Only pointers are copied under the lock: connections on the workers
  // take it to come and go.
  std::vector<Client> out;
  for (const auto& entry : entries()) {
    out.push_back(Client{entry->id(), entry->peer(), entry->started(), entry->description(), entry->totals()});
  }
  return out;
}

std::size_t ClientRegistry::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::map<std::string, ClientTotals> ClientRegistry::totals_by_app() const {
  // Both taken under one lock: a connection that ends meanwhile is counted
  // once, as live (its entry stays readable through the pointer).
  std::map<std::string, ClientTotals> out;
  std::vector<std::shared_ptr<ClientEntry>> live;
  {
    std::lock_guard lock(mutex_);
    out = ended_;
    live.reserve(entries_.size());
    for (const auto& [id, entry] : entries_) live.push_back(entry);
  }
  for (const auto& entry : live) out[entry->description().app] += entry->totals();
  return out;
}

bool ClientRegistry::kick(std::uint64_t id) const {
  std::shared_ptr<ClientEntry> entry;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return false;
    entry = it->second;
  }
  return entry->kick();
}

}  // namespace rw::server
