#include "acme_state.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <openssl/crypto.h>

#include "acme_cert.hpp"
#include "local_ca.hpp"
#include "palaver/sdk/files.hpp"
#include "palaver/sdk/http.hpp"

namespace palaver::tls {
namespace {

std::string Json(const std::string& s) { return "\"" + sdk::JsonEscape(s) + "\""; }

Poco::JSON::Object::Ptr ParseFile(const std::string& text) {
  try {
    Poco::JSON::Parser parser;
    return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::string Get(const Poco::JSON::Object::Ptr& obj, const std::string& key) {
  if (obj.isNull() || !obj->has(key)) return {};
  try {
    return obj->getValue<std::string>(key);
  } catch (const std::exception&) {
    return {};
  }
}

}  // namespace

AcmeStorage::AcmeStorage(std::filesystem::path dir) : dir_(std::move(dir)) {}

Status AcmeStorage::EnsureDir() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Fail(ErrorCode::kUnavailable, "cannot create " + dir_.string() + ": " + ec.message());
  if (::chmod(dir_.c_str(), 0700) != 0) {
    return Fail(ErrorCode::kUnavailable, "cannot chmod " + dir_.string() + ": " + std::strerror(errno));
  }
  return OkStatus();
}

Result<EvpPkeyPtr> AcmeStorage::LoadOrCreateAccountKey(bool* created) {
  *created = false;
  Result<std::string> pem = ReadSmallFile(AccountKeyPath(), "ACME account key");
  if (pem) {
    Result<EvpPkeyPtr> key = ParsePrivateKeyPem(*pem, "ACME account key " + AccountKeyPath().string());
    OPENSSL_cleanse(pem->data(), pem->size());
    return key;
  }
  if (pem.error().code != ErrorCode::kNotFound) return tl::unexpected(pem.error());
  PALAVER_ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateKey());
  PALAVER_ASSIGN_OR_RETURN(std::string key_pem, PrivateKeyToPem(*key));
  Status written = sdk::WriteFileAtomically(AccountKeyPath(), key_pem, 0600);
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  PALAVER_RETURN_IF_ERROR(written);
  *created = true;
  return key;
}

std::string AcmeStorage::LoadAccountUrl(const std::string& directory) {
  Result<std::string> text = ReadSmallFile(dir_ / "account.json", "ACME account file");
  if (!text) return {};
  Poco::JSON::Object::Ptr obj = ParseFile(*text);
  if (Get(obj, "directory") != directory) return {};
  return Get(obj, "url");
}

Status AcmeStorage::SaveAccountUrl(const std::string& directory, const std::string& url) {
  return sdk::WriteFileAtomically(dir_ / "account.json",
                                  "{\"directory\":" + Json(directory) + ",\"url\":" + Json(url) + "}\n", 0600);
}

Result<std::string> AcmeStorage::LoadCertificatePem() { return ReadSmallFile(CertificatePath(), "ACME certificate file"); }

Status AcmeStorage::SaveCertificate(const std::string& chain_pem, const std::string& key_pem) {
  std::string text = chain_pem;
  if (!text.empty() && text.back() != '\n') text += '\n';
  text += key_pem;
  Status written = sdk::WriteFileAtomically(CertificatePath(), text, 0600);
  OPENSSL_cleanse(text.data(), text.size());
  return written;
}

std::optional<AcmePendingOrder> AcmeStorage::Load() {
  Result<std::string> text = ReadSmallFile(dir_ / "order.json", "ACME order file");
  if (!text) return std::nullopt;
  Poco::JSON::Object::Ptr obj = ParseFile(*text);
  OPENSSL_cleanse(text->data(), text->size());
  if (obj.isNull()) return std::nullopt;
  AcmePendingOrder order;
  order.directory = Get(obj, "directory");
  order.url = Get(obj, "url");
  order.key_pem = Get(obj, "key");
  try {
    Poco::JSON::Array::Ptr names = obj->getArray("names");
    for (size_t i = 0; names && i < names->size(); ++i) order.names.push_back(names->getElement<std::string>(static_cast<unsigned int>(i)));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (order.url.empty() || order.key_pem.empty()) return std::nullopt;
  return order;
}

Status AcmeStorage::Save(const AcmePendingOrder& order) {
  std::string names;
  for (const auto& n : order.names) names += (names.empty() ? "" : ",") + Json(n);
  std::string text = "{\"directory\":" + Json(order.directory) + ",\"url\":" + Json(order.url) + ",\"names\":[" + names +
                     "],\"key\":" + Json(order.key_pem) + "}\n";
  Status written = sdk::WriteFileAtomically(dir_ / "order.json", text, 0600);
  OPENSSL_cleanse(text.data(), text.size());
  return written;
}

void AcmeStorage::ClearOrder() {
  std::error_code ec;
  std::filesystem::remove(dir_ / "order.json", ec);
}

Status AcmeChallenges::Present(const std::string& type, const std::string& name, const std::string& token,
                               const std::string& key_authorization) {
  if (type == "http-01") {
    std::lock_guard<std::mutex> lock(mu_);
    http_[token] = key_authorization;
    return OkStatus();
  }
  if (type == "tls-alpn-01") {
    PALAVER_ASSIGN_OR_RETURN(std::shared_ptr<sdk::TlsIdentity> identity,
                             BuildTlsAlpnIdentity(name, key_authorization, std::chrono::system_clock::now()));
    std::lock_guard<std::mutex> lock(mu_);
    alpn_[name] = std::move(identity);
    return OkStatus();
  }
  return Fail(ErrorCode::kUnimplemented, "challenge type " + type + " is not supported");
}

void AcmeChallenges::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  http_.clear();
  alpn_.clear();
}

std::optional<std::string> AcmeChallenges::HttpAnswer(const std::string& token) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = http_.find(token);
  if (it == http_.end()) return std::nullopt;
  return it->second;
}

