// The authorization endpoint (spec §1.4) and the token endpoint (§1.5).
#include <algorithm>
#include <sstream>

#include <Poco/JSON/Parser.h>
#include <spdlog/spdlog.h>

#include "palaver/sdk/encoding.hpp"
#include "palaver/sdk/services/user_directory.hpp"
#include "provider.hpp"

namespace palaver::oidc {
namespace {

std::string JoinScopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) out += (out.empty() ? "" : " ") + s;
  return out;
}

// Konnect's authorize headers: never cached, never sniffed; the Referer carries the origin only.
void NoStore(sdk::Response& r) {
  r.SetHeader("cache-control", "no-cache, no-store, must-revalidate");
  r.SetHeader("pragma", "no-cache");
  r.SetHeader("referrer-policy", "origin");
}

sdk::Response ErrorPage(Lang lang, const std::string& why) {
  PageModel m{.page = "message", .title = "error_title", .values = {{"lead", Text(lang, "error_lead")}, {"error", why}}};
  return PageResponse(lang, m, 400);
}

// The claims request without "passthru": only request objects signed by us may carry it.
std::string WithoutPassthru(const std::string& json) {
  if (json.empty()) return json;
  auto o = ParseJsonObject(json);
  if (!o) return {};
  o->remove("passthru");
  std::ostringstream out;
  o->stringify(out);
  return out.str();
}

struct ConsentDecision {
  bool allow = false;
  std::vector<std::string> scopes;
};

sdk::Response TokenError(int status, const std::string& error, const std::string& description) {
  auto r = sdk::Response::Json(status, "{\"error\":" + Quote(error) + ",\"error_description\":" + Quote(description) + "}");
  r.SetHeader("cache-control", "no-store");
  r.SetHeader("pragma", "no-cache");
  r.SetHeader("access-control-allow-origin", "*");
  if (status == 401) r.SetHeader("www-authenticate", "Basic realm=\"palaver\"");
  return r;
}

}  // namespace

sdk::Response Provider::ErrorRedirect(const std::string& redirect_uri, bool fragment, const std::string& state,
                                      const std::string& error, const std::string& description) const {
  Params out{{"error", error}, {"error_description", description}};
  if (!state.empty()) out.emplace_back("state", state);
  auto r = sdk::Response::Redirect(302, RedirectWith(redirect_uri, out, fragment));
  NoStore(r);
  return r;
}

// 302 to a sign-in page carrying the authorization request (konnect: `<page>?<query>&flow=oidc`).
sdk::Response Provider::ToSignin(const std::string& page, const Params& params) const {
  Params forward;
  for (const auto& [k, v] : params) {
    if (k != "prompt" && k != "flow") forward.emplace_back(k, v);
  }
  forward.emplace_back("flow", "oidc");
  auto r = sdk::Response::Redirect(302, "/signin/v1/" + page + "?" + EncodeForm(forward));
  NoStore(r);
  return r;
}

