#include "auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstring>

#include "palaver/sdk/check.hpp"
#include "palaver/sdk/encoding.hpp"
#include "palaver/sdk/services/turn_credentials.hpp"

namespace palaver::turn {
namespace {

// RFC 8489 §14.3–§14.4: USERNAME fewer than 509 bytes; REALM and NONCE fewer than 128
// characters, at most 763 bytes.
constexpr size_t kMaxUsername = 508;
constexpr size_t kMaxRealmOrNonce = 763;
constexpr size_t kNonceHexDigits = 12;
constexpr size_t kNonceMacBytes = 16;

std::optional<int64_t> ParseDigits(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

LongTermKey MakeLongTermKey(std::string_view username, std::string_view realm, std::string_view password) {
  std::string input;
  input.reserve(username.size() + realm.size() + password.size() + 2);
  input.append(username).append(":").append(realm).append(":").append(password);
  LongTermKey key{};
  unsigned int len = 0;
  PALAVER_CHECK(EVP_Digest(input.data(), input.size(), key.data(), &len, EVP_md5(), nullptr) == 1 && len == 16);
  return key;
}

std::optional<RestUsername> ParseRestUsername(std::string_view username) {
  size_t colon = username.find(':');
  if (colon == std::string_view::npos) {
    auto expiry = ParseDigits(username);
    if (!expiry) return std::nullopt;
    return RestUsername{*expiry, {}};
  }
  std::string_view head = username.substr(0, colon);
  std::string_view tail = username.substr(colon + 1);
  if (auto expiry = ParseDigits(head)) return RestUsername{*expiry, tail};
  if (auto expiry = ParseDigits(tail); expiry && !head.empty()) return RestUsername{*expiry, head};
  return std::nullopt;
}

std::string RestPassword(std::string_view secret, std::string_view username) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(username.data()), username.size(), mac, &len);
  return sdk::Base64Encode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

Authenticator::Authenticator(AuthOptions options) : options_(std::move(options)) {
  PALAVER_CHECK(options_.now != nullptr);
  SetSecrets(std::move(options_.secrets), std::move(options_.retired));
  options_.secrets.clear();
  options_.retired.clear();
  if (options_.nonce_key.empty()) {
    options_.nonce_key.resize(32);
    PALAVER_CHECK(RAND_bytes(reinterpret_cast<unsigned char*>(options_.nonce_key.data()), 32) == 1);
  }
  for (const auto& [name, password] : options_.static_users) {
    static_keys_.emplace(name, MakeLongTermKey(name, options_.realm, password));
  }
}

std::string Authenticator::NonceMac(std::string_view expiry_hex, const Address& client, Transport transport) const {
  // expiry ‖ transport ‖ family ‖ ip ‖ port: fixed-width fields, so no two inputs collide.
  uint8_t input[kNonceHexDigits + 1 + 1 + 16 + 2] = {};
  std::memcpy(input, expiry_hex.data(), kNonceHexDigits);
  size_t n = kNonceHexDigits;
  input[n++] = static_cast<uint8_t>(transport);
  input[n++] = static_cast<uint8_t>(client.family());
  auto ip = client.ip();
  std::memcpy(input + n, ip.data(), ip.size());
  n += 16;
  input[n++] = static_cast<uint8_t>(client.port() >> 8);
  input[n++] = static_cast<uint8_t>(client.port());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), options_.nonce_key.data(), static_cast<int>(options_.nonce_key.size()), input, n, mac, &len);
  return sdk::Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac), kNonceMacBytes));
}

std::string Authenticator::MakeNonce(const Address& client, Transport transport) const {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t expiry = static_cast<uint64_t>(options_.now() + options_.nonce_lifetime_s);
  std::string nonce(kNonceHexDigits, '0');
  for (size_t i = 0; i < kNonceHexDigits; ++i) nonce[kNonceHexDigits - 1 - i] = kHex[(expiry >> (4 * i)) & 0xF];
  nonce += NonceMac(nonce, client, transport);
  return nonce;
}

NonceStatus Authenticator::CheckNonce(std::string_view nonce, const Address& client, Transport transport) const {
  if (nonce.size() != kNonceHexDigits + 22) return NonceStatus::kBad;
  std::string_view hex = nonce.substr(0, kNonceHexDigits);
  int64_t expiry = 0;
  for (char c : hex) {
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return NonceStatus::kBad;
    expiry = expiry * 16 + d;
  }
  std::string expected = NonceMac(hex, client, transport);
  if (CRYPTO_memcmp(expected.data(), nonce.data() + kNonceHexDigits, expected.size()) != 0) return NonceStatus::kBad;
  if (expiry < options_.now()) return NonceStatus::kStale;
  return NonceStatus::kOk;
}

