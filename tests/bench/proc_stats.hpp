// CPU time and memory of a process, from /proc, to measure the server
// under test over exactly the window the load tool measures.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace rw::bench {

struct CpuTicks {
  std::uint64_t user = 0;    // clock ticks (sysconf(_SC_CLK_TCK) per second)
  std::uint64_t system = 0;
  std::uint64_t total() const { return user + system; }
};

// Fields 14 and 15 of /proc/PID/stat. The command name (field 2) may hold
// spaces and parentheses, so fields are counted from its last ')'.
std::optional<CpuTicks> parse_proc_stat(std::string_view text);
// A "Name:   1234 kB" line of /proc/PID/status, in kB.
std::optional<std::uint64_t> parse_status_kb(std::string_view text, std::string_view name);

// The machine's busy and total ticks over all cores, from the "cpu" line of
// /proc/stat: user nice system idle iowait irq softirq steal. Busy is all
// but idle and iowait.
struct MachineTicks {
  std::uint64_t busy = 0;
  std::uint64_t total = 0;
};
std::optional<MachineTicks> parse_machine_stat(std::string_view text);
std::optional<MachineTicks> machine_ticks();

class ProcessProbe {
 public:
  explicit ProcessProbe(int pid) : pid_(pid) {}
  int pid() const { return pid_; }
  std::optional<CpuTicks> cpu() const;
  std::optional<std::uint64_t> rss_kb() const;   // VmRSS
  std::optional<std::uint64_t> peak_rss_kb() const;  // VmHWM: the peak since the process started

 private:
  int pid_;
};

double clock_ticks_per_second();

}  // namespace rw::bench
