#include "common/scripting/lua_apps.hpp"

#include <lua.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

namespace rw::scripting {

namespace asio = boost::asio;
using server::CallAnswer;
using server::ClientInfo;
using server::Decision;
using server::EventType;
using server::ServerEvent;
using server::StreamRequest;

// One application's script: its own Lua state, with the memory it may
// use and the instructions the running handler has left.
struct LuaApplications::Script : std::enable_shared_from_this<LuaApplications::Script> {
  std::string app;  // "" for the root
  std::filesystem::path file;
  std::filesystem::file_time_type mtime{};
  lua_State* L = nullptr;
  std::size_t memory_used = 0;
  std::size_t memory_limit = 0;
  // Set while a handler runs: only then does memory_limit apply. Our own
  // pushes between handlers (a client table, a call's arguments) get
  // kHeadroom more, since an allocation failing outside a protected call
  // would be Lua's panic, an abort.
  bool in_handler = false;
  std::string folder;  // the script's folder, for io.open
  std::uint64_t budget = 0;      // instructions per handler
  std::uint64_t executed = 0;    // by the running handler
  bool stopped = false;          // onStop called

  ~Script() {
    if (L) lua_close(L);
  }
};

namespace {

// The count hook runs every kHookInterval instructions.
constexpr int kHookInterval = 1000;
// Nesting of tables or AMF values converted either way.
constexpr int kMaxDepth = 16;
// Values converted from one Lua table tree (a script returning a huge
// table to a client).
constexpr int kMaxElements = 10'000;
// What our own pushes between handlers may allocate beyond a script's
// memory cap: client tables and arguments bounded by the session's limits
// on commands (128 KiB, 16384 AMF values).
constexpr std::size_t kHeadroom = 8u << 20;
// A client's properties (its connect's query string) kept in its table.
constexpr std::size_t kMaxProperties = 32;
constexpr std::size_t kMaxPropertyBytes = 1024;
// Addresses remembered for onHandshake's attempts.
constexpr std::size_t kMaxAttempts = 10'000;

const char kScriptKey = 's';  // registry key of the Script*
const char kAppsKey = 'a';    // registry key of the LuaApplications*

LuaApplications::Script* script_of(lua_State* L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kScriptKey);
  auto* script = static_cast<LuaApplications::Script*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  return script;
}

void* bounded_alloc(void* ud, void* ptr, std::size_t old_size, std::size_t new_size) {
  auto* script = static_cast<LuaApplications::Script*>(ud);
  if (!ptr) old_size = 0;  // then old_size is a type tag, not a size
  if (new_size == 0) {
    std::free(ptr);
    script->memory_used -= old_size;
    return nullptr;
  }
  const std::size_t limit = script->memory_limit + (script->in_handler ? 0 : kHeadroom);
  if (new_size > old_size && script->memory_used - old_size + new_size > limit) return nullptr;
  void* p = std::realloc(ptr, new_size);
  if (p) script->memory_used = script->memory_used - old_size + new_size;
  return p;
}

void count_hook(lua_State* L, lua_Debug*) {
  LuaApplications::Script* script = script_of(L);
  script->executed += kHookInterval;
  // Once over, the hook runs at every instruction and raises each time: a
  // script that catches the error with pcall in a loop meets it again at
  // the first instruction after the pcall, and so on out to the handler.
  if (script->executed > script->budget) {
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "instruction budget of %I exceeded", static_cast<lua_Integer>(script->budget));
  }
}

// --- values ------------------------------------------------------------

void push_value(lua_State* L, const amf::Value& v, int depth);

void push_properties(lua_State* L, const std::vector<amf::Property>& properties, int depth) {
  for (const auto& p : properties) {
    push_value(L, p.value, depth + 1);
    lua_setfield(L, -2, p.key.c_str());
  }
}

