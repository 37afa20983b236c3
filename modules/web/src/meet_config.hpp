// Meet's runtime config.json (spec kopano-services.md §4.2), built from the settings that govern
// each value. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <Poco/JSON/Object.h>

#include "palaver/sdk/status.hpp"

namespace palaver::web {

/// A link in Meet's apps menu (setting web.apps).
struct AppLink {
  std::string title;
  std::string url;
  bool operator==(const AppLink&) const = default;
};

/// What config.json is built from. Value type.
struct MeetConfigInputs {
  bool guests_enabled = false;        // signaling's guest policy (GuestPolicy)
  std::string public_room_regexp;     // signaling's public rooms ("" = none)
  bool guests_by_default = false;     // setting web.guests_default
  bool disable_remote_talking_detection = false;  // setting web.disable_remote_talking_detection
  bool screenshare_enabled = true;    // setting web.screenshare_enabled (disableScreenshare)
  int64_t camera_bitrate_kbps = 1000;       // setting web.camera_bitrate_kbps
  int64_t screenshare_bitrate_kbps = 2500;  // setting web.screenshare_bitrate_kbps
  bool guests_audio_only = false;     // setting web.guests_audio_only (guests.defaultAudioOnly)
  std::string app_title;              // setting web.app_title ("" = the app's own name)
  std::string logo_url;               // setting web.logo_url ("" = the app's own logo)
  std::vector<AppLink> apps;          // setting web.apps, parsed
};

/// Limits of the branding settings.
inline constexpr size_t kMaxTitleChars = 60;
inline constexpr size_t kMaxUrlChars = 2048;
inline constexpr size_t kMaxAppLinks = 12;

/// Why `url` cannot be a link or a logo, or "" when it can: an `https://` URL, or a path on this
/// server (`/...`, not `//`), with no spaces, quotes, angle brackets, backslashes or control
/// characters, at most kMaxUrlChars long.
std::string UrlProblem(std::string_view url);
/// Why `title` cannot be the app's title, or "" (at most kMaxTitleChars characters, no control
/// characters; may be empty).
std::string TitleProblem(std::string_view title);
/// web.apps: one link per line, `Title | URL`; blank lines are skipped. At most kMaxAppLinks.
/// The error names the line.
Result<std::vector<AppLink>> ParseAppLinks(std::string_view text);
/// The origin of an `https://` URL ("https://host[:port]"), "" for a path.
std::string HttpsOrigin(std::string_view url);

/// Bounds of the bitrate settings, kbit/s.
inline constexpr int64_t kMinBitrateKbps = 100;
inline constexpr int64_t kMaxBitrateKbps = 50000;

/// The generated config.json object; `overrides` (the operator's meet_config_file, may be null)
/// is merged over it key by key.
Poco::JSON::Object::Ptr BuildMeetConfig(const MeetConfigInputs& in, const Poco::JSON::Object::Ptr& overrides);

/// The room prefix Meet offers for new public rooms (`guests.defaultPublicGroupPrefix`): the
/// literal second path segment of `public_room_regexp` (its first alternative) when rooms under
/// it match, else Meet's default "public/".
std::string PublicGroupPrefix(const std::string& public_room_regexp);

}  // namespace palaver::web
