// GuestPolicy: the signaling module's guest settings as a typed accessor for other modules (the
// `web` module builds Meet's config.json from it). Published by `signaling` in Start through
// Host::Registry(), withdrawn in Stop; absent while the module does not run.
#pragma once

#include <string>

namespace palaver::signaling {

/// The guest policy in force: the admin settings `signaling.*`. Value type.
struct GuestPolicyValues {
  /// `signaling.guests_enabled`: guest logon and guest connections.
  bool guests_enabled = false;
  /// `signaling.public_guest_access_regexp`: the rooms ("group/<name>", "conference/<name>")
  /// guests may be invited to, an ECMAScript regular expression searched anywhere in the path.
  /// Empty: no public rooms.
  std::string public_room_regexp = "^group/public/.*";
  /// `signaling.allow_guest_only_channels`: a guest may open a room nobody else is in.
  bool guest_only_rooms = false;
};

/// Reads the settings snapshot: thread-safe, non-blocking.
class GuestPolicy {
 public:
  virtual ~GuestPolicy() = default;
  virtual GuestPolicyValues Current() const = 0;
};

}  // namespace palaver::signaling
