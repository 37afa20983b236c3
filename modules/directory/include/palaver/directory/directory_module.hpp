// The `directory` module: users (local SQLite store by default), password checks, the
// `palaverd user ...` command, and the UserDirectory service.
#pragma once

#include <memory>

#include "palaver/sdk/module.hpp"

namespace palaver::directory {

std::unique_ptr<sdk::Module> CreateModule();

}  // namespace palaver::directory
