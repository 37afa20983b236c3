#include "logging.hpp"

#include <cstdlib>
#include <mutex>

#include <spdlog/cfg/env.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace palaver::host {
namespace {

std::mutex g_mu;
std::shared_ptr<spdlog::sinks::sink> g_sink;

// The level as it is configured (`log_level = warn`): spdlog prints "warning" for warn.
class LevelFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string_view name = ConfigLevelName(msg.level);
    dest.append(name.data(), name.data() + name.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<LevelFlag>(); }
};

}  // namespace

std::string_view ConfigLevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

std::unique_ptr<spdlog::formatter> MakeLogFormatter() {
  // RFC 3339 time with its offset, the level as configured, logger, thread, message.
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<LevelFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %* [%n] [%t] %v");
  return f;
}

void InitLogging() {
  std::lock_guard lock(g_mu);
  if (g_sink) return;
  g_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  g_sink->set_formatter(MakeLogFormatter());
  auto def = std::make_shared<spdlog::logger>("palaver", g_sink);
  spdlog::set_default_logger(def);
  spdlog::flush_on(spdlog::level::warn);
}

std::shared_ptr<spdlog::logger> GetLogger(const std::string& name) {
  InitLogging();
  std::lock_guard lock(g_mu);
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = std::make_shared<spdlog::logger>(name, g_sink);
  logger->set_level(spdlog::default_logger()->level());
  spdlog::register_logger(logger);
  return logger;
}

void ApplyLogLevels(const std::string& default_level, const std::vector<std::string>& overrides) {
  auto level = spdlog::level::from_str(default_level);
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_level(level); });
  spdlog::default_logger()->set_level(level);
  for (const auto& item : overrides) {
    auto eq = item.find('=');
    if (eq == std::string::npos) continue;
    GetLogger(item.substr(0, eq))->set_level(spdlog::level::from_str(item.substr(eq + 1)));
  }
  if (std::getenv("SPDLOG_LEVEL") != nullptr) spdlog::cfg::load_env_levels();
}

}  // namespace palaver::host
