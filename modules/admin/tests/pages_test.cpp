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

}  // namespace
}  // namespace palaver::admin
