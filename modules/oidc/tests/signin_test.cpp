#include <gtest/gtest.h>

#include "palaver/sdk/encoding.hpp"
#include "signin_api.hpp"
#include "signin_session.hpp"

namespace palaver::oidc {
namespace {

const std::string kKey(32, 'k');

TEST(SessionSealer, RoundTripTamperExpiryAndKeys) {
  SessionSealer sealer(kKey);
  SigninSession s{"id1", "anna", "Anna A", 100, 1000};
  std::string sealed = sealer.Seal(s);
  ASSERT_FALSE(sealed.empty());
  auto opened = sealer.Open(sealed, 500);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->username, "anna");
  EXPECT_EQ(opened->expires_at, 1000);
  EXPECT_FALSE(sealer.Open(sealed, 1000));  // expired
  std::string raw = *sdk::Base64UrlDecode(sealed);
  raw[20] ^= 1;
  EXPECT_FALSE(sealer.Open(sdk::Base64UrlEncode(raw), 500));  // altered
  EXPECT_FALSE(SessionSealer(std::string(32, 'x')).Open(sealed, 500));  // another key
  EXPECT_FALSE(sealer.Open("", 500));
  EXPECT_FALSE(sealer.Open("not-base64!", 500));
  EXPECT_NE(sealer.Seal(s), sealed);  // fresh nonce each time
}

TEST(Cookies, HeadersAndParsing) {
  EXPECT_EQ(SessionCookieHeader("v"), "__Secure-KKT=v; Path=/signin/v1/identifier/_/; Secure; HttpOnly; SameSite=Lax");
  EXPECT_NE(ClearSessionCookieHeader().find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(CookieValue("a=1; __Secure-KKT=abc; b=2", "__Secure-KKT"), "abc");
  EXPECT_FALSE(CookieValue("__Secure-KKTX=1", "__Secure-KKT"));
}

sdk::Request Signin(std::vector<std::pair<std::string, std::string>> headers, int http_version = 1,
                    const char* content_type = "application/json") {
  sdk::Request r;
  r.authority = "meet.example.org";
  r.http_version = http_version;
  r.headers = std::move(headers);
  if (content_type != nullptr) r.headers.emplace_back("content-type", content_type);
  return r;
}

TEST(SigninApi, CsrfGuard) {
  EXPECT_TRUE(CheckSigninRequest(Signin({{"kopano-konnect-xsrf", "1"}, {"origin", "https://meet.example.org"}})));
  EXPECT_TRUE(CheckSigninRequest(Signin({{"kopano-konnect-xsrf", "1"}, {"referer", "https://meet.example.org/signin/v1/identifier"}})));
  EXPECT_FALSE(CheckSigninRequest(Signin({{"origin", "https://meet.example.org"}})));
  EXPECT_FALSE(CheckSigninRequest(Signin({{"kopano-konnect-xsrf", "0"}, {"origin", "https://meet.example.org"}})));
  EXPECT_FALSE(CheckSigninRequest(Signin({{"kopano-konnect-xsrf", "1"}, {"origin", "https://evil.example"}})));
  EXPECT_FALSE(CheckSigninRequest(Signin({{"kopano-konnect-xsrf", "1"}, {"origin", "https://meet.example.org.evil.example"}})));
  EXPECT_FALSE(CheckSigninRequest(Signin({{"kopano-konnect-xsrf", "1"}})));
  EXPECT_FALSE(CheckSigninRequest(Signin({{"kopano-konnect-xsrf", "1"}, {"origin", "null"}})));
  // A form-encodable body type is refused (a cross-site form could send it without preflight).
  EXPECT_FALSE(CheckSigninRequest(Signin({{"kopano-konnect-xsrf", "1"}, {"origin", "https://meet.example.org"}}, 1,
                                         "text/plain")));
  EXPECT_FALSE(CheckSigninRequest(Signin({{"kopano-konnect-xsrf", "1"}, {"origin", "https://meet.example.org"}}, 1,
                                         nullptr)));
  // HTTP/2: the same check; a missing XSRF header is refused there too.
  EXPECT_FALSE(CheckSigninRequest(Signin({{"origin", "https://meet.example.org"}}, 2)));
  EXPECT_TRUE(CheckSigninRequest(Signin({{"kopano-konnect-xsrf", "1"}, {"origin", "https://meet.example.org"}}, 2)));
  EXPECT_FALSE(CheckSigninRequest(Signin({{"origin", "https://evil.example"}}, 2)));
  EXPECT_FALSE(CheckSigninRequest(Signin({{"origin", "https://meet.example.org"}}, 2, "application/x-www-form-urlencoded")));
  EXPECT_FALSE(CheckSigninRequest(Signin({{"kopano-konnect-xsrf", "0"}, {"origin", "https://meet.example.org"}}, 2)));
}

TEST(SigninApi, ParsesLogon) {
  auto l = ParseLogon(R"({"state":"s1","params":["anna","pw","1"]})");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->username, "anna");
  EXPECT_EQ(l->mode, "1");
  for (const char* bad : {"", "[]", R"({"params":["a","b"]})", R"({"params":["a","b","2"]})", R"({"params":[1,"b","1"]})",
                          R"({"state":5,"params":["a","b","1"]})", R"({"params":["","b","1"]})"}) {
    EXPECT_FALSE(ParseLogon(bad)) << bad;
  }
  EXPECT_EQ(*ParseState(R"({"state":"x"})"), "x");
  EXPECT_EQ(*ParseState(""), "");
  EXPECT_FALSE(ParseState("{"));
}

TEST(FailureLimiter, SlidingWindowAndBound) {
  FailureLimiter limiter(3, std::chrono::seconds(60), 2);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter.Allowed("a", 100));
    limiter.RecordFailure("a", 100);
  }
  EXPECT_FALSE(limiter.Allowed("a", 100));
  EXPECT_FALSE(limiter.Allowed("a", 159));
  EXPECT_TRUE(limiter.Allowed("a", 161));  // the window moved on
  limiter.RecordFailure("b", 100);
  limiter.RecordFailure("c", 100);         // over max_keys: the oldest key is forgotten
  EXPECT_TRUE(limiter.Allowed("a", 100));
  limiter.Reset("c");
  EXPECT_TRUE(limiter.Allowed("c", 100));
}

}  // namespace
}  // namespace palaver::oidc
