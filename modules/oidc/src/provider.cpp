#include "provider.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <set>

#include <spdlog/spdlog.h>

#include "palaver/sdk/encoding.hpp"
#include "palaver/sdk/services/token_verifier.hpp"
#include "palaver/sdk/services/user_directory.hpp"

namespace palaver::oidc {

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string Quote(const std::string& s) { return "\"" + sdk::JsonEscape(s) + "\""; }

std::string Lower(std::string v) {
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  return v;
}

std::string BrowserStateCookie(const std::string& value) {
  if (value.empty()) {
    return std::string(kBrowserStateCookie) + "=; Path=" + kBrowserStateCookiePath + "; Max-Age=0; Secure; SameSite=None";
  }
  return std::string(kBrowserStateCookie) + "=" + value + "; Path=" + kBrowserStateCookiePath + "; Secure; SameSite=None";
}

namespace {

sdk::Response JsonNoStore(std::string body) {
  auto r = sdk::Response::Json(200, std::move(body));
  r.SetHeader("cache-control", "no-cache, no-store, must-revalidate");
  r.SetHeader("pragma", "no-cache");
  return r;
}

// 204 with the request's state echoed: konnect's "not signed in" / "wrong credentials".
sdk::Response NoContent(const std::string& state) {
  sdk::Response r;
  r.status = 204;
  r.SetHeader("kopano-konnect-state", state);
  r.SetHeader("cache-control", "no-cache, no-store, must-revalidate");
  return r;
}

std::string HelloJson(const std::string& state, const SigninSession& s, const std::string& extra = "") {
  return "{\"state\":" + Quote(state) + ",\"flow\":\"oidc\",\"success\":true,\"username\":" + Quote(s.username) +
         ",\"displayName\":" + Quote(s.display_name) + extra + "}";
}

}  // namespace

std::string Provider::Issuer() const {
  const auto& info = host_.Info();
  return EffectiveIssuer(issuer_config_, info.hostnames.front(), info.https_port);
}

Status Provider::Start(const OidcConfig& config) {
  {
    std::lock_guard lock(refresh_mu_);
    config_ = config;
  }
  issuer_config_ = config;
  auto& db = host_.Database();
  PALAVER_RETURN_IF_ERROR(db.Migrate("oidc", KeyStore::Migrations()));
  PALAVER_RETURN_IF_ERROR(db.Migrate("oidc_clients", ClientStore::Migrations()));
  PALAVER_RETURN_IF_ERROR(db.Migrate("oidc_refresh", RefreshStore::Migrations()));
  PALAVER_RETURN_IF_ERROR(db.Migrate("oidc_sessions", SessionStore::Migrations()));
  keys_ = std::make_unique<KeyStore>(db);
  client_store_ = std::make_unique<ClientStore>(db);
  refresh_store_ = std::make_unique<RefreshStore>(db);
  sessions_ = std::make_unique<SessionStore>(db);
  verifier_ = std::make_shared<LocalTokenVerifier>([this] { return Issuer(); }, NowSeconds);
  // Resource APIs ask, per request, whether a token's user is still active (one indexed
  // lookup; the CLI changes users from another process, so there is nothing to cache safely).
  verifier_->SetStanding([this](const std::string& user_id) -> Result<sdk::UserStanding> {
    auto directory = host_.Registry().Find<sdk::UserDirectory>();
    if (!directory) return Fail(ErrorCode::kUnavailable, "no user directory", "unavailable");
    return directory->Standing(user_id);
  });
  PALAVER_RETURN_IF_ERROR(RefreshKeys());
  PALAVER_RETURN_IF_ERROR(LoadClients());
  if (!config.external_issuers.empty()) {
    // Their keys are fetched on workers: a slow or unreachable issuer never delays the start.
    external_ = std::make_shared<ExternalIssuers>(config.external_issuers, config.external_ca_file);
    verifier_->SetExternal(external_, [this](std::string issuer) {
      if (!stopped_ && external_->ClaimRefresh(issuer, NowSeconds())) RefreshExternal(issuer);
    });
    for (const auto& iss : config.external_issuers) RefreshExternal(iss);
  }
  PALAVER_ASSIGN_OR_RETURN(std::string secret, keys_->Secret("signin-session"));
  sealer_ = std::make_unique<SessionSealer>(std::move(secret));
  PALAVER_RETURN_IF_ERROR(StartUpstream(config.upstream));
  auto& stats = host_.Stats();
  signins_ok_ = &stats.GetCounter("palaver_oidc_signins_total", "Sign-in attempts.", {{"result", "ok"}});
  signins_failed_ = &stats.GetCounter("palaver_oidc_signins_total", "Sign-in attempts.", {{"result", "failed"}});
  signins_limited_ = &stats.GetCounter("palaver_oidc_signins_total", "Sign-in attempts.", {{"result", "rate_limited"}});
  tokens_issued_ = &stats.GetCounter("palaver_oidc_token_requests_total", "Token endpoint requests.", {{"result", "ok"}});
  token_errors_ = &stats.GetCounter("palaver_oidc_token_requests_total", "Token endpoint requests.", {{"result", "error"}});
  refresh_reuse_ = &stats.GetCounter("palaver_oidc_refresh_token_reuse_total",
                                     "Reused (already rotated) refresh tokens; each revoked its token family.");
  signin_latency_ = &stats.GetHistogram("palaver_oidc_signin_duration_seconds",
                                        "Time a password sign-in took, directory check on a worker included.",
                                        sdk::LatencyBuckets());
  token_latency_ = &stats.GetHistogram("palaver_oidc_token_issue_duration_seconds",
                                       "Time issuing tokens took, signing on a worker included.", sdk::LatencyBuckets());
  host_.Registry().Publish<sdk::TokenVerifier>(verifier_);
  host_.Registry().Publish<sdk::TokenIssuer>(verifier_);
  PALAVER_RETURN_IF_ERROR(AddRoutes());
  ScheduleMaintenance();
  log_->info("provider ready issuer={} signing_kid={} alg={} clients={}", Issuer(), verifier_->Keys()->signing.kid(),
             AlgName(verifier_->Keys()->signing.alg()), Clients()->All().size());
  return OkStatus();
}

Status Provider::Reload(const OidcConfig& config) {
  // Lifetimes, algorithm and rotation apply at once; the issuer is part of every token and
  // changes only with a restart. Client registrations are re-read (the CLI edits the store).
  {
    std::lock_guard lock(refresh_mu_);
    config_ = config;
    PALAVER_RETURN_IF_ERROR(RefreshKeysLocked());
  }
  const UpstreamConfig& u = config.upstream;
  bool same = upstream_ ? (u.issuer == upstream_->Config().issuer && u.client_id == upstream_->Config().client_id &&
                           u.client_secret_file == upstream_->Config().client_secret_file &&
                           u.scopes == upstream_->Config().scopes && u.user_claim == upstream_->Config().user_claim &&
                           u.ca_file == upstream_->Config().ca_file && u.label == upstream_->Config().label &&
                           u.label_de == upstream_->Config().label_de && u.only == upstream_->Config().only)
                        : !u.Enabled();
  if (!same) log_->warn("upstream_* keys changed: they apply after a restart (systemctl restart palaver)");
  return LoadClients();
}

void Provider::Stop() {
  stopped_ = true;
  if (timer_ != 0) host_.Loop().Cancel(timer_);
  host_.Registry().Withdraw<sdk::TokenVerifier>();
  host_.Registry().Withdraw<sdk::TokenIssuer>();
}

Status Provider::LoadClients() {
  PALAVER_ASSIGN_OR_RETURN(auto list, client_store_->List());
  auto table = std::make_shared<const ClientTable>(std::move(list));
  std::lock_guard lock(clients_mu_);
  clients_ = std::move(table);
  return OkStatus();
}

Status Provider::RefreshKeys() {
  std::lock_guard lock(refresh_mu_);
  return RefreshKeysLocked();
}

Status Provider::RefreshKeysLocked() {
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
  access_lifetime_ = config_.access_token_lifetime.count();
  id_lifetime_ = config_.id_token_lifetime.count();
  refresh_lifetime_ = config_.refresh_token_lifetime.count();
  return OkStatus();
}

void Provider::RefreshExternal(const std::string& issuer) {
  host_.Pool().Submit([this, issuer] {
    if (stopped_) return;
    if (auto st = external_->Refresh(issuer); !st) {
      log_->warn("external issuer keys not refreshed issuer={} err={}", issuer, st.error().message);
    } else {
      log_->info("external issuer keys loaded issuer={} keys={}", issuer, external_->Keys(issuer).size());
    }
  }, nullptr);
}

// Hourly on a worker: rotate the signing key when due, forget expired refresh token ids.
void Provider::ScheduleMaintenance() {
  timer_ = host_.Loop().Schedule(std::chrono::hours(1), [this] {
    if (stopped_) return;
    host_.Pool().Submit(
        [this] {
          if (stopped_) return;
          if (auto st = RefreshKeys(); !st) log_->error("signing key check failed err={}", st.error().message);
          if (external_) {
            for (const auto& iss : external_->Issuers()) {
              if (auto st = external_->Refresh(iss); !st) log_->warn("external issuer keys not refreshed issuer={} err={}", iss, st.error().message);
            }
          }
          if (upstream_) {
            if (auto st = upstream_->Refresh(); !st) log_->warn("upstream discovery not refreshed issuer={} err={}", upstream_->Config().issuer, st.error().message);
          }
          if (auto st = refresh_store_->Prune(NowSeconds()); !st) {
            log_->error("refresh token pruning failed err={}", st.error().message);
          }
          if (auto st = sessions_->Prune(NowSeconds()); !st) {
            log_->error("sign-in session pruning failed err={}", st.error().message);
          }
        },
        [this] {
          if (!stopped_) ScheduleMaintenance();
        });
  });
}

Status Provider::AddRoutes() {
  auto& http = host_.Http();
  auto cors = [](sdk::Response r) {
    // Discovery and JWKS are public documents (konnect: CORS default, any origin).
    r.SetHeader("access-control-allow-origin", "*");
    return r;
  };
  PALAVER_RETURN_IF_ERROR(http.Add({.methods = {"GET"}, .path = "/.well-known/openid-configuration", .route_class = "oidc"},
                                   [this, cors](const sdk::Request&, sdk::Responder respond) {
                                     auto r = sdk::Response::Json(200, Discovery());
                                     r.SetHeader("content-type", "application/json; encoding=utf-8");
                                     respond(cors(std::move(r)));
                                   }));
  PALAVER_RETURN_IF_ERROR(http.Add({.methods = {"GET"}, .path = "/konnect/v1/jwks.json", .route_class = "oidc"},
                                   [this, cors](const sdk::Request&, sdk::Responder respond) {
                                     auto r = sdk::Response::Json(200, verifier_->Keys()->Jwks());
                                     r.SetHeader("content-type", "application/jwk-set+json");
                                     r.SetHeader("cache-control", "max-age=300");
                                     respond(cors(std::move(r)));
                                   }));
  PALAVER_RETURN_IF_ERROR(http.Add({.methods = {"GET"}, .path = "/health-check", .route_class = "oidc"},
                                   [](const sdk::Request&, sdk::Responder respond) { respond(sdk::Response::Text(200, "")); }));
  for (const char* op : {"hello", "logon", "logoff"}) {
    std::string name = op;
    PALAVER_RETURN_IF_ERROR(http.Add(
        {.methods = {"POST"}, .path = std::string(kSigninApiPrefix) + op, .max_body_bytes = 16 * 1024, .route_class = "signin"},
        [this, name](const sdk::Request& req, sdk::Responder respond) { HandleSignin(name, req, respond); }));
  }
  PALAVER_RETURN_IF_ERROR(http.Add(
      {.methods = {"POST"}, .path = std::string(kSigninApiPrefix) + "consent", .max_body_bytes = 16 * 1024,
       .route_class = "signin"},
      [this](const sdk::Request& req, sdk::Responder respond) { HandleConsentApi(req, respond); }));
  PALAVER_RETURN_IF_ERROR(http.Add(
      {.methods = {"GET", "POST"}, .path = kAuthorizePath, .max_body_bytes = 32 * 1024, .route_class = "oidc"},
      [this](const sdk::Request& req, sdk::Responder respond) { HandleAuthorize(req, respond); }));
  PALAVER_RETURN_IF_ERROR(http.Add(
      {.methods = {"POST"}, .path = "/konnect/v1/token", .max_body_bytes = 32 * 1024, .route_class = "oidc"},
      [this](const sdk::Request& req, sdk::Responder respond) { HandleToken(req, respond); }));
  PALAVER_RETURN_IF_ERROR(http.Add(
      {.methods = {"GET", "POST"}, .path = "/konnect/v1/userinfo", .max_body_bytes = 4096, .route_class = "oidc"},
      [this](const sdk::Request& req, sdk::Responder respond) { HandleUserInfo(req, respond); }));
  PALAVER_RETURN_IF_ERROR(http.Add(
      {.methods = {"GET"}, .path = std::string(kSigninApiPrefix) + "endsession", .route_class = "oidc"},
      [this](const sdk::Request& req, sdk::Responder respond) { EndSession(req, respond); }));
  PALAVER_RETURN_IF_ERROR(http.Add(
      {.methods = {"GET"}, .path = "/konnect/v1/session/check-session.html", .route_class = "oidc"},
      [this](const sdk::Request&, sdk::Responder respond) { respond(CheckSessionPage()); }));
  for (const char* page : {"identifier", "chooseaccount", "consent", "welcome", "goodbye"}) {
    std::string name = page;
    PALAVER_RETURN_IF_ERROR(http.Add({.methods = {"GET"}, .path = "/signin/v1/" + name, .route_class = "signin"},
                                     [this, name](const sdk::Request& req, sdk::Responder respond) {
                                       HandlePage(name, req, respond);
                                     }));
  }
  PALAVER_RETURN_IF_ERROR(AddUpstreamRoutes());
  return http.Add({.methods = {"POST"}, .path = std::string(kSigninApiPrefix) + "form", .max_body_bytes = 48 * 1024,
                   .route_class = "signin"},
                  [this](const sdk::Request& req, sdk::Responder respond) { HandleForm(req, respond); });
}

std::optional<SigninSession> Provider::CurrentSession(const sdk::Request& req) const {
  auto cookies = req.Header("cookie");
  if (!cookies) return std::nullopt;
  auto value = CookieValue(*cookies, kSessionCookie);
  if (!value) return std::nullopt;
  return sealer_->Open(*value, NowSeconds());
}

SigninSession Provider::NewSession(const sdk::DirectoryUser& user, int64_t now) const {
  return SigninSession{user.id, user.username, user.display_name, now, now + session_lifetime_.load(),
                       sdk::RandomToken(18)};
}

sdk::Responder Provider::ClearingCookie(sdk::Responder respond) {
  return [respond = std::move(respond)](sdk::Response r) {
    r.headers.emplace_back("set-cookie", ClearSessionCookieHeader());
    respond(std::move(r));
  };
}

Result<Provider::LiveSession> Provider::CheckSessionNow(const SigninSession& s) {
  auto ended = [](const std::string& why) { return Fail(ErrorCode::kUnauthenticated, why, "signed out"); };
  auto backend = [](const Error& e) { return Fail(ErrorCode::kUnavailable, e.message, "unavailable"); };
  auto directory = host_.Registry().Find<sdk::UserDirectory>();
  if (!directory) return Fail(ErrorCode::kUnavailable, "no user directory", "unavailable");
  auto recorded = sessions_->Epoch(s.sid, s.user_id, NowSeconds());
  if (!recorded) return backend(recorded.error());
  if (!*recorded) return ended("session signed out or expired");
  auto standing = directory->Standing(s.user_id);
  if (!standing) return standing.error().code == ErrorCode::kNotFound ? ended("user removed") : backend(standing.error());
  if (!standing->enabled) return ended("user disabled");
  if (standing->session_epoch != **recorded) return ended("the user's sessions were ended");
  auto user = directory->GetById(s.user_id);
  if (!user) return user.error().code == ErrorCode::kNotFound ? ended("user removed") : backend(user.error());
  return LiveSession{s, std::move(*user), **recorded};
}

void Provider::CheckSession(const SigninSession& session, SessionCheck done) {
  host_.Pool().SubmitFor<Result<LiveSession>>([this, session] { return CheckSessionNow(session); },
                                              [this, done = std::move(done)](Result<LiveSession> live) {
                                                if (stopped_) return;
                                                if (!live && live.error().code != ErrorCode::kUnauthenticated) {
                                                  log_->error("sign-in session check failed err={}", live.error().message);
                                                }
                                                done(std::move(live));
                                              });
}

void Provider::EndRecordedSession(const std::string& sid, std::function<void()> then) {
  host_.Pool().Submit(
      [this, sid] {
        if (auto st = sessions_->End(sid); !st) log_->error("sign-in session not ended err={}", st.error().message);
      },
      [this, then = std::move(then)] {
        if (!stopped_) then();
      });
}

void Provider::Logon(const std::string& username, const std::string& password, const std::string& peer,
                     LogonDone done) {
  if (PasswordsOff()) {
    log_->info("sign-in refused user={} addr={} reason=passwords_off", sdk::LogSafe(username), peer);
    return done(LogonOutcome::kPasswordsOff, std::nullopt);
  }
  std::string account = "user:" + Lower(username);
  std::string address = "addr:" + peer;
  int64_t now = NowSeconds();
  // Each attempt counts from its start (attempts in flight included), so a burst of concurrent
  // attempts cannot all pass before the first failure is recorded.
  bool account_ok = account_limiter_.TryBegin(account, now);
  bool address_ok = account_ok && address_limiter_.TryBegin(address, now);
  if (!address_ok) {
    if (account_ok) account_limiter_.End(account, now, false);
    signins_limited_->Inc();
    log_->info("sign-in refused user={} addr={} reason=rate_limited", sdk::LogSafe(username), peer);
    return done(LogonOutcome::kLimited, std::nullopt);
  }
  auto directory = host_.Registry().Find<sdk::UserDirectory>();
  if (!directory) {
    account_limiter_.End(account, now, false);
    address_limiter_.End(address, now, false);
    return done(LogonOutcome::kUnavailable, std::nullopt);
  }
  auto started = std::chrono::steady_clock::now();
  host_.Pool().SubmitFor<Result<SigninSession>>(
      [this, directory, username, password]() -> Result<SigninSession> {
        // The session is recorded server-side with the user's epoch: sign-out deletes it, a
        // password change or disabling the user raises the epoch past it. The epoch is read
        // before the password check, so a change racing with this sign-in still ends it.
        std::optional<std::pair<std::string, int64_t>> before;
        if (auto known = directory->GetByUsername(username)) {
          if (auto standing = directory->Standing(known->id)) before.emplace(known->id, standing->session_epoch);
        }
        PALAVER_ASSIGN_OR_RETURN(sdk::DirectoryUser user, directory->Authenticate(username, password));
        int64_t epoch = 0;
        if (before && before->first == user.id) {
          epoch = before->second;
        } else {
          auto standing = directory->Standing(user.id);
          if (!standing) return Fail(ErrorCode::kUnavailable, standing.error().message, "unavailable");
          epoch = standing->session_epoch;
        }
        SigninSession s = NewSession(user, NowSeconds());
        if (auto st = sessions_->Add(s.sid, s.user_id, epoch, s.expires_at); !st) {
          return Fail(ErrorCode::kUnavailable, st.error().message, "unavailable");
        }
        return s;
      },
      [this, username, account, address, peer, done, started](Result<SigninSession> s) {
        if (stopped_) return;
        signin_latency_->ObserveDuration(std::chrono::steady_clock::now() - started);
        int64_t now = NowSeconds();
        bool failed = !s && s.error().code == ErrorCode::kUnauthenticated;
        account_limiter_.End(account, now, failed);
        address_limiter_.End(address, now, failed);
        if (!s) {
          if (!failed) {
            log_->error("sign-in backend failure err={}", s.error().message);
            return done(LogonOutcome::kUnavailable, std::nullopt);
          }
          signins_failed_->Inc();
          // Stable for fail2ban (docs/admin/fail2ban.md): `sign-in failed user=… addr=… reason=…`.
          log_->info("sign-in failed user={} addr={} reason=bad_credentials", sdk::LogSafe(username), peer);
          return done(LogonOutcome::kFailed, std::nullopt);
        }
        account_limiter_.Reset(account);
        signins_ok_->Inc();
        log_->info("signed in user={} addr={}", sdk::LogSafe(s->username), peer);
        done(LogonOutcome::kOk, std::move(*s));
      });
}

// The sign-in JSON API (konnect's identifier API). Net loop.
void Provider::HandleSignin(const std::string& op, const sdk::Request& req, const sdk::Responder& respond) {
  if (auto ok = CheckSigninRequest(req); !ok) {
    respond(sdk::Response::Text(400, "Bad request: " + ok.error().public_message + "\n"));
    return;
  }
  if (op == "hello" || op == "logoff") {
    auto state = ParseState(req.body);
    if (!state) return respond(sdk::Response::FromError(state.error()));
    auto session = CurrentSession(req);
    if (op == "logoff") {
      auto r = JsonNoStore("{\"success\":true,\"state\":" + Quote(*state) + "}");
      r.headers.emplace_back("set-cookie", ClearSessionCookieHeader());
      r.headers.emplace_back("set-cookie", BrowserStateCookie(""));
      if (!session) return respond(std::move(r));
      // Ended server-side before the answer: a copied cookie is worthless from now on.
      return EndRecordedSession(session->sid, [respond, r = std::move(r)] { respond(r); });
    }
    if (!session) return respond(NoContent(*state));
    std::string extra = ",\"continue_uri\":" + Quote(Issuer() + kAuthorizePath);
    return CheckSession(*session, [respond, state = *state, extra](Result<LiveSession> live) {
      if (!live && live.error().code == ErrorCode::kUnavailable) return respond(sdk::Response::FromError(live.error()));
      if (!live) return ClearingCookie(respond)(NoContent(state));
      respond(JsonNoStore(HelloJson(state, live->session, extra)));
    });
  }
  auto logon = ParseLogon(req.body);
  if (!logon) return respond(sdk::Response::FromError(logon.error()));
  auto success = [this](const std::string& state, const SigninSession& s) {
    auto r = JsonNoStore("{\"success\":true,\"state\":" + Quote(state) + ",\"hello\":" + HelloJson(state, s) + "}");
    r.headers.emplace_back("set-cookie", SessionCookieHeader(sealer_->Seal(s)));
    r.headers.emplace_back("set-cookie", BrowserStateCookie(""));
    return r;
  };
  if (logon->mode == "0") {
    // Continue as the signed-in user (account chooser): no password, the cookie must match and
    // its session still count.
    auto session = CurrentSession(req);
    if (!logon->password.empty() || !session || Lower(session->username) != Lower(logon->username)) {
      return respond(NoContent(logon->state));
    }
    return CheckSession(*session, [respond, success, state = logon->state](Result<LiveSession> live) {
      if (!live && live.error().code == ErrorCode::kUnavailable) return respond(sdk::Response::FromError(live.error()));
      if (!live) return ClearingCookie(respond)(NoContent(state));
      respond(success(state, live->session));
    });
  }
  std::string state = logon->state;
  Logon(logon->username, logon->password, req.peer,
        [respond, state, success](LogonOutcome outcome, std::optional<SigninSession> s) {
          switch (outcome) {
            case LogonOutcome::kOk:
              return respond(success(state, *s));
            case LogonOutcome::kFailed:
              return respond(NoContent(state));
            case LogonOutcome::kPasswordsOff:
              return respond(sdk::Response::FromError(Error{ErrorCode::kPermissionDenied, "passwords off",
                                                            "signing in with a password is turned off"}));
            case LogonOutcome::kLimited: {
              auto r = sdk::Response::FromError(Error{ErrorCode::kResourceExhausted, "sign-in rate limited",
                                                      "Too many failed sign-ins. Please wait a few minutes and try again."});
              r.SetHeader("retry-after", "300");
              return respond(std::move(r));
            }
            case LogonOutcome::kUnavailable:
              return respond(sdk::Response::FromError(Error{ErrorCode::kUnavailable, "directory failed",
                                                            "sign-in is unavailable right now"}));
          }
        });
}

// konnect's consent call: records the user's decision for one client and redirect URI in a
// short-lived sealed cookie that the next authorization request reads.
void Provider::HandleConsentApi(const sdk::Request& req, const sdk::Responder& respond) {
  if (auto ok = CheckSigninRequest(req); !ok) {
    return respond(sdk::Response::Text(400, "Bad request: " + ok.error().public_message + "\n"));
  }
  auto consent = ParseConsent(req.body);
  if (!consent) return respond(sdk::Response::FromError(consent.error()));
  auto session = CurrentSession(req);
  if (!session) return respond(NoContent(consent->state));
  auto client = Clients()->ForRedirect(consent->client_id, consent->redirect_uri, Issuer());
  if (!client) return respond(sdk::Response::FromError(client.error()));
  CheckSession(*session, [this, respond, c = *consent](Result<LiveSession> live) {
    if (!live && live.error().code == ErrorCode::kUnavailable) return respond(sdk::Response::FromError(live.error()));
    if (!live) return ClearingCookie(respond)(NoContent(c.state));
    std::string cookie = ConsentCookie(c.client_id, c.redirect_uri, live->session.user_id, c.scope, c.allow);
    sdk::Response r = c.allow ? JsonNoStore("{\"success\":true,\"state\":" + Quote(c.state) + "}") : NoContent(c.state);
    r.headers.emplace_back("set-cookie", cookie);
    respond(std::move(r));
  });
}

// UserInfo (spec §1.6): Bearer access token; 401 with WWW-Authenticate on token failures.
void Provider::HandleUserInfo(const sdk::Request& req, const sdk::Responder& respond) {
  auto unauthorized = [respond](const std::string& why) {
    auto r = sdk::Response::Json(401, "{\"error\":\"invalid_token\",\"error_description\":" + Quote(why) + "}");
    r.SetHeader("www-authenticate", "Bearer error=\"invalid_token\", error_description=\"" + why + "\"");
    r.SetHeader("access-control-allow-origin", "*");
    respond(std::move(r));
  };
  // The signature check (~100 µs for ES256) and the lookup run on a worker, not the net loop.
  auto directory = host_.Registry().Find<sdk::UserDirectory>();
  std::string authorization(req.Header("authorization").value_or(""));
  host_.Pool().Submit(
      [this, directory, authorization, unauthorized, respond] {
        sdk::Request bearer;
        bearer.headers.emplace_back("authorization", authorization);
        auto claims = sdk::AuthorizeActiveBearer(bearer, verifier_.get(), {});
        if (!claims && claims.error().code == ErrorCode::kUnavailable) {
          return respond(sdk::Response::FromError(Error{ErrorCode::kUnavailable, claims.error().message,
                                                        "token service unavailable"}));
        }
        if (!claims) return unauthorized("invalid or expired token");
        const sdk::TokenClaims& who = *claims;
        std::string name = who.display_name, given, family, username = who.username, mail;
        if (!who.guest && !who.external) {  // other issuers' users are not in our directory
          if (!directory) {
            return respond(sdk::Response::FromError(Error{ErrorCode::kUnavailable, "no directory", "unavailable"}));
          }
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
      },
      nullptr);
}

// End session (spec §1.7): the sign-in and browser-state cookies go; a post_logout_redirect_uri
// under our issuer, or registered for the hinted client, gets the browser back with `state` in
// its query; anything else lands on the signed-out page.
void Provider::EndSession(const sdk::Request& req, const sdk::Responder& respond) {
  std::string target = req.QueryParam("post_logout_redirect_uri").value_or("");
  std::string issuer = Issuer();
  bool allowed = !target.empty() && target.find_first_of("\r\n") == std::string::npos &&
                 target.rfind(issuer + "/", 0) == 0;
  if (!allowed && !target.empty()) {
    // A registered client may name its own post-logout URIs; the ID token hint says which one.
    if (auto hint = req.QueryParam("id_token_hint")) {
      if (auto claims = verifier_->VerifyOwnSignature(*hint)) {
        std::string aud = (*claims)->optValue<std::string>("aud", "");
        if (const Client* c = Clients()->Find(aud)) {
          allowed = std::find(c->post_logout_redirect_uris.begin(), c->post_logout_redirect_uris.end(), target) !=
                    c->post_logout_redirect_uris.end();
        }
      }
    }
  }
  std::string location;
  if (allowed) {
    std::string fragment;
    if (auto hash = target.find('#'); hash != std::string::npos) {
      fragment = target.substr(hash);
      target.resize(hash);
    }
    if (auto state = req.QueryParam("state")) {
      target += (target.find('?') == std::string::npos ? "?" : "&") + std::string("state=") + sdk::PercentEncode(*state);
    }
    location = target + fragment;
  } else {
    location = "/signin/v1/goodbye?flow=oidc";
  }
  if (upstream_) location = UpstreamSignOutLocation(req, location);
  auto r = sdk::Response::Redirect(302, location);
  r.headers.emplace_back("set-cookie", ClearSessionCookieHeader());
  if (upstream_) {
    r.headers.emplace_back("set-cookie", std::string(kUpstreamIdTokenCookie) + "=; Path=" + kSessionCookiePath +
                                             "; Max-Age=0; Secure; HttpOnly; SameSite=Lax");
  }
  r.headers.emplace_back("set-cookie", BrowserStateCookie(""));
  r.SetHeader("cache-control", "no-store");
  auto session = CurrentSession(req);
  if (!session) return respond(std::move(r));
  // The session ends server-side before the browser is sent on.
  EndRecordedSession(session->sid, [respond, r = std::move(r)] { respond(r); });
}

// The OP iframe of OpenID Connect Session Management. Relying parties on any https origin may
// frame it; it only answers whether a session_state they already hold is still current.
sdk::Response Provider::CheckSessionPage() const {
  std::string nonce = sdk::RandomToken(16);
  std::string html = SigninAssets().at("check-session.html");
  const std::string marker = "{{nonce}}";
  html.replace(html.find(marker), marker.size(), nonce);
  sdk::Response r;
  r.body = std::move(html);
  r.SetHeader("content-type", "text/html; charset=utf-8");
  r.SetHeader("cache-control", "no-cache, no-store, must-revalidate");
  r.SetHeader("content-security-policy", "default-src 'none'; script-src 'nonce-" + nonce + "'; frame-ancestors https:");
  r.SetHeader("referrer-policy", "origin");
  return r;
}

std::string Provider::Discovery() const {
  const std::string issuer = Issuer();
  auto keys = verifier_->Keys();
  std::string algs;
  std::set<std::string> seen;
  for (const auto& k : keys->validation) {
    if (seen.insert(AlgName(k.alg())).second) algs += std::string(algs.empty() ? "" : ",") + Quote(AlgName(k.alg()));
  }
  std::string scopes;
  for (const auto& s : SupportedScopes()) scopes += std::string(scopes.empty() ? "" : ",") + Quote(s);
  std::string o = "{";
  o += "\"issuer\":" + Quote(issuer);
  o += ",\"authorization_endpoint\":" + Quote(issuer + kAuthorizePath);
  o += ",\"token_endpoint\":" + Quote(issuer + "/konnect/v1/token");
  o += ",\"userinfo_endpoint\":" + Quote(issuer + "/konnect/v1/userinfo");
  o += ",\"end_session_endpoint\":" + Quote(issuer + "/signin/v1/identifier/_/endsession");
  o += ",\"check_session_iframe\":" + Quote(issuer + "/konnect/v1/session/check-session.html");
  o += ",\"jwks_uri\":" + Quote(issuer + "/konnect/v1/jwks.json");
  o += ",\"scopes_supported\":[" + scopes + "]";
  o += ",\"response_types_supported\":[\"code\",\"id_token token\",\"id_token\",\"code id_token\",\"code id_token token\"]";
  o += ",\"response_modes_supported\":[\"query\",\"fragment\"]";
  o += ",\"grant_types_supported\":[\"authorization_code\",\"implicit\",\"refresh_token\"]";
  o += ",\"subject_types_supported\":[\"public\"]";
  o += ",\"id_token_signing_alg_values_supported\":[" + algs + "]";
  o += ",\"userinfo_signing_alg_values_supported\":[" + algs + "]";
  o += ",\"request_object_signing_alg_values_supported\":[" + algs + "]";
  o += ",\"token_endpoint_auth_methods_supported\":[\"client_secret_basic\",\"client_secret_post\",\"none\"]";
  o += ",\"claims_parameter_supported\":true";
  o += ",\"claims_supported\":[\"iss\",\"sub\",\"aud\",\"exp\",\"iat\",\"nonce\",\"at_hash\",\"sid\",\"auth_time\",\"name\","
       "\"family_name\",\"given_name\",\"preferred_username\",\"email\",\"email_verified\"]";
  o += ",\"request_parameter_supported\":true,\"request_uri_parameter_supported\":false";
  o += ",\"code_challenge_methods_supported\":[\"S256\"]";
  return o + "}";
}

}  // namespace palaver::oidc
