// ACME state around the protocol client: the files in `<state_dir>/tls/acme/`, the challenge
// answers the listeners serve while an order is validated, and the renewal policy.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "acme_client.hpp"
#include "identity.hpp"
#include "palaver/sdk/check.hpp"
#include "palaver/sdk/services/certificate_provider.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::tls {

// The files of the ACME client, all written atomically (temporary file, fsync, rename):
//   account.key      0600  the account key (ECDSA P-256), created once, never overwritten
//   account.json     0600  {"directory": …, "url": …}: the account URL at that CA
//   certificate.pem  0600  the certificate chain followed by its private key (one file, so a
//                          crash can never pair a new chain with an old key)
//   order.json       0600  the order in progress and its key, so a restart resumes it
// Thread: one thread at a time (the ACME worker task).
class AcmeStorage final : public AcmeOrderJournal {
 public:
  explicit AcmeStorage(std::filesystem::path dir);

  const std::filesystem::path& Dir() const { return dir_; }
  std::filesystem::path CertificatePath() const { return dir_ / "certificate.pem"; }
  std::filesystem::path AccountKeyPath() const { return dir_ / "account.key"; }

  // Creates the directory (0700) when missing.
  Status EnsureDir();
  // Loads the account key, creating it on first use. A key file that exists but does not parse is
  // an error naming the file (it is the identity of the account; it is not replaced silently).
  Result<EvpPkeyPtr> LoadOrCreateAccountKey(bool* created);
  // The account URL stored for `directory`, or "".
  std::string LoadAccountUrl(const std::string& directory);
  Status SaveAccountUrl(const std::string& directory, const std::string& url);
  // The stored certificate file's text; kNotFound when there is none.
  Result<std::string> LoadCertificatePem();
  Status SaveCertificate(const std::string& chain_pem, const std::string& key_pem);

  // AcmeOrderJournal.
  std::optional<AcmePendingOrder> Load() override;
  Status Save(const AcmePendingOrder& order) override;
  void ClearOrder();

 private:
  std::filesystem::path dir_;
};

// The answers to the challenges of the order being validated. Written by the ACME worker,
// read per request (HTTP-01, net loop) and per handshake (TLS-ALPN-01). Thread-safe, non-blocking.
class AcmeChallenges final : public AcmeChallengeResponder {
 public:
  Status Present(const std::string& type, const std::string& name, const std::string& token,
                 const std::string& key_authorization) override;
  void Clear() override;

  // The key authorization for an HTTP-01 token, if one is pending.
  std::optional<std::string> HttpAnswer(const std::string& token) const;
  // The TLS-ALPN-01 certificate for `name`, or null.
  std::shared_ptr<const sdk::TlsIdentity> TlsAlpnIdentity(const std::string& name) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> http_ PALAVER_GUARDED_BY(mu_);  // token -> key authorization
  std::map<std::string, std::shared_ptr<const sdk::TlsIdentity>> alpn_ PALAVER_GUARDED_BY(mu_);  // name -> cert
};

// Whether an ACME certificate is needed now. Value type.
struct RenewalPlan {
  bool due = false;
  std::string reason;  // why it is due ("no certificate", "hostnames changed", "renewal due (...)")
  std::chrono::system_clock::time_point renew_at;  // when not due: when it will be
};
// Decides for the served ACME certificate `current` (null: none) and the configured `names`:
// due without a certificate or when names are missing; else at the point `fraction` of the CA's
// ARI `window` when there is one, else when a third of the lifetime is left.
RenewalPlan PlanRenewal(const sdk::TlsIdentity* current, const std::vector<std::string>& names,
                        std::chrono::system_clock::time_point now, const std::optional<AcmeRenewalWindow>& window,
                        double fraction);

// When a certificate valid from `not_before` to `not_after` is renewed without ARI: when a third of
// its lifetime remains (a 90-day certificate after 60 days, a 6-day one after 4).
std::chrono::system_clock::time_point RenewalTime(std::chrono::system_clock::time_point not_before,
                                                  std::chrono::system_clock::time_point not_after);
// When to renew within an ARI window: a point in [start, end) chosen by `fraction` in [0, 1)
// (RFC 9773 §4.2 asks for a uniformly random one).
std::chrono::system_clock::time_point PickInWindow(const AcmeRenewalWindow& window, double fraction);
// The wait after `failures` consecutive failed attempts (1 = the first): `first` doubled each
// time, at most `cap`, and never shorter than the CA's Retry-After.
std::chrono::seconds Backoff(int failures, std::chrono::seconds first, std::chrono::seconds cap,
                             std::optional<std::chrono::seconds> retry_after);
// How long before expiry a certificate warns: 14 days, or a fifth of its lifetime if that is less.
std::chrono::seconds ExpiryWarningLead(std::chrono::system_clock::time_point not_before,
                                       std::chrono::system_clock::time_point not_after);

}  // namespace palaver::tls
