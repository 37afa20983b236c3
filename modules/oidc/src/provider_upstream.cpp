// Signing in through the upstream OpenID provider ([oidc] upstream_issuer): palaverd is its
// relying party (authorization code + PKCE + state + nonce). After the callback the user is the
// directory user the upstream's claim names, signed in exactly as after a password sign-in, so
// a running authorization request (Meet's) continues as usual. Sign-out goes through the
// upstream's end_session_endpoint. The HTTPS exchanges run on workers, never on the net loop.
#include <cctype>
#include <fstream>

#include <Poco/JSON/Parser.h>
#include <spdlog/spdlog.h>

#include "palaver/sdk/encoding.hpp"
#include "palaver/sdk/services/user_directory.hpp"
#include "provider.hpp"

namespace palaver::oidc {
namespace {

constexpr int64_t kAttemptLifetimeS = 600;
constexpr size_t kMaxCookieValue = 3800;  // browsers keep cookies up to 4096 bytes
constexpr size_t kMaxUsedStates = 20000;

std::string ReplaceAll(std::string text, const std::string& marker, const std::string& value) {
  for (auto pos = text.find(marker); pos != std::string::npos; pos = text.find(marker, pos + value.size())) {
    text.replace(pos, marker.size(), value);
  }
  return text;
}

std::string AttemptCookie(const std::string& value, bool clear) {
  return std::string(kUpstreamCookie) + "=" + (clear ? "" : value) + "; Path=" + kUpstreamPrefix +
         (clear ? "; Max-Age=0" : "; Max-Age=" + std::to_string(kAttemptLifetimeS)) + "; Secure; HttpOnly; SameSite=Lax";
}

std::string RetryHref(const std::string& flow, const std::string& query) {
  std::string out = "/signin/v1/identifier";
  std::string q = query;
  if (!flow.empty()) q += std::string(q.empty() ? "" : "&") + "flow=" + sdk::PercentEncode(flow);
  return q.empty() ? out : out + "?" + q;
}

// Which page a failure shows, and with which status.
std::pair<std::string, int> Classify(const Error& e) {
  switch (e.code) {
    case ErrorCode::kUnauthenticated:
      return {"upstream_rejected", 401};
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kPayloadTooLarge:
      return {"upstream_misconfigured", 502};
    case ErrorCode::kNotFound:
      return {"upstream_unknown_user", 403};
    case ErrorCode::kPermissionDenied:
      return {"upstream_disabled", 403};
    default:
      return {"upstream_unavailable", 502};
  }
}

const char* Reason(const std::string& key) {
  if (key == "upstream_rejected") return "not_verified";
  if (key == "upstream_misconfigured") return "bad_document";
  if (key == "upstream_unknown_user") return "unknown_user";
  if (key == "upstream_disabled") return "disabled_user";
  if (key == "upstream_state") return "state";
  if (key == "upstream_denied") return "denied";
  return "unavailable";
}

struct UpstreamSignin {
  SigninSession session;
  std::string id_token;
};

}  // namespace

Status Provider::StartUpstream(const UpstreamConfig& config) {
  if (!config.Enabled()) return OkStatus();
  std::string secret;
  if (!config.client_secret_file.empty()) {
    std::ifstream in(config.client_secret_file, std::ios::binary);
    if (!in || !std::getline(in, secret)) {
      return Fail(ErrorCode::kFailedPrecondition, "cannot read upstream_client_secret_file " + config.client_secret_file);
    }
    while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back()))) secret.pop_back();
    if (secret.empty()) return Fail(ErrorCode::kFailedPrecondition, config.client_secret_file + " holds no secret");
  }
  upstream_ = std::make_shared<Upstream>(config, std::move(secret));
  auto& stats = host_.Stats();
  const char* help = "Sign-ins through the upstream OpenID provider.";
  upstream_ok_ = &stats.GetCounter("palaver_oidc_upstream_signins_total", help, {{"result", "ok"}});
  upstream_failed_ = &stats.GetCounter("palaver_oidc_upstream_signins_total", help, {{"result", "failed"}});
  upstream_unknown_ = &stats.GetCounter("palaver_oidc_upstream_signins_total", help, {{"result", "unknown_user"}});
  upstream_unavailable_ = &stats.GetCounter("palaver_oidc_upstream_signins_total", help, {{"result", "unavailable"}});
  log_->info("upstream sign-in issuer={} client={} user_claim={} only={}", config.issuer, config.client_id,
             config.user_claim, config.only ? "yes" : "no");
  RefreshUpstream();
  return OkStatus();
}

