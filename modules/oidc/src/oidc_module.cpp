#include "palaver/oidc/oidc_module.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <set>

#include <spdlog/spdlog.h>

#include "config.hpp"
#include "key_store.hpp"
#include "signin_api.hpp"
#include "signin_session.hpp"
#include "palaver/sdk/services/user_directory.hpp"
#include "palaver/sdk/host.hpp"
#include "palaver/sdk/services/token_verifier.hpp"
#include "verifier.hpp"

namespace palaver::oidc {
namespace {

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string Quote(const std::string& s) { return "\"" + sdk::JsonEscape(s) + "\""; }

class OidcModule final : public sdk::Module {
 public:
  sdk::ModuleInfo Info() const override {
    return {.id = "oidc", .description = "OpenID Connect provider (konnect-compatible)", .depends_on = {"directory"}};
  }

  Status Configure(sdk::ConfigReader& section) override {
    pending_ = ParseOidcConfig(section);
    return OkStatus();
  }

  Status Start(sdk::Host& host) override {
    config_ = pending_;
    issuer_config_ = config_;
    log_ = host.Logger();
    host_ = &host;
    PALAVER_RETURN_IF_ERROR(host.Database().Migrate("oidc", KeyStore::Migrations()));
    keys_ = std::make_unique<KeyStore>(host.Database());
    verifier_ = std::make_shared<LocalTokenVerifier>([this] { return Issuer(); }, NowSeconds);
    PALAVER_RETURN_IF_ERROR(RefreshKeys());
    host.Registry().Publish<sdk::TokenVerifier>(verifier_);
    host.Registry().Publish<sdk::TokenIssuer>(verifier_);
    registry_ = &host.Registry();
    pool_ = &host.Pool();
    loop_ = &host.Loop();

    auto cors = [](sdk::Response& r) {
      // Discovery and JWKS are public documents (konnect: CORS default, any origin).
      r.SetHeader("access-control-allow-origin", "*");
      return std::move(r);
    };
    PALAVER_RETURN_IF_ERROR(host.Http().Add(
        {.methods = {"GET"}, .path = "/.well-known/openid-configuration", .route_class = "oidc"},
        [this, cors](const sdk::Request&, sdk::Responder respond) {
          auto r = sdk::Response::Json(200, Discovery());
          r.SetHeader("content-type", "application/json; encoding=utf-8");
          respond(cors(r));
        }));
    PALAVER_RETURN_IF_ERROR(host.Http().Add(
        {.methods = {"GET"}, .path = "/konnect/v1/jwks.json", .route_class = "oidc"},
        [this, cors](const sdk::Request&, sdk::Responder respond) {
          auto keys = verifier_->Keys();
          auto r = sdk::Response::Json(200, keys->Jwks());
          r.SetHeader("content-type", "application/jwk-set+json");
          r.SetHeader("cache-control", "max-age=300");
          respond(cors(r));
        }));
    PALAVER_RETURN_IF_ERROR(host.Http().Add({.methods = {"GET"}, .path = "/health-check", .route_class = "oidc"},
                                            [](const sdk::Request&, sdk::Responder respond) {
                                              respond(sdk::Response::Text(200, ""));
                                            }));
    PALAVER_ASSIGN_OR_RETURN(std::string secret, keys_->Secret("signin-session"));
    sealer_ = std::make_unique<SessionSealer>(std::move(secret));
    signins_ok_ = &host.Stats().GetCounter("oidc_signins_total", "Sign-in attempts.", {{"result", "ok"}});
    signins_failed_ = &host.Stats().GetCounter("oidc_signins_total", "Sign-in attempts.", {{"result", "failed"}});
    signins_limited_ = &host.Stats().GetCounter("oidc_signins_total", "Sign-in attempts.", {{"result", "rate_limited"}});
    for (const char* op : {"hello", "logon", "logoff"}) {
      std::string name = op;
      PALAVER_RETURN_IF_ERROR(host.Http().Add(
          {.methods = {"POST"}, .path = std::string(kSigninApiPrefix) + op, .max_body_bytes = 16 * 1024,
           .route_class = "signin"},
          [this, name](const sdk::Request& req, sdk::Responder respond) { HandleSignin(name, req, respond); }));
    }
    PALAVER_RETURN_IF_ERROR(host.Http().Add(
        {.methods = {"GET", "POST"}, .path = "/konnect/v1/userinfo", .max_body_bytes = 4096, .route_class = "oidc"},
        [this](const sdk::Request& req, sdk::Responder respond) { HandleUserInfo(req, respond); }));
    PALAVER_RETURN_IF_ERROR(host.Http().Add(
        {.methods = {"GET"}, .path = std::string(kSigninApiPrefix) + "endsession", .route_class = "oidc"},
        [this](const sdk::Request& req, sdk::Responder respond) { respond(EndSession(req)); }));
    PALAVER_RETURN_IF_ERROR(host.Http().Add(
        {.methods = {"GET"}, .path = "/signin/v1/goodbye", .route_class = "oidc"},
        [](const sdk::Request& req, sdk::Responder respond) { respond(GoodbyePage(req)); }));
    ScheduleRotationCheck();
    log_->info("provider ready issuer={} signing_kid={} alg={}", Issuer(), verifier_->Keys()->signing.kid(),
               AlgName(config_.signing_alg));
    return OkStatus();
  }

