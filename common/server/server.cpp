#include "common/server/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>

#include <fcntl.h>
#include <unistd.h>

#include "common/server/connection.hpp"

namespace rw::server {

namespace asio = boost::asio;
using asio::ip::tcp;

const AppSettings* ServerContext::find_app(const std::string& name) const {
  if (options.apps.empty()) return &options.default_app;
  for (const auto& app : options.apps) {
    if (app.name == name) return &app;
  }
  return nullptr;
}

struct Server::Listener {
  explicit Listener(Worker& w) : worker(w), acceptor(w.io()), pause(w.io()) {}
  Worker& worker;
  tcp::acceptor acceptor;
  asio::steady_timer pause;  // accepting waits on it while out of descriptors
};

namespace {

// SO_REUSEPORT lets every worker own a listening socket on the same port.
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

Expected<void, std::string> open_listener(tcp::acceptor& acceptor, const tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.set_option(reuse_port(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return unexpected("cannot listen on " + endpoint.address().to_string() + ":" + std::to_string(endpoint.port()) +
                      ": " + ec.message());
  }
  return {};
}

// Accepting when the process is out of descriptors fails at once, every
// time: retrying at once spins a core and writes a log line per try. Wait
// instead, longer while it lasts (nginx waits 500 ms), and say so once per
// pause. A descriptor held in reserve lets us accept and close the clients
// waiting in the backlog at each pause, so they learn at once that they
// were refused instead of timing out there (libuv's "EMFILE trick").
constexpr std::chrono::milliseconds kAcceptPauseFirst{50};
constexpr std::chrono::milliseconds kAcceptPauseMax{1000};
constexpr int kMaxRefusedPerPause = 1024;

bool out_of_descriptors(const boost::system::error_code& ec) {
  return ec == boost::system::errc::too_many_files_open || ec == boost::system::errc::too_many_files_open_in_system ||
         ec == boost::system::errc::no_buffer_space || ec == boost::system::errc::not_enough_memory;
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, asio::steady_timer& timer, Worker& worker,
                                  ServerContext& context) {
  int reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  boost::system::error_code nb_error;
  acceptor.non_blocking(true, nb_error);  // the refusing accept below must not wait
  std::chrono::milliseconds pause = kAcceptPauseFirst;
  std::uint64_t refused_while_full = 0;
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
    if (ec) {
      if (!out_of_descriptors(ec)) {
        context.log.warn() << "accept failed: " << ec.message();
        continue;
      }
      // (Reopened here if another thread took the descriptor last time.)
      if (reserve_fd < 0) reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (reserve_fd >= 0) {
        // Every client waiting now is refused with the one descriptor freed.
        ::close(reserve_fd);
        for (int i = 0; i < kMaxRefusedPerPause; ++i) {
          boost::system::error_code refuse_error;
          tcp::socket refused = acceptor.accept(refuse_error);  // closed as it goes out of scope
          if (refuse_error) break;
          ++refused_while_full;
        }
        reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      }
      context.log.warn() << "accept failed: " << ec.message() << " (" << context.connections.load()
                         << " connections open); refusing new connections for " << pause.count() << " ms"
                         << (refused_while_full ? ", " + std::to_string(refused_while_full) + " refused so far" : "");
      timer.expires_after(pause);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (!acceptor.is_open()) break;  // shutting down
      pause = std::min(pause * 2, kAcceptPauseMax);
      continue;
    }
    pause = kAcceptPauseFirst;
    const auto limit = context.options.max_connections;
    if (limit != 0 && context.connections.load() >= limit) {
      context.log.warn() << "refused a connection: " << limit << " connections is the limit";
      continue;  // the socket closes as it goes out of scope
    }
    std::make_shared<Connection>(std::move(socket), worker, context)->start();
  }
  if (reserve_fd >= 0) ::close(reserve_fd);
}

}  // namespace

Expected<std::unique_ptr<Server>, std::string> Server::create(ServerContext& context) {
  const auto& options = context.options;
  std::unique_ptr<Server> server(new Server(context));
  unsigned threads = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < threads; ++i) server->workers_.push_back(std::make_unique<Worker>(i, options.write_interval));

  boost::system::error_code ec;
  auto address = asio::ip::make_address(options.listen_host, ec);
  if (ec) return unexpected("listen: '" + options.listen_host + "' is not an IP address");
  tcp::endpoint endpoint(address, options.listen_port);
  for (auto& worker : server->workers_) {
    auto listener = std::make_unique<Listener>(*worker);
    if (auto opened = open_listener(listener->acceptor, endpoint); !opened) return unexpected(opened.error());
    // With port 0 the first bind picks the port; the others share it.
    if (endpoint.port() == 0) endpoint.port(listener->acceptor.local_endpoint().port());
    server->listeners_.push_back(std::move(listener));
  }
  server->port_ = endpoint.port();
  return server;
}

Server::Server(ServerContext& context) : context_(context) {}

Server::~Server() { stop(); }

void Server::start() {
  if (running_) return;
  running_ = true;
  for (auto& listener : listeners_) {
    asio::co_spawn(listener->worker.io(), accept_loop(listener->acceptor, listener->pause, listener->worker, context_),
                   asio::detached);
  }
  for (auto& worker : workers_) threads_.emplace_back([w = worker.get()] { w->run(); });
}

void Server::stop() {
  if (!running_) return;
  running_ = false;
  // Stop accepting and close connections on each worker's own thread, and
  // wait until each has done so before letting the loops end.
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    std::promise<void> done;
    asio::post(workers_[i]->io(), [&, i] {
      boost::system::error_code ec;
      listeners_[i]->acceptor.close(ec);
      listeners_[i]->pause.cancel();
      workers_[i]->close_all("server shutting down");
      done.set_value();
    });
    done.get_future().wait();
  }
  for (auto& worker : workers_) worker->stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace rw::server
