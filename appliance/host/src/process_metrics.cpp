#include "process_metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <vector>

#include "metrics_registry.hpp"

namespace palaver::host {
namespace {

std::vector<std::string_view> Fields(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n')) ++i;
    size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\n') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

bool ToInt(std::string_view s, int64_t& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

Result<std::string> ReadAll(const char* path) {
  std::ifstream in(path);
  if (!in) return Fail(ErrorCode::kUnavailable, std::string("cannot read ") + path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void Family(std::string& out, const char* name, const char* type, const char* help, const std::string& value) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " + value + "\n";
}

}  // namespace

Status ParseProcStat(std::string_view stat, int64_t ticks_per_second, int64_t boot_time, int64_t page_size,
                     ProcessSample& out) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted
  // after its last ')'. Field numbers below are those of proc(5), state being field 3.
  size_t close = stat.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) {
    return Fail(ErrorCode::kInvalidArgument, "malformed /proc/self/stat");
  }
  std::vector<std::string_view> f = Fields(stat.substr(close + 1));
  auto field = [&f](size_t number, int64_t& v) { return number >= 3 && number - 3 < f.size() && ToInt(f[number - 3], v); };
  int64_t utime = 0, stime = 0, starttime = 0, vsize = 0, rss = 0;
  if (!field(14, utime) || !field(15, stime) || !field(22, starttime) || !field(23, vsize) || !field(24, rss)) {
    return Fail(ErrorCode::kInvalidArgument, "malformed /proc/self/stat");
  }
  const auto hz = static_cast<double>(ticks_per_second);
  out.cpu_seconds = static_cast<double>(utime + stime) / hz;
  out.start_time_seconds = static_cast<double>(boot_time) + static_cast<double>(starttime) / hz;
  out.virtual_bytes = vsize;
  out.resident_bytes = rss * page_size;
  return OkStatus();
}

Result<int64_t> ParseBootTime(std::string_view proc_stat) {
  size_t pos = 0;
  while (pos < proc_stat.size()) {
    size_t end = proc_stat.find('\n', pos);
    if (end == std::string_view::npos) end = proc_stat.size();
    std::string_view line = proc_stat.substr(pos, end - pos);
    if (line.starts_with("btime ")) {
      int64_t v = 0;
      if (ToInt(line.substr(6), v)) return v;
    }
    pos = end + 1;
  }
  return Fail(ErrorCode::kInvalidArgument, "no btime in /proc/stat");
}

Result<ProcessSample> ReadProcessSample() {
  ProcessSample s;
  PALAVER_ASSIGN_OR_RETURN(std::string stat, ReadAll("/proc/self/stat"));
  PALAVER_ASSIGN_OR_RETURN(std::string system, ReadAll("/proc/stat"));
  PALAVER_ASSIGN_OR_RETURN(int64_t boot, ParseBootTime(system));
  PALAVER_RETURN_IF_ERROR(ParseProcStat(stat, ::sysconf(_SC_CLK_TCK), boot, ::sysconf(_SC_PAGESIZE), s));
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return Fail(ErrorCode::kUnavailable, "cannot list /proc/self/fd");
  int64_t n = 0;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  s.open_fds = n - 1;  // the descriptor of the listing itself
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    s.max_fds = limit.rlim_cur == RLIM_INFINITY ? 0 : static_cast<int64_t>(limit.rlim_cur);
  }
  return s;
}

std::string RenderProcessMetrics(const ProcessSample& s) {
  std::string out;
  Family(out, "palaver_process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.",
         RenderValue(s.cpu_seconds));
  if (s.max_fds > 0) {
    Family(out, "palaver_process_max_fds", "gauge", "Maximum number of open file descriptors (soft limit).",
           std::to_string(s.max_fds));
  }
  Family(out, "palaver_process_open_fds", "gauge", "Number of open file descriptors.", std::to_string(s.open_fds));
  Family(out, "palaver_process_resident_memory_bytes", "gauge", "Resident memory size, in bytes.",
         std::to_string(s.resident_bytes));
  Family(out, "palaver_process_start_time_seconds", "gauge", "Start time of the process since the unix epoch, in seconds.",
         RenderValue(s.start_time_seconds));
  Family(out, "palaver_process_virtual_memory_bytes", "gauge", "Virtual memory size, in bytes.",
         std::to_string(s.virtual_bytes));
  return out;
}

}  // namespace palaver::host
