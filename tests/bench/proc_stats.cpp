#include "tests/bench/proc_stats.hpp"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

namespace rw::bench {

namespace {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool to_u64(std::string_view s, std::uint64_t& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::optional<CpuTicks> parse_proc_stat(std::string_view text) {
  const std::size_t paren = text.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(paren + 1);
  // After the name: field 3 (state) is the first; utime is field 14.
  std::uint64_t values[2] = {};
  int field = 2;
  std::size_t pos = 0;
  while (field < 15) {
    while (pos < rest.size() && rest[pos] == ' ') ++pos;
    if (pos >= rest.size()) return std::nullopt;
    std::size_t end = rest.find(' ', pos);
    if (end == std::string_view::npos) end = rest.size();
    ++field;
    if (field == 14 || field == 15) {
      if (!to_u64(rest.substr(pos, end - pos), values[field - 14])) return std::nullopt;
    }
    pos = end;
  }
  return CpuTicks{values[0], values[1]};
}

std::optional<std::uint64_t> parse_status_kb(std::string_view text, std::string_view name) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.size() <= name.size() || line.substr(0, name.size()) != name || line[name.size()] != ':') continue;
    line.remove_prefix(name.size() + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    const std::size_t space = line.find(' ');
    std::uint64_t kb = 0;
    if (!to_u64(line.substr(0, space), kb)) return std::nullopt;
    return kb;
  }
  return std::nullopt;
}

std::optional<MachineTicks> parse_machine_stat(std::string_view text) {
  if (text.substr(0, 4) != "cpu ") return std::nullopt;
  std::size_t pos = 4;
  MachineTicks ticks;
  for (int field = 0; field < 8; ++field) {
    while (pos < text.size() && text[pos] == ' ') ++pos;
    std::size_t end = pos;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    std::uint64_t value = 0;
    if (end == pos || !to_u64(text.substr(pos, end - pos), value)) return std::nullopt;
    pos = end;
    ticks.total += value;
    if (field != 3 && field != 4) ticks.busy += value;  // idle, iowait
  }
  return ticks;
}

std::optional<MachineTicks> machine_ticks() {
  auto text = read_file("/proc/stat");
  if (!text) return std::nullopt;
  return parse_machine_stat(*text);
}

std::optional<CpuTicks> ProcessProbe::cpu() const {
  auto text = read_file("/proc/" + std::to_string(pid_) + "/stat");
  if (!text) return std::nullopt;
  return parse_proc_stat(*text);
}

std::optional<std::uint64_t> ProcessProbe::rss_kb() const {
  auto text = read_file("/proc/" + std::to_string(pid_) + "/status");
  if (!text) return std::nullopt;
  return parse_status_kb(*text, "VmRSS");
}

std::optional<std::uint64_t> ProcessProbe::peak_rss_kb() const {
  auto text = read_file("/proc/" + std::to_string(pid_) + "/status");
  if (!text) return std::nullopt;
  return parse_status_kb(*text, "VmHWM");
}

double clock_ticks_per_second() { return static_cast<double>(sysconf(_SC_CLK_TCK)); }

}  // namespace rw::bench
