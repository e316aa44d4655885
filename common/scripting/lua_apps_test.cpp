// The Lua applications driven as a connection drives them: decisions and
// calls awaited from a coroutine on another thread (the test's io_context,
// standing for a worker).
#include "common/scripting/lua_apps.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <fstream>

namespace rw::scripting {
namespace {

namespace asio = boost::asio;

class NoLink : public server::ClientLink {
 public:
  void invoke(std::string name, std::vector<amf::Value>) override { invoked.push_back(name); }
  void close(std::string) override {}
  void check_bandwidth() override {}
  std::vector<std::string> invoked;
};

class LuaAppsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("rewind-lua-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& relative, const std::string& code) {
    std::filesystem::create_directories((dir_ / relative).parent_path());
    std::ofstream(dir_ / relative) << code;
  }

  std::unique_ptr<LuaApplications> apps(std::uint64_t budget = 1'000'000) {
    ScriptOptions options;
    options.apps_dir = dir_;
    options.instruction_budget = budget;
    auto a = std::make_unique<LuaApplications>(options, log_);
    a->start();
    return a;
  }

  // Runs `awaitable` on the test's io_context (another thread than the
  // scripts') and returns its result.
  template <class T>
  T await(asio::awaitable<T> awaitable) {
    asio::io_context io;
    auto future = asio::co_spawn(io, std::move(awaitable), asio::use_future);
    io.run();
    return future.get();
  }

  server::ClientInfo client(std::uint64_t id, std::string app = "live") {
    server::ClientInfo c;
    c.connection_id = id;
    c.ip = "127.0.0.1";
    c.app = std::move(app);
    return c;
  }

