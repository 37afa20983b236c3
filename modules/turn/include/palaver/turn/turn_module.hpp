// The `turn` module: a STUN/TURN server inside palaverd (UDP, TCP, TLS, and TLS on the HTTPS
// port through the host's raw fallback), publishing TurnCredentials for `signaling`.
#pragma once

#include <memory>

#include "palaver/sdk/module.hpp"

namespace palaver::turn {

std::unique_ptr<sdk::Module> CreateModule();

}  // namespace palaver::turn
