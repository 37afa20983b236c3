// The `testbed` module: test-only endpoints that exercise host seams no product module uses
// yet (WebSockets, the raw fallback on the TLS listener, workers, timers, request bodies).
// Compiled only into `palaverd-testbed`, never into `palaverd`.
#pragma once

#include <memory>

#include "palaver/sdk/module.hpp"

namespace palaver::testbed {

std::unique_ptr<sdk::Module> CreateModule();

}  // namespace palaver::testbed
