#include "verifier.hpp"

#include <sstream>

#include <Poco/JSON/Array.h>

namespace palaver::oidc {
namespace {

Error Invalid(std::string why) { return Error{ErrorCode::kUnauthenticated, std::move(why), "invalid token"}; }

std::string StringClaim(const Poco::JSON::Object& o, const std::string& name) {
  if (!o.has(name) || !o.get(name).isString()) return {};
  return o.getValue<std::string>(name);
}

}  // namespace

void LocalTokenVerifier::SetKeys(std::shared_ptr<const KeySet> keys) {
  std::lock_guard lock(mu_);
  keys_ = std::move(keys);
}

std::shared_ptr<const KeySet> LocalTokenVerifier::Keys() const {
  std::lock_guard lock(mu_);
  return keys_;
}

Result<sdk::TokenClaims> LocalTokenVerifier::VerifyAccessToken(std::string_view token) const {
  auto keys = Keys();
  if (!keys) return Fail(ErrorCode::kUnavailable, "no keys yet", "token service unavailable");
  PALAVER_ASSIGN_OR_RETURN(auto claims, VerifyJwt(token, keys->validation));
  PALAVER_RETURN_IF_ERROR(CheckTokenTimes(*claims, now_(), kLeewaySeconds));
  std::string issuer = issuer_();
  if (StringClaim(*claims, "iss") != issuer) return Fail(Invalid("token of another issuer"));
  if (!claims->has("kc.isAccessToken") || !claims->get("kc.isAccessToken").isBoolean() ||
      !claims->getValue<bool>("kc.isAccessToken")) {
    return Fail(Invalid("not an access token"));
  }
  sdk::TokenClaims out;
  out.issuer = issuer;
  out.subject = StringClaim(*claims, "sub");
  if (out.subject.empty()) return Fail(Invalid("token without sub"));
  out.audience = StringClaim(*claims, "aud");
  out.expires_at = claims->get("exp").convert<int64_t>();
  if (auto scopes = claims->getArray("kc.authorizedScopes")) {
    for (size_t i = 0; i < scopes->size(); ++i) {
      if (scopes->get(i).isString()) out.scopes.push_back(scopes->getElement<std::string>(i));
    }
  }
  if (auto identity = claims->getObject("kc.identity")) {
    out.user_id = StringClaim(*identity, "kc.i.id");
    out.username = StringClaim(*identity, "kc.i.un");
    out.display_name = StringClaim(*identity, "kc.i.dn");
    out.guest = identity->has("kc.i.guest") && identity->get("kc.i.guest").isBoolean() &&
                identity->getValue<bool>("kc.i.guest");
  }
  std::ostringstream raw;
  claims->stringify(raw);
  out.raw_claims = raw.str();
  return out;
}

Result<std::string> LocalTokenVerifier::IssueAccessToken(const sdk::AccessTokenRequest& request) {
  auto keys = Keys();
  if (!keys) return Fail(ErrorCode::kUnavailable, "no keys yet", "token service unavailable");
  if (request.subject.empty()) return Fail(ErrorCode::kInvalidArgument, "access token without subject");
  int64_t now = now_();
  int64_t lifetime = request.lifetime.count() > 0 ? request.lifetime.count() : default_lifetime_s_.load();
  Poco::JSON::Object claims;
  claims.set("iss", issuer_());
  claims.set("sub", request.subject);
  claims.set("aud", request.audience);
  claims.set("iat", now);
  claims.set("exp", now + lifetime);
  claims.set("jti", sdk::RandomToken(18));
  claims.set("kc.isAccessToken", true);
  Poco::JSON::Array::Ptr scopes = new Poco::JSON::Array;
  for (const auto& s : request.scopes) scopes->add(s);
  claims.set("kc.authorizedScopes", scopes);
  Poco::JSON::Object::Ptr identity = new Poco::JSON::Object;
  identity->set("kc.i.id", request.user_id.empty() ? request.subject : request.user_id);
  if (!request.username.empty()) identity->set("kc.i.un", request.username);
  if (!request.display_name.empty()) identity->set("kc.i.dn", request.display_name);
  if (request.guest) identity->set("kc.i.guest", true);
  claims.set("kc.identity", identity);
  claims.set("kc.provider", request.guest ? "guest" : "identifier-palaver");
  return SignJwt(keys->signing, claims);
}

}  // namespace palaver::oidc
