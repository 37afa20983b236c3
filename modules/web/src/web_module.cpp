#include "palaver/web/web_module.hpp"

#include <sys/stat.h>

#include <fstream>
#include <mutex>
#include <sstream>

#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <spdlog/spdlog.h>

#include "config.hpp"
#include "file_cache.hpp"
#include "meet_config.hpp"
#include "palaver/sdk/host.hpp"
#include "palaver/signaling/guest_policy.hpp"
#include "static_files.hpp"

namespace palaver::web {
namespace {

constexpr const char* kMeetPrefix = "/meet/";

constexpr const char* kGuestsDefault = "web.guests_default";
constexpr const char* kNoTalkingDetection = "web.disable_remote_talking_detection";
constexpr const char* kScreenshare = "web.screenshare_enabled";
constexpr const char* kCameraBitrate = "web.camera_bitrate_kbps";
constexpr const char* kScreenBitrate = "web.screenshare_bitrate_kbps";
constexpr const char* kGuestsAudioOnly = "web.guests_audio_only";
constexpr const char* kAppTitle = "web.app_title";
constexpr const char* kLogoUrl = "web.logo_url";
constexpr const char* kApps = "web.apps";

std::string BitrateProblem(const sdk::SettingValue& v) {
  int64_t kbps = std::get<int64_t>(v);
  if (kbps < kMinBitrateKbps || kbps > kMaxBitrateKbps) {
    return "must be between " + std::to_string(kMinBitrateKbps) + " and " + std::to_string(kMaxBitrateKbps) +
           " kbit/s";
  }
  return "";
}

std::string LogoProblem(const sdk::SettingValue& v) {
  const auto& url = std::get<std::string>(v);
  return url.empty() ? "" : UrlProblem(url);
}

std::string AppsProblem(const sdk::SettingValue& v) {
  auto links = ParseAppLinks(std::get<std::string>(v));
  return links ? "" : links.error().message;
}

// The icon served at /favicon.ico when the installed app has none (webui/meet/favicon.ico).
constexpr unsigned char kDefaultIcon[] = {
    0x00, 0x00, 0x01, 0x00, 0x02, 0x00, 0x10, 0x10, 0x00, 0x00, 0x01, 0x00, 0x20, 0x00, 0x7e, 0x00, 0x00, 0x00, 0x26, 0x00,
    0x00, 0x00, 0x20, 0x20, 0x00, 0x00, 0x01, 0x00, 0x20, 0x00, 0xc1, 0x00, 0x00, 0x00, 0xa4, 0x00, 0x00, 0x00, 0x89, 0x50,
    0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
    0x00, 0x10, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0xf3, 0xff, 0x61, 0x00, 0x00, 0x00, 0x45, 0x49, 0x44, 0x41, 0x54, 0x78,
    0xda, 0x63, 0x60, 0xa0, 0x36, 0x90, 0xcf, 0xef, 0xfe, 0x8f, 0x0f, 0x53, 0xa4, 0x19, 0xaf, 0x21, 0xc4, 0x6a, 0xc6, 0x6a,
    0x08, 0xba, 0x24, 0x2e, 0x80, 0xd3, 0x10, 0x62, 0x34, 0x63, 0x33, 0x04, 0xc3, 0x00, 0x62, 0x01, 0xed, 0x0c, 0xa0, 0xd8,
    0x0b, 0x54, 0x31, 0x00, 0x9b, 0x61, 0x04, 0xa3, 0x92, 0xd4, 0x34, 0x40, 0x54, 0x5a, 0xa0, 0x69, 0x6a, 0xa4, 0x5d, 0x66,
    0x22, 0x07, 0x00, 0x00, 0xfe, 0xbb, 0xca, 0x80, 0xc8, 0xf2, 0x88, 0x31, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
    0xae, 0x42, 0x60, 0x82, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x20, 0x08, 0x06, 0x00, 0x00, 0x00, 0x73, 0x7a, 0x7a, 0xf4, 0x00, 0x00, 0x00,
    0x88, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0xed, 0x97, 0xc9, 0x0d, 0x80, 0x30, 0x0c, 0x04, 0xd3, 0x09, 0x25, 0x52, 0x08,
    0x45, 0xc3, 0x8b, 0x2f, 0x8c, 0x8f, 0x25, 0x1b, 0x89, 0x95, 0xf2, 0x44, 0x33, 0x0f, 0x64, 0xaf, 0xc7, 0x58, 0x29, 0xdb,
    0x7e, 0x9c, 0xe4, 0x4d, 0x81, 0x4a, 0x64, 0xaa, 0xf0, 0x92, 0x44, 0x17, 0x3c, 0x25, 0xd1, 0x0d, 0x0f, 0x49, 0xa8, 0xe0,
    0x48, 0x42, 0x0d, 0x7f, 0x94, 0xa0, 0x1f, 0xbf, 0x25, 0x2d, 0x51, 0x05, 0x47, 0x45, 0xb0, 0x40, 0x35, 0x48, 0x40, 0x05,
    0xc7, 0x12, 0x96, 0x02, 0xdd, 0x59, 0x4f, 0xe0, 0xff, 0x07, 0x2c, 0x04, 0x94, 0x73, 0x00, 0x0b, 0x64, 0x25, 0x42, 0xe3,
    0x98, 0x0a, 0x74, 0xee, 0x02, 0x3c, 0x0d, 0x6f, 0xa8, 0x7c, 0x23, 0x7e, 0xb5, 0x8a, 0x7d, 0x05, 0xa6, 0x17, 0x12, 0x8b,
    0x4a, 0x66, 0x51, 0x4a, 0x2d, 0x6a, 0xb9, 0xc5, 0x61, 0x62, 0x71, 0x9a, 0x59, 0x1c, 0xa7, 0xea, 0x5c, 0xf1, 0x36, 0x93,
    0x42, 0x3a, 0x6c, 0x00, 0x8f, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

// Loads the operator's overrides for config.json (a JSON object). Blocking.
Result<Poco::JSON::Object::Ptr> LoadMeetOverrides(const std::string& path) {
  if (path.empty()) return Poco::JSON::Object::Ptr(new Poco::JSON::Object);
  std::ifstream in(path);
  if (!in) return Fail(ErrorCode::kNotFound, "cannot read meet_config_file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    Poco::JSON::Parser parser;
    auto parsed = parser.parse(ss.str());
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) {
      return Fail(ErrorCode::kInvalidArgument, "meet_config_file " + path + " must hold a JSON object");
    }
    return parsed.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& e) {
    return Fail(ErrorCode::kInvalidArgument, "meet_config_file " + path + " is not valid JSON: " + e.displayText());
  }
}

class WebModule final : public sdk::Module {
 public:
  sdk::ModuleInfo Info() const override {
    return {.id = "web", .description = "Meet web app, security headers, Meet config endpoint", .depends_on = {}};
  }