std::string_view AuthFailureName(AuthFailure failure) {
  switch (failure) {
    case AuthFailure::kNone: return "none";
    case AuthFailure::kMalformed: return "malformed";
    case AuthFailure::kUserhash: return "userhash";
    case AuthFailure::kWrongRealm: return "wrong_realm";
    case AuthFailure::kExpired: return "expired";
    case AuthFailure::kUnknownUser: return "unknown_user";
    case AuthFailure::kWrongPassword: return "wrong_password";
  }
  return "unknown";
}

AuthResult Authenticator::Check(const StunMessage& m, const Address& client, Transport transport) const {
  AuthResult r;
  if (m.integrity() == nullptr && m.integrity_sha256() == nullptr) {
    r.status = AuthStatus::kChallenge;
    return r;
  }
  auto username = m.String(attr::kUsername);
  auto realm = m.String(attr::kRealm);
  auto nonce = m.String(attr::kNonce);
  if ((!username && !m.Has(attr::kUserhash)) || !realm || !nonce || (username && username->size() > kMaxUsername) ||
      realm->size() > kMaxRealmOrNonce || nonce->size() > kMaxRealmOrNonce) {
    r.status = AuthStatus::kBadRequest;
    r.failure = AuthFailure::kMalformed;
    return r;
  }
  r.status = AuthStatus::kUnauthorized;
  // USERHASH alone: we never offer username anonymity (no nonce cookie), so it names nobody.
  if (!username) {
    r.failure = AuthFailure::kUserhash;
    return r;
  }
  if (*realm != options_.realm) {
    r.failure = AuthFailure::kWrongRealm;
    return r;
  }
  // PASSWORD-ALGORITHM(S) are only checked when the nonce carries the "Password algorithms"
  // security feature (RFC 8489 §9.2.4); ours never does, so they are ignored and MD5 applies.

  bool sha256 = m.integrity_sha256() != nullptr;
  auto verify = [&](const LongTermKey& key) {
    return sha256 ? VerifyMessageIntegritySha256(m, key) : VerifyMessageIntegrity(m, key);
  };

  bool matched = false;
  r.failure = AuthFailure::kWrongPassword;
  std::shared_ptr<const SecretSet> secrets = secrets_.load(std::memory_order_acquire);
  if (auto it = static_keys_.find(*username); it != static_keys_.end()) {
    if (verify(it->second)) {
      matched = true;
      r.key = it->second;
      r.user = it->first;
    }
  } else if (auto rest = ParseRestUsername(*username);
             rest && (!secrets->secrets.empty() || !secrets->retired.empty())) {
    if (rest->expiry < options_.now()) {
      r.failure = AuthFailure::kExpired;
      return r;
    }
    auto try_secret = [&](const std::string& secret) {
      LongTermKey key = MakeLongTermKey(*username, options_.realm, RestPassword(secret, *username));
      if (!verify(key)) return false;
      matched = true;
      r.key = key;
      r.user = std::string(rest->user);
      r.guest = rest->user.starts_with(sdk::kTurnGuestUserPrefix);
      return true;
    };
    for (const auto& secret : secrets->secrets) {
      if (try_secret(secret)) break;
    }
    for (const auto& old : secrets->retired) {
      if (matched) break;
      if (rest->expiry <= old.max_expiry) try_secret(old.secret);
    }
  } else {
    r.failure = AuthFailure::kUnknownUser;
  }
  if (!matched) return r;

  r.failure = AuthFailure::kNone;
  r.username = std::string(*username);
  r.sha256 = sha256;
  r.status = CheckNonce(*nonce, client, transport) == NonceStatus::kOk ? AuthStatus::kOk : AuthStatus::kStaleNonce;
  return r;
}

void Authenticator::SetSecrets(std::vector<std::string> secrets, std::vector<AuthOptions::RetiredSecret> retired) {
  secrets_.store(std::make_shared<const SecretSet>(SecretSet{std::move(secrets), std::move(retired)}),
                 std::memory_order_release);
}

}  // namespace palaver::turn