void push_value(lua_State* L, const amf::Value& v, int depth) {
  if (depth > kMaxDepth || !lua_checkstack(L, 4)) {
    lua_pushnil(L);
  } else if (v.is_bool()) {
    lua_pushboolean(L, v.as_bool());
  } else if (v.is_number()) {
    lua_pushnumber(L, v.as_number());
  } else if (v.is_string()) {
    const std::string_view s = v.as_string();
    lua_pushlstring(L, s.data(), s.size());
  } else if (const amf::Object* o = v.as_object()) {
    lua_createtable(L, 0, static_cast<int>(o->properties.size()));
    push_properties(L, o->properties, depth);
  } else if (const amf::Array* a = v.as_array()) {
    lua_createtable(L, static_cast<int>(a->dense.size()), static_cast<int>(a->assoc.size()));
    for (std::size_t i = 0; i < a->dense.size(); ++i) {
      push_value(L, a->dense[i], depth + 1);
      lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
    }
    push_properties(L, a->assoc, depth);
  } else {
    lua_pushnil(L);  // null, undefined, and what Lua has no use for
  }
}

amf::Value to_value(lua_State* L, int index, int depth, int& elements) {
  index = lua_absindex(L, index);
  if (++elements > kMaxElements) return amf::Null{};
  switch (lua_type(L, index)) {
    case LUA_TBOOLEAN: return amf::Value(lua_toboolean(L, index) != 0);
    case LUA_TNUMBER: return amf::Value(static_cast<double>(lua_tonumber(L, index)));
    case LUA_TSTRING: {
      std::size_t n = 0;
      const char* s = lua_tolstring(L, index, &n);
      return amf::Value(std::string(s, n));
    }
    case LUA_TTABLE: {
      if (depth >= kMaxDepth || !lua_checkstack(L, 4)) return amf::Null{};
      const lua_Unsigned length = lua_rawlen(L, index);
      // A sequence with nothing else is an array; anything else an object
      // of its string keys.
      std::size_t keys = 0;
      amf::Object object;
      lua_pushnil(L);
      while (lua_next(L, index) != 0) {
        ++keys;
        if (lua_type(L, -2) == LUA_TSTRING) {
          object.set(lua_tostring(L, -2), to_value(L, -1, depth + 1, elements));
        }
        lua_pop(L, 1);
      }
      if (length > 0 && keys == length) {
        amf::Array array;
        for (lua_Unsigned i = 1; i <= length; ++i) {
          lua_rawgeti(L, index, static_cast<lua_Integer>(i));
          array.dense.push_back(to_value(L, -1, depth + 1, elements));
          lua_pop(L, 1);
        }
        return amf::Value(std::move(array));
      }
      return amf::Value(std::move(object));
    }
    default: return amf::Null{};
  }
}

amf::Value to_value(lua_State* L, int index) {
  int elements = 0;
  return to_value(L, index, 0, elements);
}

// "path/main.lua:12: you are not Tom!" -> "you are not Tom!": what
// error("...") said, without where (the log keeps where).
std::string message_of(std::string_view error) {
  const auto lua = error.find(".lua:");
  if (lua == std::string_view::npos) return std::string(error);
  auto p = lua + 5;
  while (p < error.size() && error[p] >= '0' && error[p] <= '9') ++p;
  if (p + 1 < error.size() && error[p] == ':' && error[p + 1] == ' ') return std::string(error.substr(p + 2));
  return std::string(error);
}

// --- the sandbox -------------------------------------------------------

// io.open(path, mode) for a path relative to the application's folder,
// without "..": what a script may read and write.
int safe_open(lua_State* L) {
  // No C++ object with a destructor lives here: a Lua error is a longjmp.
  const char* path = luaL_checkstring(L, 1);
  bool escapes = path[0] == '\0' || path[0] == '/';
  for (const char* part = path; !escapes;) {  // each segment: none may be ".."
    const char* slash = std::strchr(part, '/');
    const std::size_t n = slash ? static_cast<std::size_t>(slash - part) : std::strlen(part);
    escapes = n == 2 && part[0] == '.' && part[1] == '.';
    if (!slash) break;
    part = slash + 1;
  }
  if (escapes) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: only files under the application's folder may be opened", path);
    return 2;
  }
  lua_pushvalue(L, lua_upvalueindex(1));  // the real io.open
  lua_pushfstring(L, "%s/%s", script_of(L)->folder.c_str(), path);
  if (lua_isnoneornil(L, 2)) {
    lua_pushliteral(L, "r");
  } else {
    lua_pushvalue(L, 2);
  }
  lua_call(L, 2, LUA_MULTRET);
  return lua_gettop(L) - 2;
}

