// Meet's runtime config.json (spec kopano-services.md §4.2), built from the settings that govern
// each value. Pure.
#pragma once

#include <cstdint>
#include <string>

#include <Poco/JSON/Object.h>

namespace palaver::web {

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
};

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
