// base64url, random tokens, and client-chosen text made safe for a log line.
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
/// A client-chosen name (user name, TURN user) for one `key=value` log line: printable ASCII
/// other than space and '=' kept, anything else '?', at most `max` characters then "...", "-"
/// when empty. Log lines stay one line and cannot be forged for fail2ban.
std::string LogSafe(std::string_view text, size_t max = 128);

}  // namespace palaver::sdk