// load() of text only: a bytecode chunk can crash the interpreter.
int text_load(lua_State* L) {
  const int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));  // the real load
  lua_pushvalue(L, 1);
  if (n >= 2) {
    lua_pushvalue(L, 2);
  } else {
    lua_pushnil(L);
  }
  lua_pushliteral(L, "t");
  if (n >= 4) lua_pushvalue(L, 4);
  lua_call(L, n >= 4 ? 4 : 3, LUA_MULTRET);
  return lua_gettop(L) - n;
}

// setmetatable without __gc: a finalizer runs with hooks off, where the
// instruction budget cannot stop it.
int safe_setmetatable(lua_State* L) {
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    const bool gc = lua_rawget(L, 2) != LUA_TNIL;
    lua_pop(L, 1);
    if (gc) return luaL_error(L, "__gc metamethods are not allowed in applications");
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

void remove_field(lua_State* L, const char* table, const char* field) {
  if (lua_getglobal(L, table) == LUA_TTABLE) {
    lua_pushnil(L);
    lua_setfield(L, -2, field);
  }
  lua_pop(L, 1);
}

void sandbox(lua_State* L) {
  luaL_openlibs(L);
  for (const char* name : {"dofile", "loadfile", "require", "package", "debug", "collectgarbage"}) {
    lua_pushnil(L);
    lua_setglobal(L, name);
  }
  for (const char* name : {"execute", "exit", "remove", "rename", "tmpname", "getenv", "setlocale"}) {
    remove_field(L, "os", name);
  }
  // io: only open, under the application's folder.
  lua_getglobal(L, "io");
  lua_getfield(L, -1, "open");
  lua_newtable(L);
  lua_insert(L, -2);
  lua_pushcclosure(L, safe_open, 1);
  lua_setfield(L, -2, "open");
  lua_setglobal(L, "io");
  lua_pop(L, 1);
  lua_getglobal(L, "load");
  lua_pushcclosure(L, text_load, 1);
  lua_setglobal(L, "load");
  lua_getglobal(L, "setmetatable");
  lua_pushcclosure(L, safe_setmetatable, 1);
  lua_setglobal(L, "setmetatable");
}

// --- client tables -----------------------------------------------------

LuaApplications* apps_of(lua_State* L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kAppsKey);
  auto* apps = static_cast<LuaApplications*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  return apps;
}

// The link of the client table at `index`, found by its id: a table a
// script kept after its client left finds nothing (an error, not a
// dangling pointer).
server::ClientLink* link_of(lua_State* L, int index) {
  luaL_checktype(L, index, LUA_TTABLE);
  lua_getfield(L, index, "id");
  const lua_Integer id = lua_tointeger(L, -1);
  lua_pop(L, 1);
  server::ClientLink* link = apps_of(L)->client_link(static_cast<std::uint64_t>(id));
  if (!link) luaL_error(L, "client %I is gone", id);
  return link;
}

// client.writer:writeInvocation(name, ...): calls a method of the client.
int write_invocation(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);  // the writer
  const char* name = luaL_checkstring(L, 2);
  lua_getfield(L, 1, "client");
  server::ClientLink* link = link_of(L, -1);
  lua_pop(L, 1);
  std::vector<amf::Value> args;
  for (int i = 3; i <= lua_gettop(L); ++i) args.push_back(to_value(L, i));
  link->invoke(name, std::move(args));
  return 0;
}

int client_close(lua_State* L) {
  server::ClientLink* link = link_of(L, 1);
  link->close(luaL_optstring(L, 2, "client:close()"));
  return 0;
}

int client_check_bandwidth(lua_State* L) {
  link_of(L, 1)->check_bandwidth();
  return 0;
}

// The query string "a=1&b=2" as a table (MonaServer's properties).
void push_properties_of(lua_State* L, std::string_view param) {
  lua_newtable(L);
  std::size_t count = 0;
  if (!param.empty() && param.front() == '?') param.remove_prefix(1);
  while (!param.empty()) {
    const auto amp = param.find('&');
    const std::string_view pair = param.substr(0, amp);
    const auto eq = pair.find('=');
    // Views only: this runs in a protected call, where a Lua error is a
    // longjmp. At most kMaxProperties keys: a client's table lives as long
    // as it does, in the script's memory.
    const std::string_view key = pair.substr(0, std::min(eq, pair.size()));
    const std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (!key.empty() && ++count <= kMaxProperties) {
      lua_pushlstring(L, key.data(), std::min(key.size(), kMaxPropertyBytes));
      lua_pushlstring(L, value.data(), std::min(value.size(), kMaxPropertyBytes));
      lua_rawset(L, -3);
    }
    if (amp == std::string_view::npos) break;
    param.remove_prefix(amp + 1);
  }
}