void Provider::RefreshUpstream() {
  host_.Pool().Submit(
      [this, up = upstream_] {
        if (stopped_) return;
        if (auto st = up->Refresh(); !st) {
          log_->warn("upstream discovery not loaded issuer={} err={}", up->Config().issuer, st.error().message);
        } else {
          log_->info("upstream discovery loaded issuer={}", up->Config().issuer);
        }
      },
      nullptr);
}

Status Provider::AddUpstreamRoutes() {
  if (!upstream_) return OkStatus();
  auto& http = host_.Http();
  PALAVER_RETURN_IF_ERROR(http.Add({.methods = {"GET"}, .path = std::string(kUpstreamPrefix) + "start", .route_class = "signin"},
                                   [this](const sdk::Request& req, sdk::Responder respond) { HandleUpstreamStart(req, respond); }));
  PALAVER_RETURN_IF_ERROR(http.Add({.methods = {"GET"}, .path = std::string(kUpstreamPrefix) + "callback", .route_class = "signin"},
                                   [this](const sdk::Request& req, sdk::Responder respond) { HandleUpstreamCallback(req, respond); }));
  return http.Add({.methods = {"GET"}, .path = std::string(kUpstreamPrefix) + "signedout", .route_class = "signin"},
                  [this](const sdk::Request& req, sdk::Responder respond) { HandleUpstreamSignedOut(req, respond); });
}

std::string Provider::UpstreamLabel(Lang lang) const {
  const auto& c = upstream_->Config();
  return lang == Lang::kDe && !c.label_de.empty() ? c.label_de : c.label;
}

std::string Provider::UpstreamStartHref(const std::string& flow, const std::string& query) const {
  return std::string(kUpstreamPrefix) + "start?" + EncodeForm({{"flow", flow}, {"query", query}});
}

sdk::Response Provider::UpstreamErrorPage(Lang lang, const std::string& key, int status, const std::string& retry_href,
                                          const std::string& name) const {
  std::string text = ReplaceAll(ReplaceAll(Text(lang, key), "{label}", UpstreamLabel(lang)), "{name}", name);
  PageModel m{.page = "message", .title = "error_title",
              .values = {{"error", text}, {"link_href", retry_href}, {"link_label", Text(lang, "try_again")}}};
  return PageResponse(lang, m, status);
}

void Provider::HandleUpstreamStart(const sdk::Request& req, const sdk::Responder& respond) {
  Lang lang = PickLanguage(req.Header("accept-language").value_or(""));
  auto params = ParseForm(req.query);
  if (!params) return respond(UpstreamErrorPage(lang, "upstream_state", 400, "/signin/v1/identifier"));
  UpstreamAttempt a;
  a.flow = ParamValue(*params, "flow");
  a.query = ParamValue(*params, "query");
  if (a.flow.size() > 16 || a.query.size() > 16 * 1024) {
    return respond(UpstreamErrorPage(lang, "upstream_state", 400, "/signin/v1/identifier"));
  }
  a.state = sdk::RandomToken(24);
  a.nonce = sdk::RandomToken(24);
  a.verifier = sdk::RandomToken(48);
  a.expires_at = NowSeconds() + kAttemptLifetimeS;
  std::string retry = RetryHref(a.flow, a.query);
  auto go = [this, a, respond](const UpstreamEndpoints& e) {
    const auto& c = upstream_->Config();
    std::string scopes;
    for (const auto& s : c.scopes) scopes += (scopes.empty() ? "" : " ") + s;
    Params p{{"response_type", "code"},
             {"client_id", c.client_id},
             {"redirect_uri", Issuer() + kUpstreamPrefix + "callback"},
             {"scope", scopes},
             {"state", a.state},
             {"nonce", a.nonce},
             {"code_challenge", PkceChallenge(a.verifier)},
             {"code_challenge_method", "S256"}};
    // Ask for the user claim in the ID token (providers that ignore the request put it into
    // userinfo, which the exchange falls back to).
    if (c.user_claim != "sub") p.emplace_back("claims", "{\"id_token\":{" + Quote(c.user_claim) + ":{\"essential\":true}}}");
    std::string location = e.authorization + (e.authorization.find('?') == std::string::npos ? "?" : "&") + EncodeForm(p);
    auto r = sdk::Response::Redirect(302, location);
    r.SetHeader("cache-control", "no-store");
    r.SetHeader("referrer-policy", "origin");
    r.headers.emplace_back("set-cookie", AttemptCookie(sealer_->SealText("upstream", a.ToJson()), false));
    respond(std::move(r));
  };
  if (auto e = upstream_->Cached()) return go(*e);
  // Not discovered yet (the upstream was down at start): fetch now, on a worker.
  host_.Pool().SubmitFor<Result<UpstreamEndpoints>>(
      [up = upstream_] { return up->Endpoints(); },
      [this, go, lang, respond, retry, peer = req.peer](Result<UpstreamEndpoints> e) {
        if (stopped_) return;
        if (!e) {
          auto [key, status] = Classify(e.error());
          upstream_unavailable_->Inc();
          log_->warn("upstream sign-in failed reason={} addr={} err={}", Reason(key), peer, e.error().message);
          return respond(UpstreamErrorPage(lang, key, status, retry));
        }
        go(*e);
      });
}

