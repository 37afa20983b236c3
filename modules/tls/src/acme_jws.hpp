// JOSE for ACME (RFC 8555 §6.2, RFC 7515, RFC 7638): ES256 signatures with the account key, the
// account key's JWK and thumbprint, HS256 for External Account Binding, key authorizations.
// Pure functions on OpenSSL; no I/O.
#pragma once

#include <string>
#include <string_view>

#include <openssl/evp.h>

#include "palaver/sdk/status.hpp"

namespace palaver::tls {

// The public JWK of an ECDSA P-256 key, members in lexicographic order and without whitespace
// (so it is also the RFC 7638 thumbprint input): {"crv":"P-256","kty":"EC","x":"…","y":"…"}.
Result<std::string> JwkOf(EVP_PKEY& key);
// base64url(SHA-256(JwkOf(key))).
Result<std::string> JwkThumbprint(EVP_PKEY& key);
// The 64-byte JWS signature (R || S, RFC 7518 §3.4) of `data` with a P-256 key.
Result<std::string> SignEs256(EVP_PKEY& key, std::string_view data);
// Verifies a 64-byte R || S signature (used by the tests' fake CA).
bool VerifyEs256(EVP_PKEY& key, std::string_view data, std::string_view signature);
// HMAC-SHA256.
Result<std::string> HmacSha256(std::string_view key, std::string_view data);

// A flattened JWS JSON object {"protected":…,"payload":…,"signature":…} signed with ES256.
// `protected_json` and `payload` are serialized JSON (payload "" for POST-as-GET).
Result<std::string> JwsEs256(EVP_PKEY& key, const std::string& protected_json, const std::string& payload);
// The same with HS256 (External Account Binding, RFC 8555 §7.3.4).
Result<std::string> JwsHs256(std::string_view mac_key, const std::string& protected_json, const std::string& payload);

// `token.thumbprint` (RFC 8555 §8.1).
std::string KeyAuthorization(std::string_view token, std::string_view thumbprint);

}  // namespace palaver::tls
