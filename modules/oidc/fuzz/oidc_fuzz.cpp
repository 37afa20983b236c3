// libFuzzer target for the OIDC provider's parsers of outside input (sans-I/O parts of src/):
// compact JWS/JWT parsing and verification, JWK/JWKS and discovery import, the sign-in JSON API
// (logon, consent, hello/logoff bodies), authorize request parameters (with claims requests and
// request objects), token request parameters (form body, PKCE), cookies and absolute URLs.
// Registered by CMakeLists.txt (palaver_add_fuzz); cmake/PalaverFuzz.cmake says how it runs.
//
// Input: the first byte picks the parser (selector % 8), the rest is the outside input.
// Properties (abort on violation):
//  - JWT: VerifyJwt and ParseJwt + VerifyParsedJwt agree; a token verifies only with the right key
//    and algorithm (no `none`, no HS*, no alg/key mismatch); a JSON object signed with SignJwt
//    verifies and gives the same claims back, and the token with any signature byte flipped does not;
//    AppendJsonString escapes as Poco does, CanonicalJsonObject is Poco's text of the parsed object,
//    and ECDSA DER that EcdsaDerToRaw accepts is canonical (EcdsaRawToDer gives it back);
//  - a JWK imported from JSON exports (PublicJwk) to a JWK that imports to the same key;
//  - a logon/consent body that parses gives back the same fields when written out again;
//  - ParseForm ∘ EncodeForm is the identity on parsed parameters; PercentDecode ∘ PercentEncode and
//    Base64UrlDecode ∘ Base64UrlEncode are the identity;
//  - an authorize request that parses has a redirect URI that is an absolute URL, and the URL
//    RedirectWith() builds from it parses again with the same origin;
//  - CookieValue returns only a value that occurs in the header.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>

#include "authorize.hpp"
#include "external.hpp"
#include "jose.hpp"
#include "palaver/sdk/encoding.hpp"
#include "palaver/sdk/http.hpp"
#include "signin_api.hpp"
#include "signin_session.hpp"
#include "tokens.hpp"

using namespace palaver;        // NOLINT: fuzz target
using namespace palaver::oidc;  // NOLINT: fuzz target

