// The [palaver] section: how the host process runs.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "cidr.hpp"
#include "net_server.hpp"
#include "palaver/sdk/config.hpp"

namespace palaver::host {

struct HostConfig {
  std::vector<std::string> hostnames;
  std::filesystem::path state_dir;
  std::string listen_address;
  int https_port = 443;
  int http_port = 80;
  bool http_redirect = true;
  int workers = 4;
  /// Tasks waiting for a worker at which requests that need one get 503 (worker_pool.hpp).
  size_t worker_queue_size = 1024;
  std::string log_level = "info";
  std::vector<std::string> log_levels;  // "id=level"
  bool log_json = false;                // log_format = json
  ServerLimits limits;
  std::chrono::milliseconds drain_timeout{10000};
  std::chrono::milliseconds busy_timeout{5000};
  std::vector<Cidr> metrics_allow;
  // Reverse proxies whose forwarding header names the client (empty: none is trusted).
  std::vector<Cidr> trusted_proxies;
  net::ProxyHeader proxy_header = net::ProxyHeader::kXForwardedFor;
  bool access_log = false;
  std::string metrics_token_file;
};

/// Parses `[palaver]`. Problems are recorded on `reader`.
HostConfig ParseHostConfig(sdk::ConfigReader& reader);

}  // namespace palaver::host
