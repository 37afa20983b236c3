// Socket helpers of the relay engine: addresses to and from sockaddr, the monotonic clock, and
// binding one listener socket per relay thread.
// Thread: any (no state).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "address.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::turn {

int64_t NowMs();  // CLOCK_MONOTONIC
socklen_t ToSockaddr(const Address& a, sockaddr_storage& ss);
std::optional<Address> FromSockaddr(const sockaddr_storage& ss);
bool IsUnspecified(const Address& a);
int Domain(const Address& a);  // AF_INET or AF_INET6
// "<what> <address>: <strerror(errno)>"
std::string Errno(const std::string& what, const Address& a);

// `count` sockets of `type` (SOCK_DGRAM, SOCK_STREAM) bound to `address` with SO_REUSEPORT, one
// per relay thread; UDP ones with IP_PKTINFO/IPV6_RECVPKTINFO and `buffer_bytes` buffers, stream
// ones listening. An ephemeral port is resolved by the first and written back to `address`.
// On error every socket made is closed; the message names the address.
Result<std::vector<int>> BindEach(Address& address, int type, int count, int buffer_bytes);

}  // namespace palaver::turn