void Provider::HandleUpstreamCallback(const sdk::Request& req, const sdk::Responder& respond) {
  Lang lang = PickLanguage(req.Header("accept-language").value_or(""));
  auto params = ParseForm(req.query);
  std::optional<UpstreamAttempt> attempt;
  if (auto cookies = req.Header("cookie")) {
    if (auto value = CookieValue(*cookies, kUpstreamCookie)) {
      if (auto plain = sealer_->OpenText("upstream", *value)) attempt = UpstreamAttempt::FromJson(*plain, NowSeconds());
    }
  }
  std::string retry = attempt ? RetryHref(attempt->flow, attempt->query) : "/signin/v1/identifier";
  auto fail = [this, lang, respond, retry, peer = req.peer](const std::string& key, int status, const std::string& why,
                                                             const std::string& name = "") {
    (key == "upstream_unknown_user" || key == "upstream_disabled" ? upstream_unknown_
     : key == "upstream_unavailable"                             ? upstream_unavailable_
                                                                  : upstream_failed_)
        ->Inc();
    log_->warn("upstream sign-in failed reason={} addr={} err={}", Reason(key), peer, why);
    auto r = UpstreamErrorPage(lang, key, status, retry, name);
    r.headers.emplace_back("set-cookie", AttemptCookie("", true));
    respond(std::move(r));
  };
  // The state must be the one this browser's cookie holds: a callback that another browser (or
  // a foreign site) started signs nobody in here.
  if (!params || !attempt || !ConstantTimeEqual(ParamValue(*params, "state"), attempt->state)) {
    return fail("upstream_state", 400, "state missing, expired or not this browser's");
  }
  // Each attempt is good for one callback, even when its cookie was copied.
  int64_t now = NowSeconds();
  if (used_upstream_states_.size() >= kMaxUsedStates) {
    std::erase_if(used_upstream_states_, [now](const auto& e) { return e.second <= now; });
  }
  if (used_upstream_states_.size() >= kMaxUsedStates || !used_upstream_states_.emplace(attempt->state, attempt->expires_at).second) {
    return fail("upstream_state", 400, "state already used");
  }
  if (std::string error = ParamValue(*params, "error"); !error.empty()) {
    return fail("upstream_denied", 401, "the upstream answered error=" + sdk::LogSafe(error, 64));
  }
  std::string code = ParamValue(*params, "code");
  if (code.empty() || code.size() > 4096) return fail("upstream_state", 400, "callback without a code");
  auto directory = host_.Registry().Find<sdk::UserDirectory>();
  if (!directory) return fail("upstream_unavailable", 503, "no user directory");
  std::string redirect_uri = Issuer() + kUpstreamPrefix + "callback";
  host_.Pool().SubmitFor<Result<UpstreamSignin>>(
      [this, up = upstream_, directory, code, a = *attempt, redirect_uri]() -> Result<UpstreamSignin> {
        PALAVER_ASSIGN_OR_RETURN(Upstream::SignedIn in, up->Exchange(code, a.verifier, redirect_uri, a.nonce, NowSeconds()));
        const std::string& claim = up->Config().user_claim;
        std::string name = UserClaimValue(*in.claims, claim);
        if (name.empty() || name.size() > 256) {
          return Fail(ErrorCode::kUnauthenticated, "the ID token has no usable " + claim + " claim");
        }
        // The name must be a user of our directory (on UCS the same LDAP users); nobody is created.
        auto user = directory->GetByUsername(name);
        if (!user && user.error().code == ErrorCode::kNotFound && claim == "email") {
          if (auto page = directory->Search(name, 0, 5)) {
            for (const auto& u : page->users) {
              if (Lower(u.mail) == Lower(name)) user = u;
            }
          }
        }
        if (!user && user.error().code == ErrorCode::kNotFound) {
          return Fail(ErrorCode::kNotFound, "no directory user " + sdk::LogSafe(name, 64), name);
        }
        if (!user) return Fail(ErrorCode::kUnavailable, user.error().message, "unavailable");
        auto standing = directory->Standing(user->id);
        if (!standing) return Fail(ErrorCode::kUnavailable, standing.error().message, "unavailable");
        if (!standing->enabled || !user->enabled) {
          return Fail(ErrorCode::kPermissionDenied, "directory user disabled " + sdk::LogSafe(name, 64), name);
        }
        SigninSession s = NewSession(*user, NowSeconds());
        if (auto st = sessions_->Add(s.sid, s.user_id, standing->session_epoch, s.expires_at); !st) {
          return Fail(ErrorCode::kUnavailable, st.error().message, "unavailable");
        }
        return UpstreamSignin{std::move(s), std::move(in.id_token)};
      },
      [this, fail, a = *attempt, respond, peer = req.peer](Result<UpstreamSignin> in) {
        if (stopped_) return;
        if (!in) {
          auto [key, status] = Classify(in.error());
          bool named = in.error().code == ErrorCode::kNotFound || in.error().code == ErrorCode::kPermissionDenied;
          return fail(key, status, in.error().message, named ? in.error().public_message : "");
        }
        upstream_ok_->Inc();
        log_->info("signed in user={} addr={} via=upstream", sdk::LogSafe(in->session.username), peer);
        auto r = sdk::Response::Redirect(303, ContinueLocation(a.flow, a.query, in->session));
        r.SetHeader("cache-control", "no-store");
        r.headers.emplace_back("set-cookie", SessionCookieHeader(sealer_->Seal(in->session)));
        r.headers.emplace_back("set-cookie", BrowserStateCookie(""));
        r.headers.emplace_back("set-cookie", AttemptCookie("", true));
        // The upstream's ID token, for the id_token_hint of the sign-out.
        std::string hint = sealer_->SealText("upstream-idt", in->id_token);
        if (hint.size() <= kMaxCookieValue) {
          r.headers.emplace_back("set-cookie", std::string(kUpstreamIdTokenCookie) + "=" + hint + "; Path=" +
                                                   kSessionCookiePath + "; Secure; HttpOnly; SameSite=Lax");
        }
        respond(std::move(r));
      });
}

