#include <gtest/gtest.h>

#include "config.hpp"

namespace palaver::oidc {
namespace {

TEST(OidcConfig, DefaultsAndIssuer) {
  sdk::ConfigSection s{.name = "oidc", .file = "p.cfg"};
  sdk::ConfigReader r(s);
  auto c = ParseOidcConfig(r);
  EXPECT_TRUE(r.Finish());
  EXPECT_EQ(c.signing_alg, JwsAlg::kES256);
  EXPECT_EQ(c.access_token_lifetime.count(), 600);
  EXPECT_EQ(c.id_token_lifetime.count(), 3600);
  EXPECT_EQ(EffectiveIssuer(c, "meet.example.org", 443), "https://meet.example.org");
  EXPECT_EQ(EffectiveIssuer(c, "localhost", 8443), "https://localhost:8443");
  c.issuer = "https://id.example.org";
  EXPECT_EQ(EffectiveIssuer(c, "localhost", 8443), "https://id.example.org");
}

TEST(OidcConfig, RejectsBadValues) {
  sdk::ConfigSection s{.name = "oidc", .file = "p.cfg", .line = 1,
                       .entries = {{"issuer", {"http://plain.example.org", 2}},
                                   {"signing_alg", {"HS256", 3}},
                                   {"access_token_lifetime", {"5s", 4}},
                                   {"key_rotation", {"10m", 5}}}};
  sdk::ConfigReader r(s);
  (void)ParseOidcConfig(r);
  EXPECT_EQ(r.Problems().size(), 4u);
}

TEST(OidcConfig, Upstream) {
  sdk::ConfigSection s{.name = "oidc", .file = "p.cfg", .line = 1,
                       .entries = {{"upstream_issuer", {"https://sso.example.org/realms/ucs", 2}},
                                   {"upstream_client_id", {"palaver", 3}},
                                   {"upstream_label", {"UCS", 4}},
                                   {"upstream_only", {"yes", 5}}}};
  sdk::ConfigReader r(s);
  auto c = ParseOidcConfig(r);
  EXPECT_TRUE(r.Finish());
  EXPECT_TRUE(c.upstream.Enabled());
  EXPECT_TRUE(c.upstream.only);
  EXPECT_EQ(c.upstream.user_claim, "preferred_username");
  EXPECT_EQ(c.upstream.scopes.size(), 3u);

  sdk::ConfigSection bad{.name = "oidc", .file = "p.cfg", .line = 1,
                         .entries = {{"upstream_issuer", {"https://sso.example.org/", 2}},
                                     {"upstream_scopes", {"profile", 3}},
                                     {"upstream_client_secret_file", {"/nonexistent/secret", 4}}}};
  sdk::ConfigReader rb(bad);
  (void)ParseOidcConfig(rb);
  // trailing slash, no client id, no openid scope, unreadable secret file
  EXPECT_EQ(rb.Problems().size(), 4u);

  sdk::ConfigSection only{.name = "oidc", .file = "p.cfg", .line = 1, .entries = {{"upstream_only", {"yes", 2}}}};
  sdk::ConfigReader ro(only);
  (void)ParseOidcConfig(ro);
  EXPECT_EQ(ro.Problems().size(), 1u);
}

}  // namespace
}  // namespace palaver::oidc
