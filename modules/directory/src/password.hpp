// argon2id password hashing (Debian's libargon2), in the PHC string format.
#pragma once

#include <string>
#include <string_view>

#include "palaver/sdk/status.hpp"

namespace palaver::directory {

/// Costs of new hashes (OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane). Verifying
/// uses the costs recorded in each hash, so they can be raised later without a migration.
struct HashCost {
  uint32_t time = 2;
  uint32_t memory_kib = 19 * 1024;
  uint32_t lanes = 1;
};

/// Longest password accepted (bounds the hashing work an attacker can ask for).
inline constexpr size_t kMaxPasswordBytes = 1024;

/// `$argon2id$v=19$m=...,t=...,p=...$<salt>$<hash>` with a fresh 16-byte salt. Blocking (~tens of
/// ms): workers or CLI only.
Result<std::string> HashPassword(std::string_view password, HashCost cost = {});
/// Whether `password` matches `encoded`. False for a malformed hash. Blocking.
bool VerifyPassword(std::string_view encoded, std::string_view password);
/// Checks a new password: not empty, not over kMaxPasswordBytes, no NUL.
Status ValidateNewPassword(std::string_view password);
/// A random password for generated accounts: 24 URL-safe characters (144 bits).
std::string RandomPassword();

}  // namespace palaver::directory
