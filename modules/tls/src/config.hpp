// The `[tls]` config section.
#pragma once

#include <chrono>
#include <filesystem>

#include "palaver/sdk/config.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::tls {

// Longest lifetime browsers accept for a server certificate (CA/Browser Forum baseline).
inline constexpr std::chrono::days kMaxLeafLifetime{397};
inline constexpr std::chrono::days kMinLeafLifetime{1};

// The parsed `[tls]` section. Value type.
struct TlsConfig {
  // PEM chain (leaf first) and PEM private key; both empty in local-CA mode.
  std::filesystem::path certificate;
  std::filesystem::path key;
  // Generate a local CA when no files are configured.
  bool local_ca = true;
  // How often `certificate` and `key` are checked for changes; zero turns watching off.
  std::chrono::milliseconds watch_interval{std::chrono::seconds(30)};
  // Lifetime of the server certificate the local CA issues.
  std::chrono::seconds leaf_lifetime{std::chrono::days(180)};

  // True when the certificate comes from `certificate`/`key`, false in local-CA mode.
  bool UsesFiles() const { return !certificate.empty(); }
};

// Reads every key of the section (unconditionally, so the host can list the accepted keys) and
// validates the combination. Problems are recorded with `section.Reject()`; when there are any
// (including unknown keys) the result is a kInvalidArgument error listing them. No file access.
Result<TlsConfig> ParseTlsConfig(sdk::ConfigReader& section);

}  // namespace palaver::tls
