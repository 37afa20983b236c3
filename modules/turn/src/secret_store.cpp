#include "secret_store.hpp"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "palaver/sdk/encoding.hpp"
#include "palaver/sdk/files.hpp"

namespace palaver::turn {
namespace {

int64_t ModifiedUnix(const std::filesystem::path& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_mtime) : 0;
}

}  // namespace

std::string TrimSecret(std::string_view text) {
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return std::string(text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1));
}

std::filesystem::path PreviousSecretPath(const std::filesystem::path& path) {
  return std::filesystem::path(path.string() + ".previous");
}

Result<SecretState> LoadSecrets(const std::filesystem::path& path, int64_t ttl_s, int64_t now, bool* generated) {
  SecretState state;
  std::error_code ec;
  if (generated != nullptr) *generated = false;
  if (std::filesystem::exists(path, ec)) {
    PALAVER_ASSIGN_OR_RETURN(std::string text, sdk::ReadFileText(path));
    state.current = TrimSecret(text);
    if (state.current.size() < kMinSecretChars) {
      return Fail(ErrorCode::kFailedPrecondition, "TURN secret in " + path.string() + " is shorter than 16 characters",
                  "turn: the secret file " + path.string() + " holds no usable secret");
    }
  } else {
    state.current = sdk::RandomToken(32);
    PALAVER_RETURN_IF_ERROR(sdk::WriteFileAtomically(path, state.current + "\n", 0600));
    if (generated != nullptr) *generated = true;
  }
  state.changed_unix = ModifiedUnix(path);

  auto previous_path = PreviousSecretPath(path);
  if (std::filesystem::exists(previous_path, ec)) {
    auto text = sdk::ReadFileText(previous_path);
    std::optional<AuthOptions::RetiredSecret> previous;
    if (text) {
      std::istringstream lines(*text);
      std::string when, secret;
      std::getline(lines, when);
      std::getline(lines, secret);
      secret = TrimSecret(secret);
      char* end = nullptr;
      long long retired = std::strtoll(when.c_str(), &end, 10);
      if (end != when.c_str() && *end == '\0' && retired > 0 && secret.size() >= kMinSecretChars &&
          secret != state.current) {
        previous = AuthOptions::RetiredSecret{secret, retired + ttl_s};
      }
    }
    if (previous && previous->max_expiry >= now) {
      state.previous = std::move(previous);
    } else {
      std::filesystem::remove(previous_path, ec);
    }
  }
  return state;
}

Result<SecretState> RotateSecret(const std::filesystem::path& path, const SecretState& state, int64_t ttl_s,
                                 int64_t now) {
  PALAVER_RETURN_IF_ERROR(sdk::WriteFileAtomically(PreviousSecretPath(path),
                                                   std::to_string(now) + "\n" + state.current + "\n", 0600));
  SecretState next;
  next.current = sdk::RandomToken(32);
  PALAVER_RETURN_IF_ERROR(sdk::WriteFileAtomically(path, next.current + "\n", 0600));
  next.changed_unix = now;
  next.previous = AuthOptions::RetiredSecret{state.current, now + ttl_s};
  return next;
}

}  // namespace palaver::turn
