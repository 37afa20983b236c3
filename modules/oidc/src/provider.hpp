// The OpenID provider's state and HTTP handlers (the module in oidc_module.cpp owns one).
// Handlers run on the net loop; directory lookups, password checks, SQLite and token signing
// for the token endpoint run on workers.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <string>

#include <spdlog/logger.h>

#include "authorize.hpp"
#include "clients.hpp"
#include "config.hpp"
#include "grants.hpp"
#include "key_store.hpp"
#include "pages.hpp"
#include "palaver/sdk/check.hpp"
#include "palaver/sdk/host.hpp"
#include "palaver/sdk/http.hpp"
#include "palaver/sdk/metrics.hpp"
#include "palaver/sdk/services/user_directory.hpp"
#include "signin_api.hpp"
#include "signin_session.hpp"
#include "tokens.hpp"
#include "upstream.hpp"
#include "verifier.hpp"

namespace palaver::oidc {

inline constexpr const char* kBrowserStateCookie = "__Secure-KKBS";
inline constexpr const char* kBrowserStateCookiePath = "/konnect/v1/session/";
inline constexpr const char* kConsentCookie = "__Secure-KKTC";
inline constexpr const char* kFormCookie = "__Secure-KKF";
inline constexpr const char* kAuthorizePath = "/signin/v1/identifier/_/authorize";
inline constexpr const char* kUpstreamPrefix = "/signin/v1/identifier/_/upstream/";
inline constexpr const char* kUpstreamCookie = "__Secure-KKX";       // the sign-in in progress
inline constexpr const char* kUpstreamIdTokenCookie = "__Secure-KKXI";  // the upstream's ID token (sign-out hint)

class Provider {
 public:
  Provider(sdk::Host& host, std::shared_ptr<spdlog::logger> log) : host_(host), log_(std::move(log)) {}

  /// Blocking: migrations, keys, secrets, clients. Publishes TokenVerifier/TokenIssuer.
  Status Start(const OidcConfig& config);
  Status Reload(const OidcConfig& config);
  void Stop();

  std::string Issuer() const;

 private:
  // provider.cpp: routes, keys, discovery, sign-in API, userinfo, end session, check session.
  Status AddRoutes();
  Status RefreshKeys();
  Status RefreshKeysLocked();
  Status LoadClients();
  void ScheduleMaintenance();
  void RefreshExternal(const std::string& issuer);
  std::string Discovery() const;
  /// The session the request's cookie names, as sealed (not yet checked server-side).
  std::optional<SigninSession> CurrentSession(const sdk::Request& req) const;
  /// A session checked server-side, with its user.
  struct LiveSession {
    SigninSession session;
    sdk::DirectoryUser user;
    int64_t epoch = 0;
  };
  using SessionCheck = std::function<void(Result<LiveSession>)>;
  /// Whether `session` still counts: recorded (not signed out), its user present and enabled, the
  /// user's session epoch unchanged. kUnauthenticated when it ended, kUnavailable when the store
  /// or directory cannot say. Blocking: workers only.
  Result<LiveSession> CheckSessionNow(const SigninSession& session);
  /// CheckSessionNow on a worker; `done` runs on the net loop.
  void CheckSession(const SigninSession& session, SessionCheck done);
  /// Ends the recorded session `sid` (a worker), then runs `then` on the net loop.
  void EndRecordedSession(const std::string& sid, std::function<void()> then);
  void HandleSignin(const std::string& op, const sdk::Request& req, const sdk::Responder& respond);
  void HandleConsentApi(const sdk::Request& req, const sdk::Responder& respond);
  void HandleUserInfo(const sdk::Request& req, const sdk::Responder& respond);
  void EndSession(const sdk::Request& req, const sdk::Responder& respond);
  sdk::Response CheckSessionPage() const;

  enum class LogonOutcome { kOk, kFailed, kLimited, kUnavailable, kPasswordsOff };
  using LogonDone = std::function<void(LogonOutcome, std::optional<SigninSession>)>;
  /// Rate limits, then the password check on a worker; `done` runs on the net loop.
  void Logon(const std::string& username, const std::string& password, const std::string& peer, LogonDone done);
  SigninSession NewSession(const sdk::DirectoryUser& user, int64_t now) const;
  /// Returns the responder that also clears the sign-in cookie.
  static sdk::Responder ClearingCookie(sdk::Responder respond);

  // provider_flows.cpp: authorization and token endpoints.
  void HandleAuthorize(const sdk::Request& req, const sdk::Responder& respond);
  void AuthorizeGuest(const AuthorizeRequest& r, const ClientDecision& client, const sdk::Responder& respond);
  /// After the session check: sign-in page, login_required, or on to AuthorizeUser.
  void AuthorizeWith(const sdk::Request& req, const Params& params, std::shared_ptr<AuthorizeRequest> r,
                     std::shared_ptr<const ClientTable> table, const ClientDecision& client,
                     std::optional<LiveSession> live, const sdk::Responder& respond);
  void AuthorizeUser(const sdk::Request& req, const Params& params, std::shared_ptr<AuthorizeRequest> r,
                     std::shared_ptr<const ClientTable> table, ClientDecision client, const LiveSession& live,
                     const sdk::Responder& respond);
  /// Codes and tokens for an approved request, as the 302 to the redirect URI.
  sdk::Response Complete(const AuthorizeRequest& r, const Grant& grant);
  sdk::Response ErrorRedirect(const std::string& redirect_uri, bool fragment, const std::string& state,
                              const std::string& error, const std::string& description) const;
  sdk::Response ToSignin(const std::string& page, const Params& params) const;
  void HandleToken(const sdk::Request& req, const sdk::Responder& respond);
  /// Access, ID and (with offline_access) refresh token for a grant; on a worker.
  void IssueTokens(Grant grant, std::string nonce, bool id_token, std::string family, const sdk::Responder& respond);

