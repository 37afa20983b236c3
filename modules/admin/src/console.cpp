#include "console.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <future>
#include <regex>
#include <sstream>

#include <openssl/sha.h>
#include <openssl/x509.h>

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>
#include <spdlog/spdlog.h>

#include "loopback.hpp"
#include "palaver/sdk/encoding.hpp"
#include "palaver/sdk/services/certificate_provider.hpp"
#include "palaver/sdk/services/turn_admin.hpp"
#include "palaver/sdk/services/host_status.hpp"
#include "palaver/sdk/services/token_verifier.hpp"
#include "palaver/sdk/services/user_admin.hpp"
#include "palaver/signaling/live_rooms.hpp"
#include "palaver/sdk/services/user_directory.hpp"
#include "palaver/sdk/services/user_admin.hpp"

namespace palaver::admin {
namespace {

constexpr const char* kSessionCookie = "__Host-palaver-admin";
constexpr const char* kSigninCookie = "__Host-palaver-admin-signin";

// The settings the console pages edit (defined by signaling and web).
constexpr const char* kGuestsEnabled = "signaling.guests_enabled";
constexpr const char* kPublicRegexp = "signaling.public_guest_access_regexp";
constexpr const char* kGuestOnlyRooms = "signaling.allow_guest_only_channels";
constexpr const char* kGuestsDefault = "web.guests_default";
constexpr const char* kGuestNameStyle = "signaling.guest_name_style";
constexpr const char* kScreenshare = "web.screenshare_enabled";
constexpr const char* kAppTitle = "web.app_title";
constexpr const char* kLogoUrl = "web.logo_url";
constexpr const char* kApps = "web.apps";
constexpr const char* kCameraBitrate = "web.camera_bitrate_kbps";
constexpr const char* kScreenBitrate = "web.screenshare_bitrate_kbps";
constexpr const char* kGuestsAudioOnly = "web.guests_audio_only";
constexpr const char* kNoTalkingDetection = "web.disable_remote_talking_detection";
constexpr int64_t kMinBitrate = 100;
constexpr int64_t kMaxBitrate = 50000;

std::string Sha256(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string UtcTime(int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::optional<std::string> Cookie(const sdk::Request& req, std::string_view name) {
  for (const auto& [k, v] : req.headers) {
    if (k != "cookie") continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      size_t end = rest.find(';');
      std::string_view item = rest.substr(0, end);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      if (item.size() > name.size() && item.substr(0, name.size()) == name && item[name.size()] == '=') {
        return std::string(item.substr(name.size() + 1));
      }
      if (end == std::string_view::npos) break;
      rest.remove_prefix(end + 1);
    }
  }
  return std::nullopt;
}

std::string SetCookie(const std::string& name, const std::string& value, const std::string& same_site, int max_age) {
  std::string c = name + "=" + value + "; Path=/; Secure; HttpOnly; SameSite=" + same_site;
  if (max_age >= 0) c += "; Max-Age=" + std::to_string(max_age);
  return c;
}


sdk::Response Redirect(const std::string& to) {
  auto r = sdk::Response::Redirect(303, to);
  r.SetHeader("cache-control", "no-store");
  return r;
}

// A path under /admin/ to return to after signing in; anything else is /admin/.
std::string SafeReturn(const std::string& path) {
  if (path.rfind("/admin/", 0) != 0 || path.find("//") != std::string::npos || path.find('\\') != std::string::npos ||
      path.find_first_of("\r\n") != std::string::npos) {
    return "/admin/";
  }
  return path;
}

// A page a browser navigates to (not a form post, nor the JSON and CSV the pages fetch).
bool IsPageRequest(const sdk::Request& req) {
  return req.method == "GET" && req.path.find(".json") == std::string::npos && req.path != "/admin/guests/preview" &&
         req.path != "/admin/audit.csv";
}

// The answer to a request without a live session (none, expired, or ended): a page is sent to
// sign in and come back; anything else gets "session expired" (401). `clear` drops the cookie.
sdk::Response NoSession(const sdk::Request& req, Lang lang, bool clear) {
  if (IsPageRequest(req)) {
    std::string back = req.path + (req.query.empty() ? "" : "?" + req.query);
    auto r = Redirect("/admin/signin?return=" + sdk::PercentEncode(SafeReturn(back)));
    if (clear) r.headers.emplace_back("set-cookie", SetCookie(kSessionCookie, "", "Strict", 0));
    return r;
  }
  Frame f{.title = Text(lang, "expired_title")};
  mstch::map c{{"lead", Text(lang, "expired_lead")}, {"link_href", std::string("/admin/signin")},
               {"link_label", Text(lang, "signin_again")}};
  auto r = PageResponse(lang, "message", c, f, 401);
  if (clear) r.SetHeader("set-cookie", SetCookie(kSessionCookie, "", "Strict", 0));
  return r;
}

// Room names from a textarea: one per line, trimmed, at most 50 of at most 200 bytes.
std::vector<std::string> PreviewNames(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line) && out.size() < 50) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    size_t start = line.find_first_not_of(' ');
    if (start == std::string::npos) continue;
    out.push_back(line.substr(start, 200));
  }
  return out;
}

// The regexp compiled as signaling does (ECMAScript, searched anywhere); an error text otherwise.
std::optional<std::string> RegexpProblem(const std::string& re) {
  if (re.size() > 1000) return std::string("longer than 1000 characters");
  try {
    std::regex compiled(re, std::regex::ECMAScript);
    (void)compiled;
    return std::nullopt;
  } catch (const std::regex_error& e) {
    return std::string(e.what());
  }
}

bool RoomMatches(const std::string& re, const std::string& name) {
  if (re.empty()) return false;
  try {
    return std::regex_search(name, std::regex(re, std::regex::ECMAScript));
  } catch (const std::regex_error&) {
    return false;
  }
}

std::string HealthKey(sdk::HealthState s, bool started) {
  if (!started) return "stopped";
  switch (s) {
    case sdk::HealthState::kOk: return "ok";
    case sdk::HealthState::kDegraded: return "degraded";
    case sdk::HealthState::kFailed: return "failed";
  }
  return "failed";
}

// `key=value` from a health detail such as signaling's "connections=3 users=2 channels=1 guests=0".
std::string DetailValue(const std::string& detail, const std::string& key) {
  std::string needle = key + "=";
  size_t at = 0;
  while ((at = detail.find(needle, at)) != std::string::npos) {
    if (at == 0 || detail[at - 1] == ' ') {
      size_t end = detail.find(' ', at);
      return detail.substr(at + needle.size(), end == std::string::npos ? std::string::npos : end - at - needle.size());
    }
    at += needle.size();
  }
  return "";
}

