#include "verifier.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

#include <openssl/sha.h>

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include "palaver/sdk/encoding.hpp"
#include "tokens.hpp"

namespace palaver::oidc {
namespace {

Error Invalid(std::string why) { return Error{ErrorCode::kUnauthenticated, std::move(why), "invalid token"}; }

std::string Lower(std::string v) {
  for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v;
}

std::string StringClaim(const Poco::JSON::Object& o, const std::string& name) {
  if (!o.has(name) || !o.get(name).isString()) return {};
  return o.getValue<std::string>(name);
}

}  // namespace

std::string ExternalUserId(std::string_view issuer, std::string_view id) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(issuer.data()), issuer.size(), digest);
  std::string tag = sdk::Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(digest), 9));
  return "ext:" + tag + ":" + std::string(id);
}

namespace {

}  // namespace

void LocalTokenVerifier::SetKeys(std::shared_ptr<const KeySet> keys) {
  std::lock_guard lock(mu_);
  keys_ = std::move(keys);
}

std::shared_ptr<const KeySet> LocalTokenVerifier::Keys() const {
  std::lock_guard lock(mu_);
  return keys_;
}

void LocalTokenVerifier::SetExternal(std::shared_ptr<ExternalIssuers> external, std::function<void(std::string)> on_unknown_key) {
  std::lock_guard lock(mu_);
  external_ = std::move(external);
  on_unknown_key_ = std::move(on_unknown_key);
}

Result<sdk::TokenClaims> LocalTokenVerifier::VerifyAccessToken(std::string_view token) const {
  if (!Keys()) return Fail(ErrorCode::kUnavailable, "no keys yet", "token service unavailable");
  PALAVER_ASSIGN_OR_RETURN(JwtParts parts, ParseJwt(token));
  std::string iss = StringClaim(*parts.claims, "iss");
  std::string issuer = issuer_();
  if (iss != issuer) {
    std::shared_ptr<ExternalIssuers> external;
    std::function<void(std::string)> on_unknown;
    {
      std::lock_guard lock(mu_);
      external = external_;
      on_unknown = on_unknown_key_;
    }
    if (!external || !external->Trusts(iss)) return Fail(Invalid("token of another issuer"));
    auto keys = external->Keys(iss);
    auto claims = VerifyParsedJwt(parts, keys);
    if (!claims) {
      bool known = std::any_of(keys.begin(), keys.end(), [&](const SigningKey& k) { return k.kid() == parts.kid; });
      if (!known && on_unknown) on_unknown(iss);  // the issuer may have rotated its keys
      return Fail(claims.error());
    }
    PALAVER_RETURN_IF_ERROR(CheckTokenTimes(**claims, now_(), kLeewaySeconds));
    // Only access tokens: konnect marks them; RFC 9068 types them "at+jwt"; Keycloak says "Bearer".
    bool access = (*claims)->has("kc.isAccessToken")
                      ? (*claims)->get("kc.isAccessToken").isBoolean() && (*claims)->getValue<bool>("kc.isAccessToken")
                      : Lower(parts.header->optValue<std::string>("typ", "")) == "at+jwt" ||
                            StringClaim(**claims, "typ") == "Bearer";
    if (!access) return Fail(Invalid("not an access token"));
    return ClaimsOf(**claims, iss, true);
  }
  auto keys = Keys();
  if (!keys) return Fail(ErrorCode::kUnavailable, "no keys yet", "token service unavailable");
  PALAVER_ASSIGN_OR_RETURN(auto claims, VerifyParsedJwt(parts, keys->validation));
  PALAVER_RETURN_IF_ERROR(CheckTokenTimes(*claims, now_(), kLeewaySeconds));
  if (!claims->has("kc.isAccessToken") || !claims->get("kc.isAccessToken").isBoolean() ||
      !claims->getValue<bool>("kc.isAccessToken")) {
    return Fail(Invalid("not an access token"));
  }
  return ClaimsOf(*claims, issuer, false);
}

void LocalTokenVerifier::SetStanding(StandingFn standing) {
  std::lock_guard lock(mu_);
  standing_ = std::make_shared<const StandingFn>(std::move(standing));
}

Result<sdk::TokenClaims> LocalTokenVerifier::VerifyActiveAccessToken(std::string_view token) const {
  PALAVER_ASSIGN_OR_RETURN(sdk::TokenClaims claims, VerifyAccessToken(token));
  if (claims.guest || claims.external) return claims;  // no local account to ask about
  std::shared_ptr<const StandingFn> standing;
  {
    std::lock_guard lock(mu_);
    standing = standing_;
  }
  if (!standing) return Fail(ErrorCode::kUnavailable, "no user directory", "token service unavailable");
  auto user = (*standing)(claims.user_id);
  if (!user) {
    if (user.error().code == ErrorCode::kNotFound) return Fail(Invalid("the token's user was removed"));
    return Fail(ErrorCode::kUnavailable, "user lookup failed: " + user.error().message, "token service unavailable");
  }
  if (!user->enabled) return Fail(Invalid("the token's user is disabled"));
  if (claims.session_epoch < user->session_epoch) return Fail(Invalid("the token's sessions were ended"));
  return claims;
}

