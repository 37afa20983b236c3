// LiveRooms: who is in which call right now, for the admin console's status page. Published by
// `signaling` in Start through Host::Registry(), withdrawn in Stop.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace palaver::signaling {

/// One participant of a call or group room. Value type.
struct LiveParticipant {
  std::string name;  // the display name they signed in with (guests: "(Guest) ...")
  bool guest = false;
};

/// One open channel. Value type.
struct LiveRoom {
  std::string group;  // the group room's name ("public/team"); empty for a 1:1 call
  std::vector<LiveParticipant> participants;
};

/// Thread-safe: Snapshot() may be called from any thread; `done` runs on the net loop with the
/// rooms as they are then (not at all once the module has stopped).
class LiveRooms {
 public:
  virtual ~LiveRooms() = default;
  virtual void Snapshot(std::function<void(std::vector<LiveRoom>)> done) = 0;
};

}  // namespace palaver::signaling
