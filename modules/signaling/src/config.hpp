// [signaling] config.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "palaver/sdk/config.hpp"

namespace palaver::signaling {

/// `turn_ttl`'s default, and what is said when it is set but cannot apply.
inline constexpr std::chrono::seconds kDefaultTurnTtl{3600};
inline constexpr const char* kTurnTtlUnused =
    "has no effect without turn_uris: credentials of the built-in TURN server last [turn] credential_ttl";

struct SignalingConfig {
  std::vector<std::string> required_scopes{"kopano/kwm"};
  // An external TURN server (coturn `use-auth-secret`); when set it wins over the `turn` module.
  std::vector<std::string> turn_uris;
  std::string turn_shared_secret_file;
  // Lifetime of the external server's credentials only ([turn] credential_ttl is the built-in's).
  std::chrono::seconds turn_ttl = kDefaultTurnTtl;
  int64_t max_message_bytes = 256 * 1024;
  int64_t max_queued_bytes = 2 * 1024 * 1024;
  int64_t messages_per_second = 50;  // per connection, sustained
  int64_t message_burst = 200;       // per connection
  int64_t guest_logons_per_minute = 30;  // per client address
  // What one client may make the hub hold (HubLimits).
  int64_t max_name_bytes = 512;
  int64_t max_groups_per_connection = 4;
  int64_t max_groups_per_user = 16;
  int64_t max_calls_per_connection = 4;
  int64_t max_calls_per_user = 16;
  // How often the users of open RTM connections are checked against the directory: a removed or
  // disabled user, or one whose sessions ended (password change), is disconnected (1008).
  std::chrono::seconds session_check_interval{10};
};

/// Parses [signaling]; problems are recorded on `reader`. Pure.
SignalingConfig ParseSignalingConfig(sdk::ConfigReader& reader);

}  // namespace palaver::signaling