std::shared_ptr<const sdk::TlsIdentity> AcmeChallenges::TlsAlpnIdentity(const std::string& name) const {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  std::lock_guard<std::mutex> lock(mu_);
  auto it = alpn_.find(lower);
  if (it == alpn_.end()) it = alpn_.find(name);
  return it == alpn_.end() ? nullptr : it->second;
}

RenewalPlan PlanRenewal(const sdk::TlsIdentity* current, const std::vector<std::string>& names,
                        std::chrono::system_clock::time_point now, const std::optional<AcmeRenewalWindow>& window,
                        double fraction) {
  RenewalPlan plan;
  if (current == nullptr || current->leaf == nullptr) {
    plan.due = true;
    plan.reason = "no certificate";
    return plan;
  }
  if (!CoversNames(*current, names)) {
    plan.due = true;
    plan.reason = "hostnames changed";
    return plan;
  }
  std::string how = "a third of the lifetime left";
  plan.renew_at = RenewalTime(NotBefore(*current->leaf), current->not_after);
  if (window) {
    plan.renew_at = PickInWindow(*window, fraction);
    how = "in the CA's renewal window (ARI)";
  }
  if (now >= plan.renew_at) {
    plan.due = true;
    plan.reason = "renewal due (" + how + ")";
  }
  return plan;
}

std::chrono::system_clock::time_point RenewalTime(std::chrono::system_clock::time_point not_before,
                                                  std::chrono::system_clock::time_point not_after) {
  if (not_after <= not_before) return not_before;
  return not_after - (not_after - not_before) / 3;
}

std::chrono::system_clock::time_point PickInWindow(const AcmeRenewalWindow& window, double fraction) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  auto span = std::chrono::duration_cast<std::chrono::seconds>(window.end - window.start);
  return window.start + std::chrono::seconds(static_cast<int64_t>(static_cast<double>(span.count()) * fraction));
}

std::chrono::seconds Backoff(int failures, std::chrono::seconds first, std::chrono::seconds cap,
                             std::optional<std::chrono::seconds> retry_after) {
  std::chrono::seconds wait = first;
  for (int i = 1; i < failures && wait < cap; ++i) wait *= 2;
  wait = std::min(wait, cap);
  if (retry_after && *retry_after > wait) wait = *retry_after;
  return wait;
}

std::chrono::seconds ExpiryWarningLead(std::chrono::system_clock::time_point not_before,
                                       std::chrono::system_clock::time_point not_after) {
  std::chrono::seconds lead = std::chrono::days(14);
  if (not_after > not_before) {
    lead = std::min(lead, std::chrono::duration_cast<std::chrono::seconds>(not_after - not_before) / 5);
  }
  return lead;
}

}  // namespace palaver::tls
