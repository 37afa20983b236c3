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

Poco::JSON::Object::Ptr IdentityObject(const Identity& who) {
  Poco::JSON::Object::Ptr identity = new Poco::JSON::Object;
  identity->set("kc.i.id", who.raw_id);
  if (!who.username.empty()) identity->set("kc.i.un", who.username);
  if (!who.display_name.empty()) identity->set("kc.i.dn", who.display_name);
  if (who.guest) identity->set("kc.i.guest", true);
  return identity;
}

Error InvalidGrant(std::string why) { return Error{ErrorCode::kUnauthenticated, why, why}; }

}  // namespace

const char* Identity::Manager() const { return guest ? kManagerGuest : kManagerLocal; }
std::string Identity::Subject() const { return PublicSubject(raw_id, Manager()); }

bool Grant::HasScope(const std::string& s) const { return std::find(scopes.begin(), scopes.end(), s) != scopes.end(); }

Poco::JSON::Object IdTokenClaims(const Grant& grant, const IdTokenOptions& o) {
  Poco::JSON::Object c;
  c.set("iss", o.issuer);
  c.set("sub", grant.who.Subject());
  c.set("aud", grant.client_id);
  c.set("iat", o.now);
  c.set("exp", o.now + o.lifetime);
  if (!o.nonce.empty()) c.set("nonce", o.nonce);
  if (!o.at_hash.empty()) c.set("at_hash", o.at_hash);
  if (!o.c_hash.empty()) c.set("c_hash", o.c_hash);
  if (!grant.sid.empty()) c.set("sid", grant.sid);
  if (o.include_auth_time || grant.id_token_claims.count("auth_time")) c.set("auth_time", grant.auth_time);
  // Konnect: profile and email claims when no access token comes along (the client cannot ask
  // userinfo) and the scope is granted, or whenever the claims request names them.
  auto wanted = [&](const char* name, const char* scope) {
    return grant.id_token_claims.count(name) > 0 || (!o.with_access_token && grant.HasScope(scope));
  };
  auto add = [&c](const char* name, const std::string& value) {
    if (!value.empty()) c.set(name, value);
  };
  const Identity& w = grant.who;
  if (wanted("name", "profile")) add("name", w.display_name);
  if (wanted("given_name", "profile")) add("given_name", w.given_name);
  if (wanted("family_name", "profile")) add("family_name", w.family_name);
  if (wanted("preferred_username", "profile")) add("preferred_username", w.username);
  if (!w.email.empty() && (wanted("email", "email") || wanted("email_verified", "email"))) {
    c.set("email", w.email);
    c.set("email_verified", !w.guest);
  }
  if (w.guest) c.set("guest", true);
  return c;
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

Poco::JSON::Object RefreshTokenClaims(const Grant& grant, const std::string& issuer, const std::string& jti,
                                      const std::string& family, int64_t now, int64_t lifetime) {
  Poco::JSON::Object c;
  c.set("iss", issuer);
  c.set("sub", grant.who.Subject());
  c.set("aud", grant.client_id);
  c.set("iat", now);
  c.set("exp", now + lifetime);
  c.set("jti", jti);
  c.set("kc.isRefreshToken", true);
  Poco::JSON::Array::Ptr scopes = new Poco::JSON::Array;
  for (const auto& s : grant.scopes) scopes->add(s);
  c.set("kc.approvedScopes", scopes);
  if (auto claims = ParseJsonObject(grant.claims_json)) c.set("kc.approvedClaims", claims);
  Poco::JSON::Array::Ptr names = new Poco::JSON::Array;
  for (const auto& n : grant.id_token_claims) names->add(n);
  c.set("kc.idTokenClaims", names);
  c.set("kc.identity", IdentityObject(grant.who));
  c.set("kc.provider", grant.who.Manager());
  c.set("kc.ref", family);
  c.set("auth_time", grant.auth_time);
  if (!grant.sid.empty()) c.set("sid", grant.sid);
  if (!grant.who.guest) c.set(kSessionEpochClaim, grant.session_epoch);
  return c;
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
