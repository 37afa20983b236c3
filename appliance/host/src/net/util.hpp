// Small text helpers the HTTP sessions share.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace palaver::host::net {

std::string Lower(std::string_view s);
/// Whether a comma-separated header value holds `token` (case-insensitive).
bool HasToken(std::string_view value, std::string_view token);
/// "host:port" / "[v6]:port" → the host part.
std::string StripPort(const std::string& authority);
/// Percent-decodes a request path and removes dot segments (RFC 3986 §5.2.4). nullopt for a
/// malformed escape, an encoded or raw NUL, or a path that does not start with '/'.
std::optional<std::string> DecodePath(std::string_view raw);

/// A socket's peer (`peer`) or local address: "192.0.2.1:443" / "[2001:db8::1]:443"
/// (IPv4-mapped shown as IPv4); empty if unknown.
std::string Endpoint(int fd, bool peer);
/// The IP of a socket address ("::ffff:" stripped from IPv4-mapped addresses).
std::string AddressOf(const void* sockaddr_storage_ptr);

}  // namespace palaver::host::net
