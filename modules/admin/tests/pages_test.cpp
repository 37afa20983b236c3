#include "pages.hpp"

#include <gtest/gtest.h>

#include "console.hpp"

namespace palaver::admin {
namespace {

TEST(AdminPages, EveryTextInBothLanguages) {
  for (const auto& key : TextKeys()) {
    EXPECT_FALSE(Text(Lang::kEn, key).empty()) << key;
    EXPECT_FALSE(Text(Lang::kDe, key).empty()) << key;
  }
  EXPECT_EQ(Text(Lang::kEn, "password_once", {"anna"}).find("anna"), 16u);
}

TEST(AdminPages, EveryPageRendersInBothLanguagesWithoutInlineScript) {
  for (Lang lang : {Lang::kEn, Lang::kDe}) {
    for (const char* page : {"guests", "media", "status", "audit", "users", "certificates", "confirm", "message"}) {
      Frame f{.title = "T", .current = page, .user = "Root <&>", .csrf = "tok"};
      std::string html = RenderPage(lang, page, mstch::map{}, f);
      EXPECT_NE(html.find(std::string("<html lang=\"") + LangCode(lang) + "\">"), std::string::npos) << page;
      EXPECT_NE(html.find("Root &lt;&amp;&gt;"), std::string::npos) << page;  // escaped
      EXPECT_EQ(html.find("<script>"), std::string::npos) << page;
      EXPECT_EQ(html.find(" style=\""), std::string::npos) << page;
      EXPECT_EQ(html.find("onclick"), std::string::npos) << page;
    }
  }
}

TEST(AdminPages, StrictContentSecurityPolicy) {
  auto r = PageResponse(Lang::kEn, "message", mstch::map{{"lead", std::string("x")}}, Frame{.title = "T"});
  auto csp = std::string(*r.Header("content-security-policy"));
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(*r.Header("cache-control"), "no-store");
}

sdk::Request Post(std::vector<std::pair<std::string, std::string>> headers) {
  sdk::Request r;
  r.method = "POST";
  r.authority = "palaver.example:8443";
  r.headers = std::move(headers);
  return r;
}

TEST(SameOrigin, NeedsOriginOrFetchMetadataOfThisOrigin) {
  EXPECT_TRUE(SameOrigin(Post({{"origin", "https://palaver.example:8443"}})));
  EXPECT_TRUE(SameOrigin(Post({{"sec-fetch-site", "same-origin"}})));
  EXPECT_TRUE(SameOrigin(Post({{"origin", "https://palaver.example:8443"}, {"sec-fetch-site", "same-origin"}})));
  EXPECT_FALSE(SameOrigin(Post({})));
  EXPECT_FALSE(SameOrigin(Post({{"origin", "https://evil.example"}})));
  EXPECT_FALSE(SameOrigin(Post({{"origin", "null"}})));
  EXPECT_FALSE(SameOrigin(Post({{"origin", "http://palaver.example:8443"}})));
  EXPECT_FALSE(SameOrigin(Post({{"sec-fetch-site", "same-site"}})));
  EXPECT_FALSE(SameOrigin(Post({{"origin", "https://palaver.example:8443"}, {"sec-fetch-site", "cross-site"}})));
}

TEST(AdminNetworkAllows, EmptyMeansAnyElseOnlyTheListed) {
  EXPECT_TRUE(AdminNetworkAllows({}, "203.0.113.9"));
  EXPECT_TRUE(AdminNetworkAllows({}, "2001:db8::1"));
  std::vector<sdk::Cidr> lan{*sdk::Cidr::Parse("192.168.10.0/24"), *sdk::Cidr::Parse("fd00:1::/64")};
  EXPECT_TRUE(AdminNetworkAllows(lan, "192.168.10.77"));
  EXPECT_TRUE(AdminNetworkAllows(lan, "::ffff:192.168.10.77"));  // an IPv4 client on the dual-stack socket
  EXPECT_TRUE(AdminNetworkAllows(lan, "fd00:1::5"));
  EXPECT_FALSE(AdminNetworkAllows(lan, "192.168.11.1"));
  EXPECT_FALSE(AdminNetworkAllows(lan, "203.0.113.9"));
  EXPECT_FALSE(AdminNetworkAllows(lan, "fd00:2::5"));
  EXPECT_FALSE(AdminNetworkAllows(lan, ""));          // no address: refused, not waved through
  EXPECT_FALSE(AdminNetworkAllows(lan, "garbage"));
  // Loopback only when listed (an untrusted local proxy would make every client loopback).
  EXPECT_FALSE(AdminNetworkAllows(lan, "127.0.0.1"));
  EXPECT_FALSE(AdminNetworkAllows(lan, "::1"));
  lan.push_back(*sdk::Cidr::Parse("127.0.0.0/8"));
  EXPECT_TRUE(AdminNetworkAllows(lan, "127.0.0.1"));
  EXPECT_TRUE(AdminNetworkAllows(lan, "::ffff:127.0.0.1"));
  EXPECT_FALSE(AdminNetworkAllows(lan, "::1"));
}

}  // namespace
}  // namespace palaver::admin
