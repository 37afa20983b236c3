// The `signaling` module: kwmserver-compatible WebRTC signaling (rtm/connect, the RTM
// WebSocket, guest logon) for 1:1 calls, group rooms and guests.
#pragma once

#include <memory>

#include "palaver/sdk/module.hpp"

namespace palaver::signaling {

std::unique_ptr<sdk::Module> CreateModule();

}  // namespace palaver::signaling