void push_client(lua_State* L, const ClientInfo& info);

// lua_pcall'd with the ClientInfo as light userdata: the client table in
// the registry, its reference returned. A script at its memory cap makes
// this fail as an error, not as Lua's panic.
int make_client(lua_State* L) {
  const auto* info = static_cast<const ClientInfo*>(lua_touserdata(L, 1));
  push_client(L, *info);
  lua_pushinteger(L, luaL_ref(L, LUA_REGISTRYINDEX));
  return 1;
}

// Lua's last word before it aborts the process (an error outside any
// protected call): say what it was.
int panic(lua_State* L) {
  const char* message = lua_tostring(L, -1);
  std::fprintf(stderr, "Lua panic (an error outside a protected call): %s\n", message ? message : "?");
  return 0;
}

void push_client(lua_State* L, const ClientInfo& info) {
  lua_newtable(L);
  lua_pushinteger(L, static_cast<lua_Integer>(info.connection_id));
  lua_setfield(L, -2, "id");
  lua_pushstring(L, info.ip.c_str());
  lua_setfield(L, -2, "address");
  lua_pushstring(L, info.app.c_str());
  lua_setfield(L, -2, "path");
  lua_pushliteral(L, "RTMP");
  lua_setfield(L, -2, "protocol");
  lua_pushstring(L, info.tc_url.c_str());
  lua_setfield(L, -2, "tcUrl");
  lua_pushstring(L, info.page_url.c_str());
  lua_setfield(L, -2, "pageUrl");
  push_properties_of(L, info.param);
  lua_setfield(L, -2, "properties");
  lua_pushcfunction(L, client_close);
  lua_setfield(L, -2, "close");
  lua_pushcfunction(L, client_check_bandwidth);
  lua_setfield(L, -2, "checkBandwidth");
  // client.writer:writeInvocation(...)
  lua_newtable(L);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "client");
  lua_pushcfunction(L, write_invocation);
  lua_setfield(L, -2, "writeInvocation");
  lua_setfield(L, -2, "writer");
}

// --- ProxyStream ---------------------------------------------------------

const char kProxyMethods = 'p';  // registry key of ProxyStream's methods table

// ps:proxyFrom(localName[, remoteName]): FMS 3.5's ProxyStream.proxyFrom.
int proxy_from(lua_State* L) {
  // Every check that may raise comes first: a Lua error is a longjmp, and
  // the strings below must not be alive then.
  luaL_checktype(L, 1, LUA_TTABLE);
  const char* local = luaL_checkstring(L, 2);
  const char* remote = luaL_optstring(L, 3, local);
  LuaApplications* apps = apps_of(L);
  if (!apps->proxies()) return luaL_error(L, "ProxyStream needs a relay or an edge (this server has no upstream)");
  lua_getfield(L, 1, "__id");
  const bool pulling = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (pulling) return luaL_error(L, "this ProxyStream already pulls a stream: stop it first");
  lua_getfield(L, 1, "url");
  const char* url = luaL_checkstring(L, -1);  // kept alive by the stack until we return
  const std::uint64_t own = apps->next_proxy_id();
  const std::uint64_t pull = apps->proxies()->proxy_from(
      url, local, remote, [apps, own](std::string code, std::string level, std::string description) {
        apps->proxy_status(own, std::move(code), std::move(level), std::move(description));
      });
  lua_pop(L, 1);
  // Raw: a __newindex of the script's must not leave the pull unkept.
  lua_pushliteral(L, "__id");
  lua_pushinteger(L, static_cast<lua_Integer>(own));
  lua_rawset(L, 1);
  lua_pushliteral(L, "__pull");
  lua_pushinteger(L, static_cast<lua_Integer>(pull));
  lua_rawset(L, 1);
  lua_pushvalue(L, 1);
  apps->keep_proxy(own, *script_of(L));
  return 0;
}

