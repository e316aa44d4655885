#include "common/server/application.hpp"

namespace rw::server {

namespace asio = boost::asio;

asio::awaitable<CallAnswer> Application::on_call(ClientInfo, std::string, std::vector<amf::Value>) {
  co_return CallAnswer{};
}

asio::awaitable<Decision> ApplicationChain::on_connect(ClientInfo client, std::shared_ptr<ClientLink> link,
                                                       std::vector<amf::Value> args) {
  Decision merged;
  for (Application* part : parts_) {
    // A client that left while an earlier part answered is not shown to
    // the next (a script would keep it after its disconnect).
    if (link && link->closed()) co_return Decision::deny("the client left");
    Decision d = co_await part->on_connect(client, link, args);
    if (!d.allowed || !d.redirect.empty()) co_return d;
    for (auto& property : d.info.properties) merged.info.set(property.key, std::move(property.value));
  }
  co_return merged;
}

asio::awaitable<Decision> ApplicationChain::on_publish(ClientInfo client, StreamRequest stream) {
  for (Application* part : parts_) {
    Decision d = co_await part->on_publish(client, stream);
    if (!d.allowed) co_return d;
  }
  co_return Decision::allow();
}

asio::awaitable<Decision> ApplicationChain::on_play(ClientInfo client, StreamRequest stream) {
  for (Application* part : parts_) {
    Decision d = co_await part->on_play(client, stream);
    if (!d.allowed) co_return d;
  }
  co_return Decision::allow();
}

asio::awaitable<CallAnswer> ApplicationChain::on_call(ClientInfo client, std::string name,
                                                      std::vector<amf::Value> args) {
  for (Application* part : parts_) {
    CallAnswer answer = co_await part->on_call(client, name, args);
    if (answer.handled) co_return answer;
  }
  co_return CallAnswer{};
}

}  // namespace rw::server
