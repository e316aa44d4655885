#include "common/config/config_loader.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include "common/base/log.hpp"
#include "common/cluster/upstream_url.hpp"
#include "common/media/stream_name.hpp"

namespace rw::config {

namespace pb = google::protobuf;

namespace {

constexpr std::string_view kEnvPrefix = "REWIND_";

// A settable leaf of the schema: "rtmp.chunk_size".
struct Key {
  std::string path;
  const pb::FieldDescriptor* field;
};

void collect_keys(const pb::Descriptor* d, const std::string& prefix, std::vector<Key>& out) {
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    std::string path = prefix.empty() ? f->name() : prefix + "." + f->name();
    // Per-application keys are app.NAME.FIELD, listed apart; a list of
    // scalars (upstream) is a key given once per element.
    if (f->is_repeated() && f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (path == "default_app.name") continue;  // the defaults belong to no one application
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      collect_keys(f->message_type(), path, out);
    } else {
      out.push_back({path, f});
    }
  }
}

std::vector<Key> all_keys() {
  std::vector<Key> keys;
  collect_keys(Config::descriptor(), "", keys);
  return keys;
}

std::string env_name(const std::string& path) {
  std::string s(kEnvPrefix);
  for (char c : path) s += (c == '.') ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string flag_name(const std::string& path) {
  std::string s = "--";
  for (char c : path) s += (c == '_') ? '-' : c;
  return s;
}

std::string normalize_key(std::string_view key) {
  std::string s(key);
  for (char& c : s) {
    if (c == '-') c = '_';
  }
  return s;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    auto end = s.find(sep, start);
    parts.emplace_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

template <class T>
bool parse_integer(std::string_view text, T& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// Sets one scalar field from text; returns why it could not.
std::string set_scalar(pb::Message& m, const pb::FieldDescriptor* f, std::string_view text) {
  const pb::Reflection* r = m.GetReflection();
  if (f->is_repeated()) {
    if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING) return "lists are set in the config file";
    r->AddString(&m, f, std::string(text));
    return {};
  }
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING:
      r->SetString(&m, f, std::string(text));
      return {};
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      if (text == "true" || text == "1" || text == "yes" || text == "on") r->SetBool(&m, f, true);
      else if (text == "false" || text == "0" || text == "no" || text == "off") r->SetBool(&m, f, false);
      else return "expected true or false, got '" + std::string(text) + "'";
      return {};
    case pb::FieldDescriptor::CPPTYPE_UINT32: {
      std::uint32_t v = 0;
      if (!parse_integer(text, v)) return "expected a whole number from 0 to 4294967295, got '" + std::string(text) + "'";
      r->SetUInt32(&m, f, v);
      return {};
    }
    case pb::FieldDescriptor::CPPTYPE_UINT64: {
      std::uint64_t v = 0;
      if (!parse_integer(text, v)) return "expected a whole number, got '" + std::string(text) + "'";
      r->SetUInt64(&m, f, v);
      return {};
    }
    case pb::FieldDescriptor::CPPTYPE_INT32: {
      std::int32_t v = 0;
      if (!parse_integer(text, v)) return "expected a whole number, got '" + std::string(text) + "'";
      r->SetInt32(&m, f, v);
      return {};
    }
    case pb::FieldDescriptor::CPPTYPE_INT64: {
      std::int64_t v = 0;
      if (!parse_integer(text, v)) return "expected a whole number, got '" + std::string(text) + "'";
      r->SetInt64(&m, f, v);
      return {};
    }
    case pb::FieldDescriptor::CPPTYPE_DOUBLE: {
      try {
        std::size_t used = 0;
        double v = std::stod(std::string(text), &used);
        if (used != text.size()) throw std::invalid_argument("trailing");
        r->SetDouble(&m, f, v);
      } catch (const std::exception&) {
        return "expected a number, got '" + std::string(text) + "'";
      }
      return {};
    }
    case pb::FieldDescriptor::CPPTYPE_ENUM: {
      const pb::EnumValueDescriptor* v = f->enum_type()->FindValueByName(std::string(text));
      if (!v) return "'" + std::string(text) + "' is not one of the allowed values";
      r->SetEnum(&m, f, v);
      return {};
    }
    default:
      return "cannot be set from text";
  }
}

// Sets "rtmp.chunk_size" or "app.live.name" style keys. A list (upstream)
// gets the value appended, or, unless `append`, replaced by it: flags that
// name a list replace what the file and the environment said.
std::string set_path(Config& config, std::string_view key, std::string_view value, bool append = false) {
  std::vector<std::string> parts = split(normalize_key(key), '.');
  pb::Message* m = &config;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const pb::FieldDescriptor* f = m->GetDescriptor()->FindFieldByName(parts[i]);
    if (!f) return "unknown setting";
    const pb::Reflection* r = m->GetReflection();
    bool last = i + 1 == parts.size();
    if (f->is_repeated() && f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      // app.NAME.FIELD: find or add the entry whose name is NAME.
      if (i + 2 >= parts.size()) return "expected " + parts[i] + ".NAME.SETTING";
      const std::string& name = parts[++i];
      pb::Message* entry = nullptr;
      for (int j = 0; j < r->FieldSize(*m, f); ++j) {
        pb::Message* e = r->MutableRepeatedMessage(m, f, j);
        const pb::FieldDescriptor* nf = e->GetDescriptor()->FindFieldByName("name");
        if (nf && e->GetReflection()->GetString(*e, nf) == name) entry = e;
      }
      if (!entry) {
        entry = r->AddMessage(m, f);
        const pb::FieldDescriptor* nf = entry->GetDescriptor()->FindFieldByName("name");
        if (!nf) return "entries of " + parts[i - 1] + " have no name";
        entry->GetReflection()->SetString(entry, nf, name);
      }
      m = entry;
      continue;
    }
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (last) return "is a section; set one of its keys";
      m = r->MutableMessage(m, f);
      continue;
    }
    if (!last) return "unknown setting";
    if (f->is_repeated() && !append) r->ClearField(m, f);
    return set_scalar(*m, f, value);
  }
  return "unknown setting";
}