// ps:stop(): the pull ends; onStatus hears ProxyStream.Proxy.Stop.
int proxy_stop(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "__pull");
  const lua_Integer pull = lua_tointeger(L, -1);
  lua_pop(L, 1);
  LuaApplications* apps = apps_of(L);
  if (pull == 0 || !apps->proxies()) return 0;
  lua_pushliteral(L, "__stopping");
  lua_pushboolean(L, 1);
  lua_rawset(L, 1);
  apps->proxies()->stop_proxy(static_cast<std::uint64_t>(pull));
  return 0;
}

// ProxyStream.new(url): a ProxyStream of the upstream application at url.
int proxy_new(lua_State* L) {
  const char* url = luaL_checkstring(L, 1);
  lua_newtable(L);
  lua_pushstring(L, url);
  lua_setfield(L, -2, "url");
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kProxyMethods);
  lua_setmetatable(L, -2);
  return 1;
}

void install_proxy_stream(lua_State* L) {
  lua_newtable(L);  // the metatable: methods through __index
  lua_newtable(L);
  lua_pushcfunction(L, proxy_from);
  lua_setfield(L, -2, "proxyFrom");
  lua_pushcfunction(L, proxy_stop);
  lua_setfield(L, -2, "stop");
  lua_setfield(L, -2, "__index");
  lua_pushboolean(L, 0);  // getmetatable(ps) is false: scripts cannot change it
  lua_setfield(L, -2, "__metatable");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kProxyMethods);
  lua_newtable(L);
  lua_pushcfunction(L, proxy_new);
  lua_setfield(L, -2, "new");
  lua_setglobal(L, "ProxyStream");
}

// Runs the function on the stack with its `nargs` arguments under the
// script's budget. True when it returned (its `nresults` results on the
// stack); false after an error, whose message is in `error` (and logged).
bool run(LuaApplications::Script& script, Logger& log, const char* what, int nargs, int nresults,
         std::string* error = nullptr) {
  lua_State* L = script.L;
  script.executed = 0;
  lua_sethook(L, count_hook, LUA_MASKCOUNT, kHookInterval);
  script.in_handler = true;
  const int status = lua_pcall(L, nargs, nresults, 0);
  script.in_handler = false;
  if (status == LUA_OK) return true;
  std::string message;
  if (const char* text = lua_tostring(L, -1)) {
    message = text;
  }
  lua_pop(L, 1);
  log.warn() << "script " << script.file.string() << ": " << what << ": "
             << (message.empty() ? std::string("error without a message") : log_escape(message, 512));
  if (error) *error = message;
  return false;
}

// Outside a handler every access is raw: a metamethod a script set (on
// _G, on a client table) would run unprotected, and its error would be
// Lua's panic.
int raw_field(lua_State* L, int index, const char* name) {
  index = lua_absindex(L, index);
  lua_pushstring(L, name);
  return lua_rawget(L, index);
}

// Pushes global `name` if it is a function: true; otherwise pushes nothing.
bool push_handler(lua_State* L, const char* name) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  const bool found = raw_field(L, -1, name) == LUA_TFUNCTION;
  lua_remove(L, -2);
  if (!found) lua_pop(L, 1);
  return found;
}

}  // namespace

LuaApplications::LuaApplications(ScriptOptions options, Logger& log)
    : options_(std::move(options)), log_(log), work_(io_.get_executor()), manage_timer_(io_) {
  thread_ = std::thread([this] { io_.run(); });
}

std::unique_ptr<LuaApplications> LuaApplications::from(const config::Config& config, Logger& log) {
  if (config.apps_dir().empty()) return nullptr;
  ScriptOptions options;
  options.apps_dir = config.apps_dir();
  options.instruction_budget = config.scripts().instruction_budget();
  options.memory_bytes = config.scripts().memory_bytes();
  options.manage_interval = std::chrono::milliseconds(std::max<std::uint32_t>(config.scripts().manage_interval_ms(), 10));
  return std::make_unique<LuaApplications>(std::move(options), log);
}

LuaApplications::~LuaApplications() {
  asio::post(io_, [this] {
    manage_timer_.cancel();
    for (auto& [app, script] : scripts_) unload(*script);
    clients_.clear();
    scripts_.clear();
  });
  work_.reset();
  thread_.join();
}

void LuaApplications::start() {
  asio::post(io_, [this] {
    script_for("");
    manage();
  });
}

