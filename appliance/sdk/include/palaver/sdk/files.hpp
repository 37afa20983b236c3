// Small file helpers shared by modules.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "palaver/sdk/status.hpp"

namespace palaver::sdk {

/// Writes `data` to `path` durably and atomically: a temporary file in the same directory with
/// `mode` set before any byte is written, fsync, rename over `path`, fsync of the directory.
/// Readers see the old or the new file, never a mix; a key is never readable by others.
/// Blocking.
Status WriteFileAtomically(const std::filesystem::path& path, const std::string& data, mode_t mode);

/// The whole file. kFailedPrecondition "cannot read <path>" when it cannot be opened. Blocking.
Result<std::string> ReadFileText(const std::filesystem::path& path);

}  // namespace palaver::sdk
