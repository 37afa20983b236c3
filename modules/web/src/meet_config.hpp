// Meet's runtime config.json (spec kopano-services.md §4.2), built from the settings that govern
// each value. Pure.
#pragma once

#include <string>

#include <Poco/JSON/Object.h>

namespace palaver::web {

/// What config.json is built from. Value type.
struct MeetConfigInputs {
  bool guests_enabled = false;        // signaling's guest policy (GuestPolicy)
  std::string public_room_regexp;     // signaling's public rooms ("" = none)
  bool guests_by_default = false;     // setting web.guests_default
  bool disable_remote_talking_detection = false;  // setting web.disable_remote_talking_detection
};

/// The generated config.json object; `overrides` (the operator's meet_config_file, may be null)
/// is merged over it key by key.
Poco::JSON::Object::Ptr BuildMeetConfig(const MeetConfigInputs& in, const Poco::JSON::Object::Ptr& overrides);

/// The room prefix Meet offers for new public rooms (`guests.defaultPublicGroupPrefix`): the
/// literal second path segment of `public_room_regexp` (its first alternative) when rooms under
/// it match, else Meet's default "public/".
std::string PublicGroupPrefix(const std::string& public_room_regexp);

}  // namespace palaver::web
