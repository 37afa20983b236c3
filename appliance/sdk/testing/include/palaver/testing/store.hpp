// Test support: an sdk::Store for module unit tests, so that they need no host header.
//
// Link `palaver::testing_store` (built in appliance/host: the store is the host's SQLite
// implementation, opened exactly as palaverd opens its state store).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>

#include "palaver/sdk/status.hpp"
#include "palaver/sdk/store.hpp"

namespace palaver::testing {

/// Opens (creating if missing) an SQLite store at `path`, usually inside a TempDir. Several
/// stores may open the same file (to make it busy, or to reopen it). Thread: as sdk::Store.
Result<std::unique_ptr<sdk::Store>> OpenStore(const std::filesystem::path& path,
                                              std::chrono::milliseconds busy_timeout = std::chrono::milliseconds(100));

}  // namespace palaver::testing
