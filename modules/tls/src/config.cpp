#include "config.hpp"

#include <string>
#include <vector>

namespace palaver::tls {

Result<TlsConfig> ParseTlsConfig(sdk::ConfigReader& section) {
  TlsConfig config;
  // Every getter runs before any validation: the host learns the accepted keys this way.
  config.certificate = section.String("certificate", "");
  config.key = section.String("key", "");
  config.local_ca = section.Bool("local_ca", true);
  config.watch_interval = section.Duration("watch_interval", std::chrono::seconds(30));
  std::chrono::milliseconds leaf_lifetime = section.Duration("leaf_lifetime", std::chrono::days(180));
  config.acme = section.Bool("acme", false);
  config.acme_email = section.String("acme_email", "");
  config.acme_agree_tos = section.Bool("acme_agree_tos", false);
  std::string directory = section.String("acme_directory", "letsencrypt");
  config.acme_ca_file = section.String("acme_ca_file", "");
  config.acme_eab_kid = section.String("acme_eab_kid", "");
  config.acme_eab_hmac_key = section.String("acme_eab_hmac_key", "");
  std::string challenge = section.Enum("acme_challenge", "auto", {"auto", "http-01", "tls-alpn-01"});
  std::chrono::milliseconds retry = section.Duration("acme_retry_interval", std::chrono::minutes(1));

  if (!config.certificate.empty() && config.key.empty()) {
    section.Reject("key", "certificate is set but key is not; set both or neither");
  } else if (config.certificate.empty() && !config.key.empty()) {
    section.Reject("certificate", "key is set but certificate is not; set both or neither");
  } else if (config.certificate.empty() && !config.local_ca) {
    section.Reject("local_ca",
                   "no certificate and key are configured and local_ca = no; set certificate and key, "
                   "or set local_ca = yes to generate a local CA");
  }
  if (config.watch_interval.count() != 0 && config.watch_interval < std::chrono::seconds(1)) {
    section.Reject("watch_interval", "must be 0 (off) or at least 1s");
  }
  if (leaf_lifetime < kMinLeafLifetime) {
    section.Reject("leaf_lifetime", "must be at least 1d");
  } else if (leaf_lifetime > kMaxLeafLifetime) {
    section.Reject("leaf_lifetime", "must be at most 397d (browsers reject longer-lived certificates)");
  } else {
    config.leaf_lifetime = std::chrono::duration_cast<std::chrono::seconds>(leaf_lifetime);
  }

  if (directory == "letsencrypt") {
    config.acme_directory = kLetsEncryptProduction;
  } else if (directory == "letsencrypt-staging") {
    config.acme_directory = kLetsEncryptStaging;
  } else {
    config.acme_directory = directory;
    if (directory.rfind("https://", 0) != 0 || directory.size() <= 8) {
      section.Reject("acme_directory",
                     "must be letsencrypt, letsencrypt-staging or an https:// URL of an ACME directory");
    }
  }
  if (challenge == "http-01") config.acme_challenges = {"http-01"};
  if (challenge == "tls-alpn-01") config.acme_challenges = {"tls-alpn-01"};
  if (retry < std::chrono::seconds(1) || retry > kAcmeMaxRetry) {
    section.Reject("acme_retry_interval", "must be between 1s and 12h");
  } else {
    config.acme_retry_interval = std::chrono::duration_cast<std::chrono::seconds>(retry);
  }
  if (!config.acme_email.empty()) {
    const std::string& e = config.acme_email;
    auto at = e.find('@');
    bool ok = at != std::string::npos && at > 0 && at + 1 < e.size() && e.find('@', at + 1) == std::string::npos &&
              e.find_first_of(" \t\"<>,;:()[]\\") == std::string::npos;
    if (!ok) section.Reject("acme_email", "not an e-mail address: \"" + e + "\"");
  }
  if (config.acme_eab_kid.empty() != config.acme_eab_hmac_key.empty()) {
    section.Reject(config.acme_eab_kid.empty() ? "acme_eab_kid" : "acme_eab_hmac_key",
                   "External Account Binding needs both acme_eab_kid and acme_eab_hmac_key");
  }
  if (config.acme) {
    if (!config.certificate.empty()) {
      section.Reject("acme", "acme = yes and certificate/key files are both set; use one of them");
    }
    if (!config.acme_agree_tos) {
      section.Reject("acme_agree_tos",
                     "acme = yes needs acme_agree_tos = yes: you agree to the ACME CA's terms of service "
                     "(Let's Encrypt: https://letsencrypt.org/repository/)");
    }
    if (!config.local_ca) {
      section.Reject("local_ca", "acme = yes needs local_ca = yes: the local CA serves until the first certificate "
                                 "is obtained");
    }
  }

  std::vector<std::string> problems = section.Problems();
  if (!problems.empty()) {
    std::string message;
    for (const auto& p : problems) message += (message.empty() ? "" : "\n") + p;
    return Fail(ErrorCode::kInvalidArgument, message);
  }
  return config;
}

}  // namespace palaver::tls
