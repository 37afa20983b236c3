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

}  // namespace

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
  if (overrides) Merge(*config, *overrides);
  return config;
}

}  // namespace palaver::web
