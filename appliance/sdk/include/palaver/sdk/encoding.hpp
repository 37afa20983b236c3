// base64url and random tokens.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace palaver::sdk {

/// base64url without padding (RFC 4648 §5), as JOSE uses it.
std::string Base64UrlEncode(std::string_view bytes);
/// Strict: no padding, no whitespace, only the URL-safe alphabet, canonical trailing bits.
std::optional<std::string> Base64UrlDecode(std::string_view text);
/// Standard base64 with padding (RFC 4648 §4), no line breaks.
std::string Base64Encode(std::string_view bytes);
/// Strict standard base64 with padding; nullopt for anything else.
std::optional<std::string> Base64Decode(std::string_view text);
/// `bytes` random bytes from OpenSSL's CSPRNG, base64url-encoded (ids, keys ids, passwords).
/// Aborts if the CSPRNG fails (continuing would hand out predictable secrets).
std::string RandomToken(size_t bytes);

}  // namespace palaver::sdk
