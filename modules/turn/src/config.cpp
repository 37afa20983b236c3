#include "config.hpp"

#include <algorithm>
#include <sstream>

namespace palaver::turn {
namespace {

std::vector<Address> Addresses(sdk::ConfigReader& r, const std::string& key, const std::vector<std::string>& def,
                               bool* is_default) {
  *is_default = !r.Has(key);
  std::vector<Address> out;
  for (const auto& text : r.List(key, def)) {
    bool has_port = text.starts_with('[') ? text.find("]:") != std::string::npos
                                          : std::count(text.begin(), text.end(), ':') == 1;
    auto a = has_port ? Address::Parse(text) : std::nullopt;
    if (!a) {
      r.Reject(key, "\"" + text + "\" is not an address with a port (192.0.2.1:3478, [::]:3478)");
      continue;
    }
    out.push_back(*a);
  }
  return out;
}

void Ips(sdk::ConfigReader& r, const std::string& key, std::optional<Address>* v4, std::optional<Address>* v6) {
  for (const auto& text : r.List(key, {})) {
    auto a = Address::ParseIp(text);
    if (!a) {
      r.Reject(key, "\"" + text + "\" is not an IP address");
      continue;
    }
    auto& slot = a->is_v4() ? *v4 : *v6;
    if (slot) {
      r.Reject(key, "at most one IPv4 and one IPv6 address");
      continue;
    }
    slot = *a;
  }
}

std::vector<Cidr> Cidrs(sdk::ConfigReader& r, const std::string& key) {
  std::vector<Cidr> out;
  for (const auto& text : r.List(key, {})) {
    auto c = Cidr::Parse(text);
    if (!c) {
      r.Reject(key, "\"" + text + "\" is not an address range (10.0.0.0/8, fd00::/8)");
      continue;
    }
    out.push_back(*c);
  }
  return out;
}

std::chrono::seconds Seconds(sdk::ConfigReader& r, const std::string& key, std::chrono::seconds def, int64_t min,
                             int64_t max) {
  auto v = std::chrono::duration_cast<std::chrono::seconds>(r.Duration(key, def));
  if (v.count() < min || v.count() > max) {
    r.Reject(key, "must be between " + std::to_string(min) + "s and " + std::to_string(max) + "s");
  }
  return v;
}

}  // namespace

TurnConfig ParseTurnConfig(sdk::ConfigReader& r) {
  TurnConfig c;
  c.listen = Addresses(r, "listen", {"0.0.0.0:3478", "[::]:3478"}, &c.listen_is_default);
  c.udp = r.Bool("udp", true);
  c.tcp = r.Bool("tcp", true);
  c.tls_listen = Addresses(r, "tls_listen", {"0.0.0.0:5349", "[::]:5349"}, &c.tls_listen_is_default);
  c.https_fallback = r.Bool("https_fallback", true);
  c.realm = r.String("realm", "");
  c.public_host = r.String("public_host", "");
  if (c.public_host.find_first_of("/?#@ ") != std::string::npos) r.Reject("public_host", "must be a host name or IP address");
  c.uris = r.List("uris", {});
  for (const auto& uri : c.uris) {
    if (uri.rfind("turn:", 0) != 0 && uri.rfind("turns:", 0) != 0 && uri.rfind("stun:", 0) != 0) {
      r.Reject("uris", "each must start with turn:, turns: or stun:");
    }
  }
  Ips(r, "external_ip", &c.external_v4, &c.external_v6);
  Ips(r, "relay_ip", &c.relay_v4, &c.relay_v6);
  c.min_port = static_cast<uint16_t>(r.Int("min_port", c.min_port, 1024, 65535));
  c.max_port = static_cast<uint16_t>(r.Int("max_port", c.max_port, 1024, 65535));
  if (c.min_port > c.max_port) r.Reject("max_port", "must not be below min_port");
  c.threads = static_cast<int>(r.Int("threads", 0, 0, 64));
  c.secret_file = r.String("secret_file", "");
  c.static_users_file = r.String("static_users_file", "");
  c.credential_ttl = Seconds(r, "credential_ttl", c.credential_ttl, 60, 7 * 86400);
  c.nonce_lifetime = Seconds(r, "nonce_lifetime", c.nonce_lifetime, 10, 86400);
  c.max_lifetime = Seconds(r, "max_lifetime", c.max_lifetime, 600, 86400);
  c.max_allocations = r.Int("max_allocations", c.max_allocations, 0, 10'000'000);
  c.max_allocations_per_user = r.Int("max_allocations_per_user", c.max_allocations_per_user, 0, 1'000'000);
  c.max_permissions = r.Int("max_permissions", c.max_permissions, 1, 10000);
  c.max_channels = r.Int("max_channels", c.max_channels, 1, 4096);
  c.bandwidth = r.Size("bandwidth", c.bandwidth);
  if (c.bandwidth < 0) r.Reject("bandwidth", "must not be negative");
  if (c.bandwidth != 0 && c.bandwidth < 8192) r.Reject("bandwidth", "must be 0 (unlimited) or at least 8k bytes/s");
  c.unauthenticated_per_second = r.Int("unauthenticated_per_second", c.unauthenticated_per_second, 0, 1'000'000);
  c.unauthenticated_burst = r.Int("unauthenticated_burst", c.unauthenticated_burst, 1, 10'000'000);
  c.max_connections = r.Int("max_connections", c.max_connections, 1, 1'000'000);
  c.connection_idle_timeout = Seconds(r, "connection_idle_timeout", c.connection_idle_timeout, 5, 86400);
  c.allow_loopback_peers = r.Bool("allow_loopback_peers", false);
  c.allow_private_peers = r.Bool("allow_private_peers", true);
  c.guest_private_peers = r.Bool("guest_private_peers", false);
  c.allowed_peers = Cidrs(r, "allowed_peers");
  c.denied_peers = Cidrs(r, "denied_peers");
  if (!c.udp && !c.tcp && c.tls_listen.empty() && !c.https_fallback) {
    r.Reject("udp", "every transport is off: disable the module instead ([turn] enabled = false)");
  }
  return c;
}

std::optional<std::map<std::string, std::string, std::less<>>> ParseStaticUsers(const std::string& text, std::string* error) {
  std::map<std::string, std::string, std::less<>> users;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    size_t colon = line.find(':', start);
    if (colon == std::string::npos || colon == start || colon + 1 == line.size()) {
      *error = "line " + std::to_string(n) + ": expected name:password";
      return std::nullopt;
    }
    std::string name = line.substr(start, colon - start);
    if (!users.emplace(name, line.substr(colon + 1)).second) {
      *error = "line " + std::to_string(n) + ": user \"" + name + "\" appears twice";
      return std::nullopt;
    }
  }
  return users;
}

}  // namespace palaver::turn