void Provider::HandleAuthorize(const sdk::Request& req, const sdk::Responder& respond) {
  Lang lang = PickLanguage(req.Header("accept-language").value_or(""));
  auto params = ParseForm(req.method == "POST" ? std::string_view(req.body) : std::string_view(req.query));
  if (!params) return respond(ErrorPage(lang, params.error().public_message));
  Params merged = *params;
  bool guest_request = false;
  if (std::string object = ParamValue(*params, "request"); !object.empty()) {
    // Request objects are accepted when this provider signed them: the guest requests that the
    // signaling module hands to browsers. Unsigned (`alg: none`) and foreign ones are refused.
    auto claims = verifier_->VerifyGuestRequest(object);
    if (!claims) return respond(ErrorPage(lang, "The request object is invalid or has expired."));
    auto outer_scope = ParamValue(*params, "scope");
    if ((" " + outer_scope + " ").find(" openid ") == std::string::npos) {
      return respond(ErrorPage(lang, "scope must contain openid"));
    }
    auto applied = ApplyRequestObject(*params, **claims, true);
    if (!applied) return respond(ErrorPage(lang, applied.error().description));
    merged = std::move(*applied);
    merged.erase(std::remove_if(merged.begin(), merged.end(), [](const auto& p) { return p.first == "request"; }),
                 merged.end());
    guest_request = true;
  }
  auto parsed = ParseAuthorizeRequest(merged);
  if (!parsed && !parsed.error().redirectable) return respond(ErrorPage(lang, parsed.error().description));
  std::string client_id = ParamValue(merged, "client_id");
  std::string redirect_uri = ParamValue(merged, "redirect_uri");
  auto table = Clients();
  auto client = table->ForRedirect(client_id, redirect_uri, Issuer());
  if (!client) return respond(ErrorPage(lang, client.error().public_message));
  if (!parsed) {
    std::string mode = ParamValue(merged, "response_mode");
    bool fragment = mode == "fragment" || (mode != "query" && ParamValue(merged, "response_type").find("token") != std::string::npos);
    return respond(ErrorRedirect(redirect_uri, fragment, ParamValue(merged, "state"), parsed.error().error,
                                 parsed.error().description));
  }
  auto r = std::make_shared<AuthorizeRequest>(std::move(*parsed));
  if (guest_request) return AuthorizeGuest(*r, *client, respond);

  auto session = CurrentSession(req);
  int64_t now = NowSeconds();
  if (session && r->max_age >= 0 && now - session->issued_at > r->max_age) session.reset();
  if (session && !r->id_token_hint.empty()) {
    // The client names who it expects; another signed-in user must sign in again (or, silently,
    // fail with login_required).
    auto hint = verifier_->VerifyOwnSignature(r->id_token_hint);
    Identity current{.raw_id = session->user_id};
    if (!hint || (*hint)->optValue<std::string>("sub", "") != current.Subject()) session.reset();
  }
  if (!session) return AuthorizeWith(req, *params, r, table, *client, std::nullopt, respond);
  // The cookie only names a session: whether it still counts (not signed out, the user neither
  // removed, disabled nor their sessions ended) is decided server-side, on a worker.
  CheckSession(*session, [this, req, params = *params, r, table, client = *client, respond](Result<LiveSession> live) {
    if (!live && live.error().code == ErrorCode::kUnavailable) {
      return respond(ErrorRedirect(r->redirect_uri, r->fragment, r->state, "temporarily_unavailable",
                                   "the user directory is unavailable"));
    }
    if (!live) return AuthorizeWith(req, params, r, table, client, std::nullopt, ClearingCookie(respond));
    AuthorizeWith(req, params, r, table, client, std::move(*live), respond);
  });
}

void Provider::AuthorizeWith(const sdk::Request& req, const Params& params, std::shared_ptr<AuthorizeRequest> r,
                             std::shared_ptr<const ClientTable> table, const ClientDecision& client,
                             std::optional<LiveSession> live, const sdk::Responder& respond) {
  if (r->prompt.count("none") && !live) {
    return respond(ErrorRedirect(r->redirect_uri, r->fragment, r->state, "login_required", "sign-in required"));
  }
  if ((!live || r->prompt.count("login")) && PasswordsOff()) {
    // Only the upstream signs users in: straight there, without a page in between.
    Params forward;
    for (const auto& [k, v] : params) {
      if (k != "prompt" && k != "flow") forward.emplace_back(k, v);
    }
    auto resp = sdk::Response::Redirect(302, UpstreamStartHref("oidc", EncodeForm(forward)));
    NoStore(resp);
    return respond(std::move(resp));
  }
  if (!live || r->prompt.count("login")) return respond(ToSignin("identifier", params));
  if (r->prompt.count("select_account")) return respond(ToSignin("chooseaccount", params));
  AuthorizeUser(req, params, r, table, client, *live, respond);
}