  Status Reload() override {
    // Lifetimes, algorithm and rotation apply at once; the issuer is part of every token and
    // changes only with a restart.
    std::lock_guard lock(refresh_mu_);
    config_ = pending_;
    return RefreshKeysLocked();
  }

  void Stop() override {
    stopped_ = true;
    if (loop_ != nullptr && timer_ != 0) loop_->Cancel(timer_);
    if (registry_ != nullptr) {
      registry_->Withdraw<sdk::TokenVerifier>();
      registry_->Withdraw<sdk::TokenIssuer>();
    }
    registry_ = nullptr;
  }

  sdk::Health CheckHealth() const override { return {}; }

 private:
  // Blocking (SQLite, key generation): Start, Reload or a worker.
  Status RefreshKeys() {
    std::lock_guard lock(refresh_mu_);
    return RefreshKeysLocked();
  }

  // REQUIRES: refresh_mu_ held (it also guards config_ against the hourly worker).
  Status RefreshKeysLocked() {
    KeyPolicy policy;
    policy.alg = config_.signing_alg;
    policy.rotate_after_s = config_.key_rotation.count();
    policy.keep_retired_s = std::max({config_.access_token_lifetime.count(), config_.id_token_lifetime.count(),
                                      config_.refresh_token_lifetime.count()});
    auto previous = verifier_->Keys();
    PALAVER_ASSIGN_OR_RETURN(KeySet set, keys_->Ensure(policy, NowSeconds()));
    if (previous && previous->signing.kid() != set.signing.kid()) {
      log_->info("signing key rotated kid={} previous={} alg={}", set.signing.kid(), previous->signing.kid(),
                 AlgName(set.signing.alg()));
    }
    verifier_->SetKeys(std::make_shared<const KeySet>(std::move(set)));
    verifier_->SetAccessTokenLifetime(config_.access_token_lifetime);
    session_lifetime_ = config_.session_lifetime.count();
    return OkStatus();
  }

  // Hourly: rotate the signing key when due (on a worker; the key set swap is atomic).
  void ScheduleRotationCheck() {
    timer_ = loop_->Schedule(std::chrono::hours(1), [this] {
      if (stopped_) return;
      pool_->Submit([this] {
        if (stopped_) return;
        if (auto st = RefreshKeys(); !st) log_->error("signing key check failed err={}", st.error().message);
      }, [this] {
        if (!stopped_) ScheduleRotationCheck();
      });
    });
  }

  // The issuer is fixed for the process (a restart changes it): the configured one, or the
  // canonical hostname and HTTPS port (known once the listener is bound).
  std::string Issuer() const {
    const auto& info = host_->Info();
    return EffectiveIssuer(issuer_config_, info.hostnames.front(), info.https_port);
  }

  static int64_t Now() { return NowSeconds(); }

  static sdk::Response JsonNoStore(std::string body) {
    auto r = sdk::Response::Json(200, std::move(body));
    r.SetHeader("cache-control", "no-cache, no-store, must-revalidate");
    r.SetHeader("pragma", "no-cache");
    return r;
  }

