#include "jose.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <charconv>
#include <cstring>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include "palaver/sdk/check.hpp"

namespace palaver::oidc {
namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;

Error Unauthenticated(std::string internal) {
  return Error{ErrorCode::kUnauthenticated, std::move(internal), "invalid token"};
}

std::shared_ptr<EVP_PKEY> Own(EVP_PKEY* p) { return std::shared_ptr<EVP_PKEY>(p, EVP_PKEY_free); }

std::string BnParam(EVP_PKEY* pkey, const char* name, int pad) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) return {};
  int len = pad > 0 ? pad : BN_num_bytes(bn);
  std::string out(static_cast<size_t>(len), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), len);
  BN_free(bn);
  return out;
}

bool KeyMatchesAlg(EVP_PKEY* pkey, JwsAlg alg) {
  int id = EVP_PKEY_get_base_id(pkey);
  if (alg == JwsAlg::kES256) {
    if (id != EVP_PKEY_EC) return false;
    char group[64] = {0};
    size_t len = 0;
    return EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) == 1 &&
           std::string_view(group) == "prime256v1";
  }
  return id == EVP_PKEY_RSA && EVP_PKEY_get_bits(pkey) >= 2048;
}

std::string Stringify(const Poco::JSON::Object& obj) {
  std::ostringstream out;
  obj.stringify(out);
  return out.str();
}

Result<Poco::JSON::Object::Ptr> ParseObject(const std::string& json) {
  auto o = ParseJsonObject(json);
  if (!o) return Fail(Unauthenticated("token part is not a JSON object"));
  return o;
}

}  // namespace

// Contexts set up once per key (ES256): EVP_PKEY_CTX_new_from_pkey and *_init fetch the
// algorithm implementation by name, which OpenSSL 3 does on every EVP_DigestSignInit. Each
// signature works on its own duplicate, so no context is ever shared between threads; the
// templates are only read, and under `mu` (OpenSSL does not promise concurrent duplication).
struct SigningKey::Prepared {
  std::string header;  // base64url of the JWS header
  EVP_PKEY_CTX* sign = nullptr;    // EVP_PKEY_sign_init done; null for public keys
  EVP_PKEY_CTX* verify = nullptr;  // EVP_PKEY_verify_init done
  mutable std::mutex mu;
  Prepared() = default;
  Prepared(const Prepared&) = delete;
  Prepared& operator=(const Prepared&) = delete;
  ~Prepared() {
    EVP_PKEY_CTX_free(sign);
    EVP_PKEY_CTX_free(verify);
  }
  PkeyCtxPtr Dup(EVP_PKEY_CTX* templ) const {
    if (templ == nullptr) return PkeyCtxPtr(nullptr, EVP_PKEY_CTX_free);
    std::lock_guard lock(mu);
    return PkeyCtxPtr(EVP_PKEY_CTX_dup(templ), EVP_PKEY_CTX_free);
  }
};

SigningKey::SigningKey(std::shared_ptr<EVP_PKEY> pkey, JwsAlg alg, std::string kid)
    : pkey_(std::move(pkey)), alg_(alg), kid_(std::move(kid)) {
  auto p = std::make_shared<Prepared>();
  p->header = Base64UrlEncode(std::string("{\"alg\":\"") + AlgName(alg_) + "\",\"kid\":\"" + kid_ + "\",\"typ\":\"JWT\"}");
  if (alg_ == JwsAlg::kES256) {
    // A public key may get a signing context too (EVP_PKEY_sign_init accepts it); signing fails.
    p->sign = EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr);
    if (p->sign != nullptr && EVP_PKEY_sign_init(p->sign) != 1) {
      EVP_PKEY_CTX_free(p->sign);
      p->sign = nullptr;
    }
    p->verify = EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr);
    if (p->verify != nullptr && EVP_PKEY_verify_init(p->verify) != 1) {
      EVP_PKEY_CTX_free(p->verify);
      p->verify = nullptr;
    }
  }
  prepared_ = std::move(p);
}

const std::string& SigningKey::EncodedHeader() const { return prepared_->header; }

