// Logging set-up: one sink and pattern for the process, one named logger per module.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/common.h>
#include <spdlog/formatter.h>
#include "palaver/sdk/services/host_status.hpp"

namespace spdlog {
class logger;
}

namespace palaver::host {

/// Installs the stderr sink and pattern. Call once, first thing in main.
void InitLogging();
/// The named logger (created on first use with the shared sink). Thread-safe.
std::shared_ptr<spdlog::logger> GetLogger(const std::string& name);
/// The name of a level as the config spells it (`warn`, not spdlog's `warning`).
std::string_view ConfigLevelName(spdlog::level::level_enum level);
/// The line format: `2026-12-06T23:38:38.795+00:00 info [turn] [1234] message` (RFC 3339 time).
std::unique_ptr<spdlog::formatter> MakeLogFormatter();
/// `log_format = json`: one JSON object per line,
/// `{"time":"…","level":"info","logger":"turn","thread":1234,"msg":"allocation created","fields":{"client":"…"}}`.
std::unique_ptr<spdlog::formatter> MakeJsonLogFormatter();
/// Switches the stderr sink between the text line (false) and JSON lines (true). Thread-safe.
void SetJsonLogFormat(bool json);

/// A log message split as the conventions write it: a short event, then `key=value` pairs
/// (`sign-in failed user=anna addr=192.0.2.7 reason=bad_credentials`). A value runs until the
/// next ` key=`; a value in double quotes may hold spaces (the quotes are dropped). A repeated
/// key keeps its first value; later ones get `_2`, `_3`… Pure.
struct SplitMessage {
  std::string msg;
  std::vector<std::pair<std::string, std::string>> fields;
};
SplitMessage SplitLogMessage(std::string_view payload);
/// One JSON log line (with the trailing newline). Pure.
std::string JsonLogLine(std::string_view time, std::string_view level, std::string_view logger, size_t thread,
                        std::string_view payload);

/// The newest warnings and errors of every logger (a ring of 100), newest last. Thread-safe.
std::vector<sdk::LogEntry> RecentWarnings();
/// Applies `default_level` to every logger, then `id=level` overrides, then SPDLOG_LEVEL.
void ApplyLogLevels(const std::string& default_level, const std::vector<std::string>& overrides);

}  // namespace palaver::host