  // 204 with the request's state echoed: konnect's "not signed in" / "wrong credentials".
  static sdk::Response NoContent(const std::string& state) {
    sdk::Response r;
    r.status = 204;
    r.SetHeader("kopano-konnect-state", state);
    r.SetHeader("cache-control", "no-cache, no-store, must-revalidate");
    return r;
  }

  std::string HelloJson(const std::string& state, const SigninSession& s) const {
    return "{\"state\":" + Quote(state) + ",\"flow\":\"oidc\",\"success\":true,\"username\":" +
           Quote(s.username) + ",\"displayName\":" + Quote(s.display_name) + "}";
  }

  std::optional<SigninSession> CurrentSession(const sdk::Request& req) const {
    auto cookies = req.Header("cookie");
    if (!cookies) return std::nullopt;
    auto value = CookieValue(*cookies, kSessionCookie);
    if (!value) return std::nullopt;
    return sealer_->Open(*value, Now());
  }

  // The sign-in JSON API. Net loop; the password check runs on a worker.
  void HandleSignin(const std::string& op, const sdk::Request& req, const sdk::Responder& respond) {
    if (auto ok = CheckSigninRequest(req); !ok) {
      respond(sdk::Response::Text(400, "Bad request: " + ok.error().public_message + "\n"));
      return;
    }
    if (op == "hello" || op == "logoff") {
      auto state = ParseState(req.body);
      if (!state) return respond(sdk::Response::FromError(state.error()));
      if (op == "logoff") {
        auto r = JsonNoStore("{\"success\":true,\"state\":" + Quote(*state) + "}");
        r.SetHeader("set-cookie", ClearSessionCookieHeader());
        return respond(std::move(r));
      }
      auto session = CurrentSession(req);
      if (!session) return respond(NoContent(*state));
      return respond(JsonNoStore(HelloJson(*state, *session)));
    }
    auto logon = ParseLogon(req.body);
    if (!logon) return respond(sdk::Response::FromError(logon.error()));
    std::string account = "user:" + Lower(logon->username);
    std::string address = "addr:" + req.peer;
    int64_t now = Now();
    if (!account_limiter_.Allowed(account, now) || !address_limiter_.Allowed(address, now)) {
      signins_limited_->Inc();
      log_->info("sign-in refused user={} client={} reason=rate_limited", logon->username, req.peer);
      auto r = sdk::Response::FromError(Error{ErrorCode::kResourceExhausted, "sign-in rate limited",
                                              "Too many failed sign-ins. Please wait a few minutes and try again."});
      r.SetHeader("retry-after", "300");
      return respond(std::move(r));
    }
    if (logon->mode == "0") {
      // Continue as the signed-in user (account chooser): no password, the cookie must match.
      auto session = CurrentSession(req);
      if (!logon->password.empty() || !session || Lower(session->username) != Lower(logon->username)) {
        return respond(NoContent(logon->state));
      }
      return respond(LogonSuccess(logon->state, *session));
    }
    auto directory = registry_->Find<sdk::UserDirectory>();
    if (!directory) return respond(sdk::Response::FromError(Error{ErrorCode::kUnavailable, "no directory", "sign-in unavailable"}));
    LogonRequest request = *logon;
    pool_->SubmitFor<Result<sdk::DirectoryUser>>(
        [directory, request] { return directory->Authenticate(request.username, request.password); },
        [this, request, account, address, peer = req.peer, respond](Result<sdk::DirectoryUser> user) {
          if (stopped_) return;
          int64_t now = Now();
          if (!user) {
            if (user.error().code != ErrorCode::kUnauthenticated) {
              log_->error("sign-in backend failure err={}", user.error().message);
              return respond(sdk::Response::FromError(Error{ErrorCode::kUnavailable, user.error().message,
                                                            "sign-in is unavailable right now"}));
            }
            signins_failed_->Inc();
            account_limiter_.RecordFailure(account, now);
            address_limiter_.RecordFailure(address, now);
            log_->debug("sign-in failed user={} client={}", request.username, peer);
            return respond(NoContent(request.state));
          }
          account_limiter_.Reset(account);
          signins_ok_->Inc();
          log_->info("signed in user={} client={}", user->username, peer);
          SigninSession s{user->id, user->username, user->display_name, now,
                          now + session_lifetime_.load()};
          respond(LogonSuccess(request.state, s));
        });
  }