bool EcdsaDerToRaw(std::string_view der, unsigned char raw[64]) {
  const auto* d = reinterpret_cast<const unsigned char*>(der.data());
  const size_t len = der.size();
  if (len < 8 || len > 72 || d[0] != 0x30 || d[1] != len - 2) return false;
  size_t p = 2;
  for (int i = 0; i < 2; ++i) {
    if (p + 2 > len || d[p] != 0x02) return false;
    size_t n = d[p + 1];
    p += 2;
    if (n == 0 || n > 33 || p + n > len) return false;
    const unsigned char* v = d + p;
    p += n;
    if ((v[0] & 0x80) != 0) return false;                         // negative
    if (n > 1 && v[0] == 0 && (v[1] & 0x80) == 0) return false;  // not minimal
    if (n == 33) {  // only a 0x00 before a high bit; more is over 256 bits
      if (v[0] != 0) return false;
      ++v;
      --n;
    }
    unsigned char* out = raw + 32 * i;
    std::memset(out, 0, 32 - n);
    std::memcpy(out + (32 - n), v, n);
  }
  return p == len;
}

size_t EcdsaRawToDer(const unsigned char raw[64], unsigned char der[72]) {
  auto integer = [](const unsigned char* v, unsigned char* out) -> size_t {
    size_t skip = 0;
    while (skip < 31 && v[skip] == 0) ++skip;  // minimal, but at least one byte
    const bool pad = (v[skip] & 0x80) != 0;     // keep it positive
    const size_t n = 32 - skip + (pad ? 1 : 0);
    out[0] = 0x02;
    out[1] = static_cast<unsigned char>(n);
    size_t at = 2;
    if (pad) out[at++] = 0;
    std::memcpy(out + at, v + skip, 32 - skip);
    return 2 + n;
  };
  size_t len = integer(raw, der + 2);
  len += integer(raw + 32, der + 2 + len);
  der[0] = 0x30;
  der[1] = static_cast<unsigned char>(len);  // at most 70: short form
  return len + 2;
}

void AppendBase64Url(std::string& out, std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  const size_t start = out.size();
  out.resize(start + (n / 3) * 4 + (n % 3 == 0 ? 0 : n % 3 + 1));
  char* o = out.data() + start;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
    *o++ = kAlphabet[(v >> 6) & 63];
    *o++ = kAlphabet[v & 63];
  }
  if (n - i == 1) {
    const uint32_t v = uint32_t{in[i]} << 16;
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
  } else if (n - i == 2) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8);
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
    *o++ = kAlphabet[(v >> 6) & 63];
  }
}

Poco::JSON::Object::Ptr ParseJsonObject(std::string_view text) {
  try {
    Poco::JSON::Parser parser;
    auto v = parser.parse(std::string(text));
    if (v.type() == typeid(Poco::JSON::Object::Ptr)) return v.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
  }
  return nullptr;
}

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out += '"';
  size_t plain = 0;  // start of the run not yet copied
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
  }
  out.append(s.data() + plain, s.size() - plain);
  out += '"';
}

JsonObjectWriter::JsonObjectWriter(size_t reserve) {
  out_.reserve(reserve);
  out_ += '{';
}

void JsonObjectWriter::Key(std::string_view key) {
  if ((nonempty_ >> depth_) & 1u) out_ += ',';
  nonempty_ |= 1u << depth_;
  out_ += '"';
  out_ += key;
  out_ += "\":";
}

JsonObjectWriter& JsonObjectWriter::String(std::string_view key, std::string_view value) {
  Key(key);
  AppendJsonString(out_, value);
  return *this;
}

JsonObjectWriter& JsonObjectWriter::Int(std::string_view key, int64_t value) {
  Key(key);
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out_.append(buf, end);
  return *this;
}

JsonObjectWriter& JsonObjectWriter::Bool(std::string_view key, bool value) {
  Key(key);
  out_ += value ? "true" : "false";
  return *this;
}

JsonObjectWriter& JsonObjectWriter::Raw(std::string_view key, std::string_view json) {
  Key(key);
  out_ += json;
  return *this;
}

JsonObjectWriter& JsonObjectWriter::BeginObject(std::string_view key) {
  Key(key);
  out_ += '{';
  PALAVER_CHECK(depth_ < 31);
  ++depth_;
  nonempty_ &= ~(1u << depth_);
  return *this;
}

JsonObjectWriter& JsonObjectWriter::EndObject() {
  PALAVER_CHECK(depth_ > 0);
  out_ += '}';
  --depth_;
  return *this;
}

