// Transport addresses (IPv4/IPv6 + port), transports and the 5-tuple that names an allocation.
// Value types; no I/O (text conversion uses inet_pton/inet_ntop only). Thread: any.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace palaver::turn {

// The values are STUN's address family codes (RFC 8489 §14.1).
enum class Family : uint8_t { kIPv4 = 0x01, kIPv6 = 0x02 };

// An IP address and a port. IPv4 addresses use the first 4 bytes of `ip`; the rest stays zero,
// so defaulted comparison and hashing are exact.
class Address {
 public:
  Address() = default;  // 0.0.0.0:0
  static Address V4(std::array<uint8_t, 4> ip, uint16_t port);
  static Address V4(uint32_t ip_host_order, uint16_t port);
  static Address V6(const std::array<uint8_t, 16>& ip, uint16_t port);
  // `ip` must hold 4 (IPv4) or 16 (IPv6) bytes; anything else is nullopt.
  static std::optional<Address> FromBytes(std::span<const uint8_t> ip, uint16_t port);

  // "192.0.2.1", "2001:db8::1" (port 0), "192.0.2.1:3478", "[2001:db8::1]:3478".
  static std::optional<Address> Parse(std::string_view text);
  // An IP without a port; `port` is applied.
  static std::optional<Address> ParseIp(std::string_view text, uint16_t port = 0);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::kIPv4; }
  uint16_t port() const { return port_; }
  // 4 or 16 bytes, network order.
  std::span<const uint8_t> ip() const { return {ip_.data(), is_v4() ? size_t{4} : size_t{16}}; }
  // IPv4 address in host order (REQUIRES: is_v4()).
  uint32_t v4() const;

  Address WithPort(uint16_t port) const {
    Address a = *this;
    a.port_ = port;
    return a;
  }
  bool SameIp(const Address& other) const { return family_ == other.family_ && ip_ == other.ip_; }

  // The IPv4 address carried inside an IPv6 one, where the IPv6 form reaches that IPv4 address:
  // IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d (not :: and ::1), NAT64 64:ff9b::/96.
  // nullopt for IPv4 addresses and every other IPv6 address.
  std::optional<Address> EmbeddedV4() const;
  // EmbeddedV4() if there is one, else this address.
  Address Canonical() const { return EmbeddedV4().value_or(*this); }

  std::string IpString() const;
  std::string ToString() const;  // "192.0.2.1:3478" / "[2001:db8::1]:3478"

  size_t Hash() const;
  friend bool operator==(const Address&, const Address&) = default;

 private:
  Family family_ = Family::kIPv4;
  uint16_t port_ = 0;
  std::array<uint8_t, 16> ip_{};
};

struct AddressHash {
  size_t operator()(const Address& a) const { return a.Hash(); }
};

// How a client reached the server. TCP and TLS are byte streams (RFC 6544 framing, padded
// ChannelData); UDP is datagrams.
enum class Transport : uint8_t { kUdp, kTcp, kTls };
inline bool IsStream(Transport t) { return t != Transport::kUdp; }
std::string_view TransportName(Transport t);

// Client address, server (listener) address and transport: an allocation's key (RFC 8656 §2).
struct FiveTuple {
  Address client;
  Address server;
  Transport transport = Transport::kUdp;
  friend bool operator==(const FiveTuple&, const FiveTuple&) = default;
};

struct FiveTupleHash {
  size_t operator()(const FiveTuple& t) const;
};

}  // namespace palaver::turn