void LuaApplications::manage() {
  auto it = scripts_.find("");
  if (it != scripts_.end() && it->second && push_handler(it->second->L, "onManage")) {
    run(*it->second, log_, "onManage", 0, 0);
  }
  manage_timer_.expires_after(options_.manage_interval);
  manage_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) manage();
  });
}

std::shared_ptr<LuaApplications::Script> LuaApplications::load(const std::string& app,
                                                               const std::filesystem::path& file) {
  auto script = std::make_shared<Script>();
  script->app = app;
  script->file = file;
  std::error_code ec;
  script->mtime = std::filesystem::last_write_time(file, ec);
  script->memory_limit = options_.memory_bytes;
  script->folder = file.parent_path().string();
  script->budget = options_.instruction_budget;
  script->L = lua_newstate(bounded_alloc, script.get());
  if (!script->L) {
    log_.error() << "script " << file.string() << ": no memory for a Lua state";
    return nullptr;
  }
  lua_State* L = script->L;
  lua_atpanic(L, panic);
  lua_pushlightuserdata(L, script.get());
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kScriptKey);
  lua_pushlightuserdata(L, this);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kAppsKey);
  sandbox(L);
  install_proxy_stream(L);
  lua_sethook(L, count_hook, LUA_MASKCOUNT, kHookInterval);
  const std::string chunk_name = "@" + file.string();
  // Read by us, loaded as text: the chunk runs under the budget too.
  std::string code;
  if (FILE* f = std::fopen(file.c_str(), "rb")) {
    char buffer[4096];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0 && code.size() < (4u << 20)) code.append(buffer, n);
    std::fclose(f);
  }
  if (luaL_loadbufferx(L, code.data(), code.size(), chunk_name.c_str(), "t") != LUA_OK) {
    log_.warn() << "script " << file.string() << ": " << log_escape(lua_tostring(L, -1), 512);
    return nullptr;
  }
  if (!run(*script, log_, "loading", 0, 0)) return nullptr;
  log_.info() << "script " << file.string() << " loaded for application "
              << (app.empty() ? std::string("(root)") : log_field(app));
  if (push_handler(L, "onStart")) {
    lua_pushstring(L, app.c_str());
    run(*script, log_, "onStart", 1, 0);
  }
  return script;
}

void LuaApplications::unload(Script& script) {
  if (script.stopped || !script.L) return;
  script.stopped = true;
  if (push_handler(script.L, "onStop")) {
    lua_pushstring(script.L, script.app.c_str());
    run(script, log_, "onStop", 1, 0);
  }
}

std::shared_ptr<LuaApplications::Script> LuaApplications::script_for(const std::string& app) {
  std::filesystem::path file = app.empty() ? options_.apps_dir / "main.lua" : options_.apps_dir / app / "main.lua";
  std::error_code ec;
  if (!app.empty() && !std::filesystem::exists(file, ec)) return script_for("");
  auto& slot = scripts_[app];
  const auto mtime = std::filesystem::last_write_time(file, ec);
  if (ec) {
    // No script (a root application is optional): nothing decides.
    slot.reset();
    return nullptr;
  }
  if (slot && slot->mtime == mtime) return slot;
  if (auto failed = failed_.find(app); failed != failed_.end() && failed->second == mtime) return nullptr;
  if (slot) {
    // Changed on disk: the old state keeps its clients, new ones get the
    // new script.
    log_.info() << "script " << file.string() << " changed: reloading";
    unload(*slot);
  }
  slot = load(app, file);
  if (slot) {
    slot->mtime = mtime;
    failed_.erase(app);
  } else {
    failed_[app] = mtime;  // logged once, not at every connect
  }
  return slot;
}

// --- decisions ----------------------------------------------------------

asio::awaitable<Decision> LuaApplications::on_connect(ClientInfo client, std::shared_ptr<server::ClientLink> link,
                                                      std::vector<amf::Value> args) {
  co_return co_await asio::co_spawn(io_, connect_there(std::move(client), std::move(link), std::move(args)),
                                    asio::use_awaitable);
}

asio::awaitable<Decision> LuaApplications::on_publish(ClientInfo client, StreamRequest stream) {
  co_return co_await asio::co_spawn(io_, stream_there("onPublish", std::move(client), std::move(stream)),
                                    asio::use_awaitable);
}