std::string JsonObjectWriter::Finish() && {
  PALAVER_CHECK(depth_ == 0);
  out_ += '}';
  return std::move(out_);
}

std::optional<std::string> CanonicalJsonObject(const std::string& json) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::string> cache;  // guarded by mu
  static constexpr size_t kMaxEntries = 64;
  {
    std::lock_guard lock(mu);
    if (auto it = cache.find(json); it != cache.end()) return it->second;
  }
  auto parsed = ParseJsonObject(json);
  if (!parsed) return std::nullopt;
  std::string canonical = Stringify(*parsed);
  if (json.size() <= 4096) {  // small claims requests only; the rest are built each time
    std::lock_guard lock(mu);
    if (cache.size() >= kMaxEntries) cache.clear();
    cache.emplace(json, canonical);
  }
  return canonical;
}

std::optional<JwsAlg> ParseAlg(std::string_view name) {
  if (name == "ES256") return JwsAlg::kES256;
  if (name == "RS256") return JwsAlg::kRS256;
  if (name == "PS256") return JwsAlg::kPS256;
  return std::nullopt;
}

const char* AlgName(JwsAlg alg) {
  switch (alg) {
    case JwsAlg::kES256: return "ES256";
    case JwsAlg::kRS256: return "RS256";
    case JwsAlg::kPS256: return "PS256";
  }
  return "";
}

Result<SigningKey> SigningKey::Generate(JwsAlg alg, std::string kid) {
  EVP_PKEY* p = alg == JwsAlg::kES256 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  if (p == nullptr) return Fail(ErrorCode::kInternal, "key generation failed");
  return SigningKey(Own(p), alg, std::move(kid));
}

Result<SigningKey> SigningKey::FromPrivatePem(std::string_view pem, JwsAlg alg, std::string kid) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  EVP_PKEY* p = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (p == nullptr) return Fail(ErrorCode::kDataLoss, "signing key " + kid + " is not a readable PEM private key");
  auto key = Own(p);
  if (!KeyMatchesAlg(p, alg)) return Fail(ErrorCode::kDataLoss, "signing key " + kid + " does not fit " + AlgName(alg));
  return SigningKey(key, alg, std::move(kid));
}

Result<std::vector<SigningKey>> SigningKey::FromPublicJwk(const Poco::JSON::Object& jwk, const std::vector<JwsAlg>& rsa_algs) {
  auto bad = [](const std::string& why) { return Fail(ErrorCode::kInvalidArgument, "JWK: " + why, "unusable JWK: " + why); };
  auto member = [&jwk](const char* name) {
    return jwk.has(name) && jwk.get(name).isString() ? jwk.getValue<std::string>(name) : std::string();
  };
  std::string kty = member("kty"), kid = member("kid"), use = member("use"), alg_name = member("alg");
  if (!use.empty() && use != "sig") return std::vector<SigningKey>{};  // encryption keys are not ours to use
  std::optional<JwsAlg> named;
  if (!alg_name.empty()) {
    named = ParseAlg(alg_name);
    if (!named) return std::vector<SigningKey>{};  // an algorithm we do not verify
  }
  const std::vector<JwsAlg> algs = named ? std::vector<JwsAlg>{*named}
                                         : kty == "RSA" ? rsa_algs : std::vector<JwsAlg>{JwsAlg::kES256};
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(nullptr, EVP_PKEY_CTX_free);
  std::vector<std::unique_ptr<BIGNUM, decltype(&BN_free)>> numbers;
  std::string point;
  if (kty == "EC") {
    if (member("crv") != "P-256") return std::vector<SigningKey>{};
    auto x = Base64UrlDecode(member("x")), y = Base64UrlDecode(member("y"));
    if (!x || !y || x->size() != 32 || y->size() != 32) return bad("EC key " + kid + " has malformed x/y");
    if (algs.size() != 1 || algs[0] != JwsAlg::kES256) return bad("EC key " + kid + " with alg " + alg_name);
    point = "\x04" + *x + *y;
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
    ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  } else if (kty == "RSA") {
    auto n = Base64UrlDecode(member("n")), e = Base64UrlDecode(member("e"));
    if (!n || !e || n->empty() || e->empty()) return bad("RSA key " + kid + " has malformed n/e");
    for (const char* name : {"n", "e"}) {
      const std::string& v = name[0] == 'n' ? *n : *e;
      numbers.emplace_back(BN_bin2bn(reinterpret_cast<const unsigned char*>(v.data()), static_cast<int>(v.size()), nullptr),
                           BN_free);
      OSSL_PARAM_BLD_push_BN(bld.get(), name[0] == 'n' ? OSSL_PKEY_PARAM_RSA_N : OSSL_PKEY_PARAM_RSA_E,
                             numbers.back().get());
    }
    if (BN_num_bits(numbers[1].get()) < 17) return bad("RSA key " + kid + " has a public exponent below 65537");
    ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  } else {
    return std::vector<SigningKey>{};  // key types we do not verify
  }
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()), OSSL_PARAM_free);
  EVP_PKEY* raw = nullptr;
  if (!ctx || !params || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return bad("key " + kid + " is not a valid public key");
  }
  auto pkey = Own(raw);
  std::vector<SigningKey> out;
  for (JwsAlg alg : algs) {
    if (!KeyMatchesAlg(pkey.get(), alg)) return bad("key " + kid + " does not fit " + AlgName(alg));
    out.push_back(SigningKey(pkey, alg, kid));
  }
  return out;
}

