#include "cert_store.hpp"

#include <utility>
#include <vector>

namespace palaver::tls {

CertStore::CertStore(std::shared_ptr<const sdk::TlsIdentity> identity, std::string trust_anchor_path)
    : identity_(std::move(identity)), trust_anchor_path_(std::move(trust_anchor_path)) {
  PALAVER_CHECK(identity_ != nullptr);
}

std::shared_ptr<const sdk::TlsIdentity> CertStore::ForName(std::string_view /*server_name*/) const {
  return Current();
}

std::shared_ptr<const sdk::TlsIdentity> CertStore::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return identity_;
}

uint64_t CertStore::OnChange(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id = next_subscriber_id_++;
  subscribers_.emplace(id, std::make_shared<std::function<void()>>(std::move(fn)));
  return id;
}

std::string CertStore::TrustAnchorPath() const {
  std::lock_guard<std::mutex> lock(mu_);
  return trust_anchor_path_;
}

std::shared_ptr<const sdk::TlsIdentity> CertStore::ForAcmeTlsAlpn(std::string_view server_name) const {
  std::shared_ptr<const AcmeChallenges> challenges;
  {
    std::lock_guard<std::mutex> lock(mu_);
    challenges = acme_challenges_;
  }
  if (!challenges || server_name.empty()) return nullptr;
  return challenges->TlsAlpnIdentity(std::string(server_name));
}

void CertStore::SetAcmeChallenges(std::shared_ptr<const AcmeChallenges> challenges) {
  std::lock_guard<std::mutex> lock(mu_);
  acme_challenges_ = std::move(challenges);
}

void CertStore::Set(std::shared_ptr<const sdk::TlsIdentity> identity, std::string trust_anchor_path) {
  PALAVER_CHECK(identity != nullptr);
  std::vector<std::shared_ptr<std::function<void()>>> to_call;
  {
    std::lock_guard<std::mutex> lock(mu_);
    identity_ = std::move(identity);
    trust_anchor_path_ = std::move(trust_anchor_path);
    for (const auto& [id, fn] : subscribers_) to_call.push_back(fn);
  }
  for (const auto& fn : to_call) (*fn)();
}

sdk::CertificateRenewal CertStore::Renewal() const {
  std::lock_guard<std::mutex> lock(mu_);
  return renewal_;
}

void CertStore::SetRenewal(sdk::CertificateRenewal renewal) {
  std::lock_guard<std::mutex> lock(mu_);
  renewal_ = std::move(renewal);
}

}  // namespace palaver::tls
