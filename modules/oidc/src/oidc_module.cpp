#include "palaver/oidc/oidc_module.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>

#include <spdlog/spdlog.h>

#include "config.hpp"
#include "key_store.hpp"
#include "palaver/sdk/host.hpp"
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
};

}  // namespace

std::unique_ptr<sdk::Module> CreateModule() { return std::make_unique<OidcModule>(); }

}  // namespace palaver::oidc
