#include "ldap_directory.hpp"

#include "ldap_filter.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace palaver::directory {
namespace {

LdapEntry User(const std::string& uid, const std::string& uuid, const std::string& display) {
  LdapEntry e{"uid=" + uid + ",ou=people,dc=example,dc=org", {}};
  e.attrs["uid"] = {uid};
  e.attrs["entryuuid"] = {uuid};
  e.attrs["displayname"] = {display};
  e.attrs["mail"] = {uid + "@example.org"};
  return e;
}

// An LDAP server in memory: answers user searches with every entry whose filter text names it
// (the real filter semantics are slapd's business; the integration tests cover those).
class FakeLdap final : public LdapClient {
 public:
  Result<std::vector<LdapEntry>> Search(const LdapSearch& s) override {
    searches.push_back(s);
    if (down) return Fail(ErrorCode::kUnavailable, "directory unavailable: ldap://x: Can't contact LDAP server");
    for (auto [dn, members] : {std::pair{"cn=admins,ou=groups,dc=example,dc=org", &admins},
                               std::pair{"cn=palaver,ou=groups,dc=example,dc=org", &allowed}}) {
      if (!s.base_object || s.base != dn) continue;
      LdapEntry g{s.base, {{"member", *members}}};
      if (s.filter.rfind("(member=", 0) != 0) return std::vector<LdapEntry>{g};  // read the members
      for (const auto& m : *members) {  // a membership query for one user
        if (NormalizeDn(m) == NormalizeDn(s.filter.substr(8, s.filter.size() - 9))) return std::vector<LdapEntry>{g};
      }
      return std::vector<LdapEntry>{};
    }
    if (s.base_object && s.base == "dc=example,dc=org") return std::vector<LdapEntry>{LdapEntry{s.base, {}}};
    if (s.filter == "(member=*)") return groups;
    std::vector<LdapEntry> out;
    for (const auto& e : entries) {
      if (s.base_object ? s.base == e.dn : true) {
        bool named = s.filter.find("=" + e.attrs.at("uid")[0] + ")") != std::string::npos ||
                     s.filter.find("=" + e.attrs.at("entryuuid")[0] + ")") != std::string::npos;
        bool everyone = s.filter == "(objectClass=inetOrgPerson)" || s.base_object;
        if (named || everyone) out.push_back(e);
      }
    }
    return out;
  }
  Status CheckPassword(const std::string& dn, std::string_view password) override {
    binds.emplace_back(dn, std::string(password));
    if (down) return Fail(ErrorCode::kUnavailable, "directory unavailable");
    auto it = passwords.find(dn);
    if (it == passwords.end() || it->second != password) return Fail(ErrorCode::kUnauthenticated, "bind refused");
    return OkStatus();
  }

  std::vector<LdapEntry> entries;
  std::map<std::string, std::string> passwords;
  std::vector<std::string> admins, allowed;
  std::vector<LdapEntry> groups;  // answered to (member=*)
  bool down = false;
  std::vector<LdapSearch> searches;
  std::vector<std::pair<std::string, std::string>> binds;
};

class LdapDirectoryTest : public ::testing::Test {
 protected:
  LdapDirectoryTest() {
    config_.base_dn = "dc=example,dc=org";
    config_.user_filter = "(objectClass=inetOrgPerson)";
    config_.attributes = PresetAttributes("openldap");
    config_.cache_ttl = std::chrono::milliseconds(1000);
    config_.cache_max_stale = std::chrono::milliseconds(60000);
    fake_->entries = {User("carol", "u-3", "Carol Danvers"), User("alice", "u-1", "Alice Liddell"),
                      User("bob", "u-2", "Bob Builder")};
    fake_->passwords["uid=alice,ou=people,dc=example,dc=org"] = "alicepw";
  }
  std::unique_ptr<LdapDirectory> Make() {
    LdapClock clock{[this] { return now_ms_; }, [] { return int64_t{1780000000}; }};
    return std::make_unique<LdapDirectory>(config_, fake_, clock,
                                           [this](bool up, const std::string&) { transitions_.push_back(up); });
  }

  LdapConfig config_;
  std::shared_ptr<FakeLdap> fake_ = std::make_shared<FakeLdap>();
  int64_t now_ms_ = 0;
  std::vector<bool> transitions_;
};

TEST_F(LdapDirectoryTest, SignInSearchesEscapedThenBindsAsTheEntry) {
  auto d = Make();
  auto u = d->Authenticate("alice", "alicepw");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->id, "u-1");
  EXPECT_EQ(fake_->searches.back().filter, "(&(objectClass=inetOrgPerson)(uid=alice))");
  ASSERT_EQ(fake_->binds.size(), 1u);
  EXPECT_EQ(fake_->binds[0].first, "uid=alice,ou=people,dc=example,dc=org");
  auto bad = d->Authenticate("alice", "wrong");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kUnauthenticated);
  (void)d->Authenticate("*)(uid=*", "x");
  EXPECT_EQ(fake_->searches.back().filter, "(&(objectClass=inetOrgPerson)(uid=\\2a\\29\\28uid=\\2a))");
  // Unknown names cost a bind too (to a DN that does not exist), so timing tells nothing.
  ASSERT_EQ(fake_->binds.size(), 3u);
  EXPECT_EQ(fake_->binds.back().first, "cn=palaver-no-such-user,dc=example,dc=org");
}