void Provider::AuthorizeGuest(const AuthorizeRequest& r, const ClientDecision&, const sdk::Responder& respond) {
  if (r.claims.guest.empty() || !r.HasScope("konnect/guestok")) {
    return respond(ErrorRedirect(r.redirect_uri, r.fragment, r.state, "access_denied", "not a guest request"));
  }
  if (r.prompt.count("consent") || r.prompt.count("login")) {
    return respond(ErrorRedirect(r.redirect_uri, r.fragment, r.state, "interaction_required", "guests cannot sign in interactively"));
  }
  Grant g;
  g.who.raw_id = r.claims.guest;
  g.who.display_name = r.claims.name;
  g.who.guest = true;
  g.client_id = r.client_id;
  // Guests get their identity, the guest marker and signaling, nothing else (spec §1.12).
  for (const auto& s : r.scopes) {
    if (s == "openid" || s == "profile" || s == "email" || s == "konnect/guestok" || s == "kopano/kwm") g.scopes.push_back(s);
  }
  g.claims_json = r.claims.json;
  g.id_token_claims = r.claims.id_token;
  g.auth_time = NowSeconds();
  respond(Complete(r, g));
}

void Provider::AuthorizeUser(const sdk::Request& req, const Params& params, std::shared_ptr<AuthorizeRequest> r,
                             std::shared_ptr<const ClientTable> /*table*/, ClientDecision client, const LiveSession& live,
                             const sdk::Responder& respond) {
  const SigninSession& session = live.session;
  // The consent cookie, when the client needs consent.
  std::optional<ConsentDecision> consent;
  bool needs_consent = !client.trusted || r->prompt.count("consent") > 0;
  if (needs_consent) {
    if (auto cookies = req.Header("cookie")) {
      if (auto value = CookieValue(*cookies, kConsentCookie)) {
        if (auto plain = sealer_->OpenText("consent", *value)) {
          try {
            Poco::JSON::Parser parser;
            auto o = parser.parse(*plain).extract<Poco::JSON::Object::Ptr>();
            if (o->getValue<std::string>("c") == r->client_id && o->getValue<std::string>("r") == r->redirect_uri &&
                o->getValue<std::string>("u") == session.user_id && o->getValue<int64_t>("exp") > NowSeconds()) {
              ConsentDecision d;
              d.allow = o->getValue<bool>("a");
              std::string scope = o->getValue<std::string>("s");
              std::istringstream words(scope);
              for (std::string w; words >> w;) d.scopes.push_back(w);
              consent = d;
            }
          } catch (const Poco::Exception&) {
          }
        }
      }
    }
    if (!consent) {
      if (r->prompt.count("none")) {
        return respond(ErrorRedirect(r->redirect_uri, r->fragment, r->state, "consent_required", "consent required"));
      }
      return respond(ToSignin("consent", params));
    }
    if (!consent->allow) {
      auto resp = ErrorRedirect(r->redirect_uri, r->fragment, r->state, "access_denied", "the user declined");
      resp.headers.emplace_back("set-cookie", std::string(kConsentCookie) + "=; Path=" + kSessionCookiePath +
                                                  "; Max-Age=0; Secure; HttpOnly; SameSite=Lax");
      return respond(std::move(resp));
    }
  }
  const sdk::DirectoryUser& user = live.user;
  Grant g;
  g.who.raw_id = user.id;
  g.who.username = user.username;
  g.who.display_name = user.display_name;
  g.who.given_name = user.given_name;
  g.who.family_name = user.surname;
  g.who.email = user.mail;
  g.client_id = r->client_id;
  g.scopes = FilterScopes(r->scopes, r->code);
  if (consent) {
    std::vector<std::string> kept;
    for (const auto& s : g.scopes) {
      if (s == "openid" || std::find(consent->scopes.begin(), consent->scopes.end(), s) != consent->scopes.end()) {
        kept.push_back(s);
      }
    }
    g.scopes = std::move(kept);
  }
  g.claims_json = WithoutPassthru(r->claims.json);
  g.id_token_claims = r->claims.id_token;
  g.auth_time = session.issued_at;
  g.sid = session.sid;
  g.session_epoch = live.epoch;
  auto resp = Complete(*r, g);
  if (consent) {
    resp.headers.emplace_back("set-cookie", std::string(kConsentCookie) + "=; Path=" + kSessionCookiePath +
                                                "; Max-Age=0; Secure; HttpOnly; SameSite=Lax");
  }
  respond(std::move(resp));
}

