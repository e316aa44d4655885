// An RTMP server: a listening socket per worker thread (SO_REUSEPORT, so
// the kernel spreads new connections over the threads) and the workers
// that run the connections.
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "common/base/expected.hpp"
#include "common/server/server_context.hpp"
#include "common/server/worker.hpp"

namespace rw::server {

class Server {
 public:
  // Binds the listening sockets; fails with a message (address in use,
  // bad address) without starting anything.
  static Expected<std::unique_ptr<Server>, std::string> create(ServerContext& context);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port (useful with port 0).
  std::uint16_t port() const { return port_; }
  std::size_t worker_count() const { return workers_.size(); }
  Worker& worker(std::size_t i) { return *workers_[i]; }

  // Starts the worker threads and accepting.
  void start();
  // Stops accepting, closes every connection (publishers unpublish, so
  // recordings are finished) and joins the threads.
  void stop();

 private:
  explicit Server(ServerContext& context);
  struct Listener;

  ServerContext& context_;
  std::uint16_t port_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::thread> threads_;
  bool running_ = false;
};

}  // namespace rw::server
