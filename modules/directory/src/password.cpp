#include "password.hpp"

#include "palaver/sdk/encoding.hpp"

#include <argon2.h>
#include <openssl/rand.h>

#include <vector>

namespace palaver::directory {
namespace {

constexpr uint32_t kSaltBytes = 16;
constexpr uint32_t kHashBytes = 32;

}  // namespace

Status ValidateNewPassword(std::string_view password) {
  if (password.empty()) return Fail(ErrorCode::kInvalidArgument, "empty password", "the password must not be empty");
  if (password.size() > kMaxPasswordBytes) {
    return Fail(ErrorCode::kInvalidArgument, "password too long", "the password must be at most 1024 bytes");
  }
  if (password.find('\0') != std::string_view::npos) {
    return Fail(ErrorCode::kInvalidArgument, "password contains NUL", "the password must not contain NUL bytes");
  }
  return OkStatus();
}

Result<std::string> HashPassword(std::string_view password, HashCost cost) {
  PALAVER_RETURN_IF_ERROR(ValidateNewPassword(password));
  unsigned char salt[kSaltBytes];
  if (RAND_bytes(salt, sizeof salt) != 1) return Fail(ErrorCode::kInternal, "no randomness for a salt");
  size_t len = argon2_encodedlen(cost.time, cost.memory_kib, cost.lanes, kSaltBytes, kHashBytes, Argon2_id);
  std::vector<char> encoded(len);
  int rc = argon2id_hash_encoded(cost.time, cost.memory_kib, cost.lanes, password.data(), password.size(), salt,
                                 sizeof salt, kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) return Fail(ErrorCode::kInternal, std::string("argon2: ") + argon2_error_message(rc));
  return std::string(encoded.data());
}

bool VerifyPassword(std::string_view encoded, std::string_view password) {
  if (password.size() > kMaxPasswordBytes || encoded.rfind("$argon2id$", 0) != 0) return false;
  std::string enc(encoded);  // argon2 wants a NUL-terminated string
  return argon2id_verify(enc.c_str(), password.data(), password.size()) == ARGON2_OK;
}

std::string RandomPassword() { return sdk::RandomToken(18); }

}  // namespace palaver::directory
