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
#include "palaver/sdk/host.hpp"
#include "static_files.hpp"

namespace palaver::web {
namespace {

constexpr const char* kMeetPrefix = "/meet/";

std::string DefaultMeetConfig() {
  return R"({"apiPrefix":"/api/gc/v1",)"
         R"("oidc":{"iss":"","clientID":"","scope":"openid profile email kopano/kwm kopano/gc kopano/kvs"},)"
         R"("kwm":{"url":"","apiPrefix":"/api/kwm/v2"},)"
         R"("kvs":{"apiPrefix":"/api/kvs/v1"},)"
         R"("guests":{"enabled":false,"publicGroupRegexp":"^(group|conference)/public/.*"},)"
         R"("disableFullGAB":false,"useIdentifiedUser":false})";
}

void Merge(Poco::JSON::Object& into, const Poco::JSON::Object& from) {
  for (const auto& [key, value] : from) {
    if (value.type() == typeid(Poco::JSON::Object::Ptr) && into.has(key) &&
        into.get(key).type() == typeid(Poco::JSON::Object::Ptr)) {
      Merge(*into.getObject(key), *value.extract<Poco::JSON::Object::Ptr>());
    } else {
      into.set(key, value);
    }
  }
}

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

  Status Start(sdk::Host& host) override {
    host_ = &host;
    log_ = host.Logger();
    PALAVER_RETURN_IF_ERROR(Apply());
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
      resp.SetHeader("content-security-policy",
                     "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                     "img-src 'self' data: blob:; media-src 'self' blob:; font-src 'self'; "
                     "connect-src 'self'" + wss + "; worker-src 'self'; manifest-src 'self'; "
                     "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors " +
                         state->config.frame_ancestors);
      resp.SetHeader("permissions-policy", "camera=(self), microphone=(self), display-capture=(self), geolocation=()");
      resp.SetHeader("cross-origin-opener-policy", "same-origin");
    }
  }

  sdk::Response MeetConfig() const {
    auto state = Snapshot();
    Poco::JSON::Parser parser;
    auto config = parser.parse(DefaultMeetConfig()).extract<Poco::JSON::Object::Ptr>();
    // Guest policy belongs to the signaling module's settings; absent until that module runs.
    config->getObject("guests")->set("enabled", host_->Policy().GetBool("signaling.guests_enabled", false));
    Merge(*config, *state->meet_overrides);
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(config, out);
    auto r = sdk::Response::Json(200, out.str());
    r.SetHeader("cache-control", "no-cache, no-store, must-revalidate");
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
