// Whether a private key file is readable by more than its owner (and what to do about it).
// Thread: any (a stat, no read).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace palaver::tls {

// A warning naming `key` and the fix (chmod 600) when the file grants any permission to its
// group or to others; nullopt when it does not, or when it cannot be examined (loading it will
// report that).
std::optional<std::string> KeyFileTooOpen(const std::filesystem::path& key);

}  // namespace palaver::tls