#define FUZZ_CHECK(c)                                                                      \
  do {                                                                                     \
    if (!(c)) {                                                                            \
      std::fprintf(stderr, "oidc_fuzz: property violated: %s (line %d)\n", #c, __LINE__); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace {

struct Keys {
  std::vector<SigningKey> all;  // ES256 "e1", RS256 "r1", PS256 "p1"
};

const Keys& TheKeys() {
  static const Keys* keys = [] {
    auto* k = new Keys;
    k->all.push_back(*SigningKey::Generate(JwsAlg::kES256, "e1"));
    k->all.push_back(*SigningKey::Generate(JwsAlg::kRS256, "r1"));
    auto ps = SigningKey::Generate(JwsAlg::kPS256, "p1");
    k->all.push_back(*ps);
    return k;
  }();
  return *keys;
}

std::string Stringify(const Poco::JSON::Object& o) {
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

void FuzzJwt(std::string_view text) {
  const auto& keys = TheKeys().all;
  auto whole = VerifyJwt(text, keys);
  auto parts = ParseJwt(text);
  if (!parts) {
    FUZZ_CHECK(!whole.has_value());
  } else {
    auto split = VerifyParsedJwt(*parts, keys);
    FUZZ_CHECK(whole.has_value() == split.has_value());
    if (whole) {
      // Only our algorithms, and the key's own.
      auto alg = ParseAlg(parts->alg);
      FUZZ_CHECK(alg.has_value());
      bool match = false;
      for (const auto& k : keys) match |= k.alg() == *alg && (parts->kid.empty() || parts->kid == k.kid());
      FUZZ_CHECK(match);
      (void)CheckTokenTimes(**whole, 1700000000, 60);
      (void)ReadRefreshToken(**whole, "https://issuer.example", "client");
    }
  }
  // Claims are written as JSON text directly: the escaping is Poco's, byte for byte.
  {
    Poco::JSON::Object o;
    o.set("k", std::string(text));
    std::string mine = "{\"k\":";
    AppendJsonString(mine, text);
    FUZZ_CHECK(mine + "}" == Stringify(o));
  }
  // ECDSA DER accepted by the strict reader is canonical: raw -> DER gives the same bytes.
  {
    unsigned char raw[64], der[72];
    if (EcdsaDerToRaw(text, raw)) {
      size_t n = EcdsaRawToDer(raw, der);
      FUZZ_CHECK(std::string_view(reinterpret_cast<char*>(der), n) == text);
    }
  }
  // The input as claims: sign, verify, tamper.
  auto claims = ParseJsonObject(text);
  if (!claims) return;
  auto canonical = CanonicalJsonObject(std::string(text));
  FUZZ_CHECK(canonical.has_value() && *canonical == Stringify(*claims));
  const SigningKey& key = keys[text.size() % keys.size()];
  auto token = SignJwt(key, *claims);
  FUZZ_CHECK(token.has_value());
  auto back = VerifyJwt(*token, keys);
  FUZZ_CHECK(back.has_value());
  FUZZ_CHECK(Stringify(**back) == Stringify(*claims));
  std::string bad = *token;
  size_t dot = bad.rfind('.');
  FUZZ_CHECK(dot != std::string::npos && dot + 2 < bad.size());
  size_t at = dot + 1 + text.size() % (bad.size() - dot - 2);
  bad[at] = bad[at] == 'A' ? 'B' : 'A';
  auto tampered = VerifyJwt(bad, keys);
  // Flipping a base64url character that only carries padding bits can leave the bytes unchanged.
  if (tampered) FUZZ_CHECK(Base64UrlDecode(bad.substr(dot + 1)) == Base64UrlDecode(token->substr(dot + 1)));
}

void FuzzJwk(std::string_view text) {
  std::string s(text);
  (void)ParseJwks(s, {JwsAlg::kRS256, JwsAlg::kPS256, JwsAlg::kES256});
  (void)ParseDiscovery(s, "https://issuer.example");
  auto obj = ParseJsonObject(text);
  if (!obj) return;
  auto imported = SigningKey::FromPublicJwk(*obj, {JwsAlg::kRS256, JwsAlg::kPS256});
  if (!imported) return;
  for (const auto& k : *imported) {
    auto again_obj = ParseJsonObject(k.PublicJwk());
    FUZZ_CHECK(again_obj != nullptr);
    auto again = SigningKey::FromPublicJwk(*again_obj, {k.alg()});
    FUZZ_CHECK(again.has_value() && !again->empty());
    FUZZ_CHECK((*again)[0].PublicJwk() == k.PublicJwk());
    FUZZ_CHECK(!k.Verify("x.y", std::string(64, '\0')));
  }
}

void FuzzSignin(std::string_view text) {
  std::string body(text);
  if (auto logon = ParseLogon(body)) {
    Poco::JSON::Object o;
    o.set("state", logon->state);
    Poco::JSON::Array::Ptr params = new Poco::JSON::Array;
    params->add(logon->username);
    params->add(logon->password);
    params->add(logon->mode);
    o.set("params", params);
    auto again = ParseLogon(Stringify(o));
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->state == logon->state && again->username == logon->username &&
               again->password == logon->password && again->mode == logon->mode);
  }
  (void)ParseConsent(body);
  (void)ParseState(body);
  (void)MediaType(text);
}

void CheckForm(const sdk::FormParams& params) {
  auto again = ParseForm(EncodeForm(params));
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == params);
}

void FuzzAuthorize(std::string_view text) {
  auto params = ParseForm(text);
  if (!params) return;
  CheckForm(*params);
  (void)ParseClaimsRequest(ParamValue(*params, "claims"));
  if (auto object = ParseJsonObject(ParamValue(*params, "request"))) {
    if (auto merged = ApplyRequestObject(*params, *object, text.size() % 2 == 0)) CheckForm(*merged);
  }
  auto request = ParseAuthorizeRequest(*params);
  if (!request) return;
  auto url = ParseAbsoluteUrl(request->redirect_uri);
  FUZZ_CHECK(url.has_value());
  std::string answer = RedirectWith(request->redirect_uri, {{"code", "c&d=#"}, {"state", request->state}},
                                    request->fragment);
  auto answered = ParseAbsoluteUrl(answer);
  FUZZ_CHECK(answered.has_value());
  FUZZ_CHECK(answered->Origin() == url->Origin());
  (void)FilterScopes(request->scopes, request->code);
}

void FuzzToken(std::string_view text) {
  // The token endpoint's body (client_secret_post, codes, refresh tokens, PKCE) and the
  // Basic credentials' percent-encoded halves.
  auto params = ParseForm(text);
  if (params) {
    CheckForm(*params);
    std::string challenge = ParamValue(*params, "code_challenge");
    std::string verifier = ParamValue(*params, "code_verifier");
    bool ok = VerifyPkce(challenge, verifier);
    if (ok) FUZZ_CHECK(ValidPkceChallenge(challenge));
    if (ValidPkceChallenge(challenge)) FUZZ_CHECK(challenge.size() == 43);
  }
  if (auto basic = sdk::Base64Decode(text)) (void)sdk::PercentDecode(*basic, true);
  std::string raw(text);
  for (bool plus : {false, true}) {
    auto decoded = sdk::PercentDecode(sdk::PercentEncode(raw), plus);
    if (raw.find('\0') == std::string::npos) FUZZ_CHECK(decoded.has_value() && *decoded == raw);
  }
  FUZZ_CHECK(Base64UrlDecode(Base64UrlEncode(raw)) == raw);
  FUZZ_CHECK(sdk::Base64Decode(sdk::Base64Encode(raw)) == raw);
  (void)HalfHash(raw);
}

void FuzzCookie(std::string_view text) {
  size_t nl = text.find('\n');
  std::string_view name = nl == std::string_view::npos ? "__Host-palaver" : text.substr(0, nl);
  std::string_view header = nl == std::string_view::npos ? text : text.substr(nl + 1);
  auto value = CookieValue(header, name);
  if (value) FUZZ_CHECK(header.find(*value) != std::string_view::npos);
}

void FuzzUrl(std::string_view text) {
  auto url = ParseAbsoluteUrl(text);
  if (!url) return;
  for (char c : url->Origin()) FUZZ_CHECK(static_cast<unsigned char>(c) > 0x20 && c != 0x7f);
  std::string rebuilt = url->Origin() + url->path;
  if (!url->query.empty()) rebuilt += "?" + url->query;
  auto again = ParseAbsoluteUrl(rebuilt);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->Origin() == url->Origin() && again->host == url->host && again->path == url->path);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)TheKeys();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 16384) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 8) {
    case 0: FuzzJwt(text); break;
    case 1: FuzzJwk(text); break;
    case 2: FuzzSignin(text); break;
    case 3: FuzzAuthorize(text); break;
    case 4: FuzzToken(text); break;
    case 5: FuzzCookie(text); break;
    case 6: FuzzUrl(text); break;
    case 7: (void)ParseClaimsRequest(text); break;
  }
  return 0;
}
