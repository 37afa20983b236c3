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

  std::vector<std::string> problems = section.Problems();
  if (!problems.empty()) {
    std::string message;
    for (const auto& p : problems) message += (message.empty() ? "" : "\n") + p;
    return Fail(ErrorCode::kInvalidArgument, message);
  }
  return config;
}

}  // namespace palaver::tls
