#include "host_config.hpp"

#include <spdlog/common.h>

#include "palaver/sdk/install_paths.hpp"

namespace palaver::host {
namespace {

const std::vector<std::string> kLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};

bool ValidLevel(const std::string& l) {
  for (const auto& k : kLevels) {
    if (k == l) return true;
  }
  return false;
}

}  // namespace

HostConfig ParseHostConfig(sdk::ConfigReader& r) {
  HostConfig c;
  c.hostnames = r.List("hostnames", {"localhost"});
  if (c.hostnames.empty()) r.Reject("hostnames", "at least one hostname is needed");
  for (const auto& h : c.hostnames) {
    bool ok = !h.empty() && h.size() <= 253;
    for (unsigned char ch : h) ok = ok && (std::isalnum(ch) || ch == '.' || ch == '-' || ch == '*');
    if (!ok) r.Reject("hostnames", "\"" + h + "\" is not a valid DNS name");
  }
  c.state_dir = r.String("state_dir", sdk::kDefaultStateDir);
  if (c.state_dir.empty() || !c.state_dir.is_absolute()) r.Reject("state_dir", "must be an absolute path");
  c.listen_address = r.String("listen", "");
  c.https_port = static_cast<int>(r.Int("https_port", 443, 0, 65535));
  c.http_port = static_cast<int>(r.Int("http_port", 80, 0, 65535));
  c.http_redirect = r.Bool("http_redirect", true);
  c.access_log = r.Bool("access_log", false);
  if (c.http_redirect && c.https_port != 0 && c.http_port == c.https_port) {
    r.Reject("http_port", "is the same as https_port (" + std::to_string(c.https_port) +
                              "); plain HTTP needs a port of its own, or set http_redirect = no");
  }
  c.workers = static_cast<int>(r.Int("workers", 4, 1, 64));
  c.worker_queue_size = static_cast<size_t>(r.Int("worker_queue_size", 1024, 1, 1000000));
  c.log_level = r.Enum("log_level", "info", kLevels);
  c.log_levels = r.List("log_levels", {});
  c.log_json = r.Enum("log_format", "text", {"text", "json"}) == "json";
  for (const auto& item : c.log_levels) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || !ValidLevel(item.substr(eq + 1))) {
      r.Reject("log_levels", "\"" + item + "\" is not <module>=<level> (levels: trace, debug, info, warn, error, critical, off)");
    }
  }
  c.limits.max_connections = static_cast<int>(r.Int("max_connections", 10000, 1, 1000000));
  c.limits.max_connections_per_ip = static_cast<int>(r.Int("max_connections_per_ip", 256, 1, 1000000));
  c.limits.header_timeout = std::chrono::duration_cast<std::chrono::seconds>(r.Duration("header_timeout", std::chrono::seconds(10)));
  c.limits.body_timeout = std::chrono::duration_cast<std::chrono::seconds>(r.Duration("body_timeout", std::chrono::seconds(30)));
  c.limits.idle_timeout = std::chrono::duration_cast<std::chrono::seconds>(r.Duration("idle_timeout", std::chrono::seconds(60)));
  c.limits.websocket_ping_interval = std::chrono::duration_cast<std::chrono::seconds>(
      r.Duration("websocket_ping_interval", std::chrono::seconds(30)));
  c.limits.websocket_timeout =
      std::chrono::duration_cast<std::chrono::seconds>(r.Duration("websocket_timeout", std::chrono::seconds(75)));
  if (c.limits.websocket_ping_interval.count() < 1) r.Reject("websocket_ping_interval", "must be at least 1s");
  if (c.limits.websocket_timeout <= c.limits.websocket_ping_interval) {
    r.Reject("websocket_timeout", "must be longer than websocket_ping_interval");
  }
  if (c.limits.header_timeout.count() < 1) r.Reject("header_timeout", "must be at least 1s");
  if (c.limits.body_timeout.count() < 1) r.Reject("body_timeout", "must be at least 1s");
  if (c.limits.idle_timeout.count() < 1) r.Reject("idle_timeout", "must be at least 1s");
  int64_t header_size = r.Size("max_header_size", 16 * 1024);
  if (header_size < 1024 || header_size > 65535) r.Reject("max_header_size", "must be between 1k and 64k - 1");
  else c.limits.max_header_bytes = static_cast<int>(header_size);
  int64_t min_rate = r.Size("body_min_rate", 16 * 1024);
  if (min_rate < 1) r.Reject("body_min_rate", "must be at least 1 (bytes per second)");
  else c.limits.body_min_rate = min_rate;
  int64_t bodies = r.Size("max_buffered_body_bytes", 32 * 1024 * 1024);
  if (bodies < 64 * 1024) r.Reject("max_buffered_body_bytes", "must be at least 64k");
  else c.limits.max_buffered_body_bytes = bodies;
  c.limits.max_concurrent_streams = static_cast<int>(r.Int("max_concurrent_streams", 100, 1, 1000));
  c.drain_timeout = r.Duration("drain_timeout", std::chrono::seconds(10));
  c.busy_timeout = r.Duration("db_busy_timeout", std::chrono::seconds(5));
  c.metrics_allow = sdk::ReadCidrList(r, "metrics_allow", {"127.0.0.0/8", "::1"});
  c.metrics_token_file = r.String("metrics_token_file", "");
  c.trusted_proxies = sdk::ReadCidrList(r, "trusted_proxies", {});
  c.proxy_header = r.Enum("proxy_header", "x-forwarded-for", {"x-forwarded-for", "forwarded"}) == "forwarded"
                       ? net::ProxyHeader::kForwarded
                       : net::ProxyHeader::kXForwardedFor;
  return c;
}

}  // namespace palaver::host
