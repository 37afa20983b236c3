#include "logging.hpp"

#include <cstdlib>
#include <mutex>
#include <set>

#include <spdlog/cfg/env.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "palaver/sdk/http.hpp"

namespace palaver::host {
namespace {

std::mutex g_mu;
std::shared_ptr<spdlog::sinks::sink> g_sink;
// The newest warnings and errors, for the admin console's status page.
std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> g_recent;

// The level as it is configured (`log_level = warn`): spdlog prints "warning" for warn.
class LevelFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string_view name = ConfigLevelName(msg.level);
    dest.append(name.data(), name.data() + name.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<LevelFlag>(); }
};

bool IsKeyStart(std::string_view token, size_t* eq) {
  size_t e = token.find('=');
  if (e == std::string_view::npos || e == 0) return false;
  if (!(token[0] >= 'a' && token[0] <= 'z')) return false;
  for (size_t i = 1; i < e; ++i) {
    char c = token[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) return false;
  }
  *eq = e;
  return true;
}

// JSON lines: the time as the text format writes it, then the message split into msg + fields.
class JsonLineFormatter final : public spdlog::formatter {
 public:
  JsonLineFormatter()
      : time_(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%e%z", spdlog::pattern_time_type::local,
                                                          std::string())) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    spdlog::memory_buf_t time;
    time_->format(msg, time);
    std::string line = JsonLogLine(std::string_view(time.data(), time.size()), ConfigLevelName(msg.level),
                                   std::string_view(msg.logger_name.data(), msg.logger_name.size()), msg.thread_id,
                                   std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonLineFormatter>(); }

 private:
  std::unique_ptr<spdlog::pattern_formatter> time_;
};

}  // namespace

SplitMessage SplitLogMessage(std::string_view payload) {
  SplitMessage out;
  std::set<std::string> seen;
  std::string key, value;
  bool in_field = false, in_quotes = false;
  auto flush = [&] {
    if (!in_field) return;
    std::string name = key;
    for (int n = 2; seen.count(name) != 0; ++n) name = key + "_" + std::to_string(n);
    seen.insert(name);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    out.fields.emplace_back(std::move(name), std::move(value));
    value.clear();
    in_field = false;
  };
  size_t pos = 0;
  while (pos <= payload.size()) {
    size_t end = payload.find(' ', pos);
    if (end == std::string_view::npos) end = payload.size();
    std::string_view token = payload.substr(pos, end - pos);
    size_t eq = 0;
    if (!in_quotes && IsKeyStart(token, &eq)) {
      flush();
      in_field = true;
      key.assign(token.substr(0, eq));
      value.assign(token.substr(eq + 1));
      in_quotes = value.size() >= 1 && value.front() == '"' && (value.size() == 1 || value.back() != '"');
    } else if (in_field) {
      value += ' ';
      value.append(token);
      if (in_quotes && !token.empty() && token.back() == '"') in_quotes = false;
    } else {
      if (!out.msg.empty() || !token.empty()) out.msg += (out.msg.empty() ? "" : " ") + std::string(token);
    }
    pos = end + 1;
  }
  flush();
  return out;
}

std::string JsonLogLine(std::string_view time, std::string_view level, std::string_view logger, size_t thread,
                        std::string_view payload) {
  SplitMessage split = SplitLogMessage(payload);
  std::string line = "{\"time\":\"" + sdk::JsonEscape(time) + "\",\"level\":\"" + sdk::JsonEscape(level) +
                     "\",\"logger\":\"" + sdk::JsonEscape(logger) + "\",\"thread\":" + std::to_string(thread) +
                     ",\"msg\":\"" + sdk::JsonEscape(split.msg) + "\",\"fields\":{";
  bool first = true;
  for (const auto& [k, v] : split.fields) {
    line += std::string(first ? "" : ",") + "\"" + sdk::JsonEscape(k) + "\":\"" + sdk::JsonEscape(v) + "\"";
    first = false;
  }
  return line + "}}\n";
}

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

std::unique_ptr<spdlog::formatter> MakeJsonLogFormatter() { return std::make_unique<JsonLineFormatter>(); }

void SetJsonLogFormat(bool json) {
  InitLogging();
  std::shared_ptr<spdlog::sinks::sink> sink;
  {
    std::lock_guard lock(g_mu);
    sink = g_sink;
  }
  sink->set_formatter(json ? MakeJsonLogFormatter() : MakeLogFormatter());
}

void InitLogging() {
  std::lock_guard lock(g_mu);
  if (g_sink) return;
  g_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  g_sink->set_formatter(MakeLogFormatter());
  g_recent = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
  g_recent->set_level(spdlog::level::warn);
  auto def = std::make_shared<spdlog::logger>("palaver", spdlog::sinks_init_list{g_sink, g_recent});
  spdlog::set_default_logger(def);
  spdlog::flush_on(spdlog::level::warn);
}

std::shared_ptr<spdlog::logger> GetLogger(const std::string& name) {
  InitLogging();
  std::lock_guard lock(g_mu);
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = std::make_shared<spdlog::logger>(name, spdlog::sinks_init_list{g_sink, g_recent});
  logger->set_level(spdlog::default_logger()->level());
  spdlog::register_logger(logger);
  return logger;
}

std::vector<sdk::LogEntry> RecentWarnings() {
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> recent;
  {
    std::lock_guard lock(g_mu);
    recent = g_recent;
  }
  std::vector<sdk::LogEntry> out;
  if (!recent) return out;
  for (const auto& m : recent->last_raw()) {
    sdk::LogEntry e;
    e.unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(m.time.time_since_epoch()).count();
    e.logger.assign(m.logger_name.data(), m.logger_name.size());
    std::string_view level = ConfigLevelName(m.level);
    e.level.assign(level.data(), level.size());
    e.message.assign(m.payload.data(), m.payload.size());
    out.push_back(std::move(e));
  }
  return out;
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
