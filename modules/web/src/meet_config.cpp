#include "meet_config.hpp"

#include <cctype>
#include <regex>

#include <Poco/JSON/Parser.h>

namespace palaver::web {
namespace {

// Meet's own defaults (config.json.in and its code).
constexpr const char* kDefaultPrefix = "public/";
// JavaScript's RegExp: an empty pattern would match every room; this matches none.
constexpr const char* kNoRoom = "(?!)";

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

bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'; }

bool Matches(const std::string& regexp, const std::string& path) {
  try {
    return std::regex_search(path, std::regex(regexp, std::regex::ECMAScript));
  } catch (const std::regex_error&) {
    return false;
  }
}

size_t Utf8Chars(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool HasControl(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F) return true;
  }
  return false;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string UrlProblem(std::string_view url) {
  if (url.size() > kMaxUrlChars) return "is longer than " + std::to_string(kMaxUrlChars) + " characters";
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7F || c == '"' || c == '\'' || c == '<' || c == '>' || c == '\\' || c == '`') {
      return "may not contain spaces, quotes, angle brackets, backslashes or control characters";
    }
  }
  if (url.rfind("https://", 0) == 0) {
    std::string_view rest = url.substr(8);
    std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
    if (host.empty() || host.find('@') != std::string_view::npos) return "must name a host after https://";
    return "";
  }
  if (url.size() >= 1 && url[0] == '/' && (url.size() == 1 || url[1] != '/')) return "";
  return "must start with https:// or with / (a path on this server)";
}

std::string TitleProblem(std::string_view title) {
  if (Utf8Chars(title) > kMaxTitleChars) return "is longer than " + std::to_string(kMaxTitleChars) + " characters";
  if (HasControl(title)) return "may not contain control characters";
  return "";
}

Result<std::vector<AppLink>> ParseAppLinks(std::string_view text) {
  std::vector<AppLink> links;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = TrimSpaces(text.substr(pos, end - pos));
    ++line_no;
    pos = end + 1;
    if (line.empty()) continue;
    std::string where = "line " + std::to_string(line_no) + ": ";
    size_t bar = line.rfind('|');
    if (bar == std::string_view::npos) return Fail(ErrorCode::kInvalidArgument, where + "write Title | URL");
    std::string_view title = TrimSpaces(line.substr(0, bar));
    std::string_view url = TrimSpaces(line.substr(bar + 1));
    if (title.empty()) return Fail(ErrorCode::kInvalidArgument, where + "the title is empty");
    if (auto problem = TitleProblem(title); !problem.empty()) {
      return Fail(ErrorCode::kInvalidArgument, where + "the title " + problem);
    }
    if (auto problem = UrlProblem(url); !problem.empty()) {
      return Fail(ErrorCode::kInvalidArgument, where + "the URL " + problem);
    }
    if (links.size() == kMaxAppLinks) {
      return Fail(ErrorCode::kInvalidArgument, "at most " + std::to_string(kMaxAppLinks) + " links");
    }
    links.push_back({std::string(title), std::string(url)});
  }
  return links;
}

std::string HttpsOrigin(std::string_view url) {
  if (url.rfind("https://", 0) != 0) return "";
  size_t end = url.find_first_of("/?#", 8);
  return std::string(url.substr(0, end));
}

std::string PublicGroupPrefix(const std::string& regexp) {
  size_t slash = regexp.find('/');
  if (slash != std::string::npos) {
    size_t i = slash + 1;
    bool group = i < regexp.size() && regexp[i] == '(';
    if (group) {
      ++i;
      if (regexp.compare(i, 2, "?:") == 0) i += 2;
    }
    size_t start = i;
    while (i < regexp.size() && IsNameChar(regexp[i])) ++i;
    std::string name = regexp.substr(start, i - start);
    if (group) {
      int depth = 1;
      while (i < regexp.size() && depth > 0) {
        if (regexp[i] == '(') ++depth;
        if (regexp[i] == ')') --depth;
        ++i;
      }
    }
    if (!name.empty() && i < regexp.size() && regexp[i] == '/') {
      std::string prefix = name + "/";
      // Only a prefix under which new rooms are in fact public.
      if (Matches(regexp, "group/" + prefix + "room") || Matches(regexp, "conference/" + prefix + "room")) {
        return prefix;
      }
    }
  }
  return kDefaultPrefix;
}

