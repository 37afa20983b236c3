#include "config.hpp"

namespace palaver::signaling {

SignalingConfig ParseSignalingConfig(sdk::ConfigReader& r) {
  SignalingConfig c;
  c.required_scopes = r.List("required_scopes", c.required_scopes);
  c.turn_uris = r.List("turn_uris", {});
  for (const auto& uri : c.turn_uris) {
    if (uri.rfind("turn:", 0) != 0 && uri.rfind("turns:", 0) != 0 && uri.rfind("stun:", 0) != 0) {
      r.Reject("turn_uris", "each must start with turn:, turns: or stun:");
    }
  }
  c.turn_shared_secret_file = r.String("turn_shared_secret_file", "");
  if (!c.turn_uris.empty() && c.turn_shared_secret_file.empty()) {
    r.Reject("turn_shared_secret_file", "is needed with turn_uris (the TURN server's static-auth-secret)");
  }
  c.turn_ttl = std::chrono::duration_cast<std::chrono::seconds>(r.Duration("turn_ttl", kDefaultTurnTtl));
  if (c.turn_ttl.count() < 60) r.Reject("turn_ttl", "must be at least 60s");
  // One lifetime per TURN server: turn_ttl is the external server's; the built-in one's
  // credentials last [turn] credential_ttl. A turn_ttl that could not apply is said so.
  if (c.turn_uris.empty() && c.turn_ttl != kDefaultTurnTtl) r.Warn("turn_ttl", kTurnTtlUnused);
  c.max_message_bytes = r.Size("max_message_bytes", c.max_message_bytes);
  if (c.max_message_bytes < 4096 || c.max_message_bytes > 16 * 1024 * 1024) {
    r.Reject("max_message_bytes", "must be between 4k and 16M");
  }
  c.max_queued_bytes = r.Size("max_queued_bytes", c.max_queued_bytes);
  if (c.max_queued_bytes < c.max_message_bytes) r.Reject("max_queued_bytes", "must be at least max_message_bytes");
  c.messages_per_second = r.Int("messages_per_second", c.messages_per_second, 1, 100000);
  c.message_burst = r.Int("message_burst", c.message_burst, 1, 1000000);
  c.guest_logons_per_minute = r.Int("guest_logons_per_minute", c.guest_logons_per_minute, 1, 100000);
  c.max_name_bytes = r.Int("max_name_bytes", c.max_name_bytes, 64, 4096);
  c.max_groups_per_connection = r.Int("max_groups_per_connection", c.max_groups_per_connection, 1, 1000);
  c.max_groups_per_user = r.Int("max_groups_per_user", c.max_groups_per_user, 1, 10000);
  c.max_calls_per_connection = r.Int("max_calls_per_connection", c.max_calls_per_connection, 1, 1000);
  c.max_calls_per_user = r.Int("max_calls_per_user", c.max_calls_per_user, 1, 10000);
  c.session_check_interval = std::chrono::duration_cast<std::chrono::seconds>(
      r.Duration("session_check_interval", std::chrono::seconds(10)));
  if (c.session_check_interval.count() < 1 || c.session_check_interval.count() > 3600) {
    r.Reject("session_check_interval", "must be between 1s and 1h");
  }
  if (c.max_groups_per_user < c.max_groups_per_connection) {
    r.Reject("max_groups_per_user", "must be at least max_groups_per_connection");
  }
  if (c.max_calls_per_user < c.max_calls_per_connection) {
    r.Reject("max_calls_per_user", "must be at least max_calls_per_connection");
  }
  return c;
}

}  // namespace palaver::signaling