  Status Configure(sdk::ConfigReader& section) override {
    pending_ = ParseWebConfig(section);
    return OkStatus();
  }

  void Preflight(const sdk::HostInfo& /*host*/, sdk::ConfigReader& section) override {
    struct stat st;
    if (::stat(pending_.root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      section.Reject("root", pending_.root + " is not a directory");
    }
    if (auto overrides = LoadMeetOverrides(pending_.meet_config_file); !overrides) {
      section.Reject("meet_config_file", overrides.error().message);
    }
  }

  Status Start(sdk::Host& host) override {
    host_ = &host;
    log_ = host.Logger();
    PALAVER_RETURN_IF_ERROR(Apply());
    PALAVER_RETURN_IF_ERROR(host.Policy().Define(
        {.key = kGuestsDefault, .default_value = false,
         .description = "Visitors of a public room link join as guests without #guest=1 in the link "
                        "(Meet's guests.default; only while guests are enabled)."}));
    PALAVER_RETURN_IF_ERROR(host.Policy().Define(
        {.key = kNoTalkingDetection, .default_value = false,
         .description = "Meet does not highlight who is talking among the other participants "
                        "(Meet's disableRemoteTalkingDetection)."}));
    PALAVER_RETURN_IF_ERROR(host.Policy().Define(
        {.key = kScreenshare, .default_value = true,
         .description = "Participants may share their screen (config.json disableScreenshare when off)."}));
    PALAVER_RETURN_IF_ERROR(host.Policy().Define(
        {.key = kCameraBitrate, .default_value = int64_t{1000},
         .description = "Highest camera send bitrate in kbit/s (config.json kwm.sdpParams.videoSendBitrate).",
         .validate = BitrateProblem}));
    PALAVER_RETURN_IF_ERROR(host.Policy().Define(
        {.key = kScreenBitrate, .default_value = int64_t{2500},
         .description = "Highest screen-share send bitrate in kbit/s "
                        "(config.json kwm.sdpParamsScreenshare.videoSendBitrate).",
         .validate = BitrateProblem}));
    PALAVER_RETURN_IF_ERROR(host.Policy().Define(
        {.key = kGuestsAudioOnly, .default_value = false,
         .description = "Guests join with audio only by default (config.json guests.defaultAudioOnly)."}));
    PALAVER_RETURN_IF_ERROR(host.Policy().Define(
        {.key = kAppTitle, .default_value = std::string(),
         .description = "The Meet app's title in its top bar and window (empty: Palaver Meet).",
         .validate = [](const sdk::SettingValue& v) { return TitleProblem(std::get<std::string>(v)); }}));
    PALAVER_RETURN_IF_ERROR(host.Policy().Define(
        {.key = kLogoUrl, .default_value = std::string(),
         .description = "The logo in the Meet app's top bar: an https:// URL or a path on this server "
                        "(empty: none).",
         .validate = LogoProblem}));
    PALAVER_RETURN_IF_ERROR(host.Policy().Define(
        {.key = kApps, .default_value = std::string(),
         .description = "Links in the Meet app's apps menu, one per line: Title | URL (https:// or a path; "
                        "at most 12; empty: no menu).",
         .validate = AppsProblem}));
    sdk::Router& router = host.Http();
    router.AddFilter([this](const sdk::Request& req, sdk::Response& resp) { AddSecurityHeaders(req, resp); });
    PALAVER_RETURN_IF_ERROR(router.Add({.methods = {"GET"}, .path = "/meet", .route_class = "web"},
                                       [](const sdk::Request&, sdk::Responder respond) {
                                         respond(sdk::Response::Redirect(301, "/meet/"));
                                       }));
    PALAVER_RETURN_IF_ERROR(router.Add({.methods = {"GET"}, .path = kMeetPrefix, .match = sdk::Match::kPrefix,
                                        .route_class = "web"},
                                       [this](const sdk::Request& req, sdk::Responder respond) {
                                         respond(ServeMeet(req));
                                       }));
    PALAVER_RETURN_IF_ERROR(router.Add(
        {.methods = {"GET"}, .path = "/api/config/v1/kopano/meet/config.json", .route_class = "config"},
        [this](const sdk::Request&, sdk::Responder respond) { respond(MeetConfig()); }));
    PALAVER_RETURN_IF_ERROR(router.Add({.methods = {"GET"}, .path = "/favicon.ico", .route_class = "web"},
                                       [this](const sdk::Request& req, sdk::Responder respond) {
                                         respond(Favicon(req));
                                       }));
    PALAVER_RETURN_IF_ERROR(router.Add({.methods = {"GET"}, .path = "/", .route_class = "web"},
                                       [this](const sdk::Request&, sdk::Responder respond) {
                                         if (!Snapshot()->config.redirect_root) {
                                           respond(sdk::Response::Text(404, "Not found.\n"));
                                           return;
                                         }
                                         respond(sdk::Response::Redirect(302, "/meet/"));
                                       }));
    log_->info("serving web apps root={}", pending_.root);
    return OkStatus();
  }

  Status Reload() override { return Apply(); }

  void Stop() override { host_ = nullptr; }

 private:
  struct State {
    WebConfig config;
    Poco::JSON::Object::Ptr meet_overrides;
  };

  // Validates and swaps in the pending config (blocking file reads: control thread only).
  Status Apply() {
    struct stat st;
    if (::stat(pending_.root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Fail(ErrorCode::kFailedPrecondition, "web root " + pending_.root + " is not a directory");
    }
    std::string meet_dir = pending_.root + "/meet";
    if (::stat(meet_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      log_->warn("no Meet app build found dir={}; /meet/ answers 404 until one is installed", meet_dir);
    }
    PALAVER_ASSIGN_OR_RETURN(auto overrides, LoadMeetOverrides(pending_.meet_config_file));
    auto next = std::make_shared<State>(State{pending_, overrides});
    std::lock_guard lock(mu_);
    state_ = std::move(next);
    return OkStatus();
  }

  std::shared_ptr<const State> Snapshot() const {
    std::lock_guard lock(mu_);
    return state_;
  }

  void AddSecurityHeaders(const sdk::Request& req, sdk::Response& resp) const {
    auto state = Snapshot();
    resp.SetHeader("x-content-type-options", "nosniff");
    // The sign-in pages send "origin": with no-referrer, browsers send `Origin: null` on their
    // form posts and the CSRF check could not tell them from a foreign site's.
    if (!resp.Header("referrer-policy")) resp.SetHeader("referrer-policy", "no-referrer");
    if (req.IsTls() && !state->config.hsts.empty()) resp.SetHeader("strict-transport-security", state->config.hsts);
    // Handlers that set their own framing policy (the sign-in pages, the check-session iframe)
    // keep it; otherwise X-Frame-Options follows frame_ancestors for browsers without CSP 3.
    if (!resp.Header("x-frame-options") && !resp.Header("content-security-policy")) {
      if (state->config.frame_ancestors == "'none'") resp.SetHeader("x-frame-options", "DENY");
      if (state->config.frame_ancestors == "'self'") resp.SetHeader("x-frame-options", "SAMEORIGIN");
    }
    if (req.path.rfind(kMeetPrefix, 0) == 0 || req.path == "/meet") {
      std::string wss = req.authority.empty() ? "" : " wss://" + req.authority;
      // The admin's logo may live on another https origin (setting web.logo_url).
      std::string logo = HttpsOrigin(host_ ? host_->Policy().GetString(kLogoUrl, "") : "");
      resp.SetHeader("content-security-policy",
                     "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                     "img-src 'self' data: blob:" + (logo.empty() ? "" : " " + logo) + "; media-src 'self' blob:; font-src 'self'; "
                     "connect-src 'self'" + wss + "; worker-src 'self'; manifest-src 'self'; "
                     "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors " +
                         state->config.frame_ancestors);
      resp.SetHeader("permissions-policy", "camera=(self), microphone=(self), display-capture=(self), geolocation=()");
      resp.SetHeader("cross-origin-opener-policy", "same-origin");
    }
  }

  sdk::Response MeetConfig() const {
    auto state = Snapshot();
    MeetConfigInputs in;
    // The guest policy is the signaling module's (its typed accessor); without that module no
    // guest can connect, so Meet offers no guest UI.
    if (auto guests = host_->Registry().Find<signaling::GuestPolicy>()) {
      auto policy = guests->Current();
      in.guests_enabled = policy.guests_enabled;
      in.public_room_regexp = policy.public_room_regexp;
    } else {
      in.public_room_regexp = signaling::GuestPolicyValues{}.public_room_regexp;
    }
    in.guests_by_default = host_->Policy().GetBool(kGuestsDefault, false);
    in.disable_remote_talking_detection = host_->Policy().GetBool(kNoTalkingDetection, false);
    in.screenshare_enabled = host_->Policy().GetBool(kScreenshare, true);
    in.camera_bitrate_kbps = host_->Policy().GetInt(kCameraBitrate, 1000);
    in.screenshare_bitrate_kbps = host_->Policy().GetInt(kScreenBitrate, 2500);
    in.guests_audio_only = host_->Policy().GetBool(kGuestsAudioOnly, false);
    in.app_title = host_->Policy().GetString(kAppTitle, "");
    in.logo_url = host_->Policy().GetString(kLogoUrl, "");
    if (auto links = ParseAppLinks(host_->Policy().GetString(kApps, ""))) in.apps = std::move(*links);
    auto config = BuildMeetConfig(in, state->meet_overrides);
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(config, out);
    auto r = sdk::Response::Json(200, out.str());
    r.SetHeader("cache-control", "no-cache, no-store, must-revalidate");
    return r;
  }

  // The app's icon (browsers and the sign-in page ask for it at the root): <root>/meet/favicon.ico,
  // else the built-in one.
  sdk::Response Favicon(const sdk::Request& req) {
    auto state = Snapshot();
    std::string meet_root = state->config.root + "/meet/";
    if (cache_.Lookup(meet_root + "favicon.ico").is_file) return ServeFile(req, meet_root, "favicon.ico");
    sdk::Response r;
    r.SetHeader("content-type", "image/x-icon");
    r.SetHeader("cache-control", "public, max-age=86400");
    r.body.assign(reinterpret_cast<const char*>(kDefaultIcon), sizeof kDefaultIcon);
    return r;
  }

  sdk::Response ServeMeet(const sdk::Request& req) {
    auto state = Snapshot();
    auto rel = SafeRelativePath(std::string_view(req.path).substr(std::string_view(kMeetPrefix).size()));
    if (!rel) return sdk::Response::Text(404, "Not found.\n");
    std::string meet_root = state->config.root + "/meet/";
    std::string relative = rel->empty() ? "index.html" : *rel;
    if (!cache_.Lookup(meet_root + relative).is_file) {
      // SPA fallback: app routes (/meet/r/...) and extension-less paths get index.html; a
      // missing asset stays a 404 so a broken deploy shows up as such.
      size_t slash = relative.rfind('/');
      std::string_view name = std::string_view(relative).substr(slash == std::string::npos ? 0 : slash + 1);
      bool app_route = relative == "r" || relative.rfind("r/", 0) == 0 || name.find('.') == std::string_view::npos;
      if (!app_route) return sdk::Response::Text(404, "Not found.\n");
      relative = "index.html";
      if (!cache_.Lookup(meet_root + relative).is_file) {
        return sdk::Response::Text(404, "The Meet app is not installed.\n");
      }
    }
    return ServeFile(req, meet_root, relative);
  }

  sdk::Response ServeFile(const sdk::Request& req, const std::string& root, const std::string& relative) {
    std::string content_type = ContentTypeFor(relative);
    std::string path = root + relative;
    const FileCache::Entry* entry = &cache_.Lookup(path);
    std::string encoding;
    auto range_header = req.Header("range");
    if (IsCompressible(content_type) && !range_header) {
      std::string accept(req.Header("accept-encoding").value_or(""));
      for (const char* coding : {"br", "gzip"}) {
        std::string suffix = std::string(".") + (coding == std::string_view("br") ? "br" : "gz");
        if (!AcceptsEncoding(accept, coding)) continue;
        const FileCache::Entry& variant = cache_.Lookup(path + suffix);
        if (!variant.is_file) continue;
        encoding = coding;
        path += suffix;
        break;
      }
      // Looked up again: a lookup may have reset the cache. Cheap within the revalidation window.
      entry = &cache_.Lookup(path);
    }
    char etag_buf[96];
    std::snprintf(etag_buf, sizeof etag_buf, "\"%llx-%llx%s\"", static_cast<unsigned long long>(entry->size),
                  static_cast<unsigned long long>(entry->mtime_ns),
                  encoding.empty() ? "" : (encoding == "br" ? "-br" : "-gz"));
    std::string etag = etag_buf;

    sdk::Response r;
    r.SetHeader("content-type", content_type);
    r.SetHeader("cache-control", CacheControlFor(relative));
    r.SetHeader("etag", etag);
    r.SetHeader("accept-ranges", "bytes");
    if (IsCompressible(content_type)) r.SetHeader("vary", "Accept-Encoding");
    if (!encoding.empty()) r.SetHeader("content-encoding", encoding);

    if (auto inm = req.Header("if-none-match"); inm && EtagMatches(*inm, etag)) {
      r.status = 304;
      return r;
    }
    uint64_t size = entry->size;
    uint64_t first = 0, length = size;
    if (range_header) {
      auto if_range = req.Header("if-range");
      if (!if_range || *if_range == etag) {
        ByteRange br;
        switch (ParseRange(*range_header, size, br)) {
          case RangeResult::kSatisfiable:
            r.status = 206;
            first = br.first;
            length = br.Length();
            r.SetHeader("content-range", "bytes " + std::to_string(br.first) + "-" + std::to_string(br.last) + "/" +
                                             std::to_string(size));
            break;
          case RangeResult::kUnsatisfiable: {
            sdk::Response bad = sdk::Response::Text(416, "Range not satisfiable.\n");
            bad.SetHeader("content-range", "bytes */" + std::to_string(size));
            return bad;
          }
          case RangeResult::kNone:
            break;
        }
      }
    }
    if (entry->data) {
      r.memory = sdk::MemoryBody{entry->data, first, length};
    } else {
      r.file = sdk::FileBody{path, first, length};
    }
    return r;
  }

  WebConfig pending_;
  // Thread: net loop only (handlers run there).
  FileCache cache_{FileCache::Limits{}, [] { return std::chrono::steady_clock::now(); }};
  sdk::Host* host_ = nullptr;
  std::shared_ptr<spdlog::logger> log_;
  mutable std::mutex mu_;
  std::shared_ptr<const State> state_;
};

}  // namespace

std::unique_ptr<sdk::Module> CreateModule() { return std::make_unique<WebModule>(); }

}  // namespace palaver::web
