#include "common/hooks/http_hooks.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace rw::hooks {
namespace {

namespace json = boost::json;

TEST(HookVerdict, ZeroOrCodeZeroAllows) {
  EXPECT_TRUE(verdict_of(200, "0").allowed);
  EXPECT_TRUE(verdict_of(200, " 0\n").allowed);
  EXPECT_TRUE(verdict_of(200, R"({"code": 0, "data": null})").allowed);
  EXPECT_TRUE(verdict_of(200, R"({"code":0.0})").allowed);
}

TEST(HookVerdict, EverythingElseDenies) {
  EXPECT_FALSE(verdict_of(200, "1").allowed);
  EXPECT_FALSE(verdict_of(200, "").allowed);
  EXPECT_FALSE(verdict_of(200, "ok").allowed);
  EXPECT_FALSE(verdict_of(200, R"({"code": 403})").allowed);
  EXPECT_FALSE(verdict_of(200, R"({"code": "0"})").allowed);
  EXPECT_FALSE(verdict_of(200, R"([0])").allowed);
  EXPECT_FALSE(verdict_of(403, "0").allowed);
  EXPECT_FALSE(verdict_of(500, "").allowed);
  EXPECT_NE(verdict_of(403, "go away").why.find("403"), std::string::npos);
}

config::Config config_with_hook() {
  config::Config c;
  c.mutable_default_app()->mutable_hooks()->add_on_connect("http://127.0.0.1:1/hook");
  return c;
}

TEST(HttpHooks, NoHooksNoApplication) {
  Logger log(LogLevel::Error, [](LogLevel, std::string_view) {});
  EXPECT_EQ(HttpHooks::from(config::Config(), "origin", "o1", log), nullptr);
  EXPECT_NE(HttpHooks::from(config_with_hook(), "origin", "o1", log), nullptr);
}

TEST(HttpHooks, BodyIsSrsJson) {
  Logger log(LogLevel::Error, [](LogLevel, std::string_view) {});
  auto hooks = HttpHooks::from(config_with_hook(), "edge", "edge-1", log);
  ASSERT_NE(hooks, nullptr);
  server::ClientInfo client;
  client.connection_id = 42;
  client.ip = "10.0.0.7";
  client.app = "live";
  client.tc_url = "rtmp://host/live?token=abc";
  client.param = "?token=abc";
  client.rewind_role = "relay";
  client.rewind_server = "relay-1";
  const json::object connect = json::parse(hooks->body("on_connect", client, nullptr)).as_object();
  EXPECT_EQ(connect.at("action"), "on_connect");
  EXPECT_EQ(connect.at("client_id"), "42");
  EXPECT_EQ(connect.at("ip"), "10.0.0.7");
  EXPECT_EQ(connect.at("vhost"), "__defaultVhost__");
  EXPECT_EQ(connect.at("app"), "live");
  EXPECT_EQ(connect.at("tcUrl"), "rtmp://host/live?token=abc");
  EXPECT_EQ(connect.at("param"), "?token=abc");
  EXPECT_EQ(connect.at("server_id"), "edge-1");
  EXPECT_EQ(connect.at("rewind_role"), "edge");
  EXPECT_EQ(connect.at("client_role"), "relay");
  EXPECT_EQ(connect.at("client_server"), "relay-1");

  const server::StreamRequest stream{"cam", "?key=1"};
  const json::object play = json::parse(hooks->body("on_play", client, &stream)).as_object();
  EXPECT_EQ(play.at("stream"), "cam");
  EXPECT_EQ(play.at("param"), "?key=1");
  EXPECT_EQ(play.at("stream_url"), "/live/cam");

  server::ServerEvent closed{server::EventType::Disconnect, 42, "10.0.0.7:5000", "live", {}, {}, {}, {}, {}};
  closed.bytes_in = 100;
  closed.bytes_out = 2000;
  const json::object close = json::parse(hooks->body("on_close", client, nullptr, &closed)).as_object();
  EXPECT_EQ(close.at("send_bytes"), 2000);
  EXPECT_EQ(close.at("recv_bytes"), 100);

  server::ServerEvent ended{server::EventType::RecordStop, 42, "10.0.0.7:5000", "live", "cam", {}, {}, {}, {}};
  const json::object dvr = json::parse(hooks->body("on_dvr", client, &stream, &ended)).as_object();
  EXPECT_EQ(dvr.at("rewind_event"), "record_stop");
  EXPECT_EQ(dvr.at("file"), "/live/cam");
  EXPECT_EQ(dvr.at("client_id"), "42");
  EXPECT_FALSE(close.contains("rewind_event"));
}

}  // namespace
}  // namespace rw::hooks
