// Concurrent misses for one key make one fetch that every waiter shares
// (Nimble merges requests for a chunk the same way): the first caller runs
// the fetch, the others wait for its result. For coroutines on one
// executor (the proxy thread): nothing here is locked.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>

namespace rw::cache {

template <class Key, class Value, class Hash = std::hash<Key>>
class SingleFlight {
 public:
  // The result of `fetch()` (an awaitable<Value>) for `key`, run once for
  // all who ask while it is in flight.
  template <class Fetch>
  boost::asio::awaitable<Value> run(const Key& key, Fetch fetch) {
    if (auto it = flights_.find(key); it != flights_.end()) {
      std::shared_ptr<Flight> flight = it->second;
      coalesced_.fetch_add(1, std::memory_order_relaxed);
      co_await flight->done.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      co_return *flight->result;
    }
    auto executor = co_await boost::asio::this_coro::executor;
    auto flight = std::make_shared<Flight>(executor);
    flights_.emplace(key, flight);
    flight->result.emplace(co_await fetch());
    flights_.erase(key);
    flight->done.cancel();
    co_return *flight->result;
  }

  bool in_flight(const Key& key) const { return flights_.count(key) != 0; }
  // Callers that waited for another's fetch instead of fetching (any
  // thread may read it).
  std::uint64_t coalesced() const { return coalesced_.load(std::memory_order_relaxed); }

 private:
  struct Flight {
    explicit Flight(boost::asio::any_io_executor e) : done(e, std::chrono::steady_clock::time_point::max()) {}
    boost::asio::steady_timer done;
    std::optional<Value> result;
  };
  std::unordered_map<Key, std::shared_ptr<Flight>, Hash> flights_;
  std::atomic<std::uint64_t> coalesced_{0};
};

}  // namespace rw::cache
