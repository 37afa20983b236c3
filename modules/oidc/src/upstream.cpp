#include "upstream.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <Poco/JSON/Array.h>

#include <algorithm>

#include "external.hpp"
#include "palaver/sdk/http.hpp"
#include "palaver/sdk/encoding.hpp"

namespace palaver::oidc {
namespace {

constexpr int64_t kLeewayS = 60;
constexpr int64_t kKeyRefetchS = 30;
constexpr size_t kMaxTokenResponseBytes = 64 * 1024;

auto Unauthenticated(const std::string& why) {
  return Fail(ErrorCode::kUnauthenticated, "ID token " + why, "the sign-in could not be verified");
}

std::string Quoted(const std::string& s) { return "\"" + sdk::JsonEscape(s) + "\""; }

bool Https(const std::string& url) { return url.rfind("https://", 0) == 0 && url.size() > 8; }

}  // namespace

Result<UpstreamEndpoints> ParseUpstreamDiscovery(const std::string& json, const std::string& issuer) {
  auto doc = ParseJsonObject(json);
  if (!doc) return Fail(ErrorCode::kInvalidArgument, "discovery document is not a JSON object");
  try {
    if (doc->optValue<std::string>("issuer", "") != issuer) {
      return Fail(ErrorCode::kInvalidArgument, "discovery document names another issuer");
    }
    UpstreamEndpoints e;
    e.authorization = doc->optValue<std::string>("authorization_endpoint", "");
    e.token = doc->optValue<std::string>("token_endpoint", "");
    e.userinfo = doc->optValue<std::string>("userinfo_endpoint", "");
    e.end_session = doc->optValue<std::string>("end_session_endpoint", "");
    e.jwks_uri = doc->optValue<std::string>("jwks_uri", "");
    for (const std::string* url : {&e.authorization, &e.token, &e.jwks_uri}) {
      if (!Https(*url)) return Fail(ErrorCode::kInvalidArgument, "discovery document lacks an https endpoint");
    }
    if (!e.userinfo.empty() && !Https(e.userinfo)) e.userinfo.clear();
    if (!e.end_session.empty() && !Https(e.end_session)) e.end_session.clear();
    if (auto algs = doc->getArray("id_token_signing_alg_values_supported")) {
      for (size_t i = 0; i < algs->size(); ++i) {
        if (!algs->get(i).isString()) continue;
        if (auto a = ParseAlg(algs->getElement<std::string>(i))) e.algs.push_back(*a);
      }
    }
    return e;
  } catch (const Poco::Exception&) {
    return Fail(ErrorCode::kInvalidArgument, "discovery document has fields of the wrong type");
  }
}

std::string PkceChallenge(const std::string& verifier) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(verifier.data()), verifier.size(), digest);
  return Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<Poco::JSON::Object::Ptr> VerifyUpstreamIdToken(std::string_view token, const std::vector<SigningKey>& keys,
                                                      const std::string& issuer, const std::string& client_id,
                                                      const std::string& nonce, int64_t now_s) {
  auto verified = VerifyJwt(token, keys);
  if (!verified) return Unauthenticated("signature invalid: " + verified.error().message);
  const Poco::JSON::Object::Ptr& claims = *verified;
  try {
    if (!claims->has("iss") || !claims->get("iss").isString() || claims->getValue<std::string>("iss") != issuer) {
      return Unauthenticated("names another issuer");
    }
    bool aud_ok = false;
    if (auto list = claims->getArray("aud")) {
      for (size_t i = 0; i < list->size(); ++i) {
        if (list->get(i).isString() && list->getElement<std::string>(i) == client_id) aud_ok = true;
      }
      if (aud_ok && list->size() > 1 && claims->optValue<std::string>("azp", "") != client_id) aud_ok = false;
    } else if (claims->has("aud") && claims->get("aud").isString()) {
      aud_ok = claims->getValue<std::string>("aud") == client_id;
    }
    if (!aud_ok) return Unauthenticated("is for another audience");
    if (auto st = CheckTokenTimes(*claims, now_s, kLeewayS); !st) return Unauthenticated("expired or not yet valid");
    std::string got = claims->has("nonce") && claims->get("nonce").isString() ? claims->getValue<std::string>("nonce") : "";
    if (!ConstantTimeEqual(got, nonce)) return Unauthenticated("nonce does not match");
    if (claims->optValue<std::string>("sub", "").empty()) return Unauthenticated("has no sub");
  } catch (const Poco::Exception&) {
    return Unauthenticated("has claims of the wrong type");
  }
  return claims;
}