  std::filesystem::path dir_;
  Logger log_{LogLevel::Error, [](LogLevel, std::string_view) {}};
};

TEST_F(LuaAppsTest, AcceptsWithFieldsRejectsWithAMessage) {
  write("main.lua", R"(
    function onConnection(client, name)
      if name == "Tom" then return {message = "welcome", id = client.id} end
      if name == "nobody" then error() end
      error("you are not Tom!")
    end)");
  auto a = apps();
  auto link = std::make_shared<NoLink>();
  server::Decision ok = await(a->on_connect(client(7), link, {amf::Value(std::string("Tom"))}));
  EXPECT_TRUE(ok.allowed);
  ASSERT_NE(ok.info.find("message"), nullptr);
  EXPECT_EQ(ok.info.find("message")->as_string(), "welcome");
  EXPECT_EQ(ok.info.find("id")->as_number(), 7);
  server::Decision no = await(a->on_connect(client(8), link, {amf::Value(std::string("Jerry"))}));
  EXPECT_FALSE(no.allowed);
  EXPECT_EQ(no.description, "you are not Tom!");
  server::Decision none = await(a->on_connect(client(9), link, {amf::Value(std::string("nobody"))}));
  EXPECT_FALSE(none.allowed);
  EXPECT_EQ(none.description, "client rejected");
}

TEST_F(LuaAppsTest, ClientMethodsAnswerCalls) {
  write("main.lua", R"(
    function onConnection(client)
      function client:onMessage(text) return "echo " .. text end
      function client:fails() error("no way") end
      client.writer:writeInvocation("hello", 1)
    end)");
  auto a = apps();
  auto link = std::make_shared<NoLink>();
  ASSERT_TRUE(await(a->on_connect(client(1), link, {})).allowed);
  server::CallAnswer answer = await(a->on_call(client(1), "onMessage", {amf::Value(std::string("hi"))}));
  EXPECT_TRUE(answer.handled && answer.ok);
  EXPECT_EQ(answer.value.as_string(), "echo hi");
  server::CallAnswer failed = await(a->on_call(client(1), "fails", {}));
  EXPECT_TRUE(failed.handled);
  EXPECT_FALSE(failed.ok);
  EXPECT_EQ(failed.error, "no way");
  EXPECT_FALSE(await(a->on_call(client(1), "unknown", {})).handled);
  EXPECT_FALSE(await(a->on_call(client(1), "close", {})).handled);  // built-ins are not the client's to call
  EXPECT_EQ(link->invoked, std::vector<std::string>{"hello"});
}

TEST_F(LuaAppsTest, AnEndlessLoopIsCutOffAndTheStateGoesOn) {
  write("main.lua", R"(
    function onConnection(client, how)
      if how == "loop" then while true do end end
      if how == "pcall" then while true do pcall(function() while true do end end) end end
    end)");
  auto a = apps(100'000);
  auto link = std::make_shared<NoLink>();
  EXPECT_FALSE(await(a->on_connect(client(1), link, {amf::Value(std::string("loop"))})).allowed);
  EXPECT_FALSE(await(a->on_connect(client(2), link, {amf::Value(std::string("pcall"))})).allowed);
  EXPECT_TRUE(await(a->on_connect(client(3), link, {})).allowed);
}

TEST_F(LuaAppsTest, TheSandboxHasNoWayOut) {
  write("main.lua", R"(
    function onConnection(client, what)
      if what == "execute" then os.execute("true") end
      if what == "popen" then io.popen("true") end
      if what == "escape" then assert(io.open("../outside", "w")) end
      if what == "bytecode" then assert(load(string.dump(function() end)))() end
      if what == "inside" then local f = assert(io.open("data.txt", "w")); f:write("x"); f:close() end
      if what == "memory" then local t = {} for i = 1, 1e8 do t[i] = string.rep("x", 1000) .. i end end
      if what == "gc" then setmetatable({}, {__gc = function() while true do end end}) end
      if what == "deep" then assert(io.open("a/../../outside", "w")) end
      if what == "metatable" then
        setmetatable(_G, {__index = function() error("a trap") end})
        setmetatable(client, {__index = function() error("another trap") end})
      end
    end)");
  auto a = apps(1'000'000'000);
  auto link = std::make_shared<NoLink>();
  std::uint64_t id = 1;
  for (const char* refused : {"execute", "popen", "escape", "deep", "bytecode", "memory", "gc"}) {
    EXPECT_FALSE(await(a->on_connect(client(id++), link, {amf::Value(std::string(refused))})).allowed) << refused;
  }
  EXPECT_TRUE(await(a->on_connect(client(id++), link, {amf::Value(std::string("inside"))})).allowed);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "data.txt"));
  // Metamethods that raise on every lookup: the server's own lookups
  // (handlers it looks for, a client's methods) are raw, so nothing
  // raises outside a protected call (which would abort the process).
  const std::uint64_t trapped = id++;
  EXPECT_TRUE(await(a->on_connect(client(trapped), link, {amf::Value(std::string("metatable"))})).allowed);
  EXPECT_FALSE(await(a->on_call(client(trapped), "nothing", {})).handled);
  EXPECT_TRUE(await(a->on_publish(client(trapped), server::StreamRequest{"cam", ""})).allowed);
  EXPECT_FALSE(std::filesystem::exists(dir_.parent_path() / "outside"));
}

TEST_F(LuaAppsTest, AnApplicationScriptAndItsReload) {
  write("main.lua", "function onConnection() return {from = 'root'} end");
  write("vod/main.lua", "function onConnection() return {from = 'vod'} end");
  auto a = apps();
  auto link = std::make_shared<NoLink>();
  EXPECT_EQ(await(a->on_connect(client(1, "live"), link, {})).info.find("from")->as_string(), "root");
  EXPECT_EQ(await(a->on_connect(client(2, "vod"), link, {})).info.find("from")->as_string(), "vod");
  write("vod/main.lua", "function onConnection() return {from = 'vod2'} end");
  std::filesystem::last_write_time(dir_ / "vod/main.lua",
                                   std::filesystem::last_write_time(dir_ / "vod/main.lua") + std::chrono::seconds(2));
  EXPECT_EQ(await(a->on_connect(client(3, "vod"), link, {})).info.find("from")->as_string(), "vod2");
}

TEST_F(LuaAppsTest, AScriptThatDoesNotLoadRefusesUntilFixed) {
  write("main.lua", "function onConnection( -- a syntax error");
  auto a = apps();
  auto link = std::make_shared<NoLink>();
  server::Decision d = await(a->on_connect(client(1), link, {}));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.description, "application script failed to load");
  write("main.lua", "function onConnection() end");
  std::filesystem::last_write_time(dir_ / "main.lua",
                                   std::filesystem::last_write_time(dir_ / "main.lua") + std::chrono::seconds(2));
  EXPECT_TRUE(await(a->on_connect(client(2), link, {})).allowed);
}

}  // namespace
}  // namespace rw::scripting