  sdk::Response LogonSuccess(const std::string& state, const SigninSession& s) const {
    auto r = JsonNoStore("{\"success\":true,\"state\":" + Quote(state) + ",\"hello\":" + HelloJson(state, s) + "}");
    r.SetHeader("set-cookie", SessionCookieHeader(sealer_->Seal(s)));
    return r;
  }

  static std::string Lower(std::string v) {
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
    return v;
  }

  // UserInfo (spec §1.6): Bearer access token; 401 with WWW-Authenticate on token failures.
  void HandleUserInfo(const sdk::Request& req, const sdk::Responder& respond) {
    auto unauthorized = [&respond](const std::string& why) {
      auto r = sdk::Response::Json(401, "{\"error\":\"invalid_token\",\"error_description\":" + Quote(why) + "}");
      r.SetHeader("www-authenticate", "Bearer error=\"invalid_token\", error_description=\"" + why + "\"");
      r.SetHeader("access-control-allow-origin", "*");
      respond(std::move(r));
    };
    auto claims = sdk::AuthorizeBearer(req, verifier_.get(), {});
    if (!claims) return unauthorized(claims.error().code == ErrorCode::kPermissionDenied ? "invalid or expired token"
                                                                                           : "token service unavailable");
    auto directory = registry_->Find<sdk::UserDirectory>();
    sdk::TokenClaims who = *claims;
    pool_->Submit([directory, who, respond] {
      std::string name = who.display_name, given, family, username = who.username, mail;
      if (!who.guest) {
        if (!directory) return respond(sdk::Response::FromError(Error{ErrorCode::kUnavailable, "no directory", "unavailable"}));
        auto user = directory->GetById(who.user_id);
        if (!user) return respond(sdk::Response::FromError(user.error()));
        name = user->display_name;
        given = user->given_name;
        family = user->surname;
        username = user->username;
        mail = user->mail;
      }
      std::string o = "{\"sub\":" + Quote(who.subject);
      auto add = [&o](const char* key, const std::string& value) {
        if (!value.empty()) o += std::string(",\"") + key + "\":" + Quote(value);
      };
      if (who.HasScope("profile")) {
        add("name", name);
        add("given_name", given);
        add("family_name", family);
        add("preferred_username", username);
      }
      if (who.HasScope("email") && !mail.empty()) {
        add("email", mail);
        o += ",\"email_verified\":true";
      }
      if (who.guest) o += ",\"guest\":true";
      auto r = sdk::Response::Json(200, o + "}");
      r.SetHeader("cache-control", "no-store");
      r.SetHeader("access-control-allow-origin", "*");
      respond(std::move(r));
    }, nullptr);
  }

  // End session (spec §1.7): the sign-in cookie goes; a same-origin post_logout_redirect_uri gets
  // the browser back with `state` in its query, anything else lands on the signed-out page.
  sdk::Response EndSession(const sdk::Request& req) const {
    std::string target = req.QueryParam("post_logout_redirect_uri").value_or("");
    std::string issuer = Issuer();
    bool same_origin = !target.empty() && target.rfind(issuer + "/", 0) == 0 &&
                       target.find_first_of("\r\n") == std::string::npos;
    std::string location;
    if (same_origin) {
      std::string fragment;
      if (auto hash = target.find('#'); hash != std::string::npos) {
        fragment = target.substr(hash);
        target.resize(hash);
      }
      if (auto state = req.QueryParam("state")) {
        std::string encoded = sdk::PercentEncode(*state);
        target += (target.find('?') == std::string::npos ? "?" : "&") + std::string("state=") + encoded;
      }
      location = target + fragment;
    } else {
      location = "/signin/v1/goodbye?flow=oidc";
    }
    auto r = sdk::Response::Redirect(302, location);
    r.SetHeader("set-cookie", ClearSessionCookieHeader());
    r.SetHeader("cache-control", "no-store");
    return r;
  }

