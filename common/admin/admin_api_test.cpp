#include "common/admin/admin_api.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <thread>

#include "common/admin/test_observed.hpp"

namespace rw::admin {
namespace {

namespace json = boost::json;
namespace bhttp = boost::beast::http;
using Kind = server::ClientEntry::Kind;

class AdminApiTest : public ::testing::Test {
 protected:
  explicit AdminApiTest(std::string token = "secret") : metrics_(f_.observed), api_(f_.observed, metrics_, token) {}

  http::Response call(bhttp::verb method, const std::string& target, const std::string& authorization = {}) {
    http::Request request{method, target, 11};
    if (!authorization.empty()) request.set(bhttp::field::authorization, authorization);
    return api_.handle(request, http::Peer{"127.0.0.1:1"});
  }
  json::object get_json(const std::string& target) {
    const http::Response response = call(bhttp::verb::get, target);
    EXPECT_EQ(response.result_int(), 200u) << target << ": " << response.body();
    EXPECT_EQ(response[bhttp::field::content_type], "application/json");
    return json::parse(response.body()).as_object();
  }

  ObservedFixture f_;
  ServerMetrics metrics_;
  AdminApi api_;
};

TEST_F(AdminApiTest, ClientsHaveSrsFields) {
  auto publisher = f_.add_client(1, "live", Kind::Publisher, "cam");
  f_.add_client(2, "live", Kind::Player, "cam");
  publisher->add_bytes_in(5000);
  json::object doc = get_json("/api/v1/clients");
  EXPECT_EQ(doc.at("code").as_int64(), 0);
  EXPECT_EQ(doc.at("server").as_string(), "origin-test");
  const json::array& clients = doc.at("clients").as_array();
  ASSERT_EQ(clients.size(), 2u);
  const json::object& c = clients[0].as_object();
  for (const char* key : {"id", "vhost", "stream", "ip", "pageUrl", "swfUrl", "tcUrl", "url", "name", "type",
                          "publish", "alive", "send_bytes", "recv_bytes", "kbps"}) {
    EXPECT_TRUE(c.contains(key)) << key;
  }
  EXPECT_EQ(c.at("id").as_string(), "1");
  EXPECT_EQ(c.at("vhost").as_string(), "__defaultVhost__");
  EXPECT_EQ(c.at("ip").as_string(), "127.0.0.1");
  EXPECT_EQ(c.at("url").as_string(), "/live/cam");
  EXPECT_EQ(c.at("type").as_string(), "fmle-publish");
  EXPECT_TRUE(c.at("publish").as_bool());
  EXPECT_EQ(c.at("recv_bytes").to_number<std::uint64_t>(), 5000u);
  EXPECT_TRUE(c.at("kbps").as_object().contains("recv_30s"));
  EXPECT_TRUE(c.at("kbps").as_object().contains("send_30s"));
  EXPECT_EQ(clients[1].as_object().at("type").as_string(), "rtmp-play");

  json::object one = get_json("/api/v1/clients/2");
  EXPECT_EQ(one.at("client").as_object().at("name").as_string(), "cam");
  EXPECT_EQ(call(bhttp::verb::get, "/api/v1/clients/99").result_int(), 404u);
}

TEST_F(AdminApiTest, NamesThatAreNotUtf8StayValidJson) {
  auto hub = f_.streams.acquire("li\xffve", "c\xfe\"am\n");
  ASSERT_TRUE(hub->start_publish());
  f_.add_client(1, "li\xffve", Kind::Publisher, "c\xfe\"am\n");
  for (const char* path : {"/api/v1/clients", "/api/v1/streams"}) {
    const http::Response response = call(bhttp::verb::get, path);
    boost::system::error_code ec;
    json::value doc = json::parse(response.body(), ec);  // Boost.JSON refuses invalid UTF-8
    ASSERT_FALSE(ec) << path << ": " << ec.message();
  }
  json::object doc = get_json("/api/v1/clients");
  EXPECT_EQ(doc.at("clients").as_array()[0].as_object().at("name").as_string(), "c\xef\xbf\xbd\"am\n");
  const std::string metrics = call(bhttp::verb::get, "/metrics").body();
  EXPECT_NE(metrics.find("app=\"li\xef\xbf\xbdve\""), std::string::npos);
  EXPECT_EQ(metrics.find("\xff"), std::string::npos);
  hub->stop_publish();
  f_.streams.release(hub);
}

TEST_F(AdminApiTest, RatesComeFromSamples) {
  auto player = f_.add_client(1, "live", Kind::Player, "cam");
  api_.sample_rates();
  player->add_bytes_out(125'000);  // 1 Mbit
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  api_.sample_rates();
  const json::object doc = get_json("/api/v1/clients");
  const json::object& c = doc.at("clients").as_array()[0].as_object();
  const double kbps = c.at("kbps").as_object().at("send_30s").to_number<double>();
  EXPECT_GT(kbps, 1000);  // 1000 kbit over 0.2 s, and a little more
  EXPECT_LT(kbps, 6000);
}

TEST_F(AdminApiTest, StreamsListPublishedStreamsWithTheirClients) {
  auto hub = f_.streams.acquire("live", "cam");
  ASSERT_TRUE(hub->start_publish());
  f_.add_client(1, "live", Kind::Publisher, "cam")->add_bytes_in(100);
  f_.add_client(2, "live", Kind::Player, "cam")->add_bytes_out(40);
  f_.add_client(3, "live", Kind::Player, "cam")->add_bytes_out(60);
  json::object doc = get_json("/api/v1/streams");
  const json::array& streams = doc.at("streams").as_array();
  ASSERT_EQ(streams.size(), 1u);
  const json::object& s = streams[0].as_object();
  for (const char* key : {"id", "name", "vhost", "app", "tcUrl", "url", "live_ms", "clients", "send_bytes",
                          "recv_bytes", "kbps", "publish", "video", "audio"}) {
    EXPECT_TRUE(s.contains(key)) << key;
  }
  EXPECT_EQ(s.at("name").as_string(), "cam");
  EXPECT_EQ(s.at("clients").to_number<std::uint64_t>(), 3u);
  EXPECT_EQ(s.at("recv_bytes").to_number<std::uint64_t>(), 100u);
  EXPECT_EQ(s.at("send_bytes").to_number<std::uint64_t>(), 100u);
  EXPECT_TRUE(s.at("publish").as_object().at("active").as_bool());
  EXPECT_EQ(s.at("publish").as_object().at("cid").as_string(), "1");
  EXPECT_TRUE(s.at("video").is_null()) << "no codec header yet";
  hub->stop_publish();
  f_.streams.release(hub);
}

TEST_F(AdminApiTest, KickNeedsTheBearerToken) {
  int kicked = 0;
  auto entry = std::make_shared<server::ClientEntry>(5, "127.0.0.1:5", std::chrono::system_clock::now());
  entry->set_kick([&] { ++kicked; });
  f_.context.clients.add(entry);

  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/clients/5").result_int(), 401u);
  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/clients/5", "Bearer wrong").result_int(), 401u);
  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/clients/5", "secret").result_int(), 401u) << "not a bearer token";
  EXPECT_EQ(kicked, 0);
  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/clients/5", "Bearer secret").result_int(), 200u);
  EXPECT_EQ(kicked, 1);
  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/clients/77", "Bearer secret").result_int(), 404u);
  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/clients/x5", "Bearer secret").result_int(), 404u);
}

class ReadOnlyApiTest : public AdminApiTest {
 protected:
  ReadOnlyApiTest() : AdminApiTest("") {}
};

TEST_F(ReadOnlyApiTest, WithoutATokenNothingCanBeKicked) {
  auto entry = std::make_shared<server::ClientEntry>(5, "127.0.0.1:5", std::chrono::system_clock::now());
  int kicked = 0;
  entry->set_kick([&] { ++kicked; });
  f_.context.clients.add(entry);
  EXPECT_EQ(call(bhttp::verb::delete_, "/api/v1/clients/5", "Bearer ").result_int(), 403u);
  EXPECT_EQ(kicked, 0);
}

TEST_F(AdminApiTest, RoutesAndMethods) {
  EXPECT_EQ(call(bhttp::verb::get, "/healthz").result_int(), 200u);
  EXPECT_EQ(call(bhttp::verb::get, "/readyz").result_int(), 503u) << "not listening yet";
  f_.observed.listening = true;
  EXPECT_EQ(call(bhttp::verb::get, "/readyz").result_int(), 200u);
  EXPECT_EQ(call(bhttp::verb::get, "/nope").result_int(), 404u);
  EXPECT_EQ(call(bhttp::verb::post, "/api/v1/clients").result_int(), 405u);
  EXPECT_EQ(call(bhttp::verb::get, "/api/v1/streams/?x=1").result_int(), 200u) << "a trailing slash and a query";
  const http::Response metrics = call(bhttp::verb::get, "/metrics");
  EXPECT_EQ(metrics.result_int(), 200u);
  EXPECT_EQ(metrics[bhttp::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body().find("rewind_build_info"), std::string::npos);
  for (const char* path : {"/api/v1", "/api/v1/summaries", "/api/v1/proxies", "/api/v1/cache", "/api/v1/recordings"}) {
    get_json(path);
  }
  json::object summary = get_json("/api/v1/summaries");
  EXPECT_EQ(summary.at("data").as_object().at("self").as_object().at("role").as_string(), "origin");
}

}  // namespace
}  // namespace rw::admin