asio::awaitable<Decision> LuaApplications::on_play(ClientInfo client, StreamRequest stream) {
  co_return co_await asio::co_spawn(io_, stream_there("onPlay", std::move(client), std::move(stream)),
                                    asio::use_awaitable);
}

asio::awaitable<CallAnswer> LuaApplications::on_call(ClientInfo client, std::string name,
                                                     std::vector<amf::Value> args) {
  co_return co_await asio::co_spawn(io_, call_there(std::move(client), std::move(name), std::move(args)),
                                    asio::use_awaitable);
}

asio::awaitable<Decision> LuaApplications::connect_there(ClientInfo client, std::shared_ptr<server::ClientLink> link,
                                                         std::vector<amf::Value> args) {
  std::shared_ptr<Script> script = script_for(client.app);
  if (!script) {
    // No script: nothing to decide. A script that does not load refuses
    // (it may be what keeps strangers out), until it is fixed on disk.
    const bool own = failed_.count(client.app) > 0;
    if (own || (failed_.count("") > 0 && !std::filesystem::exists(options_.apps_dir / client.app / "main.lua"))) {
      co_return Decision::deny("application script failed to load");
    }
    co_return Decision::allow();
  }
  lua_State* L = script->L;

  if (push_handler(L, "onHandshake")) {
    if (attempts_.size() >= kMaxAttempts) attempts_.clear();
    const std::uint32_t attempts = ++attempts_[client.ip];
    lua_pushstring(L, client.ip.c_str());
    lua_pushstring(L, client.app.c_str());
    push_properties_of(L, client.param);
    lua_pushinteger(L, attempts);
    if (run(*script, log_, "onHandshake", 4, 1)) {
      Decision d;
      if (lua_type(L, -1) == LUA_TSTRING) d.redirect = lua_tostring(L, -1);
      lua_pop(L, 1);
      if (!d.redirect.empty()) co_return d;
    }
  }

  lua_pushcfunction(L, make_client);
  lua_pushlightuserdata(L, &client);
  script->in_handler = false;
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    log_.warn() << "script " << script->file.string() << ": no memory for a client: "
                << log_escape(lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
    lua_pop(L, 1);
    co_return Decision::deny("the application is out of memory");
  }
  const int client_ref = static_cast<int>(lua_tointeger(L, -1));
  lua_pop(L, 1);
  // Known from here: onConnection may already call the client.
  clients_[client.connection_id] = Known{script, client_ref, std::move(link)};
  Decision decision;
  if (push_handler(L, "onConnection")) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, client_ref);
    for (const auto& a : args) push_value(L, a, 0);
    std::string error;
    if (run(*script, log_, "onConnection", 1 + static_cast<int>(args.size()), 1, &error)) {
      if (lua_istable(L, -1)) {
        amf::Value info = to_value(L, -1);
        if (amf::Object* fields = info.as_object()) decision.info = std::move(*fields);
      }
      lua_pop(L, 1);
    } else {
      const std::string message = message_of(error);
      decision = Decision::deny(message.empty() ? "client rejected" : message);
    }
  }
  if (!decision.allowed) {
    luaL_unref(L, LUA_REGISTRYINDEX, client_ref);
    clients_.erase(client.connection_id);
  }
  co_return decision;
}

asio::awaitable<Decision> LuaApplications::stream_there(std::string event, ClientInfo client, StreamRequest stream) {
  auto it = clients_.find(client.connection_id);
  if (it == clients_.end()) co_return Decision::allow();
  Script& script = *it->second.script;
  lua_State* L = script.L;
  if (!push_handler(L, event.c_str())) co_return Decision::allow();
  lua_rawgeti(L, LUA_REGISTRYINDEX, it->second.client_ref);
  lua_pushstring(L, stream.name.c_str());
  lua_pushstring(L, stream.param.c_str());
  std::string error;
  if (run(script, log_, event.c_str(), 3, 0, &error)) co_return Decision::allow();
  const std::string message = message_of(error);
  co_return Decision::deny(message.empty() ? event + " rejected" : message);
}

