// The admin console at /admin/: server-rendered pages (webui/admin), signed in through our own
// OpenID provider (code + PKCE), with server-side sessions, CSRF tokens and same-origin checks.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audit_log.hpp"
#include "pages.hpp"
#include "palaver/sdk/cidr.hpp"
#include "palaver/sdk/host.hpp"
#include "palaver/sdk/http.hpp"
#include "sessions.hpp"
#include "settings_ops.hpp"

namespace palaver::admin {

/// The console's config (the `[admin]` section). Value type.
struct ConsoleConfig {
  int64_t session_idle_ms = 15 * 60 * 1000;
  int64_t session_max_ms = 12 * 60 * 60 * 1000;
  /// Client addresses the console and the admin API answer (`allowed_networks`); empty: any.
  std::vector<sdk::Cidr> allowed_networks;
};

/// Whether `peer` (the client address, after trusted proxies) may use the console and the admin
/// API with an administrator's sign-in or token: `allowed` is empty (no restriction) or lists it.
/// Loopback is not implied: behind a reverse proxy that is not in `trusted_proxies` every client
/// would look like loopback. (`palaverd settings` with its CLI token from loopback is always
/// allowed; that check is the API's.) Pure.
bool AdminNetworkAllows(const std::vector<sdk::Cidr>& allowed, const std::string& peer);

/// The `allowed_networks` in force, shared by the console and the admin API; a reload replaces
/// them while the net loop reads them. Thread-safe.
class AdminNetworks {
 public:
  explicit AdminNetworks(std::vector<sdk::Cidr> networks) { Set(std::move(networks)); }
  void Set(std::vector<sdk::Cidr> networks) {
    current_.store(std::make_shared<const std::vector<sdk::Cidr>>(std::move(networks)), std::memory_order_release);
  }
  bool Allows(const std::string& peer) const {
    return AdminNetworkAllows(*current_.load(std::memory_order_acquire), peer);
  }

 private:
  std::atomic<std::shared_ptr<const std::vector<sdk::Cidr>>> current_;
};

/// Whether a browser request that changes state comes from this console's own origin: `Origin`
/// (when sent) is https://<authority>, `Sec-Fetch-Site` (when sent) is same-origin, and at least
/// one of them is sent. Pure.
bool SameOrigin(const sdk::Request& request);

/// Owns the routes under /admin/ (except the JSON API). Thread-safe: handlers run on the net loop
/// and hand blocking work to workers. `host`, `changer` and `audit` must outlive it.
class Console {
 public:
  /// `networks`: shared with the admin API (RegisterApiRoutes); config.allowed_networks is not read.
  Console(sdk::Host& host, ConsoleConfig config, std::shared_ptr<const AdminNetworks> networks,
          SettingsChanger& changer, AuditLog& audit);
  Status Register();
  SessionTable& Sessions() { return sessions_; }

 private:
  struct Ctx;
  void Handle(const sdk::Request& req, const sdk::Responder& respond);
  void BeginSignin(const sdk::Request& req, const sdk::Responder& respond);
  void Callback(const sdk::Request& req, const sdk::Responder& respond);
  // On a worker, for a signed-in administrator.
  sdk::Response Dispatch(Ctx& ctx);
  sdk::Response Guests(Ctx& ctx);
  sdk::Response GuestsPreview(Ctx& ctx);
  sdk::Response Media(Ctx& ctx);
  sdk::Response Branding(Ctx& ctx);
  // Stores `changes` through the settings changer (validated, audited) and puts the outcome in
  // `frame` ("saved", or "not saved" with the reason, wrapped in `reason_key`'s text if given).
  // Returns the page's status: 200, 400 for a refused value, 500.
  int Save(Ctx& ctx, Frame& frame, const std::vector<std::pair<std::string, sdk::SettingValue>>& changes,
           const char* reason_key = nullptr);
  sdk::Response Turn(Ctx& ctx);
  sdk::Response StatusPage(Ctx& ctx, bool json);
  sdk::Response Audit(Ctx& ctx, bool csv);
  sdk::Response Users(Ctx& ctx);
  sdk::Response Certificates(Ctx& ctx);
  sdk::Response Message(Ctx& ctx, int status, const std::string& title_key, const std::string& lead,
                        const std::string& link_href, const std::string& link_label);

  // The provider's endpoints, from its discovery document (fetched once, on a worker).
  struct Provider {
    std::string issuer;
    std::string authorization_endpoint;
    std::string token_endpoint;
  };
  Result<Provider> DiscoverProvider();
  std::string ClientId(const Provider& p) const { return "kpop-" + p.issuer + "/admin/"; }

  sdk::Host& host_;
  std::shared_ptr<const AdminNetworks> networks_;
  SettingsChanger& changer_;
  AuditLog& audit_;
  SessionTable sessions_;
  sdk::Counter* signins_ok_ = nullptr;
  sdk::Counter* signins_refused_ = nullptr;
  sdk::Counter* signins_failed_ = nullptr;
  sdk::Counter* forms_refused_ = nullptr;
  std::mutex provider_mu_;
  std::optional<Provider> provider_;
};

}  // namespace palaver::admin
