// Helpers shared by the TURN core tests: hex, and building client requests with the codec.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "auth.hpp"
#include "stun.hpp"

namespace palaver::turn::testing {

using Bytes = std::vector<uint8_t>;

// Hex digits; whitespace is skipped (for vectors laid out as in the RFCs).
inline Bytes FromHex(std::string_view hex) {
  Bytes out;
  int hi = -1;
  for (char c : hex) {
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
    if (d < 0) continue;
    if (hi < 0) {
      hi = d;
    } else {
      out.push_back(static_cast<uint8_t>(hi * 16 + d));
      hi = -1;
    }
  }
  EXPECT_EQ(hi, -1) << "odd number of hex digits";
  return out;
}

inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

inline std::span<const uint8_t> Span(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

inline TransactionId Tid(uint8_t seed) {
  TransactionId t{};
  for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<uint8_t>(seed * 31 + i * 7 + 1);
  return t;
}

// Long-term credentials as a client holds them after a 401.
struct Credentials {
  std::string username;
  std::string realm;
  std::string nonce;
  LongTermKey key{};
  bool sha256 = false;  // protect with MESSAGE-INTEGRITY-SHA256 instead of MESSAGE-INTEGRITY
};

// Builds a message: `add` writes the method's attributes; then USERNAME/REALM/NONCE and the
// integrity attribute when `cred` is given; then FINGERPRINT when asked.
inline Bytes Build(Method method, MessageClass cls, const TransactionId& tid,
                   const std::function<void(MessageBuilder&)>& add, const Credentials* cred = nullptr,
                   bool fingerprint = false) {
  Bytes buf(70000);
  MessageBuilder b(buf, method, cls, tid);
  if (add) add(b);
  if (cred != nullptr) {
    b.AddString(attr::kUsername, cred->username).AddString(attr::kRealm, cred->realm).AddString(attr::kNonce, cred->nonce);
    if (cred->sha256) {
      b.AddMessageIntegritySha256(cred->key);
    } else {
      b.AddMessageIntegrity(cred->key);
    }
  }
  if (fingerprint) b.AddFingerprint();
  EXPECT_TRUE(b.ok());
  buf.resize(b.size());
  return buf;
}

inline Bytes Request(Method method, const TransactionId& tid, const std::function<void(MessageBuilder&)>& add,
                     const Credentials* cred = nullptr, bool fingerprint = false) {
  return Build(method, MessageClass::kRequest, tid, add, cred, fingerprint);
}

// The error code of an error response, or 0.
inline int ErrorCodeOf(const StunMessage& m) {
  const AttributeRef* a = m.Find(attr::kErrorCode);
  if (a == nullptr) return 0;
  auto e = DecodeErrorCode(m.Value(*a));
  return e ? e->code : -1;
}

}  // namespace palaver::turn::testing