class FileErrors final : public pb::io::ErrorCollector {
 public:
  explicit FileErrors(std::string path) : path_(std::move(path)) {}
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    if (first_.empty()) first_ = path_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
  }
  void AddWarning(int, pb::io::ColumnNumber, const std::string&) override {}
  const std::string& first() const { return first_; }

 private:
  std::string path_;
  std::string first_;
};

Expected<void, std::string> read_file(const std::string& path, Config& config) {
  std::ifstream in(path);
  if (!in) return unexpected("config: cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  pb::TextFormat::Parser parser;
  FileErrors errors(path);
  parser.RecordErrorsTo(&errors);
  // Merge, so that values the file leaves out keep their defaults.
  if (!parser.MergeFromString(text.str(), &config)) return unexpected("config: " + errors.first());
  return {};
}

// Whether a file set the key (every section on its path present, and the leaf).
bool is_set(const pb::Message& root, const std::string& path) {
  const pb::Message* m = &root;
  std::vector<std::string> parts = split(path, '.');
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const pb::FieldDescriptor* f = m->GetDescriptor()->FindFieldByName(parts[i]);
    if (!f) return false;
    if (f->is_repeated() ? m->GetReflection()->FieldSize(*m, f) == 0 : !m->GetReflection()->HasField(*m, f)) {
      return false;
    }
    if (i + 1 < parts.size()) m = &m->GetReflection()->GetMessage(*m, f);
  }
  return true;
}

}  // namespace

bool parse_host_port(std::string_view text, std::string& host, std::uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view h = text.substr(0, colon);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);  // [::1]:1935
  if (!parse_integer(text.substr(colon + 1), port)) return false;
  host = std::string(h);
  return true;
}