Result<sdk::IdTokenInfo> LocalTokenVerifier::VerifyIdToken(std::string_view token, std::string_view audience) const {
  PALAVER_ASSIGN_OR_RETURN(JwtParts parts, ParseJwt(token));
  std::string iss = StringClaim(*parts.claims, "iss");
  std::vector<SigningKey> keys;
  if (iss == issuer_()) {
    auto own = Keys();
    if (!own) return Fail(ErrorCode::kUnavailable, "no keys yet", "token service unavailable");
    keys = own->validation;
  } else {
    std::shared_ptr<ExternalIssuers> external;
    {
      std::lock_guard lock(mu_);
      external = external_;
    }
    if (!external || !external->Trusts(iss)) return Fail(Invalid("ID token of another issuer"));
    keys = external->Keys(iss);
  }
  PALAVER_ASSIGN_OR_RETURN(auto claims, VerifyParsedJwt(parts, keys));
  PALAVER_RETURN_IF_ERROR(CheckTokenTimes(*claims, now_(), kLeewaySeconds));
  // The audience: the client the ID token was issued to, a string or an array holding it.
  bool for_audience = false;
  if (!audience.empty()) {
    if (StringClaim(*claims, "aud") == audience) {
      for_audience = true;
    } else if (auto aud = claims->getArray("aud")) {
      for (size_t i = 0; i < aud->size() && !for_audience; ++i) {
        for_audience = aud->get(i).isString() && aud->getElement<std::string>(i) == audience;
      }
    }
  }
  if (!for_audience) return Fail(Invalid("ID token for another audience"));
  sdk::IdTokenInfo out;
  out.issuer = iss;
  out.subject = StringClaim(*claims, "sub");
  out.name = StringClaim(*claims, "name");
  if (out.subject.empty()) return Fail(Invalid("ID token without sub"));
  std::ostringstream raw;
  claims->stringify(raw);
  out.raw_claims = raw.str();
  return out;
}

Result<sdk::TokenClaims> LocalTokenVerifier::ClaimsOf(const Poco::JSON::Object& claims, const std::string& issuer,
                                                      bool external) {
  sdk::TokenClaims out;
  out.issuer = issuer;
  out.external = external;
  out.subject = StringClaim(claims, "sub");
  if (out.subject.empty()) return Fail(Invalid("token without sub"));
  out.audience = StringClaim(claims, "aud");
  if (out.audience.empty()) {
    if (auto aud = claims.getArray("aud"); aud && aud->size() > 0 && aud->get(0).isString()) {
      out.audience = aud->getElement<std::string>(0);
    }
  }
  out.expires_at = claims.get("exp").convert<int64_t>();
  if (auto scopes = claims.getArray("kc.authorizedScopes")) {
    for (size_t i = 0; i < scopes->size(); ++i) {
      if (scopes->get(i).isString()) out.scopes.push_back(scopes->getElement<std::string>(i));
    }
  } else if (auto scp = claims.getArray("scp")) {
    for (size_t i = 0; i < scp->size(); ++i) {
      if (scp->get(i).isString()) out.scopes.push_back(scp->getElement<std::string>(i));
    }
  } else {
    std::istringstream words(StringClaim(claims, "scope"));
    for (std::string w; words >> w;) out.scopes.push_back(w);
  }
  if (auto identity = claims.getObject("kc.identity")) {
    out.user_id = StringClaim(*identity, "kc.i.id");
    out.username = StringClaim(*identity, "kc.i.un");
    out.display_name = StringClaim(*identity, "kc.i.dn");
    out.guest = identity->has("kc.i.guest") && identity->get("kc.i.guest").isBoolean() &&
                identity->getValue<bool>("kc.i.guest");
  }
  if (!external && claims.has(kSessionEpochClaim)) {
    if (!claims.get(kSessionEpochClaim).isInteger()) return Fail(Invalid("bad session epoch"));
    out.session_epoch = claims.get(kSessionEpochClaim).convert<int64_t>();
  }
  // Tokens of other providers: the standard claims.
  if (out.user_id.empty()) out.user_id = out.subject;
  if (out.username.empty()) out.username = StringClaim(claims, "preferred_username");
  if (out.display_name.empty()) out.display_name = StringClaim(claims, "name");
  if (external) {
    // Another issuer's users are not ours: whatever id it names (kc.identity, sub), it must
    // never resolve to a local user, whose rights (administrator, data) it would get.
    out.user_id = ExternalUserId(issuer, out.user_id);
  }
  std::ostringstream raw;
  claims.stringify(raw);
  out.raw_claims = raw.str();
  return out;
}

