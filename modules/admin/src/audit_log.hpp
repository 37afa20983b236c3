// The audit log: every settings change and admin action, with who, when, from where, the old and
// the new value. Durable in palaver.db (table `admin_audit`).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "palaver/sdk/status.hpp"
#include "palaver/sdk/store.hpp"

namespace palaver::admin {

/// One recorded action. Value type.
struct AuditEntry {
  int64_t id = 0;        // assigned by Record
  int64_t at_ms = 0;     // unix milliseconds
  std::string actor;     // the admin's username, or "cli" for `palaverd settings`
  std::string source;    // the client address, or "local" for the CLI
  std::string action;    // "setting.change", "user.create", ...
  std::string target;    // the setting key or the username
  std::string old_value;
  std::string new_value;
};

/// Thread-safe; blocking (workers, Start or commands). `store` must outlive it.
class AuditLog {
 public:
  explicit AuditLog(sdk::Store& store) : store_(store) {}
  static std::vector<sdk::Migration> Migrations();
  /// Appends `entry` (its id is ignored).
  Status Record(const AuditEntry& entry);
  /// The newest entries first, at most `limit`, whose actor, source, action, target or values
  /// contain `text` (case-insensitive; empty: all).
  Result<std::vector<AuditEntry>> Search(std::string_view text, size_t limit);

 private:
  sdk::Store& store_;
};

/// RFC 4180 CSV with a header line; cells that a spreadsheet would run as a formula
/// (=, +, -, @ first) are prefixed with a quote.
std::string AuditCsv(const std::vector<AuditEntry>& entries);

}  // namespace palaver::admin