std::string Provider::UpstreamSignOutLocation(const sdk::Request& req, const std::string& local) const {
  auto e = upstream_->Cached();
  if (!e || e->end_session.empty()) return local;
  std::string hint;
  if (auto cookies = req.Header("cookie")) {
    if (auto value = CookieValue(*cookies, kUpstreamIdTokenCookie)) {
      if (auto plain = sealer_->OpenText("upstream-idt", *value)) hint = *plain;
    }
  }
  if (hint.empty() && !CurrentSession(req)) return local;  // nobody signed in here: nothing to end upstream
  std::string back = "{\"l\":" + Quote(local) + ",\"exp\":" + std::to_string(NowSeconds() + kAttemptLifetimeS) + "}";
  Params p;
  if (!hint.empty()) p.emplace_back("id_token_hint", hint);
  p.emplace_back("client_id", upstream_->Config().client_id);
  p.emplace_back("post_logout_redirect_uri", Issuer() + kUpstreamPrefix + "signedout");
  p.emplace_back("state", sealer_->SealText("upstream-signout", back));
  return e->end_session + (e->end_session.find('?') == std::string::npos ? "?" : "&") + EncodeForm(p);
}

// Back from the upstream's sign-out: on to where our end session would have sent the browser.
void Provider::HandleUpstreamSignedOut(const sdk::Request& req, const sdk::Responder& respond) {
  std::string location = "/signin/v1/goodbye?flow=oidc";
  if (auto state = req.QueryParam("state")) {
    if (auto plain = sealer_->OpenText("upstream-signout", *state)) {
      if (auto o = ParseJsonObject(*plain)) {
        try {
          if (o->getValue<int64_t>("exp") > NowSeconds()) location = o->getValue<std::string>("l");
        } catch (const Poco::Exception&) {
        }
      }
    }
  }
  auto r = sdk::Response::Redirect(302, location);
  r.SetHeader("cache-control", "no-store");
  respond(std::move(r));
}

}  // namespace palaver::oidc