sdk::Response Provider::Complete(const AuthorizeRequest& r, const Grant& g) {
  Params out;
  int64_t now = NowSeconds();
  std::string code, access;
  auto fail = [&](const Error& e) {
    log_->error("authorize: token issuance failed err={}", e.message);
    return ErrorRedirect(r.redirect_uri, r.fragment, r.state, "server_error", "tokens could not be issued");
  };
  if (r.code) {
    AuthCode ac{g, r.redirect_uri, r.code_challenge, r.nonce, r.id_token, 0};
    code = codes_.Put(std::move(ac), now);
    out.emplace_back("code", code);
  }
  if (r.token) {
    auto token = verifier_->IssueAccessToken(AccessTokenFor(g, access_lifetime_.load()));
    if (!token) return fail(token.error());
    access = *token;
    out.emplace_back("access_token", access);
    out.emplace_back("token_type", "Bearer");
    out.emplace_back("expires_in", std::to_string(access_lifetime_.load()));
  }
  if (r.id_token) {
    IdTokenOptions o;
    o.issuer = Issuer();
    o.nonce = r.nonce;
    if (!access.empty()) o.at_hash = HalfHash(access);
    if (!code.empty()) o.c_hash = HalfHash(code);
    o.with_access_token = r.token;
    o.include_auth_time = r.max_age >= 0;
    o.now = now;
    o.lifetime = id_lifetime_.load();
    auto token = verifier_->SignJson(IdTokenClaimsJson(g, o));
    if (!token) return fail(token.error());
    out.emplace_back("id_token", *token);
  }
  if (!r.state.empty()) out.emplace_back("state", r.state);
  out.emplace_back("scope", JoinScopes(g.scopes));
  std::string browser_state = BrowserState(g.who.Subject(), Issuer());
  auto target = ParseAbsoluteUrl(r.redirect_uri);
  std::string salt = sdk::RandomToken(24);
  out.emplace_back("session_state", SessionState(r.client_id, target ? target->Origin() : "", browser_state, salt));
  auto resp = sdk::Response::Redirect(302, RedirectWith(r.redirect_uri, out, r.fragment));
  NoStore(resp);
  resp.headers.emplace_back("set-cookie", BrowserStateCookie(browser_state));
  return resp;
}

