#include <gtest/gtest.h>

#include "net/forwarded.hpp"

namespace palaver::host::net {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

std::vector<Cidr> Nets(std::initializer_list<const char*> list) {
  std::vector<Cidr> out;
  for (const char* n : list) out.push_back(*Cidr::Parse(n));
  return out;
}

std::vector<std::string> Xff(std::initializer_list<std::string_view> values) {
  std::vector<std::string> hops;
  if (!ParseXForwardedFor(std::vector<std::string_view>(values), hops)) return {"<malformed>"};
  return hops;
}

std::vector<std::string> Fwd(std::initializer_list<std::string_view> values) {
  std::vector<std::string> hops;
  if (!ParseForwarded(std::vector<std::string_view>(values), hops)) return {"<malformed>"};
  return hops;
}

using V = std::vector<std::string>;

TEST(CanonicalAddress, NormalisesAndRefuses) {
  EXPECT_EQ(CanonicalAddress("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(CanonicalAddress("2001:DB8:0:0::1"), "2001:db8::1");
  EXPECT_EQ(CanonicalAddress("::ffff:192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(CanonicalAddress(""), "");
  EXPECT_EQ(CanonicalAddress("example.com"), "");
  EXPECT_EQ(CanonicalAddress("192.0.2.1\nx"), "");
  EXPECT_EQ(CanonicalAddress("01.2.3.4"), "");
}

TEST(XForwardedFor, ParsesListsPortsAndLines) {
  EXPECT_EQ(Xff({"203.0.113.7"}), (V{"203.0.113.7"}));
  EXPECT_EQ(Xff({"203.0.113.7, 10.0.0.2"}), (V{"203.0.113.7", "10.0.0.2"}));
  EXPECT_EQ(Xff({"203.0.113.7:4711,[2001:db8::7]:443", " 2001:db8::8 "}),
            (V{"203.0.113.7", "2001:db8::7", "2001:db8::8"}));
  EXPECT_EQ(Xff({"unknown, 10.0.0.2"}), (V{"unknown", "10.0.0.2"}));
}

TEST(XForwardedFor, RefusesMalformed) {
  for (std::string_view bad : {"", "evil.example", "203.0.113.7,", ",203.0.113.7", "1.2.3.4:x", "1.2.3.4:123456",
                               "[1.2.3.4]", "[2001:db8::1", "2001:db8::1]:80", "1.2.3.4 5.6.7.8",
                               "1.2.3.4\r\nX-Evil: 1", "\"1.2.3.4\""}) {
    EXPECT_EQ(Xff({bad}), V{"<malformed>"}) << bad;
  }
}

TEST(Forwarded, ParsesRfc7239Examples) {
  // RFC 7239 §4 and §7.1 examples.
  EXPECT_EQ(Fwd({"for=\"_gazonk\""}), V{"unknown"});
  EXPECT_EQ(Fwd({"For=\"[2001:db8:cafe::17]:4711\""}), V{"2001:db8:cafe::17"});
  EXPECT_EQ(Fwd({"for=192.0.2.60;proto=http;by=203.0.113.43"}), V{"192.0.2.60"});
  EXPECT_EQ(Fwd({"for=192.0.2.43, for=198.51.100.17"}), (V{"192.0.2.43", "198.51.100.17"}));
  EXPECT_EQ(Fwd({"for=192.0.2.43", "for=\"[2001:db8:cafe::17]\";proto=https"}), (V{"192.0.2.43", "2001:db8:cafe::17"}));
  EXPECT_EQ(Fwd({"for=unknown, for=\"192.0.2.1:8080\""}), (V{"unknown", "192.0.2.1"}));
  EXPECT_EQ(Fwd({"proto=https;host=meet.example"}), V{"unknown"});  // an element without for=
  EXPECT_EQ(Fwd({"for=\"192.0.2.1, x\";proto=https, for=192.0.2.2"}), V{"<malformed>"});
}

TEST(Forwarded, RefusesMalformed) {
  for (std::string_view bad : {"", "for", "for=", "for=2001:db8::1", "for=\"192.0.2.1", "for=192.0.2.1;",
                               "for=192.0.2.1;for=192.0.2.2", "for=example.com", "for=\"[192.0.2.1]\"",
                               "for=192.0.2.1 proto=http", "for=192.0.2.1,,for=192.0.2.2", "=x", "for=\"x\\\"",
                               // An empty quoted value (found by net_codec_fuzz: it asserted in front()).
                               "for=\"\"", "by=\"\";for=192.0.2.1"}) {
    EXPECT_EQ(Fwd({bad}), V{"<malformed>"}) << bad;
  }
}

TEST(ResolveClientAddress, UntrustedPeersHeadersAreIgnored) {
  auto trusted = Nets({"127.0.0.1", "::1"});
  Headers h{{"x-forwarded-for", "203.0.113.7"}, {"forwarded", "for=203.0.113.8"}};
  auto c = ResolveClientAddress("198.51.100.1", trusted, ProxyHeader::kXForwardedFor, h);
  EXPECT_EQ(c.address, "198.51.100.1");
  EXPECT_FALSE(c.forwarded);
  EXPECT_TRUE(c.ignored_reason.empty());
  // No proxy configured: even loopback is the client itself.
  EXPECT_EQ(ResolveClientAddress("127.0.0.1", {}, ProxyHeader::kXForwardedFor, h).address, "127.0.0.1");
}

TEST(ResolveClientAddress, TrustedPeerNamesTheRightmostUntrustedHop) {
  auto trusted = Nets({"127.0.0.1", "10.0.0.0/8"});
  // A client forged the leftmost entry; Apache appended the address it saw, another proxy ours.
  Headers h{{"x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.1.2.3"}};
  auto c = ResolveClientAddress("127.0.0.1", trusted, ProxyHeader::kXForwardedFor, h);
  EXPECT_EQ(c.address, "203.0.113.7");
  EXPECT_TRUE(c.forwarded);
  // All hops trusted: the leftmost is the client.
  Headers inner{{"x-forwarded-for", "10.0.0.9, 10.1.2.3"}};
  EXPECT_EQ(ResolveClientAddress("127.0.0.1", trusted, ProxyHeader::kXForwardedFor, inner).address, "10.0.0.9");
  // Without the header the peer itself is the client (a request the proxy made on its own).
  EXPECT_EQ(ResolveClientAddress("127.0.0.1", trusted, ProxyHeader::kXForwardedFor, {}).address, "127.0.0.1");
}

TEST(ResolveClientAddress, OnlyTheConfiguredHeaderIsRead) {
  auto trusted = Nets({"::1"});
  // Apache maintains X-Forwarded-For and passes a client's own Forwarded header through.
  Headers h{{"forwarded", "for=6.6.6.6"}, {"x-forwarded-for", "2001:db8::7"}};
  EXPECT_EQ(ResolveClientAddress("::1", trusted, ProxyHeader::kXForwardedFor, h).address, "2001:db8::7");
  EXPECT_EQ(ResolveClientAddress("::1", trusted, ProxyHeader::kForwarded, h).address, "6.6.6.6");
  Headers multi{{"forwarded", "for=6.6.6.6"}, {"forwarded", "for=\"[2001:db8::9]:1234\";proto=https"}};
  EXPECT_EQ(ResolveClientAddress("::1", trusted, ProxyHeader::kForwarded, multi).address, "2001:db8::9");
}

TEST(ResolveClientAddress, MalformedUnknownAndLongChainsKeepThePeer) {
  auto trusted = Nets({"127.0.0.1"});
  auto check = [&](Headers h, ProxyHeader which, const char* reason) {
    auto c = ResolveClientAddress("127.0.0.1", trusted, which, h);
    EXPECT_EQ(c.address, "127.0.0.1") << reason;
    EXPECT_FALSE(c.forwarded);
    EXPECT_EQ(c.ignored_reason, reason);
  };
  check({{"x-forwarded-for", "not-an-ip"}}, ProxyHeader::kXForwardedFor, "malformed");
  check({{"x-forwarded-for", "203.0.113.7"}, {"x-forwarded-for", "bogus"}}, ProxyHeader::kXForwardedFor, "malformed");
  check({{"forwarded", "for=\"unterminated"}}, ProxyHeader::kForwarded, "malformed");
  check({{"forwarded", "for=_hidden"}}, ProxyHeader::kForwarded, "unknown_hop");
  check({{"x-forwarded-for", "203.0.113.7, unknown"}}, ProxyHeader::kXForwardedFor, "unknown_hop");
  std::string chain;
  for (int i = 0; i <= kMaxForwardedHops; ++i) chain += (i ? ", " : "") + std::string("203.0.113.") + std::to_string(i);
  check({{"x-forwarded-for", chain}}, ProxyHeader::kXForwardedFor, "too_many_hops");
  // An unknown hop left of the first untrusted one does not matter.
  auto c = ResolveClientAddress("127.0.0.1", trusted, ProxyHeader::kXForwardedFor,
                                {{"x-forwarded-for", "unknown, 203.0.113.7"}});
  EXPECT_EQ(c.address, "203.0.113.7");
}

}  // namespace
}  // namespace palaver::host::net