TEST_F(LdapDirectoryTest, EmptyPasswordNeverReachesTheServer) {
  auto d = Make();
  auto r = d->Authenticate("alice", "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
  EXPECT_TRUE(fake_->searches.empty());
  EXPECT_TRUE(fake_->binds.empty());
  EXPECT_FALSE(d->Authenticate("alice", std::string("alicepw\0", 8)));
  EXPECT_FALSE(d->Authenticate("", "alicepw"));
  EXPECT_TRUE(fake_->binds.empty());
}

TEST_F(LdapDirectoryTest, SearchIsSortedPagedAndCached) {
  auto d = Make();
  auto page = d->Search("", 0, 2);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->users.size(), 2u);
  EXPECT_EQ(page->users[0].username, "alice");
  EXPECT_EQ(page->users[1].username, "bob");
  EXPECT_TRUE(page->more);
  size_t queries = fake_->searches.size();
  page = d->Search("", 2, 2);  // the next page comes from the cache
  EXPECT_EQ(fake_->searches.size(), queries);
  ASSERT_EQ(page->users.size(), 1u);
  EXPECT_EQ(page->users[0].username, "carol");
  EXPECT_FALSE(page->more);
  now_ms_ = 1000;  // TTL over: asked again
  (void)d->Search("", 0, 2);
  EXPECT_GT(fake_->searches.size(), queries);
}

TEST_F(LdapDirectoryTest, OutageServesCacheFailsSignInAndRecovers) {
  auto d = Make();
  ASSERT_TRUE(d->Search("", 0, 10));
  ASSERT_TRUE(d->GetById("u-2"));
  fake_->down = true;
  now_ms_ = 5000;  // stale, but within max stale
  auto page = d->Search("", 0, 10);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->users.size(), 3u);
  EXPECT_FALSE(d->Up());
  EXPECT_EQ(transitions_, std::vector<bool>{false});
  auto by_id = d->GetById("u-2");
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->username, "bob");
  auto signin = d->Authenticate("alice", "alicepw");
  ASSERT_FALSE(signin);
  EXPECT_EQ(signin.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(signin.error().message.find("unavailable"), std::string::npos);
  auto uncached = d->Search("zzz", 0, 10);
  ASSERT_FALSE(uncached);
  EXPECT_EQ(uncached.error().code, ErrorCode::kUnavailable);
  fake_->down = false;
  EXPECT_TRUE(d->Probe());
  EXPECT_TRUE(d->Up());
  EXPECT_EQ(transitions_, (std::vector<bool>{false, true}));
  EXPECT_TRUE(d->Authenticate("alice", "alicepw"));
}

TEST_F(LdapDirectoryTest, StaleEntriesExpireAfterMaxStale) {
  auto d = Make();
  ASSERT_TRUE(d->GetById("u-2"));
  fake_->down = true;
  now_ms_ = 1000 + 60000;
  auto r = d->GetById("u-2");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
}

TEST_F(LdapDirectoryTest, GroupsDecideAccessAndAdmin) {
  config_.access_group = "cn=palaver,ou=groups,dc=example,dc=org";
  config_.admin_group = "cn=admins,ou=groups,dc=example,dc=org";
  fake_->allowed = {"uid=alice,ou=people,dc=example,dc=org", "UID=Bob, ou=People,dc=example,dc=org"};
  fake_->admins = {"uid=alice,ou=people,dc=example,dc=org"};
  fake_->passwords["uid=carol,ou=people,dc=example,dc=org"] = "carolpw";
  auto d = Make();
  auto alice = d->Authenticate("alice", "alicepw");
  ASSERT_TRUE(alice);
  EXPECT_TRUE(alice->is_admin);
  auto bob = d->GetByUsername("bob");
  ASSERT_TRUE(bob);
  EXPECT_TRUE(bob->enabled);
  EXPECT_FALSE(bob->is_admin);
  auto carol = d->Authenticate("carol", "carolpw");  // right password, not in the access group
  ASSERT_FALSE(carol);
  // At sign-in membership is asked for the one user, not read from the (cached) member lists.
  EXPECT_EQ(fake_->searches.back().filter, "(member=uid=carol,ou=people,dc=example,dc=org)");
  EXPECT_EQ(carol.error().code, ErrorCode::kUnauthenticated);
  auto standing = d->Standing("u-3");
  ASSERT_TRUE(standing);
  EXPECT_FALSE(standing->enabled);
  auto page = d->Search("", 0, 10);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->users.size(), 2u);  // carol is not listed
}

TEST_F(LdapDirectoryTest, NestedGroupsAreWalkedOnceEach) {
  config_.access_group = "cn=palaver,ou=groups,dc=example,dc=org";
  config_.nested_groups = true;
  auto group = [](std::string dn, std::vector<std::string> members) {
    return LdapEntry{std::move(dn), {{"member", std::move(members)}}};
  };
  fake_->groups = {group("cn=palaver,ou=groups,dc=example,dc=org",
                         {"uid=alice,ou=people,dc=example,dc=org", "cn=team,ou=groups,dc=example,dc=org"}),
                   group("cn=team,ou=groups,dc=example,dc=org",
                         {"uid=bob,ou=people,dc=example,dc=org", "cn=palaver,ou=groups,dc=example,dc=org"}),  // a cycle
                   group("cn=other,ou=groups,dc=example,dc=org", {"uid=carol,ou=people,dc=example,dc=org"})};
  auto d = Make();
  auto page = d->Search("", 0, 10);
  ASSERT_TRUE(page);
  std::vector<std::string> names;
  for (const auto& u : page->users) names.push_back(u.username);
  EXPECT_EQ(names, (std::vector<std::string>{"alice", "bob"}));  // carol's group is not nested in
}

TEST_F(LdapDirectoryTest, ImplausibleIdsAskNothing) {
  auto d = Make();
  auto r = d->GetById("*");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(fake_->searches.empty());
}

}  // namespace
}  // namespace palaver::directory
