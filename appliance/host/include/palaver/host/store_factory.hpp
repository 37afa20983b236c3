// Opening the SQLite store outside the host process (module tests, tools).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>

#include "palaver/sdk/store.hpp"

namespace palaver::host {

/// Opens (creating if missing) the SQLite store at `path`, as palaverd does at start.
Result<std::unique_ptr<sdk::Store>> OpenSqliteStore(const std::filesystem::path& path,
                                                    std::chrono::milliseconds busy_timeout);

}  // namespace palaver::host
