#include "signin_session.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>
#include <sstream>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "palaver/sdk/encoding.hpp"

namespace palaver::oidc {
namespace {

constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr char kAad[] = "palaver-signin-v1";  // + "/<purpose>"

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

}  // namespace

std::string SessionSealer::SealText(std::string_view purpose, std::string_view plain) const {
  std::string aad = std::string(kAad) + "/" + std::string(purpose);
  std::string out(kNonceBytes + plain.size() + kTagBytes, '\0');
  auto* buf = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(buf, kNonceBytes) != 1) return {};
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, reinterpret_cast<const unsigned char*>(key_.data()),
                         buf) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), buf + kNonceBytes, &len, reinterpret_cast<const unsigned char*>(plain.data()),
                        static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), buf + kNonceBytes + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, buf + kNonceBytes + plain.size()) != 1) {
    return {};
  }
  return sdk::Base64UrlEncode(out);
}

std::optional<std::string> SessionSealer::OpenText(std::string_view purpose, std::string_view value) const {
  if (value.size() > 8192) return std::nullopt;
  auto raw = sdk::Base64UrlDecode(value);
  if (!raw || raw->size() < kNonceBytes + kTagBytes + 1) return std::nullopt;
  std::string aad = std::string(kAad) + "/" + std::string(purpose);
  const auto* buf = reinterpret_cast<const unsigned char*>(raw->data());
  size_t cipher_len = raw->size() - kNonceBytes - kTagBytes;
  std::string plain(cipher_len, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  std::string tag = raw->substr(kNonceBytes + cipher_len);
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, reinterpret_cast<const unsigned char*>(key_.data()),
                         buf) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len, buf + kNonceBytes,
                        static_cast<int>(cipher_len)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len, &len) != 1) {
    return std::nullopt;  // altered, sealed for another purpose or with another key
  }
  return plain;
}

std::string SessionSealer::Seal(const SigninSession& s) const {
  Poco::JSON::Object o;
  o.set("id", s.user_id);
  o.set("un", s.username);
  o.set("dn", s.display_name);
  o.set("iat", s.issued_at);
  o.set("exp", s.expires_at);
  if (!s.sid.empty()) o.set("sid", s.sid);
  std::ostringstream json;
  o.stringify(json);
  return SealText("session", json.str());
}

std::optional<SigninSession> SessionSealer::Open(std::string_view value, int64_t now_s) const {
  auto plain = OpenText("session", value);
  if (!plain) return std::nullopt;
  try {
    Poco::JSON::Parser parser;
    auto obj = parser.parse(*plain).extract<Poco::JSON::Object::Ptr>();
    SigninSession s;
    s.user_id = obj->getValue<std::string>("id");
    s.username = obj->getValue<std::string>("un");
    s.display_name = obj->getValue<std::string>("dn");
    s.issued_at = obj->getValue<int64_t>("iat");
    s.expires_at = obj->getValue<int64_t>("exp");
    s.sid = obj->optValue<std::string>("sid", "");
    if (s.expires_at <= now_s || s.user_id.empty()) return std::nullopt;
    return s;
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

std::string SessionCookieHeader(const std::string& value) {
  return std::string(kSessionCookie) + "=" + value + "; Path=" + kSessionCookiePath +
         "; Secure; HttpOnly; SameSite=Lax";
}

std::string ClearSessionCookieHeader() {
  return std::string(kSessionCookie) + "=; Path=" + kSessionCookiePath +
         "; Max-Age=0; Secure; HttpOnly; SameSite=Lax";
}

std::optional<std::string> CookieValue(std::string_view header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view item = header.substr(pos, end - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    size_t eq = item.find('=');
    if (eq != std::string_view::npos && item.substr(0, eq) == name) return std::string(item.substr(eq + 1));
    pos = end + 1;
  }
  return std::nullopt;
}

void FailureLimiter::Prune(std::deque<int64_t>& times, int64_t now_s) const {
  while (!times.empty() && times.front() <= now_s - window_s_) times.pop_front();
}

int FailureLimiter::Count(const std::string& key, int64_t now_s) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return 0;
  Prune(it->second.failures, now_s);
  return static_cast<int>(it->second.failures.size()) + it->second.in_flight;
}

bool FailureLimiter::TryBegin(const std::string& key, int64_t now_s) {
  if (Count(key, now_s) >= max_failures_) return false;
  auto [it, inserted] = entries_.try_emplace(key);
  ++it->second.in_flight;
  if (inserted) {
    order_.push_back(key);
    Bound();
  }
  return true;
}

void FailureLimiter::End(const std::string& key, int64_t now_s, bool failed) {
  auto [it, inserted] = entries_.try_emplace(key);
  Entry& e = it->second;
  if (e.in_flight > 0) --e.in_flight;
  if (failed) {
    Prune(e.failures, now_s);
    e.failures.push_back(now_s);
    if (e.failures.size() > static_cast<size_t>(max_failures_) * 2) e.failures.pop_front();
  }
  if (e.failures.empty() && e.in_flight == 0) {
    entries_.erase(it);
    return;
  }
  if (inserted) {
    order_.push_back(key);
    Bound();
  }
}

void FailureLimiter::Reset(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  it->second.failures.clear();
  if (it->second.in_flight == 0) entries_.erase(it);
}

void FailureLimiter::Bound() {
  if (order_.size() > 2 * max_keys_ + 16) {  // keys removed and added again left stale entries
    order_.clear();
    for (const auto& [k, v] : entries_) order_.push_back(k);
  }
  // Forget the oldest keys, except those with attempts in flight (their End must find them).
  size_t scanned = 0;
  while (entries_.size() > max_keys_ && scanned < order_.size()) {
    std::string key = std::move(order_.front());
    order_.pop_front();
    auto it = entries_.find(key);
    if (it == entries_.end()) continue;
    if (it->second.in_flight > 0) {
      order_.push_back(std::move(key));
      ++scanned;
      continue;
    }
    entries_.erase(it);
  }
}

}  // namespace palaver::oidc
