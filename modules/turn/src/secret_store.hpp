// The TURN REST secret on disk: the current one (generated on first start, 0600) and, after a
// rotation, the previous one with the time it was retired, so that a restart keeps accepting the
// credentials handed out before the rotation until they expire.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "auth.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::turn {

/// A usable secret has at least this many characters (surrounding white space not counted).
inline constexpr size_t kMinSecretChars = 16;

/// A secret file's text without surrounding white space, as LoadSecrets reads it.
std::string TrimSecret(std::string_view text);

struct SecretState {
  std::string current;
  int64_t changed_unix = 0;  // when `current` was generated or rotated in (the file's mtime)
  std::optional<AuthOptions::RetiredSecret> previous;  // still accepted (see AuthOptions::retired)
};

/// `<path>.previous`: "<retired unix seconds>\n<secret>\n".
std::filesystem::path PreviousSecretPath(const std::filesystem::path& path);

/// Reads the secret at `path` (made when missing; `generated` says so) and the previous one when
/// it still covers credentials (retired + ttl_s >= now); an outdated previous file is removed.
/// A short or unreadable secret is an error naming the file; a malformed previous file is
/// ignored and removed (it only ever widens what is accepted).
Result<SecretState> LoadSecrets(const std::filesystem::path& path, int64_t ttl_s, int64_t now, bool* generated);

/// Rotates: the current secret is written to the previous file (retired now), then a new one to
/// `path`, each atomically (write, fsync, rename). A crash between the two leaves the old secret
/// current and also "previous": nothing is lost.
Result<SecretState> RotateSecret(const std::filesystem::path& path, const SecretState& state, int64_t ttl_s,
                                 int64_t now);

}  // namespace palaver::turn