Poco::JSON::Object::Ptr BuildMeetConfig(const MeetConfigInputs& in, const Poco::JSON::Object::Ptr& overrides) {
  Poco::JSON::Object::Ptr config(new Poco::JSON::Object);
  config->set("apiPrefix", "/api/gc/v1");
  Poco::JSON::Object::Ptr oidc(new Poco::JSON::Object);
  oidc->set("iss", "");
  oidc->set("clientID", "");
  oidc->set("scope", "openid profile email kopano/kwm kopano/gc kopano/kvs");
  config->set("oidc", oidc);
  Poco::JSON::Object::Ptr kwm(new Poco::JSON::Object);
  kwm->set("url", "");
  kwm->set("apiPrefix", "/api/kwm/v2");
  // The original's keys for the send bitrate caps (kbit/s), camera and screen.
  Poco::JSON::Object::Ptr sdp(new Poco::JSON::Object);
  sdp->set("videoSendBitrate", in.camera_bitrate_kbps);
  kwm->set("sdpParams", sdp);
  Poco::JSON::Object::Ptr sdp_screen(new Poco::JSON::Object);
  sdp_screen->set("videoSendBitrate", in.screenshare_bitrate_kbps);
  kwm->set("sdpParamsScreenshare", sdp_screen);
  config->set("kwm", kwm);
  Poco::JSON::Object::Ptr kvs(new Poco::JSON::Object);
  kvs->set("apiPrefix", "/api/kvs/v1");
  config->set("kvs", kvs);

  Poco::JSON::Object::Ptr guests(new Poco::JSON::Object);
  guests->set("enabled", in.guests_enabled);
  // The guest type Meet assumes without `#guest=` in the link ("1", the only one): only while
  // guests may log on at all. null as in Meet's default (absent).
  if (in.guests_enabled && in.guests_by_default) {
    guests->set("default", "1");
  } else {
    guests->set("default", Poco::Dynamic::Var());
  }
  guests->set("publicGroupRegexp", in.public_room_regexp.empty() ? std::string(kNoRoom) : in.public_room_regexp);
  guests->set("defaultPublicGroupPrefix", PublicGroupPrefix(in.public_room_regexp));
  // Palaver's own: guests start with the camera off (a key the original Meet ignores).
  guests->set("defaultAudioOnly", in.guests_audio_only);
  config->set("guests", guests);

  config->set("disableFullGAB", false);
  config->set("disableRemoteTalkingDetection", in.disable_remote_talking_detection);
  config->set("useIdentifiedUser", false);
  // Palaver's own: the admin switched screen sharing off (the original Meet ignores it).
  config->set("disableScreenshare", !in.screenshare_enabled);
  // Palaver's own: the title and logo the admin chose (empty: the app's own).
  Poco::JSON::Object::Ptr branding(new Poco::JSON::Object);
  branding->set("title", in.app_title);
  branding->set("logo", in.logo_url);
  config->set("branding", branding);
  // The original's app switcher lists Kopano's apps, which a Palaver server does not have:
  // "enabled": [] hides it. Palaver's Meet lists the admin's links instead.
  Poco::JSON::Object::Ptr apps(new Poco::JSON::Object);
  apps->set("enabled", Poco::JSON::Array::Ptr(new Poco::JSON::Array));
  Poco::JSON::Array::Ptr links(new Poco::JSON::Array);
  for (const auto& link : in.apps) {
    Poco::JSON::Object::Ptr o(new Poco::JSON::Object);
    o->set("title", link.title);
    o->set("url", link.url);
    links->add(o);
  }
  apps->set("links", links);
  config->set("apps", apps);
  if (overrides) Merge(*config, *overrides);
  return config;
}

}  // namespace palaver::web