  static sdk::Response GoodbyePage(const sdk::Request& req) {
    bool german = req.Header("accept-language").value_or("").substr(0, 2) == "de";
    std::string html = german ? "<!doctype html><html lang=\"de\"><meta charset=\"utf-8\"><title>Abgemeldet</title>"
                                "<main><h1>Sie sind abgemeldet.</h1><p><a href=\"/meet/\">Wieder anmelden</a></p></main>"
                              : "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Signed out</title>"
                                "<main><h1>You are signed out.</h1><p><a href=\"/meet/\">Sign in again</a></p></main>";
    sdk::Response r;
    r.body = std::move(html);
    r.SetHeader("content-type", "text/html; charset=utf-8");
    r.SetHeader("cache-control", "no-store");
    r.SetHeader("content-security-policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'");
    r.SetHeader("content-language", german ? "de" : "en");
    return r;
  }

  std::string Discovery() const {
    const std::string issuer = Issuer();
    auto keys = verifier_->Keys();
    std::string algs;
    std::set<std::string> seen;
    for (const auto& k : keys->validation) {
      if (seen.insert(AlgName(k.alg())).second) algs += std::string(algs.empty() ? "" : ",") + Quote(AlgName(k.alg()));
    }
    std::string o = "{";
    o += "\"issuer\":" + Quote(issuer);
    o += ",\"authorization_endpoint\":" + Quote(issuer + "/signin/v1/identifier/_/authorize");
    o += ",\"token_endpoint\":" + Quote(issuer + "/konnect/v1/token");
    o += ",\"userinfo_endpoint\":" + Quote(issuer + "/konnect/v1/userinfo");
    o += ",\"end_session_endpoint\":" + Quote(issuer + "/signin/v1/identifier/_/endsession");
    o += ",\"check_session_iframe\":" + Quote(issuer + "/konnect/v1/session/check-session.html");
    o += ",\"jwks_uri\":" + Quote(issuer + "/konnect/v1/jwks.json");
    o += ",\"scopes_supported\":[\"openid\",\"profile\",\"email\",\"offline_access\",\"kopano/gc\",\"kopano/kvs\","
         "\"kopano/kwm\",\"konnect/id\",\"konnect/uuid\",\"konnect/raw_sub\"]";
    o += ",\"response_types_supported\":[\"id_token token\",\"id_token\",\"code id_token\",\"code id_token token\"]";
    o += ",\"subject_types_supported\":[\"public\"]";
    o += ",\"id_token_signing_alg_values_supported\":[" + algs + "]";
    o += ",\"userinfo_signing_alg_values_supported\":[" + algs + "]";
    o += ",\"request_object_signing_alg_values_supported\":[\"ES256\",\"RS256\",\"PS256\",\"none\"]";
    o += ",\"token_endpoint_auth_methods_supported\":[\"client_secret_basic\",\"none\"]";
    o += ",\"token_endpoint_auth_signing_alg_values_supported\":[" + algs + "]";
    o += ",\"claims_parameter_supported\":true";
    o += ",\"claims_supported\":[\"iss\",\"sub\",\"aud\",\"exp\",\"iat\",\"name\",\"family_name\",\"given_name\","
         "\"email\",\"email_verified\"]";
    o += ",\"request_parameter_supported\":true,\"request_uri_parameter_supported\":false";
    o += ",\"code_challenge_methods_supported\":[\"S256\"]";
    return o + "}";
  }

  OidcConfig pending_;
  std::mutex refresh_mu_;
  OidcConfig config_;
  OidcConfig issuer_config_;  // as at Start: the issuer does not change on reload
  sdk::Host* host_ = nullptr;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<KeyStore> keys_;
  std::shared_ptr<LocalTokenVerifier> verifier_;
  sdk::Services* registry_ = nullptr;
  sdk::Workers* pool_ = nullptr;
  sdk::NetLoop* loop_ = nullptr;
  sdk::NetLoop::TimerId timer_ = 0;
  std::atomic<bool> stopped_{false};
  std::unique_ptr<SessionSealer> sealer_;
  std::atomic<int64_t> session_lifetime_{12 * 3600};
  // Failed sign-ins: 5 per account and 20 per address in 5 minutes. Net loop only.
  FailureLimiter account_limiter_{5, std::chrono::minutes(5)};
  FailureLimiter address_limiter_{20, std::chrono::minutes(5)};
  sdk::Counter* signins_ok_ = nullptr;
  sdk::Counter* signins_failed_ = nullptr;
  sdk::Counter* signins_limited_ = nullptr;
};

}  // namespace

std::unique_ptr<sdk::Module> CreateModule() { return std::make_unique<OidcModule>(); }

}  // namespace palaver::oidc
