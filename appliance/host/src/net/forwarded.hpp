// The client address behind a trusted reverse proxy: `X-Forwarded-For` or RFC 7239 `Forwarded`,
// read only when the TCP peer is one of the configured proxies. Sans-I/O: strings in, strings out.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cidr.hpp"

namespace palaver::host::net {

/// Which header a trusted proxy maintains. Only that one is read: a proxy passes the other one
/// through unchanged, so a client could forge it.
enum class ProxyHeader { kXForwardedFor, kForwarded };

/// The outcome of ResolveClientAddress. Value type.
struct ClientAddress {
  std::string address;   // the client as the server should see it (canonical text form)
  bool forwarded = false;  // true when taken from a header
  /// Why a header present from a trusted peer was not used (empty when it was, or when there
  /// was nothing to use): "malformed", "unknown_hop", "too_many_hops".
  std::string ignored_reason;
};

/// Most hops read from one request's forwarding header; a longer chain is ignored.
inline constexpr int kMaxForwardedHops = 32;

/// The canonical text form of an IP address ("::ffff:1.2.3.4" becomes "1.2.3.4", IPv6 is
/// compressed), or empty when `text` is not a bare IPv4/IPv6 address.
std::string CanonicalAddress(std::string_view text);

/// The hop addresses of `X-Forwarded-For` values (every header line, in order), left (client)
/// to right (nearest proxy). Entries may carry a port ("1.2.3.4:80", "[::1]:80"), which is
/// dropped. "unknown" entries come back as "unknown". False when an entry is not an address.
bool ParseXForwardedFor(const std::vector<std::string_view>& values, std::vector<std::string>& hops);

/// The `for=` nodes of RFC 7239 `Forwarded` values (every header line, in order), left to right.
/// Nodes "unknown", obfuscated ("_x"), and elements without `for=` come back as "unknown".
/// False on a syntax error (a pair without '=', a bad token, an unterminated quoted string, a
/// node that is no address).
bool ParseForwarded(const std::vector<std::string_view>& values, std::vector<std::string>& hops);

/// The client address of a request that arrived from `peer` with `headers` (lowercase names).
/// When `peer` is in `trusted`, the header `which` is read from right to left: trusted hops are
/// skipped and the first untrusted one is the client (the leftmost when all are trusted).
/// Anything malformed leaves the peer as the client. `peer` must be canonical (AddressOf).
ClientAddress ResolveClientAddress(const std::string& peer, const std::vector<Cidr>& trusted, ProxyHeader which,
                                   const std::vector<std::pair<std::string, std::string>>& headers);

}  // namespace palaver::host::net
