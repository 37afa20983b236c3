// Logging set-up: one sink and pattern for the process, one named logger per module.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/common.h>
#include <spdlog/formatter.h>

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
/// Applies `default_level` to every logger, then `id=level` overrides, then SPDLOG_LEVEL.
void ApplyLogLevels(const std::string& default_level, const std::vector<std::string>& overrides);

}  // namespace palaver::host