void Provider::HandleToken(const sdk::Request& req, const sdk::Responder& respond) {
  auto fail = [this, &respond](int status, const std::string& error, const std::string& description) {
    token_errors_->Inc();
    respond(TokenError(status, error, description));
  };
  auto params = ParseForm(req.body);
  if (!params) return fail(400, "invalid_request", params.error().public_message);
  // Client authentication: HTTP Basic (client_secret_basic) or the form (client_secret_post).
  std::string client_id = ParamValue(*params, "client_id");
  std::string secret = ParamValue(*params, "client_secret");
  if (auto auth = req.Header("authorization"); auth && Lower(std::string(auth->substr(0, 6))) == "basic ") {
    auto decoded = sdk::Base64Decode(auth->substr(6));
    size_t colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) return fail(401, "invalid_client", "malformed Basic credentials");
    auto id = sdk::PercentDecode(decoded->substr(0, colon), true);
    auto pw = sdk::PercentDecode(decoded->substr(colon + 1), true);
    if (!id || !pw || (!client_id.empty() && client_id != *id)) return fail(401, "invalid_client", "malformed Basic credentials");
    client_id = *id;
    secret = *pw;
  }
  if (client_id.empty()) return fail(400, "invalid_request", "client_id is missing");
  auto table = Clients();
  const Client* reg = table->Find(client_id);
  bool authenticated = false;
  if (reg != nullptr && !reg->secret_hash.empty()) {
    if (!reg->SecretMatches(secret)) {
      log_->info("token: client authentication failed client={} peer={}", client_id, req.peer);
      return fail(401, "invalid_client", "client authentication failed");
    }
    authenticated = true;
  } else if (!secret.empty()) {
    return fail(401, "invalid_client", "this client has no secret");
  }
  std::string grant_type = ParamValue(*params, "grant_type");
  int64_t now = NowSeconds();
  if (grant_type == "authorization_code") {
    auto code = codes_.Take(ParamValue(*params, "code"), now);
    if (!code) return fail(400, "invalid_grant", "the code is invalid, expired or already used");
    if (code->grant.client_id != client_id) return fail(400, "invalid_grant", "the code was issued to another client");
    if (ParamValue(*params, "redirect_uri") != code->redirect_uri) {
      return fail(400, "invalid_grant", "redirect_uri differs from the authorization request");
    }
    std::string verifier = ParamValue(*params, "code_verifier");
    if (!code->code_challenge.empty()) {
      if (!VerifyPkce(code->code_challenge, verifier)) return fail(400, "invalid_grant", "PKCE verification failed");
    } else if (!verifier.empty()) {
      return fail(400, "invalid_grant", "code_verifier sent but no code_challenge was");
    } else if (!authenticated) {
      // Public clients (no secret) must prove possession with PKCE (OAuth 2.0 Security BCP).
      return fail(400, "invalid_grant", "public clients must use PKCE");
    }
    return IssueTokens(std::move(code->grant), std::move(code->nonce), !code->id_token_issued, "", respond);
  }
  if (grant_type == "refresh_token") {
    // Verifying the token (a signature check), SQLite and the directory: all on a worker.
    auto directory = host_.Registry().Find<sdk::UserDirectory>();
    std::string refresh = ParamValue(*params, "refresh_token");
    std::string scope = ParamValue(*params, "scope");
    std::string issuer = Issuer();
    struct Checked {
      RefreshTokenInfo token;
      Error error;
      bool ok = false;
    };
    host_.Pool().SubmitFor<Checked>(
        [this, directory, refresh, scope, issuer, client_id, now]() -> Checked {
          Checked out;
          auto invalid = [&out](const std::string& why, ErrorCode code = ErrorCode::kUnauthenticated) {
            out.error = Error{code, why, why};
            return out;
          };
          auto claims = verifier_->VerifyOwnSignature(refresh);
          if (!claims) return invalid("invalid refresh token");
          if (!CheckTokenTimes(**claims, now, 0)) return invalid("refresh token expired");
          auto info = ReadRefreshToken(**claims, issuer, client_id);
          if (!info) return invalid(info.error().public_message);
          if (!scope.empty()) {
            std::istringstream words(scope);
            std::vector<std::string> narrowed;
            for (std::string w; words >> w;) {
              if (!info->grant.HasScope(w)) return invalid("scope " + w + " was not granted", ErrorCode::kFailedPrecondition);
              narrowed.push_back(w);
            }
            if (std::find(narrowed.begin(), narrowed.end(), "openid") == narrowed.end()) narrowed.insert(narrowed.begin(), "openid");
            info->grant.scopes = narrowed;
          }
          auto use = refresh_store_->Consume(info->jti, now);
          if (!use) return invalid(use.error().message, ErrorCode::kUnavailable);
          if (*use == RefreshStore::Use::kReused) return invalid("refresh token reused", ErrorCode::kAlreadyExists);
          if (*use == RefreshStore::Use::kUnknown) return invalid("refresh token revoked");
          if (!info->grant.who.guest) {
            if (!directory) return invalid("no directory", ErrorCode::kUnavailable);
            auto user = directory->Standing(info->grant.who.raw_id);
            if (!user && user.error().code != ErrorCode::kNotFound) return invalid(user.error().message, ErrorCode::kUnavailable);
            if (!user || !user->enabled) return invalid("the user is disabled or removed");
            // A password change (or disabling) since the grant ends its refresh tokens too.
            if (info->grant.session_epoch < user->session_epoch) return invalid("the user's sessions were ended");
          }
          out.token = std::move(*info);
          out.ok = true;
          return out;
        },
        [this, client_id, respond](Checked checked) {
          if (stopped_) return;
          if (!checked.ok) {
            token_errors_->Inc();
            switch (checked.error.code) {
              case ErrorCode::kAlreadyExists:
                refresh_reuse_->Inc();
                log_->warn("refresh token reused: token family revoked client={}", client_id);
                return respond(TokenError(400, "invalid_grant", "refresh token reused"));
              case ErrorCode::kFailedPrecondition:
                return respond(TokenError(400, "invalid_scope", checked.error.public_message));
              case ErrorCode::kUnavailable:
                log_->error("token: refresh check failed err={}", checked.error.message);
                return respond(TokenError(503, "temporarily_unavailable", "try again later"));
              default:
                return respond(TokenError(400, "invalid_grant", checked.error.public_message));
            }
          }
          IssueTokens(checked.token.grant, "", true, checked.token.family, respond);
        });
    return;
  }
  if (grant_type.empty()) return fail(400, "invalid_request", "grant_type is missing");
  fail(400, "unsupported_grant_type", "grant_type " + grant_type + " is not supported");
}

