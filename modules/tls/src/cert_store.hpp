// CertStore: the CertificateProvider the `tls` module publishes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "acme_state.hpp"
#include "palaver/sdk/check.hpp"
#include "palaver/sdk/services/certificate_provider.hpp"

namespace palaver::tls {

// Holds the identity currently served and swaps it atomically: a handshake that already took the
// old identity keeps it alive through its shared_ptr. Owned jointly by the module and the
// service registry. Thread-safe; ForName never blocks on I/O.
class CertStore final : public sdk::CertificateProvider {
 public:
  // REQUIRES: `identity` is not null.
  CertStore(std::shared_ptr<const sdk::TlsIdentity> identity, std::string trust_anchor_path);

  // One certificate covers every name today, so `server_name` is ignored.
  // TODO(tls): per-name identities for ACME: look `server_name` up in a map of identities
  // (exact, then wildcard) and fall back to the default identity held here.
  std::shared_ptr<const sdk::TlsIdentity> ForName(std::string_view server_name) const override;
  uint64_t OnChange(std::function<void()> fn) override;
  std::string TrustAnchorPath() const override;
  // The TLS-ALPN-01 answer from the challenges set with SetAcmeChallenges, else null.
  std::shared_ptr<const sdk::TlsIdentity> ForAcmeTlsAlpn(std::string_view server_name) const override;
  // The challenge answers of the ACME client (null: none). Set once in Start, before serving.
  void SetAcmeChallenges(std::shared_ptr<const AcmeChallenges> challenges);
  sdk::CertificateRenewal Renewal() const override;
  void SetRenewal(sdk::CertificateRenewal renewal);

  // Replaces the identity and trust anchor, then calls every OnChange subscriber on this thread
  // (outside the lock, so they may call ForName). REQUIRES: `identity` is not null.
  void Set(std::shared_ptr<const sdk::TlsIdentity> identity, std::string trust_anchor_path);
  std::shared_ptr<const sdk::TlsIdentity> Current() const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const sdk::TlsIdentity> identity_ PALAVER_GUARDED_BY(mu_);
  std::string trust_anchor_path_ PALAVER_GUARDED_BY(mu_);
  uint64_t next_subscriber_id_ PALAVER_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, std::shared_ptr<std::function<void()>>> subscribers_ PALAVER_GUARDED_BY(mu_);
  std::shared_ptr<const AcmeChallenges> acme_challenges_ PALAVER_GUARDED_BY(mu_);
  sdk::CertificateRenewal renewal_ PALAVER_GUARDED_BY(mu_);
};

}  // namespace palaver::tls