Result<std::string> LocalTokenVerifier::IssueAccessToken(const sdk::AccessTokenRequest& request) {
  auto keys = Keys();
  if (!keys) return Fail(ErrorCode::kUnavailable, "no keys yet", "token service unavailable");
  if (request.subject.empty()) return Fail(ErrorCode::kInvalidArgument, "access token without subject");
  int64_t now = now_();
  int64_t lifetime = request.lifetime.count() > 0 ? request.lifetime.count() : default_lifetime_s_.load();
  std::optional<std::string> authorized;
  if (!request.authorized_claims.empty()) {
    authorized = CanonicalJsonObject(request.authorized_claims);
    if (!authorized) return Fail(ErrorCode::kInvalidArgument, "authorized_claims is not a JSON object");
  }
  // Members in key order (see JsonObjectWriter).
  JsonObjectWriter claims(768);
  claims.String("aud", request.audience);
  claims.Int("exp", now + lifetime);
  claims.Int("iat", now);
  claims.String("iss", issuer_());
  claims.String("jti", sdk::RandomToken(18));
  if (authorized) claims.Raw("kc.authorizedClaims", *authorized);
  claims.Strings("kc.authorizedScopes", request.scopes);
  claims.BeginObject("kc.identity");
  if (!request.display_name.empty()) claims.String("kc.i.dn", request.display_name);
  if (request.guest) claims.Bool("kc.i.guest", true);
  claims.String("kc.i.id", request.user_id.empty() ? request.subject : request.user_id);
  if (!request.username.empty()) claims.String("kc.i.un", request.username);
  claims.EndObject();
  claims.Bool("kc.isAccessToken", true);
  claims.String("kc.provider", request.guest ? "guest" : "identifier-palaver");
  if (!request.guest) claims.Int(kSessionEpochClaim, request.session_epoch);
  claims.String("sub", request.subject);
  return SignJwtJson(keys->signing, std::move(claims).Finish());
}

Result<std::string> LocalTokenVerifier::IssueGuestRequest(const sdk::GuestRequest& request) {
  if (request.client_id.empty() || request.guest_id.empty() || request.path.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "guest request needs client_id, guest_id and path");
  }
  int64_t now = now_();
  std::string issuer = issuer_();
  Poco::JSON::Object claims;
  claims.set("iss", issuer);
  claims.set("aud", issuer);
  claims.set("iat", now);
  claims.set("exp", now + std::max<int64_t>(30, request.lifetime.count()));
  claims.set("client_id", request.client_id);
  claims.set("scope", request.scope);
  claims.set("kc.isGuestRequest", true);
  Poco::JSON::Object::Ptr guest = new Poco::JSON::Object;
  guest->set("essential", true);
  guest->set("value", request.guest_id);
  Poco::JSON::Object::Ptr name = new Poco::JSON::Object;
  name->set("value", request.name);
  Poco::JSON::Object::Ptr id_token = new Poco::JSON::Object;
  id_token->set("guest", guest);
  id_token->set("name", name);
  Poco::JSON::Object::Ptr kwm = new Poco::JSON::Object;
  kwm->set("type", "1");
  kwm->set("path", request.path);
  Poco::JSON::Object::Ptr passthru = new Poco::JSON::Object;
  passthru->set("kopano/kwm/guest", kwm);
  Poco::JSON::Object::Ptr requested = new Poco::JSON::Object;
  requested->set("id_token", id_token);
  requested->set("passthru", passthru);
  claims.set("claims", requested);
  return Sign(claims);
}

Result<Poco::JSON::Object::Ptr> LocalTokenVerifier::VerifyOwnSignature(std::string_view token) const {
  auto keys = Keys();
  if (!keys) return Fail(ErrorCode::kUnavailable, "no keys yet", "token service unavailable");
  return VerifyJwt(token, keys->validation);
}

Result<Poco::JSON::Object::Ptr> LocalTokenVerifier::VerifyGuestRequest(std::string_view token) const {
  PALAVER_ASSIGN_OR_RETURN(auto claims, VerifyOwnSignature(token));
  PALAVER_RETURN_IF_ERROR(CheckTokenTimes(*claims, now_(), kLeewaySeconds));
  std::string issuer = issuer_();
  if (StringClaim(*claims, "iss") != issuer || StringClaim(*claims, "aud") != issuer) {
    return Fail(Invalid("request object of another issuer"));
  }
  if (!claims->has("kc.isGuestRequest") || !claims->get("kc.isGuestRequest").isBoolean() ||
      !claims->getValue<bool>("kc.isGuestRequest")) {
    return Fail(Invalid("not a guest request"));
  }
  return claims;
}

Result<std::string> LocalTokenVerifier::Sign(const Poco::JSON::Object& claims) const {
  auto keys = Keys();
  if (!keys) return Fail(ErrorCode::kUnavailable, "no keys yet", "token service unavailable");
  return SignJwt(keys->signing, claims);
}

Result<std::string> LocalTokenVerifier::SignJson(std::string_view claims_json) const {
  auto keys = Keys();
  if (!keys) return Fail(ErrorCode::kUnavailable, "no keys yet", "token service unavailable");
  return SignJwtJson(keys->signing, claims_json);
}

}  // namespace palaver::oidc
