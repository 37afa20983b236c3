// The process's own metrics (palaver_process_*): read from /proc at scrape time, rendered apart
// from the registry because their values are fractional and exist only when asked for.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "palaver/sdk/status.hpp"

namespace palaver::host {

struct ProcessSample {
  double start_time_seconds = 0;  // unix time the process started
  double cpu_seconds = 0;         // user + system
  int64_t resident_bytes = 0;
  int64_t virtual_bytes = 0;
  int64_t open_fds = 0;
  int64_t max_fds = 0;  // the soft RLIMIT_NOFILE; 0 when unlimited (then not rendered)
};

/// Parses the text of /proc/<pid>/stat. `ticks_per_second` is sysconf(_SC_CLK_TCK),
/// `boot_time` the `btime` of /proc/stat, `page_size` sysconf(_SC_PAGESIZE). Fills start time,
/// CPU, resident and virtual memory. Pure.
Status ParseProcStat(std::string_view stat, int64_t ticks_per_second, int64_t boot_time, int64_t page_size,
                     ProcessSample& out);
/// The `btime` line of /proc/stat's text. Pure.
Result<int64_t> ParseBootTime(std::string_view proc_stat);

/// Reads /proc/self/stat, /proc/stat, /proc/self/fd and the fd limit. Only procfs (no disk):
/// safe on the net loop, a few microseconds plus one directory entry per open descriptor.
Result<ProcessSample> ReadProcessSample();

/// The palaver_process_* families as Prometheus text. Pure.
std::string RenderProcessMetrics(const ProcessSample& s);

}  // namespace palaver::host
