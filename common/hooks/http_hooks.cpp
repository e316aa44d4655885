#include "common/hooks/http_hooks.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json.hpp>
#include <algorithm>
#include <utility>

namespace rw::hooks {

namespace asio = boost::asio;
namespace json = boost::json;
using server::ClientInfo;
using server::Decision;
using server::EventType;
using server::ServerEvent;
using server::StreamRequest;

namespace {

// SRS names the only virtual host this way; callback servers match on it.
constexpr std::string_view kDefaultVhost = "__defaultVhost__";

bool any_hook(const config::HookSettings& h) {
  return h.on_connect_size() + h.on_close_size() + h.on_publish_size() + h.on_unpublish_size() + h.on_play_size() +
             h.on_stop_size() + h.on_dvr_size() + h.on_proxy_size() >
         0;
}

std::string trimmed(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

std::vector<std::string> urls_of(const google::protobuf::RepeatedPtrField<std::string>& urls) {
  return {urls.begin(), urls.end()};
}

}  // namespace

HookVerdict verdict_of(unsigned status, std::string_view body) {
  const std::string text = trimmed(body);
  if (status != 200) return {false, "HTTP " + std::to_string(status) + " " + log_escape(text, 128)};
  if (text == "0") return {true, {}};
  boost::system::error_code ec;
  const json::value answer = json::parse(text, ec);
  if (!ec && answer.is_object()) {
    const json::value* code = answer.as_object().if_contains("code");
    if (code && code->is_number()) {
      const double value = code->to_number<double>();
      if (value == 0) return {true, {}};
      return {false, "code " + json::serialize(*code)};
    }
  }
  return {false, "HTTP 200 with body '" + log_escape(text, 128) + "' (allowing needs 0 or {\"code\": 0})"};
}

HttpHooks::HttpHooks(const config::Config& config, std::string role, std::string server_id, Logger& log)
    : default_hooks_(config.default_app().hooks()),
      role_(std::move(role)),
      server_id_(std::move(server_id)),
      log_(log),
      client_(http::HttpClientOptions{config.default_app().hooks().max_connections_per_host()}, log) {
  any_ = any_hook(default_hooks_);
  for (const auto& app : config.app()) {
    // A listed application starts from default_app's hooks, as its other
    // settings do (server_options).
    config::HookSettings merged = default_hooks_;
    merged.MergeFrom(app.hooks());
    any_ = any_ || any_hook(merged);
    app_hooks_.emplace_back(app.name(), std::move(merged));
  }
}

HttpHooks::~HttpHooks() = default;

std::unique_ptr<HttpHooks> HttpHooks::from(const config::Config& config, std::string role, std::string server_id,
                                           Logger& log) {
  auto hooks = std::make_unique<HttpHooks>(config, std::move(role), std::move(server_id), log);
  if (!hooks->any_) return nullptr;
  return hooks;
}

const config::HookSettings& HttpHooks::settings_of(std::string_view app) const {
  for (const auto& [name, hooks] : app_hooks_) {
    if (name == app) return hooks;
  }
  return default_hooks_;
}

std::string HttpHooks::body(std::string_view action, const ClientInfo& client, const StreamRequest* stream,
                            const ServerEvent* event) const {
  json::object o;
  o["action"] = action;
  o["server_id"] = server_id_;
  o["client_id"] = std::to_string(client.connection_id);
  o["ip"] = client.ip;
  o["vhost"] = kDefaultVhost;
  o["app"] = client.app;
  o["tcUrl"] = client.tc_url;
  o["pageUrl"] = client.page_url;
  if (stream) {
    o["stream"] = stream->name;
    o["param"] = stream->param;
    o["stream_url"] = "/" + client.app + "/" + stream->name;
    // SRS's id of the stream's source; one name is one source here.
    o["stream_id"] = "/" + client.app + "/" + stream->name;
  } else {
    o["param"] = client.param;
    o["stream_url"] = "/" + client.app;
    o["stream_id"] = "";
  }
  if (event && event->type == EventType::Disconnect) {
    o["send_bytes"] = event->bytes_out;
    o["recv_bytes"] = event->bytes_in;
  }
  if (event && event->type == EventType::RecordStop) {
    // SRS's on_dvr names the file a recording went to; here the recording
    // is in the DVR store under its app and stream.
    o["rewind_event"] = "record_stop";
    o["file"] = "/" + event->app + "/" + event->stream;
  }
  o["rewind_role"] = role_;
  o["rewind_server"] = server_id_;
  if (!client.rewind_role.empty()) {
    o["client_role"] = client.rewind_role;
    o["client_server"] = client.rewind_server;
  }
  return json::serialize(o);
}

asio::awaitable<Decision> HttpHooks::decide(std::string_view action, std::vector<std::string> urls,
                                            std::chrono::milliseconds timeout, std::string body) {
  for (const std::string& url : urls) {
    auto answer = co_await client_.post(url, body, timeout);
    HookVerdict verdict;
    if (!answer) {
      verdict = {false, answer.error()};
    } else {
      verdict = verdict_of(answer->status, answer->body);
    }
    if (!verdict.allowed) {
      log_.info() << "hook " << action << " " << log_escape(url) << " denied: " << verdict.why;
      // The client learns which callback refused, not the callback's
      // address (an internal URL).
      co_return Decision::deny(std::string(action) + " callback denied");
    }
  }
  co_return Decision::allow();
}

asio::awaitable<Decision> HttpHooks::on_connect(ClientInfo client, std::shared_ptr<server::ClientLink>,
                                                std::vector<amf::Value>) {
  const config::HookSettings& hooks = settings_of(client.app);
  {
    // Remembered before the answer: a disconnect meanwhile forgets it.
    std::lock_guard lock(mutex_);
    clients_[client.connection_id] = client;
  }
  if (hooks.on_connect_size() == 0) co_return Decision::allow();
  co_return co_await decide("on_connect", urls_of(hooks.on_connect()), std::chrono::milliseconds(hooks.timeout_ms()),
                            body("on_connect", client, nullptr));
}

asio::awaitable<Decision> HttpHooks::on_publish(ClientInfo client, StreamRequest stream) {
  const config::HookSettings& hooks = settings_of(client.app);
  if (hooks.on_publish_size() == 0) co_return Decision::allow();
  co_return co_await decide("on_publish", urls_of(hooks.on_publish()), std::chrono::milliseconds(hooks.timeout_ms()),
                            body("on_publish", client, &stream));
}

asio::awaitable<Decision> HttpHooks::on_play(ClientInfo client, StreamRequest stream) {
  const config::HookSettings& hooks = settings_of(client.app);
  if (hooks.on_play_size() == 0) co_return Decision::allow();
  co_return co_await decide("on_play", urls_of(hooks.on_play()), std::chrono::milliseconds(hooks.timeout_ms()),
                            body("on_play", client, &stream));
}

void HttpHooks::subscribe(server::EventBus& bus) {
  bus.subscribe([this](const ServerEvent& event) { on_event(event); });
}

void HttpHooks::on_event(const ServerEvent& event) {
  const google::protobuf::RepeatedPtrField<std::string>* urls = nullptr;
  const char* action = nullptr;
  const config::HookSettings& hooks = settings_of(event.app);
  switch (event.type) {
    case EventType::Disconnect: action = "on_close"; urls = &hooks.on_close(); break;
    case EventType::Unpublish: action = "on_unpublish"; urls = &hooks.on_unpublish(); break;
    case EventType::Stop: action = "on_stop"; urls = &hooks.on_stop(); break;
    case EventType::RecordStop: action = "on_dvr"; urls = &hooks.on_dvr(); break;
    case EventType::DvrDelete: action = "on_dvr"; urls = &hooks.on_dvr(); break;
    case EventType::Proxy: action = "on_proxy"; urls = &hooks.on_proxy(); break;
    default: return;
  }
  ClientInfo client;
  bool known = false;
  {
    std::lock_guard lock(mutex_);
    if (auto it = clients_.find(event.connection_id); it != clients_.end()) {
      client = it->second;
      known = true;
      if (event.type == EventType::Disconnect) clients_.erase(it);
    }
  }
  if (urls->empty()) return;
  std::string text;
  if (event.type == EventType::DvrDelete || event.type == EventType::Proxy) {
    // Not about a client: retention deleted recorded segments, or the pull
    // of a stream from upstream changed.
    json::object o;
    o["action"] = action;
    o["server_id"] = server_id_;
    o["vhost"] = kDefaultVhost;
    o["app"] = event.app;
    o["stream"] = event.stream;
    o["rewind_role"] = role_;
    o["rewind_server"] = server_id_;
    if (event.type == EventType::DvrDelete) {
      o["stream_url"] = "/" + event.app + "/" + event.stream;
      o["rewind_event"] = "delete";
      o["segments"] = event.segments;
      o["bytes"] = event.segment_bytes;
      o["reason"] = event.detail;
    } else {
      o["code"] = event.code;
      o["description"] = event.detail;
      o["upstream"] = event.peer;
    }
    text = json::serialize(o);
  } else {
    // SRS calls on_close only for clients whose connect it saw.
    if (!known) return;
    StreamRequest stream{event.stream, {}};
    text = body(action, client, event.stream.empty() ? nullptr : &stream, &event);
  }
  inform(event.connection_id, action, urls_of(*urls),
         std::chrono::milliseconds(hooks.timeout_ms()), std::move(text));
}

void HttpHooks::inform(std::uint64_t connection_id, std::string_view action, std::vector<std::string> urls,
                       std::chrono::milliseconds timeout, std::string body) {
  bool start = false;
  {
    std::lock_guard lock(mutex_);
    if (pending_ >= kMaxPending) {
      if (dropped_++ % 1000 == 0) {
        log_.warn() << "hooks: " << kMaxPending << " calls waiting for slow callback servers; dropping "
                    << action << " (" << dropped_ << " dropped so far)";
      }
      return;
    }
    ++pending_;
    Chain& chain = chains_[connection_id];
    chain.calls.push_back(Call{std::string(action), std::move(urls), timeout, std::move(body)});
    start = !std::exchange(chain.running, true);
  }
  if (start) asio::co_spawn(client_.executor(), drain(connection_id), asio::detached);
}

asio::awaitable<void> HttpHooks::drain(std::uint64_t connection_id) {
  for (;;) {
    Call call;
    {
      std::lock_guard lock(mutex_);
      auto it = chains_.find(connection_id);
      if (it == chains_.end()) co_return;
      if (it->second.calls.empty()) {
        chains_.erase(it);
        co_return;
      }
      call = std::move(it->second.calls.front());
      it->second.calls.pop_front();
      --pending_;
    }
    for (const std::string& url : call.urls) {
      auto answer = co_await client_.post(url, call.body, call.timeout);
      if (!answer) {
        log_.info() << "hook " << call.action << " " << log_escape(url) << " failed: " << answer.error();
      } else if (answer->status != 200) {
        log_.info() << "hook " << call.action << " " << log_escape(url) << " answered HTTP " << answer->status;
      }
    }
  }
}

std::size_t HttpHooks::pending() const {
  std::lock_guard lock(mutex_);
  return pending_;
}

}  // namespace rw::hooks