void Provider::IssueTokens(Grant grant, std::string nonce, bool id_token, std::string family,
                           const sdk::Responder& respond) {
  // Signing (and recording a refresh token) on a worker: the net loop stays free and both cores
  // sign under load.
  std::string issuer = Issuer();
  int64_t access_lifetime = access_lifetime_.load(), id_lifetime = id_lifetime_.load(),
          refresh_lifetime = refresh_lifetime_.load();
  auto started = std::chrono::steady_clock::now();
  host_.Pool().SubmitFor<Result<std::string>>(
      [this, grant = std::move(grant), nonce = std::move(nonce), id_token, family = std::move(family),
       issuer = std::move(issuer), access_lifetime, id_lifetime, refresh_lifetime]() -> Result<std::string> {
        int64_t now = NowSeconds();
        // The public `sub` once (a BLAKE2b MAC) for every token of the answer.
        sdk::AccessTokenRequest request = AccessTokenFor(grant, access_lifetime);
        PALAVER_ASSIGN_OR_RETURN(std::string access, verifier_->IssueAccessToken(request));
        // JWTs are base64url and dots: nothing in them needs JSON escaping.
        std::string body;
        body.reserve(access.size() + 1536);
        body += "{\"access_token\":\"";
        body += access;
        body += "\",\"token_type\":\"Bearer\",\"expires_in\":";
        body += std::to_string(access_lifetime);
        if (id_token) {
          IdTokenOptions o;
          o.issuer = issuer;
          o.nonce = nonce;
          o.at_hash = HalfHash(access);
          o.with_access_token = true;
          o.now = now;
          o.lifetime = id_lifetime;
          o.subject = request.subject;
          PALAVER_ASSIGN_OR_RETURN(std::string token, verifier_->SignJson(IdTokenClaimsJson(grant, o)));
          body += ",\"id_token\":\"";
          body += token;
          body += '"';
        }
        if (grant.HasScope("offline_access")) {
          std::string jti = sdk::RandomToken(18);
          std::string fam = family.empty() ? sdk::RandomToken(18) : family;
          PALAVER_ASSIGN_OR_RETURN(std::string refresh,
                                   verifier_->SignJson(RefreshTokenClaimsJson(grant, issuer, jti, fam, now, refresh_lifetime,
                                                                              request.subject)));
          PALAVER_RETURN_IF_ERROR(refresh_store_->Record(jti, fam, grant.client_id, grant.who.raw_id, now + refresh_lifetime));
          body += ",\"refresh_token\":\"";
          body += refresh;
          body += '"';
        }
        body += '}';
        return body;
      },
      [this, respond, started](Result<std::string> body) {
        token_latency_->ObserveDuration(std::chrono::steady_clock::now() - started);
        if (!body) {
          log_->error("token: issuance failed err={}", body.error().message);
          token_errors_->Inc();
          return respond(TokenError(503, "temporarily_unavailable", "tokens could not be issued; try again later"));
        }
        tokens_issued_->Inc();
        auto r = sdk::Response::Json(200, std::move(*body));
        r.SetHeader("cache-control", "no-store");
        r.SetHeader("pragma", "no-cache");
        r.SetHeader("access-control-allow-origin", "*");
        respond(std::move(r));
      });
}

}  // namespace palaver::oidc