sdk::Response JsonResponse(int status, std::string body) {
  auto r = sdk::Response::Json(status, std::move(body));
  AddConsoleHeaders(r);
  return r;
}

}  // namespace

bool SameOrigin(const sdk::Request& req) {
  auto origin = req.Header("origin");
  auto site = req.Header("sec-fetch-site");
  if (!origin && !site) return false;
  if (origin && *origin != "https://" + req.authority) return false;
  if (site && *site != "same-origin") return false;
  return true;
}

struct Console::Ctx {
  const sdk::Request& req;
  Lang lang;
  ConsoleSession session;
  sdk::DirectoryUser admin;
  sdk::FormParams form;

  Actor Who() const { return Actor{admin.username, req.peer}; }
  Frame MakeFrame(const std::string& title, const std::string& current) const {
    return Frame{.title = title, .current = current, .user = admin.display_name.empty() ? admin.username : admin.display_name,
                 .csrf = session.csrf};
  }
  std::string Field(std::string_view name) const { return sdk::FormValue(form, name); }
  bool Checked(std::string_view name) const { return Field(name) == "on"; }
};

Console::Console(sdk::Host& host, ConsoleConfig config, std::shared_ptr<const AdminNetworks> networks,
                 SettingsChanger& changer, AuditLog& audit)
    : host_(host),
      networks_(std::move(networks)),
      changer_(changer),
      audit_(audit),
      sessions_(config.session_idle_ms, config.session_max_ms, NowMs) {
  auto& stats = host_.Stats();
  const char* help = "Admin console sign-ins: ok, refused (not an administrator), failed (state, code, tokens).";
  signins_ok_ = &stats.GetCounter("palaver_admin_signins_total", help, {{"result", "ok"}});
  signins_refused_ = &stats.GetCounter("palaver_admin_signins_total", help, {{"result", "refused"}});
  signins_failed_ = &stats.GetCounter("palaver_admin_signins_total", help, {{"result", "failed"}});
  forms_refused_ = &stats.GetCounter("palaver_admin_forms_refused_total",
                                     "Console form posts refused for a missing or wrong CSRF token or a foreign origin.");
}

Status Console::Register() {
  sdk::Router& router = host_.Http();
  PALAVER_RETURN_IF_ERROR(router.Add({.methods = {"GET"}, .path = "/admin", .route_class = "admin"},
                                     [](const sdk::Request&, sdk::Responder respond) {
                                       respond(sdk::Response::Redirect(301, "/admin/"));
                                     }));
  return router.Add({.methods = {"GET", "POST"}, .path = "/admin/", .match = sdk::Match::kPrefix,
                     .max_body_bytes = 64 * 1024, .route_class = "admin"},
                    [this](const sdk::Request& req, sdk::Responder respond) { Handle(req, respond); });
}

Result<Console::Provider> Console::DiscoverProvider() {
  {
    std::lock_guard lock(provider_mu_);
    if (provider_) return *provider_;
  }
  const auto& info = host_.Info();
  auto runtime = ReadRuntime(info.state_dir.string());
  LoopbackTarget target{.port = info.https_port,
                        .host_name = info.hostnames.empty() ? "localhost" : info.hostnames.front(),
                        .ca_file = runtime ? runtime->second : ""};
  auto fetched = LoopbackRequest(target, "GET", "/.well-known/openid-configuration", {}, "");
  if (!fetched) {
    return Fail(ErrorCode::kUnavailable, fetched.error().message, "the sign-in service is not available");
  }
  auto& resp = *fetched;
  if (resp.status != 200) {
    return Fail(ErrorCode::kUnavailable, "discovery answered " + std::to_string(resp.status),
                "the sign-in service is not available");
  }
  try {
    Poco::JSON::Parser parser;
    auto o = parser.parse(resp.body).extract<Poco::JSON::Object::Ptr>();
    Provider p{.issuer = o->getValue<std::string>("issuer"),
               .authorization_endpoint = o->getValue<std::string>("authorization_endpoint"),
               .token_endpoint = o->getValue<std::string>("token_endpoint")};
    std::lock_guard lock(provider_mu_);
    provider_ = p;
    return p;
  } catch (const Poco::Exception& e) {
    return Fail(ErrorCode::kUnavailable, "bad discovery document: " + e.displayText(),
                "the sign-in service is not available");
  }
}

bool AdminNetworkAllows(const std::vector<sdk::Cidr>& allowed, const std::string& peer) {
  return allowed.empty() || sdk::AnyContains(allowed, peer);
}

