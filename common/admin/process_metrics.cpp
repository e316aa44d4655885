#include "common/admin/process_metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace rw::admin {

namespace {

prometheus::MetricFamily one(const char* name, const char* help, prometheus::MetricType type, double value) {
  prometheus::MetricFamily family{name, help, type, {}};
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(metric);
  return family;
}

double boot_time_seconds() {
  std::ifstream stat("/proc/stat");
  std::string key;
  while (stat >> key) {
    if (key == "btime") {
      double value = 0;
      stat >> value;
      return value;
    }
    stat.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace

std::vector<prometheus::MetricFamily> process_families() {
  std::vector<prometheus::MetricFamily> out;
  // /proc/self/stat: the command (field 2) may hold spaces and parentheses,
  // so fields are counted from the last ')'.
  std::ifstream file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f;
    for (std::string s; fields >> s;) f.push_back(s);
    // f[0] is field 3 (state): field N is f[N - 3].
    if (f.size() > 21) {
      const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
      const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
      const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;  // utime + stime
      const double start = boot_time_seconds() + std::stod(f[19]) / ticks;
      out.push_back(one("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                        prometheus::MetricType::Counter, cpu));
      out.push_back(one("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                        prometheus::MetricType::Gauge, start));
      out.push_back(one("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                        prometheus::MetricType::Gauge, std::stod(f[20])));
      out.push_back(one("process_resident_memory_bytes", "Resident memory size in bytes.",
                        prometheus::MetricType::Gauge, std::stod(f[21]) * page));
      out.push_back(one("process_threads", "Number of OS threads in the process.", prometheus::MetricType::Gauge,
                        std::stod(f[17])));
    }
  }
  std::error_code ec;
  double fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  out.push_back(one("process_open_fds", "Number of open file descriptors.", prometheus::MetricType::Gauge, fds));
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.push_back(one("process_max_fds", "Maximum number of open file descriptors.", prometheus::MetricType::Gauge,
                      static_cast<double>(limit.rlim_cur)));
  }
  return out;
}

}  // namespace rw::admin
