#include "tests/bench/proc_stats.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

namespace rw::bench {
namespace {

TEST(ProcStat, ReadsUserAndSystemTicksAfterTheName) {
  // The name holds spaces and a ')', as a process may name itself.
  auto cpu = parse_proc_stat("1234 (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 1 0\n");
  ASSERT_TRUE(cpu);
  EXPECT_EQ(cpu->user, 250u);
  EXPECT_EQ(cpu->system, 75u);
  EXPECT_EQ(cpu->total(), 325u);
}

TEST(ProcStat, RejectsMalformedLines) {
  EXPECT_FALSE(parse_proc_stat(""));
  EXPECT_FALSE(parse_proc_stat("1234 no name S 1 2"));
  EXPECT_FALSE(parse_proc_stat("1234 (x) S 1 2 3"));
  EXPECT_FALSE(parse_proc_stat("1234 (x) S 1 1234 1234 0 -1 4194560 100 0 0 0 2x0 75"));
}

TEST(ProcStatus, ReadsKilobyteFields) {
  const char* status = "Name:\tnginx\nVmHWM:\t   5000 kB\nVmRSS:\t   4000 kB\nVmRSSX:\t1 kB\n";
  EXPECT_EQ(parse_status_kb(status, "VmRSS"), 4000u);
  EXPECT_EQ(parse_status_kb(status, "VmHWM"), 5000u);
  EXPECT_FALSE(parse_status_kb(status, "VmSwap"));
  EXPECT_FALSE(parse_status_kb("VmRSS:\tlots kB\n", "VmRSS"));
}

TEST(MachineStat, SumsBusyAndTotalTicks) {
  auto ticks = parse_machine_stat("cpu  100 5 50 1000 20 3 7 2 0 0\ncpu0 50 2 25 500 10 1 3 1 0 0\n");
  ASSERT_TRUE(ticks);
  EXPECT_EQ(ticks->busy, 100u + 5 + 50 + 3 + 7 + 2);
  EXPECT_EQ(ticks->total, 100u + 5 + 50 + 1000 + 20 + 3 + 7 + 2);
  EXPECT_FALSE(parse_machine_stat("cpu0 1 2 3 4 5 6 7 8\n"));
  EXPECT_FALSE(parse_machine_stat("cpu  1 2 3\n"));
  EXPECT_TRUE(machine_ticks());
}

TEST(ProcessProbe, MeasuresThisProcess) {
  ProcessProbe self(static_cast<int>(getpid()));
  EXPECT_TRUE(self.cpu());
  auto rss = self.rss_kb();
  ASSERT_TRUE(rss);
  EXPECT_GT(*rss, 0u);
  EXPECT_GE(self.peak_rss_kb().value_or(0), *rss);
  EXPECT_FALSE(ProcessProbe(0x7fffffff).cpu());
}

}  // namespace
}  // namespace rw::bench