std::string SigningKey::PrivatePem() const {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string SigningKey::PublicJwk() const {
  std::string out = "{\"kid\":\"" + kid_ + "\",\"use\":\"sig\",\"alg\":\"" + AlgName(alg_) + "\",";
  if (alg_ == JwsAlg::kES256) {
    out += "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" +
           Base64UrlEncode(BnParam(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32)) + "\",\"y\":\"" +
           Base64UrlEncode(BnParam(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32)) + "\"}";
  } else {
    out += "\"kty\":\"RSA\",\"n\":\"" + Base64UrlEncode(BnParam(pkey_.get(), OSSL_PKEY_PARAM_RSA_N, 0)) +
           "\",\"e\":\"" + Base64UrlEncode(BnParam(pkey_.get(), OSSL_PKEY_PARAM_RSA_E, 0)) + "\"}";
  }
  return out;
}

Result<std::string> SigningKey::Sign(std::string_view input) const {
  if (alg_ == JwsAlg::kES256) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
    PkeyCtxPtr ctx = prepared_->Dup(prepared_->sign);
    if (!ctx) return Fail(ErrorCode::kInternal, "sign init failed");
    unsigned char der[80];
    size_t len = sizeof der;
    if (EVP_PKEY_sign(ctx.get(), der, &len, digest, sizeof digest) != 1) return Fail(ErrorCode::kInternal, "sign failed");
    // JWS wants the raw r || s (32 bytes each), not DER.
    std::string raw(64, '\0');
    if (!EcdsaDerToRaw(std::string_view(reinterpret_cast<const char*>(der), len), reinterpret_cast<unsigned char*>(raw.data()))) {
      return Fail(ErrorCode::kInternal, "bad ECDSA signature");
    }
    return raw;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, pkey_.get()) != 1) {
    return Fail(ErrorCode::kInternal, "sign init failed");
  }
  if (alg_ == JwsAlg::kPS256) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  size_t len = 0;
  auto in = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, input.size()) != 1) return Fail(ErrorCode::kInternal, "sign failed");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, input.size()) != 1) {
    return Fail(ErrorCode::kInternal, "sign failed");
  }
  sig.resize(len);
  return sig;
}

bool SigningKey::Verify(std::string_view input, std::string_view signature) const {
  if (alg_ == JwsAlg::kES256) {
    if (signature.size() != 64) return false;
    unsigned char der[72];
    size_t der_len = EcdsaRawToDer(reinterpret_cast<const unsigned char*>(signature.data()), der);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
    PkeyCtxPtr ctx = prepared_->Dup(prepared_->verify);
    return ctx && EVP_PKEY_verify(ctx.get(), der, der_len, digest, sizeof digest) == 1;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, pkey_.get()) != 1) return false;
  if (alg_ == JwsAlg::kPS256) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

Result<std::string> SignJwt(const SigningKey& key, const Poco::JSON::Object& claims) {
  return SignJwtJson(key, Stringify(claims));
}

