#include <gtest/gtest.h>

#include "router.hpp"

namespace palaver::host {
namespace {

sdk::Handler Noop() {
  return [](const sdk::Request&, sdk::Responder) {};
}

TEST(Router, LongestMatchAndExactBeforePrefix) {
  RouterImpl r;
  ASSERT_TRUE(r.Add("web", {.path = "/meet/", .match = sdk::Match::kPrefix}, Noop()));
  ASSERT_TRUE(r.Add("web", {.path = "/meet/r/", .match = sdk::Match::kPrefix, .route_class = "spa"}, Noop()));
  ASSERT_TRUE(r.Add("web", {.path = "/", .route_class = "root"}, Noop()));
  auto m = r.Lookup("GET", "/meet/r/group/x", sdk::Listener::kHttps);
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(m.entry->route.route_class, "spa");
  m = r.Lookup("GET", "/meet/index.html", sdk::Listener::kHttps);
  EXPECT_EQ(m.entry->route.route_class, "web");
  m = r.Lookup("GET", "/", sdk::Listener::kHttps);
  EXPECT_EQ(m.entry->route.route_class, "root");
  EXPECT_EQ(r.Lookup("GET", "/other", sdk::Listener::kHttps).kind, RouteMatch::Kind::kNotFound);
}

TEST(Router, PrefixDoesNotMatchPartialSegment) {
  RouterImpl r;
  ASSERT_TRUE(r.Add("x", {.path = "/api/x", .match = sdk::Match::kPrefix}, Noop()));
  EXPECT_EQ(r.Lookup("GET", "/api/x/1", sdk::Listener::kHttps).kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(r.Lookup("GET", "/api/x", sdk::Listener::kHttps).kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(r.Lookup("GET", "/api/xy", sdk::Listener::kHttps).kind, RouteMatch::Kind::kNotFound);
}

TEST(Router, MethodsHeadAndAllow) {
  RouterImpl r;
  ASSERT_TRUE(r.Add("x", {.methods = {"GET", "POST"}, .path = "/a"}, Noop()));
  EXPECT_EQ(r.Lookup("HEAD", "/a", sdk::Listener::kHttps).kind, RouteMatch::Kind::kFound);
  auto m = r.Lookup("DELETE", "/a", sdk::Listener::kHttps);
  ASSERT_EQ(m.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET, POST, HEAD");
}

TEST(Router, ListenersAndDuplicatesAndRemoval) {
  RouterImpl r;
  ASSERT_TRUE(r.Add("tls", {.path = "/.well-known/acme-challenge/", .match = sdk::Match::kPrefix,
                            .on_https = false, .on_http = true}, Noop()));
  EXPECT_EQ(r.Lookup("GET", "/.well-known/acme-challenge/t", sdk::Listener::kHttps).kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(r.Lookup("GET", "/.well-known/acme-challenge/t", sdk::Listener::kHttp).kind, RouteMatch::Kind::kFound);
  auto dup = r.Add("other", {.path = "/.well-known/acme-challenge/", .match = sdk::Match::kPrefix,
                             .on_https = false, .on_http = true}, Noop());
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message.find("already registered by module tls"), std::string::npos);
  EXPECT_FALSE(r.Add("x", {.path = "relative"}, Noop()));
  r.RemoveOwner("tls");
  EXPECT_EQ(r.Lookup("GET", "/.well-known/acme-challenge/t", sdk::Listener::kHttp).kind, RouteMatch::Kind::kNotFound);
}

TEST(Router, FiltersRunInOrder) {
  RouterImpl r;
  r.AddFilter("a", [](const sdk::Request&, sdk::Response& resp) { resp.SetHeader("x", "a"); });
  r.AddFilter("b", [](const sdk::Request&, sdk::Response& resp) { resp.SetHeader("x", std::string(*resp.Header("x")) + "b"); });
  sdk::Request req;
  sdk::Response resp;
  r.ApplyFilters(req, resp);
  EXPECT_EQ(resp.Header("x"), "ab");
}

}  // namespace
}  // namespace palaver::host