asio::awaitable<CallAnswer> LuaApplications::call_there(ClientInfo client, std::string name,
                                                        std::vector<amf::Value> args) {
  auto it = clients_.find(client.connection_id);
  if (it == clients_.end()) co_return CallAnswer{};
  Script& script = *it->second.script;
  lua_State* L = script.L;
  const int top = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, it->second.client_ref);
  // A method of the client (function client:onMessage(...) in
  // onConnection), else onCommand(client, name, ...).
  bool method = false;
  // Only what the script defined: the built-in close and checkBandwidth
  // are the script's to call, not the client's.
  if (raw_field(L, -1, name.c_str()) == LUA_TFUNCTION && !lua_iscfunction(L, -1)) {
    method = true;
    lua_insert(L, -2);  // function, client
  } else {
    lua_pop(L, 1);
    if (!push_handler(L, "onCommand")) {
      lua_settop(L, top);
      co_return CallAnswer{};
    }
    lua_insert(L, -2);  // onCommand, client
    lua_pushstring(L, name.c_str());
  }
  for (const auto& a : args) push_value(L, a, 0);
  const int nargs = lua_gettop(L) - top - 1;
  CallAnswer answer;
  answer.handled = true;
  std::string error;
  if (run(script, log_, method ? name.c_str() : "onCommand", nargs, 1, &error)) {
    answer.value = to_value(L, -1);
  } else {
    answer.ok = false;
    answer.error = message_of(error);
    if (answer.error.empty()) answer.error = name + " failed";
  }
  lua_settop(L, top);
  co_return answer;
}

void LuaApplications::keep_proxy(std::uint64_t id, Script& script) {
  proxies_kept_[id] = KeptProxy{script.weak_from_this(), luaL_ref(script.L, LUA_REGISTRYINDEX)};
}

void LuaApplications::forget_proxy(std::uint64_t id) {
  auto it = proxies_kept_.find(id);
  if (it == proxies_kept_.end()) return;
  if (auto script = it->second.script.lock()) luaL_unref(script->L, LUA_REGISTRYINDEX, it->second.ref);
  proxies_kept_.erase(it);
}

void LuaApplications::proxy_status(std::uint64_t id, std::string code, std::string level, std::string description) {
  asio::post(io_, [this, id, code = std::move(code), level = std::move(level), description = std::move(description)] {
    auto it = proxies_kept_.find(id);
    if (it == proxies_kept_.end()) return;
    std::shared_ptr<Script> script = it->second.script.lock();
    if (!script) {
      proxies_kept_.erase(it);
      return;
    }
    lua_State* L = script->L;
    const int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, it->second.ref);
    const bool stopping = raw_field(L, -1, "__stopping") != LUA_TNIL;
    lua_pop(L, 1);
    if (raw_field(L, -1, "onStatus") == LUA_TFUNCTION) {
      lua_createtable(L, 0, 3);
      lua_pushstring(L, code.c_str());
      lua_setfield(L, -2, "code");
      lua_pushstring(L, level.c_str());
      lua_setfield(L, -2, "level");
      lua_pushstring(L, description.c_str());
      lua_setfield(L, -2, "description");
      run(*script, log_, "ProxyStream onStatus", 1, 0);
    }
    lua_settop(L, top);
    if (stopping && code == "ProxyStream.Proxy.Stop") forget_proxy(id);
  });
}

server::ClientLink* LuaApplications::client_link(std::uint64_t connection_id) const {
  auto it = clients_.find(connection_id);
  return it == clients_.end() ? nullptr : it->second.link.get();
}

void LuaApplications::subscribe(server::EventBus& bus) {
  bus.subscribe([this](const ServerEvent& event) {
    if (event.type != EventType::Disconnect && event.type != EventType::Unpublish && event.type != EventType::Stop) {
      return;
    }
    asio::post(io_, [this, event] { event_there(event); });
  });
}

void LuaApplications::event_there(const ServerEvent& event) {
  auto it = clients_.find(event.connection_id);
  if (it == clients_.end()) return;
  Script& script = *it->second.script;
  lua_State* L = script.L;
  const int ref = it->second.client_ref;
  const char* handler = event.type == EventType::Disconnect ? "onDisconnection"
                        : event.type == EventType::Unpublish ? "onUnpublish"
                                                             : "onStop";
  if (push_handler(L, handler)) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    int nargs = 1;
    if (event.type != EventType::Disconnect) {
      lua_pushstring(L, event.stream.c_str());
      ++nargs;
    }
    run(script, log_, handler, nargs, 0);
  }
  if (event.type == EventType::Disconnect) {
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    clients_.erase(it);
  }
}

}  // namespace rw::scripting