Result<std::string> SignJwtJson(const SigningKey& key, std::string_view claims_json) {
  const std::string& header = key.EncodedHeader();
  std::string out;
  // header "." payload "." signature (ES256: 86 characters; RSA up to 4096 bits: 683)
  out.reserve(header.size() + 2 + (claims_json.size() + 2) / 3 * 4 + (key.alg() == JwsAlg::kES256 ? 86 : 683));
  out += header;
  out += '.';
  AppendBase64Url(out, claims_json);
  PALAVER_ASSIGN_OR_RETURN(std::string sig, key.Sign(out));
  out += '.';
  AppendBase64Url(out, sig);
  return out;
}

Result<JwtParts> ParseJwt(std::string_view token) {
  if (token.size() > kMaxTokenBytes) return Fail(Unauthenticated("token too large"));
  size_t a = token.find('.');
  size_t b = a == std::string_view::npos ? a : token.find('.', a + 1);
  if (b == std::string_view::npos || token.find('.', b + 1) != std::string_view::npos) {
    return Fail(Unauthenticated("token is not a compact JWS"));
  }
  auto header = Base64UrlDecode(token.substr(0, a));
  auto payload = Base64UrlDecode(token.substr(a + 1, b - a - 1));
  auto signature = Base64UrlDecode(token.substr(b + 1));
  if (!header || !payload || !signature) return Fail(Unauthenticated("token is not base64url"));
  JwtParts parts;
  PALAVER_ASSIGN_OR_RETURN(parts.header, ParseObject(*header));
  PALAVER_ASSIGN_OR_RETURN(parts.claims, ParseObject(*payload));
  if (!parts.header->has("alg") || !parts.header->get("alg").isString()) {
    return Fail(Unauthenticated("token header has no alg"));
  }
  parts.alg = parts.header->getValue<std::string>("alg");
  if (parts.header->has("kid") && parts.header->get("kid").isString()) parts.kid = parts.header->getValue<std::string>("kid");
  if (parts.header->has("crit")) return Fail(Unauthenticated("token has critical header extensions"));
  parts.signing_input = std::string(token.substr(0, b));
  parts.signature = std::move(*signature);
  return parts;
}

Result<Poco::JSON::Object::Ptr> VerifyJwt(std::string_view token, const std::vector<SigningKey>& keys) {
  PALAVER_ASSIGN_OR_RETURN(JwtParts parts, ParseJwt(token));
  return VerifyParsedJwt(parts, keys);
}

Result<Poco::JSON::Object::Ptr> VerifyParsedJwt(const JwtParts& parts, const std::vector<SigningKey>& keys) {
  auto alg = ParseAlg(parts.alg);
  if (!alg) return Fail(Unauthenticated("token alg " + parts.alg + " not accepted"));
  const SigningKey* key = nullptr;
  if (parts.kid.empty() && keys.size() == 1) {
    key = &keys[0];
  } else {
    for (const auto& k : keys) {  // one kid may come with several algorithms (RSA: RS256, PS256)
      if (k.kid() == parts.kid && (key == nullptr || k.alg() == *alg)) key = &k;
    }
  }
  if (key == nullptr) return Fail(Unauthenticated("token kid " + parts.kid + " unknown"));
  if (key->alg() != *alg) return Fail(Unauthenticated("token alg does not match its key"));
  if (!key->Verify(parts.signing_input, parts.signature)) return Fail(Unauthenticated("bad token signature"));
  return parts.claims;
}

Status CheckTokenTimes(const Poco::JSON::Object& claims, int64_t now_s, int64_t leeway_s) {
  auto number = [&](const char* name) -> std::optional<int64_t> {
    if (!claims.has(name)) return std::nullopt;
    try {
      return claims.get(name).convert<int64_t>();
    } catch (const Poco::Exception&) {
      return std::nullopt;
    }
  };
  auto exp = number("exp");
  if (!exp) return Fail(Unauthenticated("token without exp"));
  if (*exp + leeway_s <= now_s) return Fail(Error{ErrorCode::kUnauthenticated, "token expired", "token expired"});
  if (auto nbf = number("nbf"); nbf && *nbf - leeway_s > now_s) return Fail(Unauthenticated("token not yet valid"));
  if (auto iat = number("iat"); iat && *iat - leeway_s > now_s) return Fail(Unauthenticated("token issued in the future"));
  return OkStatus();
}

}  // namespace palaver::oidc
