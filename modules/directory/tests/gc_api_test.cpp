#include <gtest/gtest.h>

#include "gc_api.hpp"

namespace palaver::directory {
namespace {

sdk::Request Req(const std::string& query) {
  sdk::Request r;
  r.path = "/api/gc/v1/users";
  r.query = query;
  return r;
}

TEST(GcApi, ParsesListQueries) {
  auto q = ParseListQuery(Req("$top=100&$skip=0&$search=Ann%20A&$select=id,mail"));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->top, 100u);
  EXPECT_EQ(q->search, "Ann A");
  EXPECT_EQ(q->select, (std::set<std::string>{"id", "mail"}));
  auto d = ParseListQuery(Req(""));
  EXPECT_EQ(d->top, 10u);
  EXPECT_EQ(d->skip, 0u);
  EXPECT_EQ(ParseListQuery(Req("$search=%22quoted%22"))->search, "quoted");
}

TEST(GcApi, RejectsBadQueries) {
  for (const char* bad : {"$top=0", "$top=1001", "$top=-1", "$top=ten", "$skip=x", "$select=password",
                          "$top=99999999999999999999"}) {
    auto q = ParseListQuery(Req(bad));
    ASSERT_FALSE(q) << bad;
    EXPECT_EQ(q.error().code, ErrorCode::kInvalidArgument);
    EXPECT_FALSE(q.error().public_message.empty());
  }
  EXPECT_FALSE(ParseListQuery(Req("$search=" + std::string(300, 'a'))));
}

TEST(GcApi, UserJsonShapeAndSelect) {
  sdk::DirectoryUser u{.id = "abc", .username = "anna", .display_name = "Anna \"A\"", .given_name = "Anna",
                       .surname = "Apfel", .mail = "anna@example.org"};
  EXPECT_EQ(UserJson(u, {}),
            R"({"id":"abc","displayName":"Anna \"A\"","givenName":"Anna","surname":"Apfel","mail":"anna@example.org",)"
            R"("userPrincipalName":"anna","jobTitle":"","mobilePhone":"","officeLocation":"","businessPhones":[]})");
  EXPECT_EQ(UserJson(u, {"mail"}), R"({"id":"abc","mail":"anna@example.org"})");
}

TEST(GcApi, ListEnvelopeWithNextLink) {
  sdk::UserPage page;
  page.users.push_back({.id = "1", .username = "a"});
  page.more = true;
  ListQuery q{.top = 1, .skip = 2, .search = "a b&c"};
  std::string json = UserListJson(page, q);
  EXPECT_EQ(json.rfind(R"({"@odata.context":"/api/gc/v1/users","value":[{"id":"1",)", 0), 0u);
  EXPECT_NE(json.find(R"("@odata.nextLink":"/api/gc/v1/users?$top=1&$skip=3&$search=a%20b%26c")"), std::string::npos);
  page.more = false;
  EXPECT_EQ(UserListJson(page, q).find("nextLink"), std::string::npos);
}

TEST(GcApi, ParsesPaths) {
  EXPECT_EQ(ParseGcPath("/api/gc/v1/me").kind, GcTarget::Kind::kMe);
  EXPECT_EQ(ParseGcPath("/api/gc/v1/users").kind, GcTarget::Kind::kUsers);
  auto u = ParseGcPath("/api/gc/v1/users/abc");
  EXPECT_EQ(u.kind, GcTarget::Kind::kUser);
  EXPECT_EQ(u.id, "abc");
  auto p = ParseGcPath("/api/gc/v1/users/abc/photo/$value");
  EXPECT_EQ(p.kind, GcTarget::Kind::kUserPhoto);
  EXPECT_EQ(p.id, "abc");
  EXPECT_EQ(ParseGcPath("/api/gc/v1/users/a/b").kind, GcTarget::Kind::kUnknown);
  EXPECT_EQ(ParseGcPath("/api/gc/v1/groups").kind, GcTarget::Kind::kUnknown);
  EXPECT_EQ(ParseGcPath("/api/gc/v1/users/").kind, GcTarget::Kind::kUnknown);
}

}  // namespace
}  // namespace palaver::directory
