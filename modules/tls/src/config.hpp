// The `[tls]` config section.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "palaver/sdk/config.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::tls {

// Longest lifetime browsers accept for a server certificate (CA/Browser Forum baseline).
inline constexpr std::chrono::days kMaxLeafLifetime{397};
inline constexpr std::chrono::days kMinLeafLifetime{1};

inline constexpr const char* kLetsEncryptProduction = "https://acme-v02.api.letsencrypt.org/directory";
inline constexpr const char* kLetsEncryptStaging = "https://acme-staging-v02.api.letsencrypt.org/directory";
// Longest wait between two attempts after failures.
inline constexpr std::chrono::hours kAcmeMaxRetry{12};

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

  // ACME: obtain the certificate from an ACME CA (the local CA serves until it is there).
  bool acme = false;
  std::string acme_email;
  bool acme_agree_tos = false;
  std::string acme_directory{kLetsEncryptProduction};
  std::filesystem::path acme_ca_file;  // CA bundle for the ACME API's HTTPS; empty: the system's
  std::string acme_eab_kid;
  std::string acme_eab_hmac_key;
  // Challenge types in order of preference.
  std::vector<std::string> acme_challenges{"http-01", "tls-alpn-01"};
  // First wait after a failed attempt; doubled per failure up to kAcmeMaxRetry.
  std::chrono::seconds acme_retry_interval{60};

  // True when the certificate comes from `certificate`/`key`, false in local-CA and ACME mode.
  bool UsesFiles() const { return !certificate.empty(); }
};

// Reads every key of the section (unconditionally, so the host can list the accepted keys) and
// validates the combination. Problems are recorded with `section.Reject()`; when there are any
// (including unknown keys) the result is a kInvalidArgument error listing them. No file access.
Result<TlsConfig> ParseTlsConfig(sdk::ConfigReader& section);

}  // namespace palaver::tls
