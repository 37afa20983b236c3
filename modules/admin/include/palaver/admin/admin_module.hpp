// The `admin` module: the admin console (/admin/), the admin JSON API (settings, log levels), the
// audit log, and `palaverd settings`.
#pragma once

#include <memory>

#include "palaver/sdk/module.hpp"

namespace palaver::admin {

std::unique_ptr<sdk::Module> CreateModule();

}  // namespace palaver::admin