  // provider_upstream.cpp: signing in through the upstream OpenID provider.
  Status StartUpstream(const UpstreamConfig& config);
  void RefreshUpstream();
  Status AddUpstreamRoutes();
  /// The label in `lang` ("Keycloak", "UCS").
  std::string UpstreamLabel(Lang lang) const;
  /// `/signin/v1/identifier/_/upstream/start?…` for a sign-in page's flow and carried request.
  std::string UpstreamStartHref(const std::string& flow, const std::string& query) const;
  void HandleUpstreamStart(const sdk::Request& req, const sdk::Responder& respond);
  void HandleUpstreamCallback(const sdk::Request& req, const sdk::Responder& respond);
  void HandleUpstreamSignedOut(const sdk::Request& req, const sdk::Responder& respond);
  sdk::Response UpstreamErrorPage(Lang lang, const std::string& key, int status, const std::string& retry_href,
                                  const std::string& name = "") const;
  /// Where end session sends the browser when an upstream sign-out comes first (else `local`).
  std::string UpstreamSignOutLocation(const sdk::Request& req, const std::string& local) const;
  bool PasswordsOff() const { return upstream_ && upstream_->Config().only; }

  // provider_pages.cpp: the sign-in pages and their form.
  void HandlePage(const std::string& page, const sdk::Request& req, const sdk::Responder& respond);
  void HandleForm(const sdk::Request& req, const sdk::Responder& respond);
  PageModel SigninModel(Lang lang, const std::string& flow, const std::string& query, const std::string& csrf) const;
  std::string ContinueLocation(const std::string& flow, const std::string& query, const SigninSession& s) const;
  std::string ConsentCookie(const std::string& client_id, const std::string& redirect_uri, const std::string& user_id,
                            const std::string& scope, bool allow) const;

  sdk::Host& host_;
  std::shared_ptr<spdlog::logger> log_;
  std::mutex refresh_mu_;
  OidcConfig config_ PALAVER_GUARDED_BY(refresh_mu_);
  OidcConfig issuer_config_;  // as at Start: the issuer does not change on reload
  std::unique_ptr<KeyStore> keys_;
  std::unique_ptr<ClientStore> client_store_;
  std::unique_ptr<RefreshStore> refresh_store_;
  std::unique_ptr<SessionStore> sessions_;
  std::shared_ptr<LocalTokenVerifier> verifier_;
  std::shared_ptr<ExternalIssuers> external_;
  std::shared_ptr<Upstream> upstream_;  // set at start when [oidc] upstream_issuer is
  mutable std::mutex clients_mu_;
  std::shared_ptr<const ClientTable> clients_ PALAVER_GUARDED_BY(clients_mu_);
  std::shared_ptr<const ClientTable> Clients() const {
    std::lock_guard lock(clients_mu_);
    return clients_;
  }
  sdk::NetLoop::TimerId timer_ = 0;
  std::atomic<bool> stopped_{false};
  std::unique_ptr<SessionSealer> sealer_;
  std::atomic<int64_t> session_lifetime_{12 * 3600};
  std::atomic<int64_t> access_lifetime_{600};
  std::atomic<int64_t> id_lifetime_{3600};
  std::atomic<int64_t> refresh_lifetime_{3LL * 365 * 86400};
  // Net loop only.
  CodeStore codes_;
  /// Upstream sign-in states already used (a copied attempt cookie cannot start a second code
  /// exchange); forgotten after the attempt's lifetime, bounded.
  std::unordered_map<std::string, int64_t> used_upstream_states_;
  FailureLimiter account_limiter_{5, std::chrono::minutes(5)};
  FailureLimiter address_limiter_{20, std::chrono::minutes(5)};
  sdk::Counter* signins_ok_ = nullptr;
  sdk::Counter* signins_failed_ = nullptr;
  sdk::Counter* signins_limited_ = nullptr;
  sdk::Counter* tokens_issued_ = nullptr;
  sdk::Counter* token_errors_ = nullptr;
  sdk::Counter* refresh_reuse_ = nullptr;
  sdk::Counter* upstream_ok_ = nullptr;
  sdk::Counter* upstream_failed_ = nullptr;
  sdk::Counter* upstream_unknown_ = nullptr;
  sdk::Counter* upstream_unavailable_ = nullptr;
  sdk::Histogram* signin_latency_ = nullptr;  // password sign-ins, request to answer
  sdk::Histogram* token_latency_ = nullptr;   // token issuance (signing on a worker included)
};

int64_t NowSeconds();
std::string Quote(const std::string& s);
std::string Lower(std::string v);
/// `Set-Cookie` for the browser-state cookie (readable by the check-session iframe).
std::string BrowserStateCookie(const std::string& value);

}  // namespace palaver::oidc
