// The `web` module: the Meet web app's static files, security headers, the Meet config endpoint.
#pragma once

#include <memory>

#include "palaver/sdk/module.hpp"

namespace palaver::web {

std::unique_ptr<sdk::Module> CreateModule();

}  // namespace palaver::web
