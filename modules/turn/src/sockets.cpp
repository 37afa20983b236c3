#include "sockets.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace palaver::turn {

int64_t NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

socklen_t ToSockaddr(const Address& a, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof(ss));
  if (a.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(a.port());
    std::memcpy(&sin->sin_addr, a.ip().data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(a.port());
  std::memcpy(&sin6->sin6_addr, a.ip().data(), 16);
  return sizeof(sockaddr_in6);
}

std::optional<Address> FromSockaddr(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    return Address::FromBytes({reinterpret_cast<const uint8_t*>(&sin->sin_addr), 4}, ntohs(sin->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    return Address::FromBytes({reinterpret_cast<const uint8_t*>(&sin6->sin6_addr), 16}, ntohs(sin6->sin6_port));
  }
  return std::nullopt;
}

bool IsUnspecified(const Address& a) {
  for (uint8_t b : a.ip()) {
    if (b != 0) return false;
  }
  return true;
}

int Domain(const Address& a) { return a.is_v4() ? AF_INET : AF_INET6; }

std::string Errno(const std::string& what, const Address& a) {
  return what + " " + a.ToString() + ": " + std::strerror(errno);
}

// One socket per thread on `address` (SO_REUSEPORT); an ephemeral port is resolved by the first.
Result<std::vector<int>> BindEach(Address& address, int type, int count, int buffer_bytes) {
  std::vector<int> fds;
  auto fail = [&](const std::string& what) -> Result<std::vector<int>> {
    std::string msg = Errno(what, address);
    for (int fd : fds) ::close(fd);
    return Fail(ErrorCode::kUnavailable, msg, "TURN listener");
  };
  for (int i = 0; i < count; ++i) {
    int fd = ::socket(Domain(address), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail("socket");
    fds.push_back(fd);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (type == SOCK_STREAM) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (!address.is_v4()) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (type == SOCK_DGRAM) {
      if (address.is_v4()) {
        setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
      } else {
        setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
      }
      if (buffer_bytes > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof(buffer_bytes));
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof(buffer_bytes));
      }
    }
    sockaddr_storage ss;
    socklen_t len = ToSockaddr(address, ss);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) return fail("bind");
    if (type == SOCK_STREAM && ::listen(fd, 1024) != 0) return fail("listen");
    if (address.port() == 0) {
      sockaddr_storage bound;
      socklen_t blen = sizeof(bound);
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen) != 0) return fail("getsockname");
      address = FromSockaddr(bound).value_or(address);
    }
  }
  return fds;
}

}  // namespace palaver::turn
