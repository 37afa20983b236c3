// The `kvs` module: the per-user, per-client key-value store at /api/kvs/v1 (kapi's kvs plugin;
// the Meet app keeps its recents there).
#pragma once

#include <memory>

#include "palaver/sdk/module.hpp"

namespace palaver::kvs {

std::unique_ptr<sdk::Module> CreateModule();

}  // namespace palaver::kvs
