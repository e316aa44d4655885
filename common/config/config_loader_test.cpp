#include "common/config/config_loader.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace rw::config {
namespace {

Expected<Loaded, std::string> load_args(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  return load(args, env);
}

std::string write_temp(const std::string& text) {
  char path[] = "/tmp/rewind-config-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  std::FILE* f = fdopen(fd, "w");
  std::fputs(text.c_str(), f);
  std::fclose(f);
  return path;
}

TEST(ConfigLoader, DefaultsRunABareBinary) {
  auto c = load_args({});
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->config.listen(), "0.0.0.0:1935");
  EXPECT_EQ(c->config.rtmp().chunk_size(), 4096u);
  EXPECT_FALSE(c->help);
}

TEST(ConfigLoader, FlagsOverrideEnvironmentOverrideFile) {
  std::string file = write_temp("listen: \"127.0.0.1:1000\"\nthreads: 3\nrtmp { chunk_size: 1024 }\n");
  auto c = load_args({"--config", file, "--rtmp.chunk-size=8192", "--data-dir", "/tmp/d"},
                     {{"REWIND_THREADS", "2"}, {"REWIND_RTMP_CHUNK_SIZE", "2048"}});
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->config.listen(), "127.0.0.1:1000");
  EXPECT_EQ(c->config.threads(), 2u);                 // env over file
  EXPECT_EQ(c->config.rtmp().chunk_size(), 8192u);    // flag over env
  EXPECT_EQ(c->config.data_dir(), "/tmp/d");
  std::remove(file.c_str());
}

TEST(ConfigLoader, PerApplicationFlags) {
  auto c = load_args({"--app.live.name=live", "--app.radio.name", "radio"});
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->config.app_size(), 2);
  EXPECT_EQ(c->config.app(0).name(), "live");
  EXPECT_EQ(c->config.app(1).name(), "radio");
}

TEST(ConfigLoader, UpstreamsAreRepeatableAndOrdered) {
  // The form the relay and edge docs give.
  auto c = load_args({"--listen", "127.0.0.1:1937", "--data-dir", "edge-data", "--upstream", "rtmp://127.0.0.1:1936",
                      "--upstream", "rtmp://127.0.0.1:1938"});
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->config.upstream_size(), 2);
  EXPECT_EQ(c->config.upstream(0), "rtmp://127.0.0.1:1936");
  EXPECT_EQ(c->config.upstream(1), "rtmp://127.0.0.1:1938");

  // Flags replace the file's list; the environment takes a comma list.
  std::string file = write_temp("upstream: \"rtmp://a\"\nupstream: \"rtmp://b\"\n"
                                "app { name: \"live\" upstream: \"rtmp://c/other\" static_proxy { local: \"cam\" } }\n");
  auto from_file = load_args({"--config", file});
  ASSERT_TRUE(from_file) << from_file.error();
  EXPECT_EQ(from_file->config.upstream_size(), 2);
  EXPECT_EQ(from_file->config.app(0).upstream(0), "rtmp://c/other");
  EXPECT_EQ(from_file->config.app(0).static_proxy(0).local(), "cam");
  auto flag_wins = load_args({"--config", file, "--upstream", "rtmp://z"});
  ASSERT_TRUE(flag_wins) << flag_wins.error();
  ASSERT_EQ(flag_wins->config.upstream_size(), 1);
  EXPECT_EQ(flag_wins->config.upstream(0), "rtmp://z");
  auto env = load_args({}, {{"REWIND_UPSTREAM", "rtmp://x:1,rtmp://y:2"}});
  ASSERT_TRUE(env) << env.error();
  ASSERT_EQ(env->config.upstream_size(), 2);
  EXPECT_EQ(env->config.upstream(1), "rtmp://y:2");
  auto per_app = load_args({"--app.live.upstream", "rtmp://p", "--app.live.upstream", "rtmp://q"});
  ASSERT_TRUE(per_app) << per_app.error();
  EXPECT_EQ(per_app->config.app(0).upstream_size(), 2);
  std::remove(file.c_str());

  auto bad = load_args({"--upstream", "http://x"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("rtmp://HOST[:PORT][/APP]"), std::string::npos) << bad.error();
  auto bad_id = load_args({"--server-id", "a,b"});
  ASSERT_FALSE(bad_id);
  EXPECT_NE(bad_id.error().find("server_id"), std::string::npos) << bad_id.error();
}

TEST(ConfigLoader, BadValuesNameTheKeyAndTheReason) {
  auto bad_listen = load_args({"--listen", "nonsense"});
  ASSERT_FALSE(bad_listen);
  EXPECT_NE(bad_listen.error().find("listen"), std::string::npos);
  EXPECT_NE(bad_listen.error().find("HOST:PORT"), std::string::npos);
  EXPECT_NE(bad_listen.error().find("flag --listen"), std::string::npos);

  auto bad_number = load_args({}, {{"REWIND_RTMP_CHUNK_SIZE", "big"}});
  ASSERT_FALSE(bad_number);
  EXPECT_NE(bad_number.error().find("rtmp.chunk_size"), std::string::npos);
  EXPECT_NE(bad_number.error().find("REWIND_RTMP_CHUNK_SIZE"), std::string::npos);

  auto out_of_range = load_args({"--rtmp.chunk-size=50"});
  ASSERT_FALSE(out_of_range);
  EXPECT_NE(out_of_range.error().find("from 128 to 65536"), std::string::npos);

  auto unknown = load_args({"--no-such-thing=1"});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().find("unknown setting"), std::string::npos);

  auto bad_app = load_args({"--app.x.name=../etc"});
  ASSERT_FALSE(bad_app);
  EXPECT_NE(bad_app.error().find("app.name"), std::string::npos);
}

TEST(ConfigLoader, FileSyntaxErrorsGiveLineAndColumn) {
  std::string file = write_temp("listen: \"127.0.0.1:1\"\nrtmp { chunk_sise: 5 }\n");
  auto c = load_args({"--config=" + file});
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find(file + ":2:"), std::string::npos) << c.error();
  EXPECT_NE(c.error().find("chunk_sise"), std::string::npos) << c.error();
  std::remove(file.c_str());
  EXPECT_FALSE(load_args({"--config", "/nonexistent/file"}));
}

TEST(ConfigLoader, HelpListsEverySettingWithFlagAndEnvironment) {
  auto c = load_args({"--help"});
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->help);
  std::string help = help_text("rewind-origin", "summary");
  EXPECT_NE(help.find("--listen"), std::string::npos);
  EXPECT_NE(help.find("REWIND_DATA_DIR"), std::string::npos);
  EXPECT_NE(help.find("--rtmp.chunk-size"), std::string::npos);
  EXPECT_NE(help.find("default 4096"), std::string::npos);
}

TEST(ConfigLoader, ParsesHostPort) {
  std::string host;
  std::uint16_t port = 0;
  EXPECT_TRUE(parse_host_port("127.0.0.1:1935", host, port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 1935);
  EXPECT_TRUE(parse_host_port("[::1]:0", host, port));
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(parse_host_port("1935", host, port));
  EXPECT_FALSE(parse_host_port("host:99999", host, port));
  EXPECT_FALSE(parse_host_port("host:", host, port));
}

}  // namespace
}  // namespace rw::config
