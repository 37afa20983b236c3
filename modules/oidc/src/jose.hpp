// JOSE for the OpenID provider: base64url, signing keys, compact JWS/JWT build and check.
// Sans-I/O; on OpenSSL directly (POCO's JWT has no PS256 and allows algorithm confusion unless
// configured carefully; here the key decides the algorithm).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <Poco/JSON/Object.h>

#include "palaver/sdk/encoding.hpp"
#include "palaver/sdk/status.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace palaver::oidc {

using sdk::Base64UrlDecode;
using sdk::Base64UrlEncode;

enum class JwsAlg { kES256, kRS256, kPS256 };
std::optional<JwsAlg> ParseAlg(std::string_view name);
const char* AlgName(JwsAlg alg);

/// A signing or validation key with its algorithm and key id. Immutable; cheap to copy.
/// Thread-safe (OpenSSL keys are reference counted and used read-only).
class SigningKey {
 public:
  /// A new key: EC P-256 for ES256, RSA 2048 for RS256/PS256.
  static Result<SigningKey> Generate(JwsAlg alg, std::string kid);
  static Result<SigningKey> FromPrivatePem(std::string_view pem, JwsAlg alg, std::string kid);

  /// Verification keys from a public JWK (EC P-256, RSA ≥ 2048 with e ≥ 65537). The JWK's `alg`
  /// decides the algorithm; RSA keys without one get one key per `rsa_algs` entry. Keys not for
  /// signatures or of types we do not verify give an empty list; malformed ones an error.
  static Result<std::vector<SigningKey>> FromPublicJwk(const Poco::JSON::Object& jwk, const std::vector<JwsAlg>& rsa_algs);

  std::string PrivatePem() const;
  /// The public JWK: {"kty","kid","use":"sig","alg", crv/x/y or n/e}.
  std::string PublicJwk() const;
  Result<std::string> Sign(std::string_view signing_input) const;
  bool Verify(std::string_view signing_input, std::string_view signature) const;

  const std::string& kid() const { return kid_; }
  JwsAlg alg() const { return alg_; }

 private:
  SigningKey(std::shared_ptr<EVP_PKEY> pkey, JwsAlg alg, std::string kid)
      : pkey_(std::move(pkey)), alg_(alg), kid_(std::move(kid)) {}
  std::shared_ptr<EVP_PKEY> pkey_;
  JwsAlg alg_;
  std::string kid_;
};

/// The JSON object in `text`; null when it is not valid JSON or not an object. Never throws.
Poco::JSON::Object::Ptr ParseJsonObject(std::string_view text);

/// Largest token accepted for parsing (a bearer token in a header).
inline constexpr size_t kMaxTokenBytes = 16 * 1024;

/// `header.payload.signature` with header {"alg","kid","typ":"JWT"}; `claims` is a JSON object.
Result<std::string> SignJwt(const SigningKey& key, const Poco::JSON::Object& claims);

/// The parts of a compact JWS, decoded but not verified.
struct JwtParts {
  std::string alg;
  std::string kid;
  Poco::JSON::Object::Ptr header;
  Poco::JSON::Object::Ptr claims;
  std::string signing_input;  // base64url(header) "." base64url(payload)
  std::string signature;      // raw bytes
};
Result<JwtParts> ParseJwt(std::string_view token);

/// Verifies the signature with the key named by `kid` (a single key is used when the token has
/// no kid); the header's `alg` must be the key's algorithm — `none`, HS* and any mismatch fail.
/// Returns the claims. Errors are kUnauthenticated with a public message safe for clients.
Result<Poco::JSON::Object::Ptr> VerifyJwt(std::string_view token, const std::vector<SigningKey>& keys);
/// The same for a token already split by ParseJwt (no second parse).
Result<Poco::JSON::Object::Ptr> VerifyParsedJwt(const JwtParts& parts, const std::vector<SigningKey>& keys);

/// `exp` must be in the future and `nbf`/`iat` not in the future (with `leeway_s`); `exp` required.
Status CheckTokenTimes(const Poco::JSON::Object& claims, int64_t now_s, int64_t leeway_s);

}  // namespace palaver::oidc