std::string UserClaimValue(const Poco::JSON::Object& claims, const std::string& claim) {
  if (!claims.has(claim) || !claims.get(claim).isString()) return "";
  return claims.getValue<std::string>(claim);
}

std::string UpstreamAttempt::ToJson() const {
  return "{\"s\":" + Quoted(state) + ",\"n\":" + Quoted(nonce) + ",\"v\":" + Quoted(verifier) + ",\"f\":" + Quoted(flow) +
         ",\"q\":" + Quoted(query) + ",\"exp\":" + std::to_string(expires_at) + "}";
}

std::optional<UpstreamAttempt> UpstreamAttempt::FromJson(const std::string& json, int64_t now_s) {
  auto o = ParseJsonObject(json);
  if (!o) return std::nullopt;
  try {
    UpstreamAttempt a;
    a.state = o->getValue<std::string>("s");
    a.nonce = o->getValue<std::string>("n");
    a.verifier = o->getValue<std::string>("v");
    a.flow = o->getValue<std::string>("f");
    a.query = o->getValue<std::string>("q");
    a.expires_at = o->getValue<int64_t>("exp");
    if (a.expires_at <= now_s) return std::nullopt;
    return a;
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

std::optional<UpstreamEndpoints> Upstream::Cached() const {
  std::lock_guard lock(mu_);
  return endpoints_;
}

Result<std::string> Upstream::Get(const std::string& url) const {
  PALAVER_ASSIGN_OR_RETURN(HttpsReply reply, HttpsRequest("GET", url, "", {}, config_.ca_file, kMaxDocumentBytes));
  if (reply.status != 200) return Fail(ErrorCode::kUnavailable, url + " answered " + std::to_string(reply.status));
  return std::move(reply.body);
}

Status Upstream::Refresh() {
  PALAVER_ASSIGN_OR_RETURN(std::string discovery, Get(config_.issuer + "/.well-known/openid-configuration"));
  PALAVER_ASSIGN_OR_RETURN(UpstreamEndpoints e, ParseUpstreamDiscovery(discovery, config_.issuer));
  PALAVER_ASSIGN_OR_RETURN(std::string jwks, Get(e.jwks_uri));
  PALAVER_ASSIGN_OR_RETURN(auto keys, ParseJwks(jwks, e.algs));
  std::lock_guard lock(mu_);
  endpoints_ = std::move(e);
  keys_ = std::move(keys);
  return OkStatus();
}

Result<UpstreamEndpoints> Upstream::Endpoints() {
  {
    std::lock_guard lock(mu_);
    if (endpoints_) return *endpoints_;
    if (fetching_) return Fail(ErrorCode::kUnavailable, "discovery is being fetched already");
    fetching_ = true;
  }
  Status st = Refresh();
  std::lock_guard lock(mu_);
  fetching_ = false;
  if (!st) return Fail(st.error());
  return *endpoints_;
}

Result<Upstream::SignedIn> Upstream::Exchange(const std::string& code, const std::string& verifier,
                                              const std::string& redirect_uri, const std::string& nonce, int64_t now_s) {
  PALAVER_ASSIGN_OR_RETURN(UpstreamEndpoints e, Endpoints());
  sdk::FormParams form{{"grant_type", "authorization_code"}, {"code", code}, {"redirect_uri", redirect_uri},
                       {"code_verifier", verifier}};
  std::vector<std::pair<std::string, std::string>> headers;
  if (secret_.empty()) {
    form.emplace_back("client_id", config_.client_id);
  } else {
    // RFC 6749 §2.3.1: both parts form-encoded before the Basic encoding.
    headers.emplace_back("Authorization", "Basic " + sdk::Base64Encode(sdk::PercentEncode(config_.client_id) + ":" +
                                                                        sdk::PercentEncode(secret_)));
  }
  PALAVER_ASSIGN_OR_RETURN(HttpsReply reply, HttpsRequest("POST", e.token, sdk::EncodeForm(form), headers,
                                                          config_.ca_file, kMaxTokenResponseBytes));
  if (reply.status >= 500) {
    return Fail(ErrorCode::kUnavailable, "token endpoint answered " + std::to_string(reply.status));
  }
  auto body = ParseJsonObject(reply.body);
  if (reply.status != 200) {
    std::string error = body ? body->optValue<std::string>("error", "") : "";
    return Fail(ErrorCode::kUnauthenticated,
                "token endpoint answered " + std::to_string(reply.status) + " " + sdk::LogSafe(error, 64),
                "the sign-in could not be verified");
  }
  if (!body) return Fail(ErrorCode::kInvalidArgument, "token response is not a JSON object");
  std::string id_token = body->optValue<std::string>("id_token", "");
  std::string access_token = body->optValue<std::string>("access_token", "");
  if (id_token.empty()) return Fail(ErrorCode::kUnauthenticated, "token response has no ID token");
  std::vector<SigningKey> keys;
  {
    std::lock_guard lock(mu_);
    keys = keys_;
  }
  auto claims = VerifyUpstreamIdToken(id_token, keys, config_.issuer, config_.client_id, nonce, now_s);
  if (!claims) {
    // A key we have not seen yet (the upstream rotated): fetch the JWKS once more, at most every 30 s.
    auto parts = ParseJwt(id_token);
    bool unknown_kid = parts && std::none_of(keys.begin(), keys.end(), [&](const SigningKey& k) { return k.kid() == parts->kid; });
    bool fetch = false;
    {
      std::lock_guard lock(mu_);
      if (unknown_kid && now_s - last_key_fetch_ >= kKeyRefetchS) {
        last_key_fetch_ = now_s;
        fetch = true;
      }
    }
    if (!fetch) return Fail(claims.error());
    PALAVER_ASSIGN_OR_RETURN(std::string jwks, Get(e.jwks_uri));
    PALAVER_ASSIGN_OR_RETURN(keys, ParseJwks(jwks, e.algs));
    {
      std::lock_guard lock(mu_);
      keys_ = keys;
    }
    claims = VerifyUpstreamIdToken(id_token, keys, config_.issuer, config_.client_id, nonce, now_s);
    if (!claims) return Fail(claims.error());
  }
  if (UserClaimValue(**claims, config_.user_claim).empty() && !e.userinfo.empty() && !access_token.empty()) {
    // Some providers put profile claims only into userinfo; its `sub` must be the ID token's.
    PALAVER_ASSIGN_OR_RETURN(HttpsReply info, HttpsRequest("GET", e.userinfo, "", {{"Authorization", "Bearer " + access_token}},
                                                           config_.ca_file, kMaxTokenResponseBytes));
    if (info.status >= 500) return Fail(ErrorCode::kUnavailable, "userinfo answered " + std::to_string(info.status));
    auto o = ParseJsonObject(info.body);
    if (info.status == 200 && o && o->optValue<std::string>("sub", "") == (*claims)->optValue<std::string>("sub", "")) {
      std::string value = UserClaimValue(*o, config_.user_claim);
      if (!value.empty()) (*claims)->set(config_.user_claim, value);
    }
  }
  return SignedIn{std::move(id_token), *claims};
}

}  // namespace palaver::oidc
