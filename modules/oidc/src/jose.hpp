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
typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;

namespace palaver::oidc {

using sdk::Base64UrlDecode;
using sdk::Base64UrlEncode;

enum class JwsAlg { kES256, kRS256, kPS256 };
std::optional<JwsAlg> ParseAlg(std::string_view name);
const char* AlgName(JwsAlg alg);

/// A signing or validation key with its algorithm and key id. Immutable; cheap to copy.
/// Thread-safe (OpenSSL keys are reference counted and used read-only).
/// ES256 keys keep contexts prepared once (EVP_PKEY_sign_init / EVP_PKEY_verify_init): each
/// signature duplicates one and signs the SHA-256 digest, without OpenSSL 3's name-based
/// algorithm fetches per signature. RS256/PS256 use EVP_DigestSign/EVP_DigestVerify as before.
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
  /// The JWS signature of `signing_input` (ES256: raw r || s, 64 bytes).
  Result<std::string> Sign(std::string_view signing_input) const;
  bool Verify(std::string_view signing_input, std::string_view signature) const;

  const std::string& kid() const { return kid_; }
  JwsAlg alg() const { return alg_; }
  /// base64url of this key's JWS header {"alg","kid","typ":"JWT"} (computed once).
  const std::string& EncodedHeader() const;

 private:
  struct Prepared;
  SigningKey(std::shared_ptr<EVP_PKEY> pkey, JwsAlg alg, std::string kid);
  std::shared_ptr<EVP_PKEY> pkey_;
  JwsAlg alg_;
  std::string kid_;
  std::shared_ptr<const Prepared> prepared_;
};

/// ECDSA signature encodings (P-256): the DER ECDSA-Sig-Value OpenSSL uses and JWS's raw
/// r || s (32 bytes each). Pure; strict (short-form lengths, minimal integers of at most 33
/// bytes); false for anything else.
bool EcdsaDerToRaw(std::string_view der, unsigned char raw[64]);
/// DER of raw r || s; returns its length (at most 72 bytes written to `der`).
size_t EcdsaRawToDer(const unsigned char raw[64], unsigned char der[72]);

/// The JSON object in `text`; null when it is not valid JSON or not an object. Never throws.
Poco::JSON::Object::Ptr ParseJsonObject(std::string_view text);

/// Appends `s` as a JSON string, escaped exactly as Poco::JSON::Object::stringify escapes it
/// (Poco 1.11: `"`, `\` and control characters; `/`, DEL and bytes >= 0x80 as they are), so
/// that claims written directly match the Poco-built ones byte for byte.
void AppendJsonString(std::string& out, std::string_view s);

/// A JSON object written straight into one string, in the order the members are added: callers
/// add them sorted by key, as Poco::JSON::Object (without preserveInsertionOrder) writes them, so
/// the text is the same as the Poco-built object's. Keys are plain ASCII written as they are.
class JsonObjectWriter {
 public:
  explicit JsonObjectWriter(size_t reserve = 256);
  JsonObjectWriter& String(std::string_view key, std::string_view value);
  JsonObjectWriter& Int(std::string_view key, int64_t value);
  JsonObjectWriter& Bool(std::string_view key, bool value);
  /// `json` is a JSON value's text, written as it is.
  JsonObjectWriter& Raw(std::string_view key, std::string_view json);
  /// An array of strings.
  template <typename Range>
  JsonObjectWriter& Strings(std::string_view key, const Range& values) {
    Key(key);
    out_ += '[';
    bool first = true;
    for (const auto& v : values) {
      if (!first) out_ += ',';
      first = false;
      AppendJsonString(out_, v);
    }
    out_ += ']';
    return *this;
  }
  /// A nested object: members until EndObject go into it.
  JsonObjectWriter& BeginObject(std::string_view key);
  JsonObjectWriter& EndObject();
  /// The text (the writer is spent).
  std::string Finish() &&;

 private:
  void Key(std::string_view key);
  std::string out_;
  uint32_t depth_ = 0;
  uint32_t nonempty_ = 0;  // bit d: the object at depth d has a member
};

/// `json` (a JSON object's text) as Poco::JSON::Object::stringify writes it once parsed (keys
/// sorted, Poco's escaping and numbers); nullopt when it is not a JSON object. Thread-safe;
/// remembers recent answers (a client sends the same claims request with every grant).
std::optional<std::string> CanonicalJsonObject(const std::string& json);

/// Largest token accepted for parsing (a bearer token in a header).
inline constexpr size_t kMaxTokenBytes = 16 * 1024;

/// `header.payload.signature` with header {"alg","kid","typ":"JWT"}; `claims` is a JSON object.
Result<std::string> SignJwt(const SigningKey& key, const Poco::JSON::Object& claims);
/// The same for claims already serialized (`claims_json`: a JSON object's text, used as is).
/// Builds the token in one string (header, payload, signature appended in place).
Result<std::string> SignJwtJson(const SigningKey& key, std::string_view claims_json);
/// Appends base64url (no padding) of `bytes` to `out`.
void AppendBase64Url(std::string& out, std::string_view bytes);

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
