#include "tokens.hpp"

#include <algorithm>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include "jose.hpp"
#include "subject.hpp"

namespace palaver::oidc {
namespace {

std::string StringClaim(const Poco::JSON::Object& o, const std::string& name) {
  if (!o.has(name) || !o.get(name).isString()) return {};
  return o.getValue<std::string>(name);
}

Error InvalidGrant(std::string why) { return Error{ErrorCode::kUnauthenticated, why, why}; }

}  // namespace

const char* Identity::Manager() const { return guest ? kManagerGuest : kManagerLocal; }
std::string Identity::Subject() const { return PublicSubject(raw_id, Manager()); }

bool Grant::HasScope(const std::string& s) const { return std::find(scopes.begin(), scopes.end(), s) != scopes.end(); }

std::string IdTokenClaimsJson(const Grant& grant, const IdTokenOptions& o) {
  // Konnect: profile and email claims when no access token comes along (the client cannot ask
  // userinfo) and the scope is granted, or whenever the claims request names them.
  auto wanted = [&](const char* name, const char* scope) {
    return grant.id_token_claims.count(name) > 0 || (!o.with_access_token && grant.HasScope(scope));
  };
  const Identity& w = grant.who;
  auto profile = [&](const char* name, const std::string& value) {
    return !value.empty() && wanted(name, "profile");
  };
  const bool email = !w.email.empty() && (wanted("email", "email") || wanted("email_verified", "email"));
  // Members in key order (see JsonObjectWriter).
  JsonObjectWriter c(512);
  if (!o.at_hash.empty()) c.String("at_hash", o.at_hash);
  c.String("aud", grant.client_id);
  if (o.include_auth_time || grant.id_token_claims.count("auth_time")) c.Int("auth_time", grant.auth_time);
  if (!o.c_hash.empty()) c.String("c_hash", o.c_hash);
  if (email) c.String("email", w.email).Bool("email_verified", !w.guest);
  c.Int("exp", o.now + o.lifetime);
  if (profile("family_name", w.family_name)) c.String("family_name", w.family_name);
  if (profile("given_name", w.given_name)) c.String("given_name", w.given_name);
  if (w.guest) c.Bool("guest", true);
  c.Int("iat", o.now);
  c.String("iss", o.issuer);
  if (profile("name", w.display_name)) c.String("name", w.display_name);
  if (!o.nonce.empty()) c.String("nonce", o.nonce);
  if (profile("preferred_username", w.username)) c.String("preferred_username", w.username);
  if (!grant.sid.empty()) c.String("sid", grant.sid);
  c.String("sub", o.subject.empty() ? w.Subject() : o.subject);
  return std::move(c).Finish();
}

Poco::JSON::Object IdTokenClaims(const Grant& grant, const IdTokenOptions& o) {
  auto parsed = ParseJsonObject(IdTokenClaimsJson(grant, o));
  return parsed ? *parsed : Poco::JSON::Object();
}

sdk::AccessTokenRequest AccessTokenFor(const Grant& grant, int64_t lifetime_s) {
  sdk::AccessTokenRequest r;
  r.subject = grant.who.Subject();
  r.audience = grant.client_id;
  r.scopes = grant.scopes;
  r.user_id = grant.who.raw_id;
  r.username = grant.who.username;
  r.display_name = grant.who.display_name;
  r.guest = grant.who.guest;
  r.authorized_claims = grant.claims_json;
  r.lifetime = std::chrono::seconds(lifetime_s);
  r.session_epoch = grant.session_epoch;
  return r;
}

std::string RefreshTokenClaimsJson(const Grant& grant, const std::string& issuer, const std::string& jti,
                                   const std::string& family, int64_t now, int64_t lifetime, const std::string& subject) {
  const Identity& w = grant.who;
  // Members in key order (see JsonObjectWriter).
  JsonObjectWriter c(1024);
  c.String("aud", grant.client_id);
  c.Int("auth_time", grant.auth_time);
  c.Int("exp", now + lifetime);
  c.Int("iat", now);
  c.String("iss", issuer);
  c.String("jti", jti);
  if (auto claims = CanonicalJsonObject(grant.claims_json)) c.Raw("kc.approvedClaims", *claims);
  c.Strings("kc.approvedScopes", grant.scopes);
  c.Strings("kc.idTokenClaims", grant.id_token_claims);
  c.BeginObject("kc.identity");
  if (!w.display_name.empty()) c.String("kc.i.dn", w.display_name);
  if (w.guest) c.Bool("kc.i.guest", true);
  c.String("kc.i.id", w.raw_id);
  if (!w.username.empty()) c.String("kc.i.un", w.username);
  c.EndObject();
  c.Bool("kc.isRefreshToken", true);
  c.String("kc.provider", w.Manager());
  c.String("kc.ref", family);
  if (!w.guest) c.Int(kSessionEpochClaim, grant.session_epoch);
  if (!grant.sid.empty()) c.String("sid", grant.sid);
  c.String("sub", subject.empty() ? w.Subject() : subject);
  return std::move(c).Finish();
}

Poco::JSON::Object RefreshTokenClaims(const Grant& grant, const std::string& issuer, const std::string& jti,
                                      const std::string& family, int64_t now, int64_t lifetime) {
  auto parsed = ParseJsonObject(RefreshTokenClaimsJson(grant, issuer, jti, family, now, lifetime));
  return parsed ? *parsed : Poco::JSON::Object();
}

Result<RefreshTokenInfo> ReadRefreshToken(const Poco::JSON::Object& claims, const std::string& issuer,
                                          const std::string& client_id) {
  if (!claims.has("kc.isRefreshToken") || !claims.get("kc.isRefreshToken").isBoolean() ||
      !claims.getValue<bool>("kc.isRefreshToken")) {
    return Fail(InvalidGrant("not a refresh token"));
  }
  if (StringClaim(claims, "iss") != issuer) return Fail(InvalidGrant("refresh token of another issuer"));
  if (StringClaim(claims, "aud") != client_id) return Fail(InvalidGrant("refresh token of another client"));
  RefreshTokenInfo info;
  info.jti = StringClaim(claims, "jti");
  info.family = StringClaim(claims, "kc.ref");
  if (info.jti.empty() || info.family.empty()) return Fail(InvalidGrant("refresh token without id"));
  info.expires_at = claims.has("exp") ? claims.get("exp").convert<int64_t>() : 0;
  Grant& g = info.grant;
  g.client_id = client_id;
  if (auto a = claims.getArray("kc.approvedScopes")) {
    for (size_t i = 0; i < a->size(); ++i) {
      if (a->get(i).isString()) g.scopes.push_back(a->getElement<std::string>(i));
    }
  }
  if (auto a = claims.getArray("kc.idTokenClaims")) {
    for (size_t i = 0; i < a->size(); ++i) {
      if (a->get(i).isString()) g.id_token_claims.insert(a->getElement<std::string>(i));
    }
  }
  if (auto approved = claims.getObject("kc.approvedClaims")) {
    std::ostringstream out;
    approved->stringify(out);
    g.claims_json = out.str();
  }
  auto identity = claims.getObject("kc.identity");
  if (!identity) return Fail(InvalidGrant("refresh token without identity"));
  g.who.raw_id = StringClaim(*identity, "kc.i.id");
  g.who.username = StringClaim(*identity, "kc.i.un");
  g.who.display_name = StringClaim(*identity, "kc.i.dn");
  g.who.guest = identity->has("kc.i.guest") && identity->get("kc.i.guest").isBoolean() &&
                identity->getValue<bool>("kc.i.guest");
  if (g.who.raw_id.empty() || g.who.Subject() != StringClaim(claims, "sub")) {
    return Fail(InvalidGrant("refresh token identity does not match its subject"));
  }
  g.auth_time = claims.has("auth_time") ? claims.get("auth_time").convert<int64_t>() : 0;
  g.sid = StringClaim(claims, "sid");
  if (claims.has(kSessionEpochClaim)) {
    if (!claims.get(kSessionEpochClaim).isInteger()) return Fail(InvalidGrant("refresh token with a bad session epoch"));
    g.session_epoch = claims.get(kSessionEpochClaim).convert<int64_t>();
  }
  return info;
}

}  // namespace palaver::oidc
