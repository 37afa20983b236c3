// HostStatus: what the host knows about itself, for the admin console and API (module health,
// recent warnings, the monitoring audience). Published by the host before any module starts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "palaver/sdk/module.hpp"

namespace palaver::sdk {

struct Request;

/// One module as the host runs it. Value type.
struct ModuleStatus {
  std::string id;
  std::string description;
  bool started = false;
  Health health;
};

/// One recent log line of level warn or above. Value type.
struct LogEntry {
  int64_t unix_ms = 0;
  std::string logger;
  std::string level;  // "warning", "error", "critical"
  std::string message;
};

/// Thread-safe and non-blocking.
class HostStatus {
 public:
  virtual ~HostStatus() = default;
  /// Every module of the build in start order, with its health (CheckHealth of started ones).
  virtual std::vector<ModuleStatus> Modules() const = 0;
  /// The newest warnings and errors of any logger, newest last (a bounded ring).
  virtual std::vector<LogEntry> RecentWarnings() const = 0;
  /// Whether `request` comes from the monitoring audience (`metrics_allow` or the metrics token).
  virtual bool IsMonitoringClient(const Request& request) const = 0;
};

}  // namespace palaver::sdk