Expected<Loaded, std::string> load(const std::vector<std::string>& args,
                                   const std::map<std::string, std::string>& env) {
  Loaded loaded;
  std::map<std::string, std::string> sources;

  // --config first: the file is the base that env and flags override.
  std::string config_file;
  if (auto it = env.find("REWIND_CONFIG"); it != env.end()) config_file = it->second;
  std::vector<std::pair<std::string, std::string>> flags;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      loaded.help = true;
      return loaded;
    }
    if (a.rfind("--", 0) != 0) return unexpected("config: unexpected argument '" + a + "' (see --help)");
    std::string key, value;
    if (auto eq = a.find('='); eq != std::string::npos) {
      key = a.substr(2, eq - 2);
      value = a.substr(eq + 1);
    } else {
      key = a.substr(2);
      if (i + 1 >= args.size()) return unexpected("config: " + a + " needs a value");
      value = args[++i];
    }
    if (key == "config") config_file = value;
    else flags.emplace_back(key, value);
  }
  if (!config_file.empty()) {
    Config from_file;
    if (auto r = read_file(config_file, from_file); !r) return unexpected(r.error());
    for (const auto& key : all_keys()) {
      if (is_set(from_file, key.path)) sources[key.path] = "config file " + config_file;
    }
    loaded.config.MergeFrom(from_file);
  }

  for (const auto& key : all_keys()) {
    auto it = env.find(env_name(key.path));
    if (it == env.end()) continue;
    // A list from the environment: its elements separated by commas.
    const std::vector<std::string> values =
        key.field->is_repeated() ? split(it->second, ',') : std::vector<std::string>{it->second};
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (std::string why = set_path(loaded.config, key.path, values[i], i > 0); !why.empty()) {
        return unexpected("config: " + key.path + " (from " + it->first + "): " + why);
      }
    }
    sources[key.path] = "environment " + it->first;
  }
  std::map<std::string, bool> lists_given;  // a list named by a flag: later flags append
  for (const auto& [key, value] : flags) {
    const std::string normalized = normalize_key(key);
    if (std::string why = set_path(loaded.config, key, value, lists_given[normalized]); !why.empty()) {
      return unexpected("config: " + normalized + " (from --" + key + "): " + why);
    }
    lists_given[normalized] = true;
    sources[normalized] = "flag --" + key;
  }
  if (auto valid = validate(loaded.config, sources); !valid) return unexpected(valid.error());
  return loaded;
}

