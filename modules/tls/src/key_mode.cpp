#include "key_mode.hpp"

#include <sys/stat.h>

#include <cstdio>

namespace palaver::tls {

std::optional<std::string> KeyFileTooOpen(const std::filesystem::path& key) {
  struct stat st {};
  if (key.empty() || ::stat(key.c_str(), &st) != 0) return std::nullopt;
  unsigned mode = st.st_mode & 07777;
  if ((mode & 077) == 0) return std::nullopt;
  char octal[8];
  std::snprintf(octal, sizeof(octal), "%04o", mode);
  return "private key file " + key.string() + " is open to " + ((mode & 070) != 0 ? "its group" : "") +
         ((mode & 070) != 0 && (mode & 007) != 0 ? " and " : "") + ((mode & 007) != 0 ? "others" : "") + " (mode " +
         octal + "); run: chmod 600 " + key.string();
}

}  // namespace palaver::tls
