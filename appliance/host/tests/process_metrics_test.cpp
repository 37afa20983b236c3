#include "process_metrics.hpp"

#include <gtest/gtest.h>

namespace palaver::host {
namespace {

// A /proc/<pid>/stat line (proc(5)) whose command name holds a space and a parenthesis.
constexpr const char* kStat =
    "4242 (palaverd (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 150 0 0 20 0 7 0 12345 "
    "104857600 2560 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";

TEST(ProcessMetrics, ParsesCpuStartTimeAndMemoryFromProcStat) {
  ProcessSample s;
  ASSERT_TRUE(ParseProcStat(kStat, 100, 1765000000, 4096, s));
  EXPECT_DOUBLE_EQ(s.cpu_seconds, 4.0);                    // (250 + 150) ticks / 100
  EXPECT_DOUBLE_EQ(s.start_time_seconds, 1765000123.45);  // btime + 12345 / 100
  EXPECT_EQ(s.virtual_bytes, 104857600);
  EXPECT_EQ(s.resident_bytes, 2560 * 4096);
}

TEST(ProcessMetrics, RejectsTruncatedOrMalformedStat) {
  ProcessSample s;
  EXPECT_FALSE(ParseProcStat("4242 (palaverd) S 1 2 3", 100, 0, 4096, s));
  EXPECT_FALSE(ParseProcStat("no parenthesis here", 100, 0, 4096, s));
  EXPECT_FALSE(ParseProcStat(kStat, 0, 0, 4096, s));
}

TEST(ProcessMetrics, FindsBootTime) {
  auto t = ParseBootTime("cpu  1 2 3\nintr 5\nbtime 1765000000\nprocesses 9\n");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, 1765000000);
  EXPECT_FALSE(ParseBootTime("cpu 1 2 3\n"));
}

TEST(ProcessMetrics, RendersPrefixedFamilies) {
  ProcessSample s{.start_time_seconds = 1765000123.5, .cpu_seconds = 4.25, .resident_bytes = 1048576,
                  .virtual_bytes = 2097152, .open_fds = 12, .max_fds = 1024};
  std::string text = RenderProcessMetrics(s);
  EXPECT_NE(text.find("# TYPE palaver_process_cpu_seconds_total counter\npalaver_process_cpu_seconds_total 4.25\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("palaver_process_start_time_seconds 1765000123.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("palaver_process_resident_memory_bytes 1048576\n"), std::string::npos);
  EXPECT_NE(text.find("palaver_process_open_fds 12\n"), std::string::npos);
  EXPECT_NE(text.find("palaver_process_max_fds 1024\n"), std::string::npos);
  s.max_fds = 0;  // unlimited: not shown rather than shown as a number that is not the limit
  EXPECT_EQ(RenderProcessMetrics(s).find("palaver_process_max_fds"), std::string::npos);
}

TEST(ProcessMetrics, ReadsThisProcess) {
  auto s = ReadProcessSample();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_GT(s->resident_bytes, 0);
  EXPECT_GE(s->open_fds, 3);  // stdin, stdout, stderr at least
  EXPECT_GT(s->start_time_seconds, 1.5e9);
  EXPECT_GE(s->cpu_seconds, 0);
}

}  // namespace
}  // namespace palaver::host