Expected<void, std::string> validate(const Config& c, const std::map<std::string, std::string>& sources) {
  auto fail = [&](const std::string& key, const std::string& value, const std::string& why) -> Expected<void, std::string> {
    auto it = sources.find(key);
    std::string from = it == sources.end() ? "default" : it->second;
    return unexpected("config: " + key + " = " + value + " (from " + from + "): " + why);
  };
  auto range = [&](const std::string& key, std::uint64_t v, std::uint64_t lo, std::uint64_t hi) -> Expected<void, std::string> {
    if (v < lo || v > hi) {
      return fail(key, std::to_string(v), "must be from " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    return {};
  };
  std::string host;
  std::uint16_t port = 0;
  if (!parse_host_port(c.listen(), host, port)) return fail("listen", "'" + c.listen() + "'", "expected HOST:PORT");
  if (c.http().listen() != "off" && !parse_host_port(c.http().listen(), host, port)) {
    return fail("http.listen", "'" + c.http().listen() + "'", "expected HOST:PORT or off");
  }
  if (!parse_host_port(c.listen(), host, port)) return fail("listen", "'" + c.listen() + "'", "expected HOST:PORT");
  if (c.data_dir().empty()) return fail("data_dir", "''", "must not be empty");
  LogLevel level;
  if (!parse_log_level(c.log_level(), level)) return fail("log_level", c.log_level(), "expected debug, info, warn or error");
  if (auto r = range("threads", c.threads(), 0, 256); !r) return r;
  if (auto r = range("rtmp.chunk_size", c.rtmp().chunk_size(), 128, 65536); !r) return r;
  if (auto r = range("rtmp.max_message_size", c.rtmp().max_message_size(), 1024, 16777215); !r) return r;
  if (auto r = range("rtmp.window_ack_size", c.rtmp().window_ack_size(), 1024, 0x7fffffff); !r) return r;
  if (auto r = range("rtmp.handshake_timeout_ms", c.rtmp().handshake_timeout_ms(), 100, 3'600'000); !r) return r;
  if (auto r = range("rtmp.send_timeout_ms", c.rtmp().send_timeout_ms(), 100, 3'600'000); !r) return r;
  if (auto r = range("rtmp.max_streams_per_connection", c.rtmp().max_streams_per_connection(), 1, 1024); !r) return r;
  if (auto r = range("rtmp.max_amf_depth", c.rtmp().max_amf_depth(), 2, 256); !r) return r;
  if (auto r = range("rtmp.max_command_size", c.rtmp().max_command_size(), 4096, c.rtmp().max_message_size()); !r) {
    return r;
  }
  if (auto r = range("rtmp.max_amf_elements", c.rtmp().max_amf_elements(), 64, 1'000'000); !r) return r;
  if (auto r = range("rtmp.ping_interval_ms", c.rtmp().ping_interval_ms(), 0, 3'600'000); !r) return r;
  if (auto r = range("rtmp.idle_timeout_ms", c.rtmp().idle_timeout_ms(), 0, 86'400'000); !r) return r;
  // Timeouts are checked once a second: a quiet client must get its ping
  // and have a second to answer before it counts as gone.
  if (c.rtmp().idle_timeout_ms() != 0 && c.rtmp().ping_interval_ms() != 0 &&
      c.rtmp().idle_timeout_ms() < c.rtmp().ping_interval_ms() + 2000) {
    return fail("rtmp.idle_timeout_ms", std::to_string(c.rtmp().idle_timeout_ms()),
                "must be at least rtmp.ping_interval_ms (" + std::to_string(c.rtmp().ping_interval_ms()) +
                    ") + 2000, or quiet clients are dropped before they can answer a ping");
  }
  if (auto r = range("dvr.retention_interval_s", c.dvr().retention_interval_s(), 1, 86'400); !r) return r;
  if (auto r = range("publisher.idle_timeout_ms", c.publisher().idle_timeout_ms(), 0, 86'400'000); !r) return r;
  if (auto r = range("player.send_buffer_bytes", c.player().send_buffer_bytes(), 0, 1u << 30); !r) return r;
  if (c.player().send_buffer_bytes() != 0 && c.player().send_buffer_bytes() < 4096) {
    return fail("player.send_buffer_bytes", std::to_string(c.player().send_buffer_bytes()),
                "must be 0 (the kernel's autotuning) or at least 4096");
  }
  if (auto r = range("player.write_interval_ms", c.player().write_interval_ms(), 0, 1000); !r) return r;
  if (auto r = range("player.max_queue_lag_ms", c.player().max_queue_lag_ms(), 100, 600'000); !r) return r;
  if (auto r = range("player.max_queue_bytes", c.player().max_queue_bytes(), 65536, 1u << 30); !r) return r;
  auto check_dvr = [&](const std::string& prefix, const DvrSettings& d) -> Expected<void, std::string> {
    if (d.record() != "all" && d.record() != "requested" && d.record() != "off") {
      return fail(prefix + "dvr.record", d.record(), "expected all, requested or off");
    }
    if (auto r = range(prefix + "dvr.segment_ms", d.segment_ms(), 100, 60'000); !r) return r;
    if (auto r = range(prefix + "dvr.window_s", d.window_s(), 1, 10u * 365 * 24 * 3600); !r) return r;
    if (auto r = range(prefix + "dvr.max_bytes", d.max_bytes(), 1u << 20, std::uint64_t{1} << 50); !r) return r;
    if (auto r = range(prefix + "dvr.tail_max_bytes", d.tail_max_bytes(), 1u << 20, 1u << 31); !r) return r;
    return range(prefix + "dvr.write_queue_max_bytes", d.write_queue_max_bytes(), 1u << 20, 1u << 31);
  };
  auto check_upstreams = [&](const std::string& key, const auto& urls) -> Expected<void, std::string> {
    for (const std::string& url : urls) {
      if (!cluster::parse_upstream_url(url)) return fail(key, "'" + url + "'", "expected rtmp://HOST[:PORT][/APP]");
    }
    return {};
  };
  if (auto r = check_upstreams("upstream", c.upstream()); !r) return r;
  for (char ch : c.server_id()) {
    // It travels in query strings (rewindVia=a,b) and log lines.
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.' || ch == ':')) {
      return fail("server_id", "'" + c.server_id() + "'", "only letters, digits and - _ . : are allowed");
    }
  }
  const ProxySettings& proxy = c.proxy();
  if (auto r = range("proxy.not_responding_ms", proxy.not_responding_ms(), 500, 600'000); !r) return r;
  if (auto r = range("proxy.connect_timeout_ms", proxy.connect_timeout_ms(), 100, 600'000); !r) return r;
  if (auto r = range("proxy.call_timeout_ms", proxy.call_timeout_ms(), 100, 600'000); !r) return r;
  if (auto r = range("proxy.linger_ms", proxy.linger_ms(), 0, 86'400'000); !r) return r;
  if (auto r = range("proxy.backoff_max_ms", proxy.backoff_max_ms(), 100, 600'000); !r) return r;
  if (auto r = range("proxy.prefer_primary_after_ms", proxy.prefer_primary_after_ms(), 0, 86'400'000); !r) return r;
  if (auto r = range("proxy.max_segment_bytes", proxy.max_segment_bytes(), 64u << 10, 1u << 30); !r) return r;
  if (auto r = range("proxy.max_page_bytes", proxy.max_page_bytes(), 4096, 4u << 20); !r) return r;
  if (auto r = range("proxy.max_index_entries", proxy.max_index_entries(), 1, 4096); !r) return r;
  if (auto r = range("proxy.tail_ms", proxy.tail_ms(), 1000, 600'000); !r) return r;
  if (auto r = range("proxy.index_ttl_ms", proxy.index_ttl_ms(), 50, 60'000); !r) return r;
  if (auto r = range("cache.memory_bytes", c.cache().memory_bytes(), 1u << 20, std::uint64_t{1} << 40); !r) return r;
  if (auto r = range("cache.read_ahead", c.cache().read_ahead(), 0, 16); !r) return r;
  if (auto r = check_dvr("default_app.", c.default_app().dvr()); !r) return r;
  if (c.default_app().has_name()) return fail("default_app.name", c.default_app().name(), "default_app has no name");
  for (const auto& app : c.app()) {
    if (std::string why = media::validate_app_name(app.name()); !why.empty()) {
      return fail("app.name", "'" + app.name() + "'", why);
    }
    if (auto r = check_dvr("app." + app.name() + ".", app.dvr()); !r) return r;
    if (auto r = check_upstreams("app." + app.name() + ".upstream", app.upstream()); !r) return r;
    for (const auto& proxy_from : app.static_proxy()) {
      const std::string remote = proxy_from.has_remote() ? proxy_from.remote() : proxy_from.local();
      for (const std::string& name : {proxy_from.local(), remote}) {
        if (std::string why = media::validate_stream_name(name); !why.empty()) {
          return fail("app." + app.name() + ".static_proxy", "'" + name + "'", why);
        }
      }
    }
  }
  return {};
}

std::string help_text(std::string_view program, std::string_view summary) {
  std::ostringstream out;
  out << "usage: " << program << " [--config FILE] [--KEY VALUE | --KEY=VALUE]...\n\n" << summary << "\n\n";
  out << "Settings come from their defaults, then the config file (protobuf text\n"
         "format, see docs/configuration.md), then REWIND_* environment variables,\n"
         "then flags.\n\n";
  out << "  --config FILE    (REWIND_CONFIG) configuration file\n";
  for (const auto& key : all_keys()) {
    const pb::FieldDescriptor* f = key.field;
    std::string def;
    switch (f->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_STRING: def = "\"" + f->default_value_string() + "\""; break;
      case pb::FieldDescriptor::CPPTYPE_UINT32: def = std::to_string(f->default_value_uint32()); break;
      case pb::FieldDescriptor::CPPTYPE_INT32: def = std::to_string(f->default_value_int32()); break;
      case pb::FieldDescriptor::CPPTYPE_UINT64: def = std::to_string(f->default_value_uint64()); break;
      case pb::FieldDescriptor::CPPTYPE_INT64: def = std::to_string(f->default_value_int64()); break;
      case pb::FieldDescriptor::CPPTYPE_BOOL: def = f->default_value_bool() ? "true" : "false"; break;
      case pb::FieldDescriptor::CPPTYPE_DOUBLE: def = std::to_string(f->default_value_double()); break;
      case pb::FieldDescriptor::CPPTYPE_ENUM: def = f->default_value_enum()->name(); break;
      default: break;
    }
    std::string meaning = f->options().GetExtension(config::help);
    if (f->is_repeated()) {
      def = "none";
      meaning += " (repeatable; the environment variable takes a comma-separated list)";
    }
    out << "  " << flag_name(key.path) << "  (" << env_name(key.path) << ", default " << def << ")\n      " << meaning
        << "\n";
  }
  out << "  --app.NAME.KEY   per-application settings (config file: app { name: \"NAME\" ... })\n";
  return out.str();
}

}  // namespace rw::config
