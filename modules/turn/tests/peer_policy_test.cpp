// Peer policy: every address form that reaches the appliance itself or a non-unicast target is
// refused (coturn CVE-2020-26262 class), private ranges follow the option, CIDR lists decide by
// longest prefix, the appliance's own endpoints stay refused.
#include <gtest/gtest.h>

#include "peer_policy.hpp"

namespace palaver::turn {
namespace {

Address A(std::string_view text) {
  auto a = Address::Parse(text);
  EXPECT_TRUE(a) << text;
  return a.value_or(Address{});
}

Cidr C(std::string_view text) {
  auto c = Cidr::Parse(text);
  EXPECT_TRUE(c) << text;
  return c.value_or(Cidr{});
}

struct Case {
  const char* address;
  PeerVerdict verdict;
};

TEST(PeerPolicy, RefusesEveryFormOfLoopbackUnspecifiedLinkLocalMulticastBroadcast) {
  PeerPolicy policy;
  const Case cases[] = {
      {"127.0.0.1", PeerVerdict::kLoopback},
      {"127.255.255.254", PeerVerdict::kLoopback},
      {"127.1.2.3", PeerVerdict::kLoopback},
      {"::1", PeerVerdict::kLoopback},
      {"::ffff:127.0.0.1", PeerVerdict::kLoopback},
      {"::ffff:127.255.255.254", PeerVerdict::kLoopback},
      {"::127.0.0.1", PeerVerdict::kLoopback},        // IPv4-compatible
      {"64:ff9b::7f00:1", PeerVerdict::kLoopback},    // NAT64 of 127.0.0.1
      {"0.0.0.0", PeerVerdict::kUnspecified},
      {"0.1.2.3", PeerVerdict::kUnspecified},
      {"::", PeerVerdict::kUnspecified},
      {"::ffff:0.0.0.0", PeerVerdict::kUnspecified},
      {"169.254.0.1", PeerVerdict::kLinkLocal},
      {"169.254.169.254", PeerVerdict::kLinkLocal},   // cloud metadata
      {"::ffff:169.254.169.254", PeerVerdict::kLinkLocal},
      {"fe80::1", PeerVerdict::kLinkLocal},
      {"febf:ffff::1", PeerVerdict::kLinkLocal},
      {"224.0.0.1", PeerVerdict::kMulticast},
      {"239.255.255.250", PeerVerdict::kMulticast},
      {"::ffff:224.0.0.251", PeerVerdict::kMulticast},
      {"ff02::1", PeerVerdict::kMulticast},
      {"ff05::1:3", PeerVerdict::kMulticast},
      {"255.255.255.255", PeerVerdict::kBroadcast},
      {"::ffff:255.255.255.255", PeerVerdict::kBroadcast},
      {"240.0.0.1", PeerVerdict::kReserved},
      {"fec0::1", PeerVerdict::kReserved},
      {"::2", PeerVerdict::kReserved},
      {"100::1", PeerVerdict::kAllowed},  // outside ::/8; discard-only, harmless
  };
  for (const auto& c : cases) {
    Address a = A(c.address).WithPort(40000);
    EXPECT_EQ(policy.CheckIp(a), c.verdict) << c.address;
    EXPECT_EQ(policy.Check(a), c.verdict) << c.address;
  }
}

TEST(PeerPolicy, AllowsPublicAndByDefaultPrivatePeers) {
  PeerPolicy policy;
  for (const char* ok : {"8.8.8.8", "203.0.113.7", "2001:4860:4860::8888", "::ffff:8.8.8.8", "10.0.0.1",
                         "172.16.0.1", "192.168.1.20", "100.64.0.1", "fd00::1", "::ffff:192.168.1.1"}) {
    EXPECT_EQ(policy.Check(A(ok).WithPort(5000)), PeerVerdict::kAllowed) << ok;
  }
}

TEST(PeerPolicy, RefusesPrivateRangesWhenAsked) {
  PeerPolicyOptions o;
  o.allow_private = false;
  PeerPolicy policy(o);
  for (const char* p : {"10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255", "192.168.0.1", "100.64.0.1",
                        "100.127.255.255", "fc00::1", "fdff:ffff::1", "::ffff:10.1.2.3", "64:ff9b::c0a8:101"}) {
    EXPECT_EQ(policy.CheckIp(A(p)), PeerVerdict::kPrivate) << p;
  }
  for (const char* ok : {"172.15.255.255", "172.32.0.1", "100.128.0.1", "192.169.0.1", "11.0.0.1", "fe00::1"}) {
    EXPECT_EQ(policy.CheckIp(A(ok)), PeerVerdict::kAllowed) << ok;
  }
}

TEST(PeerPolicy, GuestsReachPrivateRangesOnlyWithTheirSwitchOrAnAllowedRange) {
  PeerPolicyOptions o;
  o.allowed = {C("10.9.0.0/16")};
  o.self_addresses = {A("192.168.7.2"), A("203.0.113.5")};
  o.own_endpoints = {A("0.0.0.0:3478")};
  PeerPolicy policy(o);
  for (const char* p : {"10.0.0.1", "172.16.0.1", "192.168.1.20", "100.64.0.1", "fd00::1", "::ffff:10.1.2.3"}) {
    EXPECT_EQ(policy.CheckIp(A(p), PeerScope::kGuest), PeerVerdict::kPrivate) << p;
    EXPECT_EQ(policy.CheckIp(A(p), PeerScope::kMember), PeerVerdict::kAllowed) << p;
  }
  EXPECT_EQ(policy.CheckIp(A("8.8.8.8"), PeerScope::kGuest), PeerVerdict::kAllowed);
  EXPECT_EQ(policy.CheckIp(A("10.9.1.1"), PeerScope::kGuest), PeerVerdict::kAllowed);  // the administrator's range
  // The appliance's own addresses: its relay ports are where relay-only browsers meet; any other
  // port there (a DNS forwarder on a bridge, SNMP) is not a guest's, private address or public.
  EXPECT_EQ(policy.CheckIp(A("192.168.7.2"), PeerScope::kGuest), PeerVerdict::kAllowed);
  EXPECT_EQ(policy.Check(A("192.168.7.2:50000"), PeerScope::kGuest), PeerVerdict::kAllowed);
  EXPECT_EQ(policy.Check(A("192.168.7.2:49152"), PeerScope::kGuest), PeerVerdict::kAllowed);
  EXPECT_EQ(policy.Check(A("192.168.7.2:3478"), PeerScope::kGuest), PeerVerdict::kOwnEndpoint);
  EXPECT_EQ(policy.Check(A("192.168.7.2:53"), PeerScope::kGuest), PeerVerdict::kOwnEndpoint);
  EXPECT_EQ(policy.Check(A("192.168.7.2:49151"), PeerScope::kGuest), PeerVerdict::kOwnEndpoint);
  EXPECT_EQ(policy.Check(A("203.0.113.5:161"), PeerScope::kGuest), PeerVerdict::kOwnEndpoint);
  EXPECT_EQ(policy.Check(A("203.0.113.5:50000"), PeerScope::kGuest), PeerVerdict::kAllowed);
  // Members as before: any port but the service ports.
  EXPECT_EQ(policy.Check(A("192.168.7.2:53"), PeerScope::kMember), PeerVerdict::kAllowed);
  EXPECT_EQ(policy.Check(A("203.0.113.5:161"), PeerScope::kMember), PeerVerdict::kAllowed);
  // The always-refused categories stay refused for both.
  EXPECT_EQ(policy.CheckIp(A("127.0.0.1"), PeerScope::kGuest), PeerVerdict::kLoopback);

  o.guest_private = true;
  EXPECT_EQ(PeerPolicy(o).CheckIp(A("10.0.0.1"), PeerScope::kGuest), PeerVerdict::kAllowed);
  o.allow_private = false;  // closes the private ranges for everyone, whatever guest_private says
  EXPECT_EQ(PeerPolicy(o).CheckIp(A("10.0.0.1"), PeerScope::kGuest), PeerVerdict::kPrivate);
  EXPECT_EQ(PeerPolicy(o).CheckIp(A("10.0.0.1"), PeerScope::kMember), PeerVerdict::kPrivate);
}

TEST(PeerPolicy, ConfiguredListsDecideByLongestPrefix) {
  PeerPolicyOptions o;
  o.allow_private = false;
  o.allowed = {C("10.1.0.0/16"), C("203.0.113.7"), C("198.51.100.0/24")};
  o.denied = {C("203.0.113.0/24"), C("198.51.100.0/24"), C("2001:db8::/32")};
  PeerPolicy policy(o);
  EXPECT_EQ(policy.CheckIp(A("10.1.2.3")), PeerVerdict::kAllowed);    // re-opened private range
  EXPECT_EQ(policy.CheckIp(A("10.2.0.1")), PeerVerdict::kPrivate);
  EXPECT_EQ(policy.CheckIp(A("203.0.113.7")), PeerVerdict::kAllowed);  // /32 beats /24
  EXPECT_EQ(policy.CheckIp(A("203.0.113.8")), PeerVerdict::kDenied);
  EXPECT_EQ(policy.CheckIp(A("198.51.100.1")), PeerVerdict::kDenied);  // tie: denied
  EXPECT_EQ(policy.CheckIp(A("2001:db8::5")), PeerVerdict::kDenied);
  EXPECT_EQ(policy.CheckIp(A("::ffff:203.0.113.8")), PeerVerdict::kDenied);
  EXPECT_EQ(policy.CheckIp(A("2001:db9::5")), PeerVerdict::kAllowed);
}

TEST(PeerPolicy, AllowedListsNeverOpenTheAlwaysRefusedCategories) {
  PeerPolicyOptions o;
  o.allowed = {C("0.0.0.0/0"), C("::/0"), C("127.0.0.0/8")};
  PeerPolicy policy(o);
  EXPECT_EQ(policy.CheckIp(A("127.0.0.1")), PeerVerdict::kLoopback);
  EXPECT_EQ(policy.CheckIp(A("0.0.0.0")), PeerVerdict::kUnspecified);
  EXPECT_EQ(policy.CheckIp(A("::1")), PeerVerdict::kLoopback);
  EXPECT_EQ(policy.CheckIp(A("224.0.0.1")), PeerVerdict::kMulticast);
  EXPECT_EQ(policy.CheckIp(A("169.254.1.1")), PeerVerdict::kLinkLocal);
}

TEST(PeerPolicy, LoopbackOnlyWithItsSwitchAndNeverTheOwnPorts) {
  PeerPolicyOptions o;
  o.allow_loopback = true;
  o.own_endpoints = {A("127.0.0.1:3478"), A("[::1]:3478"), A("127.0.0.1:8443")};
  PeerPolicy policy(o);
  EXPECT_EQ(policy.Check(A("127.0.0.1:40000")), PeerVerdict::kAllowed);
  EXPECT_EQ(policy.Check(A("[::1]:40000")), PeerVerdict::kAllowed);
  EXPECT_EQ(policy.Check(A("[::ffff:127.0.0.1]:40000")), PeerVerdict::kAllowed);
  EXPECT_EQ(policy.Check(A("127.0.0.1:3478")), PeerVerdict::kOwnEndpoint);
  EXPECT_EQ(policy.Check(A("[::ffff:127.0.0.1]:3478")), PeerVerdict::kOwnEndpoint);
  EXPECT_EQ(policy.Check(A("127.0.0.1:8443")), PeerVerdict::kOwnEndpoint);
  EXPECT_EQ(policy.Check(A("[::1]:3478")), PeerVerdict::kOwnEndpoint);
  EXPECT_EQ(policy.CheckIp(A("127.0.0.1")), PeerVerdict::kAllowed);  // the port decides later
  // Still no unspecified or link-local with loopback allowed.
  EXPECT_EQ(policy.Check(A("0.0.0.0:40000")), PeerVerdict::kUnspecified);
  EXPECT_EQ(policy.Check(A("[::]:40000")), PeerVerdict::kUnspecified);
}

TEST(PeerPolicy, OwnEndpointsOnPublicAddressesAndWildcards) {
  PeerPolicyOptions o;
  o.own_endpoints = {A("203.0.113.5:443"), A("0.0.0.0:3478"), A("[::]:5349")};
  o.self_addresses = {A("203.0.113.5"), A("2001:db8::5"), A("10.0.0.5")};
  PeerPolicy policy(o);
  EXPECT_EQ(policy.Check(A("203.0.113.5:443")), PeerVerdict::kOwnEndpoint);
  EXPECT_EQ(policy.Check(A("[::ffff:203.0.113.5]:443")), PeerVerdict::kOwnEndpoint);
  EXPECT_EQ(policy.Check(A("203.0.113.5:3478")), PeerVerdict::kOwnEndpoint);    // wildcard listener
  EXPECT_EQ(policy.Check(A("[2001:db8::5]:3478")), PeerVerdict::kOwnEndpoint);
  EXPECT_EQ(policy.Check(A("10.0.0.5:5349")), PeerVerdict::kOwnEndpoint);
  // Relay ports on our own address stay open: two relay-only browsers on one server.
  EXPECT_EQ(policy.Check(A("203.0.113.5:50000")), PeerVerdict::kAllowed);
  EXPECT_EQ(policy.CheckIp(A("203.0.113.5")), PeerVerdict::kAllowed);
  // Other hosts on the same ports are not us.
  EXPECT_EQ(policy.Check(A("198.51.100.1:3478")), PeerVerdict::kAllowed);
  EXPECT_EQ(policy.Check(A("198.51.100.1:443")), PeerVerdict::kAllowed);
}

TEST(PeerPolicy, WildcardEndpointWithoutSelfAddressesFailsClosed) {
  PeerPolicyOptions o;
  o.own_endpoints = {A("0.0.0.0:3478")};
  PeerPolicy policy(o);
  EXPECT_EQ(policy.Check(A("198.51.100.1:3478")), PeerVerdict::kOwnEndpoint);
  EXPECT_EQ(policy.Check(A("198.51.100.1:3479")), PeerVerdict::kAllowed);
}

TEST(Cidr, ParsesAndMatches) {
  Cidr a = C("10.1.2.3/8");
  EXPECT_EQ(a.ToString(), "10.0.0.0/8");
  EXPECT_TRUE(a.Contains(A("10.255.0.1")));
  EXPECT_FALSE(a.Contains(A("11.0.0.1")));
  EXPECT_FALSE(a.Contains(A("::ffff:10.0.0.1")));  // other family
  Cidr host = C("192.0.2.1");
  EXPECT_EQ(host.prefix, 32);
  EXPECT_TRUE(host.Contains(A("192.0.2.1:99")));
  EXPECT_FALSE(host.Contains(A("192.0.2.2")));
  Cidr v6 = C("2001:db8:ffff::/33");
  EXPECT_EQ(v6.ToString(), "2001:db8:8000::/33");
  EXPECT_TRUE(v6.Contains(A("2001:db8:8000::1")));
  EXPECT_FALSE(v6.Contains(A("2001:db8:7fff::1")));
  EXPECT_TRUE(C("::/0").Contains(A("2001:db8::1")));
  EXPECT_TRUE(C("0.0.0.0/0").Contains(A("1.2.3.4")));
  EXPECT_TRUE(C("172.16.0.0/12").Contains(A("172.31.255.255")));
  EXPECT_FALSE(C("172.16.0.0/12").Contains(A("172.32.0.0")));
  for (const char* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "x/8", "10.0.0.0/8/8", "10.0.0.0/-1",
                          "10.0.0.0/1a"}) {
    EXPECT_FALSE(Cidr::Parse(bad)) << bad;
  }
}

TEST(PeerPolicy, VerdictNames) {
  EXPECT_EQ(PeerVerdictName(PeerVerdict::kAllowed), "allowed");
  EXPECT_EQ(PeerVerdictName(PeerVerdict::kOwnEndpoint), "own_endpoint");
  EXPECT_EQ(PeerVerdictName(PeerVerdict::kLoopback), "loopback");
  EXPECT_EQ(PeerVerdictName(PeerVerdict::kPrivate), "private");
}

}  // namespace
}  // namespace palaver::turn