void Console::Handle(const sdk::Request& req, const sdk::Responder& respond) {
  Lang lang = PickLanguage(req.Header("accept-language").value_or(""));
  if (!networks_->Allows(req.peer)) {
    // Before anything else, sign-in included: from elsewhere the console does not exist.
    Frame f{.title = Text(lang, "network_title")};
    mstch::map c{{"lead", Text(lang, "network_lead", {req.peer})}, {"link_href", std::string("/")},
                 {"link_label", Text(lang, "back_home")}};
    return respond(PageResponse(lang, "message", c, f, 403));
  }
  if (req.path == "/admin/assets/admin.css" || req.path == "/admin/assets/admin.js") {
    bool css = req.path.back() == 's' && req.path[req.path.size() - 2] == 's';
    sdk::Response r;
    r.body = AdminAssets().at(css ? "admin.css" : "admin.js");
    r.SetHeader("content-type", css ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8");
    AddConsoleHeaders(r);
    r.SetHeader("cache-control", "no-cache");
    return respond(std::move(r));
  }
  if (req.path == "/admin/signin" && req.method == "GET") return BeginSignin(req, respond);
  if (req.path == "/admin/oidc/callback" && req.method == "GET") return Callback(req, respond);

  auto cookie = Cookie(req, kSessionCookie);
  auto session = cookie ? sessions_.Touch(*cookie) : std::nullopt;
  if (!session) {
    // A page's redirect leaves an unknown cookie alone (the sign-in replaces it).
    return respond(NoSession(req, lang, cookie.has_value() && !IsPageRequest(req)));
  }
  sdk::FormParams form;
  if (req.method == "POST") {
    auto parsed = sdk::ParseForm(req.body);
    if (parsed) form = *parsed;
    bool token_ok = parsed && SecretEquals(sdk::FormValue(form, "csrf"), session->csrf);
    if (!SameOrigin(req) || !token_ok) {
      forms_refused_->Inc();
      host_.Logger()->warn("admin form refused user={} client={} path={} reason={}", session->username, req.peer,
                           req.path, token_ok ? "origin" : "csrf");
      Frame f{.title = Text(lang, "refused_title")};
      mstch::map c{{"lead", Text(lang, "csrf_failed")}, {"link_href", std::string("/admin/")},
                   {"link_label", Text(lang, "back")}};
      return respond(PageResponse(lang, "message", c, f, 403));
    }
    if (req.path == "/admin/signout") {
      sessions_.Remove(session->id);
      auto r = Redirect("/admin/signin?signed_out=1");
      r.SetHeader("set-cookie", SetCookie(kSessionCookie, "", "Strict", 0));
      return respond(std::move(r));
    }
  }
  // The user's standing is the directory's: checked on every request, so a revoked admin flag or
  // a disabled account ends console access at once.
  host_.Pool().Submit(
      [this, req, lang, s = *session, form = std::move(form), respond]() mutable {
        auto directory = host_.Registry().Find<sdk::UserDirectory>();
        auto user = directory ? directory->GetById(s.user_id) : Result<sdk::DirectoryUser>(tl::unexpected(Error{}));
        if (!user || !user->enabled || !user->is_admin) {
          sessions_.Remove(s.id);
          Frame f{.title = Text(lang, "forbidden_title")};
          mstch::map c{{"lead", Text(lang, "forbidden_lead", {s.username})},
                       {"link_href", std::string("/admin/signin?prompt=login")},
                       {"link_label", Text(lang, "signin_other")}};
          auto r = PageResponse(lang, "message", c, f, 403);
          r.SetHeader("set-cookie", SetCookie(kSessionCookie, "", "Strict", 0));
          return respond(std::move(r));
        }
        // The user's sessions were ended since this sign-in (a password change, by anyone, in
        // the console or with `palaverd user passwd`): this one ends too, as every sign-in
        // session and access token of the user does. Signing in again starts a new one.
        auto standing = directory->Standing(s.user_id);
        if (!standing || standing->session_epoch > s.session_epoch) {
          sessions_.Remove(s.id);
          host_.Logger()->info("admin session ended user={} client={} reason={}", s.username, req.peer,
                               standing ? "sessions_ended" : "standing_unavailable");
          return respond(NoSession(req, lang, true));
        }
        Ctx ctx{req, lang, s, *user, std::move(form)};
        try {
          respond(Dispatch(ctx));
        } catch (const std::exception& e) {
          host_.Logger()->error("admin page failed path={} err={}", req.path, e.what());
          respond(Message(ctx, 500, "error_title", Text(lang, "error_lead", {"internal error"}), "/admin/",
                          Text(lang, "back")));
        }
      },
      nullptr);
}

void Console::BeginSignin(const sdk::Request& req, const sdk::Responder& respond) {
  host_.Pool().Submit(
      [this, req, respond] {
        Lang lang = PickLanguage(req.Header("accept-language").value_or(""));
        auto provider = DiscoverProvider();
        if (!provider) {
          host_.Logger()->warn("admin sign-in: provider unavailable err={}", provider.error().message);
          Frame f{.title = Text(lang, "signin_failed_title")};
          mstch::map c{{"lead", Text(lang, "signin_failed_lead", {provider.error().public_message})}};
          return respond(PageResponse(lang, "message", c, f, 503));
        }
        auto pending = sessions_.BeginSignin(SafeReturn(req.QueryParam("return").value_or("/admin/")));
        std::string challenge = sdk::Base64UrlEncode(Sha256(pending.verifier));
        sdk::FormParams q{{"client_id", ClientId(*provider)},
                          {"redirect_uri", provider->issuer + "/admin/oidc/callback"},
                          {"response_type", "code"},
                          {"scope", "openid profile"},
                          {"state", pending.state},
                          {"nonce", pending.nonce},
                          {"code_challenge", challenge},
                          {"code_challenge_method", "S256"}};
        if (req.QueryParam("prompt").value_or("") == "login") q.emplace_back("prompt", "select_account");
        auto r = Redirect(provider->authorization_endpoint + "?" + sdk::EncodeForm(q));
        r.SetHeader("set-cookie", SetCookie(kSigninCookie, pending.state, "Lax", 600));
        respond(std::move(r));
      },
      nullptr);
}

void Console::Callback(const sdk::Request& req, const sdk::Responder& respond) {
  Lang lang = PickLanguage(req.Header("accept-language").value_or(""));
  auto fail = [lang, failed = signins_failed_](const std::string& why, int status) {
    failed->Inc();
    Frame f{.title = Text(lang, "signin_failed_title")};
    mstch::map c{{"lead", Text(lang, "signin_failed_lead", {why})}, {"link_href", std::string("/admin/signin")},
                 {"link_label", Text(lang, "signin_again")}};
    auto r = PageResponse(lang, "message", c, f, status);
    r.SetHeader("set-cookie", SetCookie(kSigninCookie, "", "Lax", 0));
    return r;
  };
  std::string state = req.QueryParam("state").value_or("");
  auto bound = Cookie(req, kSigninCookie);
  // The state must be the one this browser started with (no sign-in CSRF), and unused.
  if (state.empty() || !bound || !SecretEquals(*bound, state)) return respond(fail("state", 400));
  auto pending = sessions_.TakeSignin(state);
  if (!pending) return respond(fail("state", 400));
  if (auto error = req.QueryParam("error")) return respond(fail(*error, 400));
  std::string code = req.QueryParam("code").value_or("");
  if (code.empty()) return respond(fail("code", 400));
  host_.Pool().Submit(
      [this, req, code, p = *pending, fail, respond] {
        auto provider = DiscoverProvider();
        if (!provider) return respond(fail(provider.error().public_message, 503));
        const auto& info = host_.Info();
        auto runtime = ReadRuntime(info.state_dir.string());
        LoopbackTarget target{.port = info.https_port,
                              .host_name = info.hostnames.empty() ? "localhost" : info.hostnames.front(),
                              .ca_file = runtime ? runtime->second : ""};
        std::string token_path = "/konnect/v1/token";
        try {
          token_path = Poco::URI(provider->token_endpoint).getPathEtc();
        } catch (const Poco::Exception&) {
        }
        std::string client_id = ClientId(*provider);
        std::string body = sdk::EncodeForm({{"grant_type", "authorization_code"},
                                            {"code", code},
                                            {"redirect_uri", provider->issuer + "/admin/oidc/callback"},
                                            {"client_id", client_id},
                                            {"code_verifier", p.verifier}});
        auto resp = LoopbackRequest(target, "POST", token_path,
                                    {{"Content-Type", "application/x-www-form-urlencoded"}}, body);
        if (!resp || resp->status != 200) {
          host_.Logger()->warn("admin sign-in: code exchange failed status={} err={}", resp ? resp->status : 0,
                               resp ? "" : resp.error().message);
          return respond(fail("token", 502));
        }
        std::string id_token, access_token;
        try {
          Poco::JSON::Parser parser;
          auto o = parser.parse(resp->body).extract<Poco::JSON::Object::Ptr>();
          id_token = o->optValue<std::string>("id_token", "");
          access_token = o->optValue<std::string>("access_token", "");
        } catch (const Poco::Exception&) {
          return respond(fail("token", 502));
        }
        // The tokens are checked as any relying party would: our provider's signature, audience,
        // nonce; then the user's standing in the directory.
        auto verifier = host_.Registry().Find<sdk::TokenVerifier>();
        auto directory = host_.Registry().Find<sdk::UserDirectory>();
        if (!verifier || !directory) return respond(fail("no provider", 503));
        auto idt = verifier->VerifyIdToken(id_token, client_id);
        if (!idt) return respond(fail("id_token", 502));
        try {
          Poco::JSON::Parser parser;
          auto claims = parser.parse(idt->raw_claims).extract<Poco::JSON::Object::Ptr>();
          if (claims->optValue<std::string>("nonce", "") != p.nonce) return respond(fail("nonce", 502));
        } catch (const Poco::Exception&) {
          return respond(fail("id_token", 502));
        }
        auto at = verifier->VerifyActiveAccessToken(access_token);
        if (!at || at->guest || at->external || at->user_id.empty()) return respond(fail("access_token", 403));
        auto user = directory->GetById(at->user_id);
        Lang lang = PickLanguage(req.Header("accept-language").value_or(""));
        if (!user || !user->enabled || !user->is_admin) {
          signins_refused_->Inc();
          host_.Logger()->info("admin sign-in refused user={} client={} reason=not_admin", at->username, req.peer);
          Frame f{.title = Text(lang, "forbidden_title")};
          mstch::map c{{"lead", Text(lang, "forbidden_lead", {user ? user->username : at->username})},
                       {"link_href", std::string("/admin/signin?prompt=login")},
                       {"link_label", Text(lang, "signin_other")}};
          auto r = PageResponse(lang, "message", c, f, 403);
          r.SetHeader("set-cookie", SetCookie(kSigninCookie, "", "Lax", 0));
          return respond(std::move(r));
        }
        auto s = sessions_.Create(user->id, user->username, user->display_name, at->session_epoch);
        signins_ok_->Inc();
        host_.Logger()->info("admin signed in user={} client={}", user->username, req.peer);
        auto r = Redirect(p.return_to);
        r.SetHeader("set-cookie", SetCookie(kSessionCookie, s.id, "Strict", -1));
        r.headers.emplace_back("set-cookie", SetCookie(kSigninCookie, "", "Lax", 0));
        respond(std::move(r));
      },
      nullptr);
}

sdk::Response Console::Message(Ctx& ctx, int status, const std::string& title_key, const std::string& lead,
                               const std::string& link_href, const std::string& link_label) {
  mstch::map c{{"lead", lead}, {"link_href", link_href}, {"link_label", link_label}};
  return PageResponse(ctx.lang, "message", c, ctx.MakeFrame(Text(ctx.lang, title_key), ""), status);
}

sdk::Response Console::Dispatch(Ctx& ctx) {
  const std::string& path = ctx.req.path;
  bool get = ctx.req.method == "GET" || ctx.req.method == "HEAD";
  if (path == "/admin/" && get) return Redirect("/admin/guests");
  if (path == "/admin/guests") return Guests(ctx);
  if (path == "/admin/guests/preview" && get) return GuestsPreview(ctx);
  if (path == "/admin/media") return Media(ctx);
  if (path == "/admin/branding") return Branding(ctx);
  if (path == "/admin/turn") return Turn(ctx);
  if (path == "/admin/status" && get) return StatusPage(ctx, false);
  if (path == "/admin/status.json" && get) return StatusPage(ctx, true);
  if (path == "/admin/audit" && get) return Audit(ctx, false);
  if (path == "/admin/audit.csv" && get) return Audit(ctx, true);
  if (path == "/admin/users") return Users(ctx);
  if (path == "/admin/certificates" && get) return Certificates(ctx);
  if (path == "/admin/certificates/ca.crt" && get) {
    auto certs = host_.Registry().Find<sdk::CertificateProvider>();
    std::string anchor = certs ? certs->TrustAnchorPath() : "";
    std::ifstream in(anchor);
    std::stringstream pem;
    if (!anchor.empty() && in) pem << in.rdbuf();
    if (pem.str().empty()) {
      return Message(ctx, 404, "not_found_title", Text(ctx.lang, "no_local_ca"), "/admin/certificates",
                     Text(ctx.lang, "back"));
    }
    sdk::Response r;
    r.body = pem.str();
    r.SetHeader("content-type", "application/x-pem-file");
    r.SetHeader("content-disposition", "attachment; filename=\"palaver-local-ca.crt\"");
    AddConsoleHeaders(r);
    return r;
  }
  return Message(ctx, 404, "not_found_title", Text(ctx.lang, "not_found_lead"), "/admin/", Text(ctx.lang, "back"));
}

sdk::Response Console::Guests(Ctx& ctx) {
  auto& settings = host_.Policy();
  Lang lang = ctx.lang;
  bool post = ctx.req.method == "POST";
  std::string action = ctx.Field("action");
  bool enabled = post ? ctx.Checked("guests_enabled") : settings.GetBool(kGuestsEnabled, false);
  bool guest_only = post ? ctx.Checked("guest_only_rooms") : settings.GetBool(kGuestOnlyRooms, false);
  bool by_default = post ? ctx.Checked("guests_default") : settings.GetBool(kGuestsDefault, false);
  std::string regexp = post ? ctx.Field("public_regexp") : settings.GetString(kPublicRegexp, "");
  std::string style = post ? ctx.Field("name_style") : settings.GetString(kGuestNameStyle, "prefixed");
  std::string names = post ? ctx.Field("preview_names") : "group/public/team\ngroup/sales\nconference/public/all-hands";
  Frame frame = ctx.MakeFrame(Text(lang, "nav_guests"), "guests");
  int status = 200;
  auto problem = RegexpProblem(regexp);
  if (post && action == "save") {
    if (problem) {
      frame.error = Text(lang, "not_saved", {Text(lang, "regexp_invalid", {*problem})});
      status = 400;
    } else {
      bool was_enabled = settings.GetBool(kGuestsEnabled, false);
      int64_t live_guests = 0;
      if (auto hs = host_.Registry().Find<sdk::HostStatus>()) {
        for (const auto& m : hs->Modules()) {
          if (m.id == "signaling" && m.started) live_guests = std::atoll(DetailValue(m.health.detail, "guests").c_str());
        }
      }
      // Turning guests off while guests are in calls asks first, saying what it does.
      if (was_enabled && !enabled && live_guests > 0 && ctx.Field("confirm") != "yes") {
        mstch::array fields;
        for (const auto& [k, v] : ctx.form) {
          if (k != "csrf" && k != "action" && k != "confirm") fields.emplace_back(mstch::map{{"name", k}, {"value", v}});
        }
        mstch::map c{{"lead", Text(lang, "confirm_guests_lead", {std::to_string(live_guests)})},
                     {"action", std::string("/admin/guests")}, {"fields", fields},
                     {"confirm_label", Text(lang, "confirm_guests_button")},
                     {"cancel_href", std::string("/admin/guests")}};
        return PageResponse(lang, "confirm", c, ctx.MakeFrame(Text(lang, "confirm_guests_title"), "guests"));
      }
      status = Save(ctx, frame, {{kGuestsEnabled, enabled},
                                 {kPublicRegexp, regexp},
                                 {kGuestOnlyRooms, guest_only},
                                 {kGuestsDefault, by_default},
                                 {kGuestNameStyle, style}});
    }
  }
  mstch::array rows;
  if (!problem) {
    for (const auto& n : PreviewNames(names)) rows.emplace_back(mstch::map{{"name", n}, {"match", RoomMatches(regexp, n)}});
  } else if (!post || action != "save") {
    frame.error = Text(lang, "regexp_invalid", {*problem});
  }
  mstch::map c{{"guests_enabled", enabled},
               {"guest_only_rooms", guest_only},
               {"guests_default", by_default},
               {"style_prefixed", style == "prefixed"},
               {"style_plain", style == "plain"},
               {"style_random", style == "random"},
               {"public_regexp", regexp},
               {"regexp_invalid", problem.has_value()},
               {"preview_names", names},
               {"preview", !rows.empty()},
               {"rows", rows}};
  return PageResponse(lang, "guests", c, frame, status);
}

sdk::Response Console::GuestsPreview(Ctx& ctx) {
  std::string regexp = ctx.req.QueryParam("regexp").value_or("");
  std::string names = ctx.req.QueryParam("names").value_or("");
  if (auto problem = RegexpProblem(regexp)) {
    return JsonResponse(200, "{\"valid\":false,\"error\":\"" +
                                 sdk::JsonEscape(Text(ctx.lang, "regexp_invalid", {*problem})) + "\",\"rows\":[]}");
  }
  std::string rows;
  for (const auto& n : PreviewNames(names)) {
    bool match = RoomMatches(regexp, n);
    rows += std::string(rows.empty() ? "" : ",") + "{\"name\":\"" + sdk::JsonEscape(n) + "\",\"match\":" +
            (match ? "true" : "false") + ",\"label\":\"" +
            sdk::JsonEscape(Text(ctx.lang, match ? "preview_match" : "preview_nomatch")) + "\"}";
  }
  return JsonResponse(200, "{\"valid\":true,\"rows\":[" + rows + "]}");
}

sdk::Response Console::Media(Ctx& ctx) {
  auto& settings = host_.Policy();
  Lang lang = ctx.lang;
  bool post = ctx.req.method == "POST";
  Frame frame = ctx.MakeFrame(Text(lang, "nav_media"), "media");
  int status = 200;
  bool screenshare = post ? ctx.Checked("screenshare_enabled") : settings.GetBool(kScreenshare, true);
  bool audio_only = post ? ctx.Checked("guests_audio_only") : settings.GetBool(kGuestsAudioOnly, false);
  bool talking = post ? ctx.Checked("talking_detection") : !settings.GetBool(kNoTalkingDetection, false);
  std::string camera = post ? ctx.Field("camera_bitrate") : std::to_string(settings.GetInt(kCameraBitrate, 1000));
  std::string screen = post ? ctx.Field("screenshare_bitrate") : std::to_string(settings.GetInt(kScreenBitrate, 2500));
  if (post && ctx.Field("action") == "save") {
    std::string problem;
    std::vector<std::pair<std::string, sdk::SettingValue>> changes{
        {kScreenshare, screenshare}, {kGuestsAudioOnly, audio_only}, {kNoTalkingDetection, !talking}};
    for (auto [key, text, label] : {std::tuple{kCameraBitrate, camera, "camera_bitrate"},
                                    std::tuple{kScreenBitrate, screen, "screenshare_bitrate"}}) {
      auto v = ParseTextValue(text, int64_t{0});
      if (!v || std::get<int64_t>(*v) < kMinBitrate || std::get<int64_t>(*v) > kMaxBitrate) {
        if (problem.empty()) {
          problem = Text(lang, "bitrate_invalid",
                         {Text(lang, label), std::to_string(kMinBitrate), std::to_string(kMaxBitrate)});
        }
        continue;
      }
      changes.emplace_back(key, *v);
    }
    if (!problem.empty()) {
      frame.error = Text(lang, "not_saved", {problem});
      status = 400;
    } else {
      status = Save(ctx, frame, changes);
    }
  }
  mstch::map c{{"screenshare_enabled", screenshare},
               {"guests_audio_only", audio_only},
               {"talking_detection", talking},
               {"camera_bitrate", camera},
               {"screenshare_bitrate", screen},
               {"min_bitrate", std::to_string(kMinBitrate)},
               {"max_bitrate", std::to_string(kMaxBitrate)},
               {"t_bitrate_help", Text(lang, "bitrate_help", {std::to_string(kMinBitrate), std::to_string(kMaxBitrate)})}};
  return PageResponse(lang, "media", c, frame, status);
}

int Console::Save(Ctx& ctx, Frame& frame, const std::vector<std::pair<std::string, sdk::SettingValue>>& changes,
                  const char* reason_key) {
  auto st = changer_.Change(ctx.Who(), changes);
  if (st) {
    frame.notice = Text(ctx.lang, "saved");
    return 200;
  }
  std::string reason = st.error().public_message;
  if (reason_key != nullptr) reason = Text(ctx.lang, reason_key, {reason});
  frame.error = Text(ctx.lang, "not_saved", {reason});
  return st.error().code == ErrorCode::kInvalidArgument ? 400 : 500;
}

sdk::Response Console::Branding(Ctx& ctx) {
  auto& settings = host_.Policy();
  Lang lang = ctx.lang;
  bool post = ctx.req.method == "POST";
  Frame frame = ctx.MakeFrame(Text(lang, "nav_branding"), "branding");
  int status = 200;
  std::string title = post ? ctx.Field("app_title") : settings.GetString(kAppTitle, "");
  std::string logo = post ? ctx.Field("logo_url") : settings.GetString(kLogoUrl, "");
  std::string apps = post ? ctx.Field("apps") : settings.GetString(kApps, "");
  if (post && ctx.Field("action") == "save") {
    // The web module's setting specs validate each value; their reason is shown after a
    // translated lead.
    status = Save(ctx, frame, {{kAppTitle, title}, {kLogoUrl, logo}, {kApps, apps}}, "branding_invalid");
  }
  mstch::map c{{"app_title", title}, {"logo_url", logo}, {"apps", apps}};
  return PageResponse(lang, "branding", c, frame, status);
}

sdk::Response Console::StatusPage(Ctx& ctx, bool json) {
  Lang lang = ctx.lang;
  auto hs = host_.Registry().Find<sdk::HostStatus>();
  std::vector<sdk::ModuleStatus> modules = hs ? hs->Modules() : std::vector<sdk::ModuleStatus>{};
  std::vector<sdk::LogEntry> warnings = hs ? hs->RecentWarnings() : std::vector<sdk::LogEntry>{};
  std::string rooms = Text(lang, "rooms_unknown");
  for (const auto& m : modules) {
    if (m.id == "signaling" && m.started) {
      rooms = Text(lang, "rooms_summary",
                   {DetailValue(m.health.detail, "connections"), DetailValue(m.health.detail, "users"),
                    DetailValue(m.health.detail, "channels"), DetailValue(m.health.detail, "guests")});
    }
  }
  std::string updated = UtcTime(NowMs()) + " UTC";
  // Who is in which call: the hub lives on the net loop, so ask there and wait briefly (worker).
  std::vector<signaling::LiveRoom> live;
  if (auto lr = host_.Registry().Find<signaling::LiveRooms>()) {
    auto promise = std::make_shared<std::promise<std::vector<signaling::LiveRoom>>>();
    auto future = promise->get_future();
    lr->Snapshot([promise](std::vector<signaling::LiveRoom> rooms) { promise->set_value(std::move(rooms)); });
    if (future.wait_for(std::chrono::seconds(2)) == std::future_status::ready) live = future.get();
  }
  auto room_name = [lang](const signaling::LiveRoom& r) { return r.group.empty() ? Text(lang, "call_1to1") : r.group; };
  // Newest first, at most 30.
  std::vector<sdk::LogEntry> recent(warnings.rbegin(), warnings.rend());
  if (recent.size() > 30) recent.resize(30);
  if (json) {
    std::string out = "{\"updated\":\"" + updated + "\",\"rooms_summary\":\"" + sdk::JsonEscape(rooms) +
                      "\",\"no_warnings\":\"" + sdk::JsonEscape(Text(lang, "no_warnings")) + "\",\"modules\":[";
    bool first = true;
    for (const auto& m : modules) {
      std::string key = HealthKey(m.health.state, m.started);
      out += std::string(first ? "" : ",") + "{\"id\":\"" + sdk::JsonEscape(m.id) + "\",\"state\":\"" + key +
             "\",\"state_label\":\"" + sdk::JsonEscape(Text(lang, "state_" + key)) + "\",\"detail\":\"" +
             sdk::JsonEscape(m.health.detail) + "\"}";
      first = false;
    }
    out += "],\"guest_label\":\"" + sdk::JsonEscape(Text(lang, "guest_label")) + "\",\"no_rooms\":\"" +
           sdk::JsonEscape(Text(lang, "no_rooms")) + "\",\"rooms\":[";
    first = true;
    for (const auto& r : live) {
      out += std::string(first ? "" : ",") + "{\"name\":\"" + sdk::JsonEscape(room_name(r)) + "\",\"people\":[";
      bool first_person = true;
      for (const auto& p : r.participants) {
        out += std::string(first_person ? "" : ",") + "{\"name\":\"" + sdk::JsonEscape(p.name) +
               "\",\"guest\":" + (p.guest ? "true" : "false") + "}";
        first_person = false;
      }
      out += "]}";
      first = false;
    }
    out += "],\"warnings\":[";
    first = true;
    for (const auto& w : recent) {
      out += std::string(first ? "" : ",") + "{\"time\":\"" + UtcTime(w.unix_ms) + "\",\"level\":\"" +
             sdk::JsonEscape(w.level) + "\",\"logger\":\"" + sdk::JsonEscape(w.logger) + "\",\"message\":\"" +
             sdk::JsonEscape(w.message) + "\"}";
      first = false;
    }
    return JsonResponse(200, out + "]}");
  }
  mstch::array mods;
  for (const auto& m : modules) {
    std::string key = HealthKey(m.health.state, m.started);
    mods.emplace_back(mstch::map{{"id", m.id}, {"state", key}, {"state_label", Text(lang, "state_" + key)},
                                 {"detail", m.health.detail}});
  }
  mstch::array warns;
  for (const auto& w : recent) {
    warns.emplace_back(mstch::map{{"time", UtcTime(w.unix_ms)}, {"level", w.level}, {"logger", w.logger},
                                  {"message", w.message}});
  }
  mstch::array room_rows;
  for (const auto& r : live) {
    mstch::array people;
    for (const auto& p : r.participants) people.emplace_back(mstch::map{{"name", p.name}, {"guest", p.guest}});
    room_rows.emplace_back(mstch::map{{"name", room_name(r)}, {"people", people}});
  }
  mstch::map c{{"modules", mods}, {"warnings", warns}, {"rooms_summary", rooms}, {"updated", updated},
               {"rooms", room_rows}};
  return PageResponse(lang, "status", c, ctx.MakeFrame(Text(lang, "nav_status"), "status"));
}

sdk::Response Console::Audit(Ctx& ctx, bool csv) {
  std::string q = ctx.req.QueryParam("q").value_or("");
  auto entries = audit_.Search(q, csv ? 100000 : 200);
  if (!entries) {
    return Message(ctx, 503, "error_title", Text(ctx.lang, "error_lead", {entries.error().public_message}), "/admin/",
                   Text(ctx.lang, "back"));
  }
  if (csv) {
    sdk::Response r;
    r.body = AuditCsv(*entries);
    r.SetHeader("content-type", "text/csv; charset=utf-8");
    r.SetHeader("content-disposition", "attachment; filename=\"palaver-audit.csv\"");
    AddConsoleHeaders(r);
    return r;
  }
  mstch::array rows;
  for (const auto& e : *entries) {
    rows.emplace_back(mstch::map{{"when", UtcTime(e.at_ms)}, {"actor", e.actor}, {"source", e.source},
                                 {"action", e.action}, {"target", e.target}, {"old_value", e.old_value},
                                 {"new_value", e.new_value}});
  }
  mstch::map c{{"entries", rows}, {"q", q}, {"q_encoded", sdk::PercentEncode(q)}};
  return PageResponse(ctx.lang, "audit", c, ctx.MakeFrame(Text(ctx.lang, "nav_audit"), "audit"));
}

sdk::Response Console::Users(Ctx& ctx) {
  Lang lang = ctx.lang;
  auto users = host_.Registry().Find<sdk::UserAdmin>();
  if (!users) {
    return Message(ctx, 503, "nav_users", Text(lang, "users_unavailable"), "/admin/", Text(lang, "back"));
  }
  bool readonly = users->ReadOnly();
  Frame frame = ctx.MakeFrame(Text(lang, "nav_users"), "users");
  int status = 200;
  std::string password, password_title;
  std::string new_username, new_display_name, new_mail;
  auto audit = [&](const std::string& action, const std::string& target, const std::string& old_value,
                   const std::string& new_value) {
    auto st = audit_.Record(AuditEntry{.at_ms = NowMs(), .actor = ctx.admin.username, .source = ctx.req.peer,
                                       .action = action, .target = target, .old_value = old_value,
                                       .new_value = new_value});
    if (!st) host_.Logger()->error("audit log write failed action={} err={}", action, st.error().message);
    host_.Logger()->info("admin action={} target={} by={} client={}", action, target, ctx.admin.username, ctx.req.peer);
  };
  if (ctx.req.method == "POST" && readonly) {
    frame.error = Text(lang, "not_saved", {Text(lang, "users_readonly")});
    status = 409;
  } else if (ctx.req.method == "POST") {
    // A confirmed action comes back from the confirmation page as `do`.
    std::string action = ctx.Field("confirm") == "yes" && !ctx.Field("do").empty() ? ctx.Field("do") : ctx.Field("action");
    std::string name = ctx.Field("username");
    Status st;
    if (action == "create") {
      new_username = ctx.Field("new_username");
      new_display_name = ctx.Field("new_display_name");
      new_mail = ctx.Field("new_mail");
      std::string generated = sdk::RandomToken(18);
      auto created = users->Create(sdk::NewDirectoryUser{.username = new_username, .display_name = new_display_name,
                                                         .mail = new_mail, .is_admin = ctx.Checked("new_admin")},
                                   generated);
      if (created) {
        audit("user.create", created->username, "", created->is_admin ? "admin" : "user");
        password = generated;
        password_title = Text(lang, "password_once", {created->username});
        frame.notice = Text(lang, "user_done", {Text(lang, "create") + " " + created->username});
        new_username.clear();
        new_display_name.clear();
        new_mail.clear();
      } else {
        st = tl::unexpected(created.error());
      }
    } else {
      auto target = users->List("");
      const sdk::DirectoryUser* user = nullptr;
      if (target) {
        for (const auto& u : *target) {
          if (u.username == name) user = &u;
        }
      }
      if (user == nullptr) {
        st = Fail(ErrorCode::kNotFound, "no user " + name, "no such user");
      } else if (user->id == ctx.admin.id && (action == "disable" || action == "delete" || action == "revoke")) {
        st = Fail(ErrorCode::kFailedPrecondition, "self", Text(lang, "self_refused"));
      } else if ((action == "delete" || action == "reset" || action == "disable" || action == "revoke") &&
                 ctx.Field("confirm") != "yes") {
        // Dangerous actions ask first and say what they will do.
        std::string key = action == "delete" ? "delete" : action == "reset" ? "reset" : action == "disable" ? "disable" : "revoke";
        std::string button = action == "delete"   ? Text(lang, "delete")
                             : action == "reset"  ? Text(lang, "reset_password")
                             : action == "disable" ? Text(lang, "disable")
                                                   : Text(lang, "revoke_admin");
        mstch::array fields{mstch::map{{"name", std::string("username")}, {"value", name}},
                            mstch::map{{"name", std::string("do")}, {"value", action}}};
        mstch::map c{{"lead", Text(lang, "confirm_" + key + "_lead", {name})},
                     {"action", std::string("/admin/users")}, {"fields", fields}, {"confirm_label", button},
                     {"cancel_href", std::string("/admin/users")}};
        return PageResponse(lang, "confirm", c, ctx.MakeFrame(Text(lang, "confirm_" + key + "_title", {name}), "users"));
      } else if (action == "reset") {
        std::string generated = sdk::RandomToken(18);
        st = users->SetPassword(name, generated);
        if (st) {
          audit("user.reset_password", name, "", "");
          password = generated;
          password_title = Text(lang, "password_once", {name});
        }
      } else if (action == "disable" || action == "enable") {
        st = users->SetEnabled(name, action == "enable");
        if (st) audit("user." + action, name, user->enabled ? "enabled" : "disabled", action == "enable" ? "enabled" : "disabled");
      } else if (action == "grant" || action == "revoke") {
        st = users->SetAdmin(name, action == "grant");
        if (st) audit("user." + action + "_admin", name, user->is_admin ? "admin" : "user", action == "grant" ? "admin" : "user");
      } else if (action == "delete") {
        st = users->Remove(name);
        if (st) audit("user.delete", name, user->is_admin ? "admin" : "user", "");
      } else {
        st = Fail(ErrorCode::kInvalidArgument, "unknown action", "unknown action");
      }
      if (st && user != nullptr && (action == "disable" || action == "delete" || action == "revoke" || action == "reset")) {
        sessions_.RemoveUser(user->id);
      }
      if (st && frame.notice.empty()) frame.notice = Text(lang, "user_done", {name});
    }
    if (!st) {
      frame.error = Text(lang, "user_failed", {st.error().public_message.empty() ? st.error().message
                                                                                  : st.error().public_message});
      status = st.error().code == ErrorCode::kInternal || st.error().code == ErrorCode::kUnavailable ? 500 : 400;
    }
  }
  std::string q = ctx.req.QueryParam("q").value_or("");
  auto list = users->List(q);
  mstch::array rows;
  if (list) {
    for (const auto& u : *list) {
      rows.emplace_back(mstch::map{{"username", u.username}, {"display_name", u.display_name}, {"mail", u.mail},
                                   {"is_admin", u.is_admin}, {"enabled", u.enabled}, {"readonly", readonly},
                                   {"self", u.id == ctx.admin.id},
                                   {"csrf", ctx.session.csrf}});
    }
  } else if (frame.error.empty()) {
    frame.error = Text(lang, "error_lead", {list.error().public_message});
  }
  mstch::map c{{"users", rows},
               {"readonly", readonly},
               {"q", q},
               {"password", password},
               {"password_title", password_title},
               {"new_username", new_username},
               {"new_display_name", new_display_name},
               {"new_mail", new_mail}};
  auto r = PageResponse(lang, "users", c, frame, status);
  return r;
}

sdk::Response Console::Certificates(Ctx& ctx) {
  Lang lang = ctx.lang;
  auto certs = host_.Registry().Find<sdk::CertificateProvider>();
  mstch::array rows;
  int64_t now_s = NowMs() / 1000;
  if (certs) {
    std::vector<std::string> names = host_.Info().hostnames;
    if (names.empty()) names.push_back("");
    for (const auto& name : names) {
      auto id = certs->ForName(name);
      if (!id) continue;
      std::string issuer;
      if (id->leaf != nullptr) {
        char buf[512];
        X509_NAME_oneline(X509_get_issuer_name(id->leaf), buf, sizeof buf);
        issuer = buf;
      }
      int64_t expires_s =
          std::chrono::duration_cast<std::chrono::seconds>(id->not_after.time_since_epoch()).count();
      int64_t days = (expires_s - now_s) / 86400;
      std::string covers;
      for (const auto& n : id->names) covers += (covers.empty() ? "" : ", ") + n;
      std::string source_key = id->source == "local-ca" ? "source_local_ca" : id->source == "acme" ? "source_acme" : "source_files";
      rows.emplace_back(mstch::map{{"name", name.empty() ? std::string("—") : name},
                                   {"covers", covers},
                                   {"issuer", issuer},
                                   {"expires", UtcTime(expires_s * 1000)},
                                   {"days", Text(lang, "days_left", {std::to_string(days)})},
                                   {"soon", days < 14},
                                   {"source", Text(lang, source_key)}});
    }
  }
  bool local_ca = certs && !certs->TrustAnchorPath().empty();
  mstch::map c{{"certificates", rows}, {"local_ca", local_ca}};
  if (certs) {
    sdk::CertificateRenewal r = certs->Renewal();
    c.emplace("acme", r.acme);
    if (r.last_check_unix > 0) {
      c.emplace("renewal_last", Text(lang, r.last_ok ? "renewal_ok" : "renewal_failed",
                                     {UtcTime(r.last_check_unix * 1000), r.last_result}));
      c.emplace("renewal_failed", !r.last_ok);
      c.emplace("renewal_next", Text(lang, "renewal_next", {UtcTime(r.next_check_unix * 1000)}));
    } else {
      c.emplace("renewal_last", Text(lang, "renewal_none"));
    }
  }
  return PageResponse(lang, "certificates", c, ctx.MakeFrame(Text(lang, "nav_certificates"), "certificates"));
}

sdk::Response Console::Turn(Ctx& ctx) {
  Lang lang = ctx.lang;
  auto turn = host_.Registry().Find<sdk::TurnAdmin>();
  Frame frame = ctx.MakeFrame(Text(lang, "nav_turn"), "turn");
  int status = 200;
  if (turn && ctx.req.method == "POST") {
    std::string action = ctx.Field("action");
    int64_t ttl_min = (turn->Overview().credential_ttl_s + 59) / 60;
    if (action == "rotate") {
      mstch::map c{{"lead", Text(lang, "confirm_turn_lead", {std::to_string(ttl_min)})},
                   {"action", std::string("/admin/turn")}, {"fields", mstch::array{}},
                   {"confirm_label", Text(lang, "turn_rotate")}, {"cancel_href", std::string("/admin/turn")}};
      return PageResponse(lang, "confirm", c, ctx.MakeFrame(Text(lang, "confirm_turn_title"), "turn"));
    }
    if (action == "save" && ctx.Field("confirm") == "yes") {
      auto st = turn->RotateSecret();
      if (!st) {
        frame.error = Text(lang, "not_saved", {st.error().public_message});
        status = st.error().code == ErrorCode::kFailedPrecondition ? 409 : 500;
      } else {
        frame.notice = Text(lang, "turn_rotated");
        auto rec = audit_.Record(AuditEntry{.at_ms = NowMs(), .actor = ctx.admin.username, .source = ctx.req.peer,
                                            .action = "turn.rotate_secret", .target = "turn", .old_value = "",
                                            .new_value = ""});
        if (!rec) host_.Logger()->error("audit log write failed action=turn.rotate_secret err={}", rec.error().message);
        host_.Logger()->info("admin action=turn.rotate_secret by={} client={}", ctx.admin.username, ctx.req.peer);
      }
    }
  }
  mstch::map c{{"running", turn != nullptr}};
  if (turn) {
    sdk::TurnOverview o = turn->Overview();
    mstch::array listeners, uris;
    for (const auto& l : o.listeners) listeners.emplace_back(mstch::map{{"transport", l.transport}, {"address", l.address}});
    for (const auto& u : o.uris) uris.emplace_back(u);
    int64_t now_s = NowMs() / 1000;
    c.emplace("listeners", listeners);
    c.emplace("uris", uris);
    c.emplace("external", o.external_ips.empty() ? Text(lang, "turn_external_none") : o.external_ips);
    c.emplace("relay_ports", o.relay_ports);
    c.emplace("allocations", std::to_string(o.allocations));
    c.emplace("connections", std::to_string(o.connections));
    char mb[32];
    std::snprintf(mb, sizeof mb, "%.1f", static_cast<double>(o.relayed_bytes) / 1e6);
    c.emplace("traffic", Text(lang, "turn_traffic_value", {mb, std::to_string(o.relayed_packets)}));
    c.emplace("secret_age", Text(lang, "turn_secret_age", {UtcTime(o.secret_changed_unix * 1000),
                                                           std::to_string(std::max<int64_t>(0, now_s - o.secret_changed_unix) / 86400)}));
    c.emplace("previous_until", o.previous_secret_until_unix > 0
                                    ? Text(lang, "turn_previous_until", {UtcTime(o.previous_secret_until_unix * 1000)})
                                    : std::string());
    c.emplace("rotatable", o.secret_rotatable);
    c.emplace("not_rotatable", Text(lang, "turn_not_rotatable", {o.secret_file}));
  }
  return PageResponse(lang, "turn", c, frame, status);
}

}  // namespace palaver::admin
