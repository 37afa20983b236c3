#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "grants.hpp"
#include "palaver/testing/store.hpp"
#include "palaver/testing/temp_dir.hpp"

namespace palaver::oidc {
namespace {

AuthCode Code(const std::string& user, const std::string& nonce = "") {
  AuthCode c;
  c.grant.who.raw_id = user;
  c.grant.who.username = user;
  c.grant.client_id = "app";
  c.grant.scopes = {"openid", "profile"};
  c.grant.sid = "sid-" + user;
  c.redirect_uri = "https://app.example.com/cb";
  c.code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
  c.nonce = nonce;
  c.id_token_issued = true;
  return c;
}

// ---------------------------------------------------------------------------------------------
// CodeStore

TEST(CodeStore, PutAndTakeOnce) {
  CodeStore codes;
  std::string value = codes.Put(Code("u1", "n1"), 1000);
  EXPECT_GE(value.size(), 22u);  // at least 128 bits of randomness, encoded
  EXPECT_EQ(codes.size(), 1u);
  auto taken = codes.Take(value, 1001);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->grant.who.raw_id, "u1");
  EXPECT_EQ(taken->grant.client_id, "app");
  EXPECT_EQ(taken->grant.scopes, (std::vector<std::string>{"openid", "profile"}));
  EXPECT_EQ(taken->grant.sid, "sid-u1");
  EXPECT_EQ(taken->redirect_uri, "https://app.example.com/cb");
  EXPECT_EQ(taken->code_challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  EXPECT_EQ(taken->nonce, "n1");
  EXPECT_TRUE(taken->id_token_issued);
  EXPECT_EQ(taken->expires_at, 1000 + CodeStore::kLifetimeSeconds);  // set by the store
  EXPECT_EQ(codes.size(), 0u);
  EXPECT_FALSE(codes.Take(value, 1001));  // single use
  EXPECT_FALSE(codes.Take(value, 1002));
}

TEST(CodeStore, ExpiryIgnoresCallerSuppliedValue) {
  CodeStore codes;
  AuthCode c = Code("u1");
  c.expires_at = 1'000'000'000;  // ignored: the store sets the expiry
  std::string value = codes.Put(std::move(c), 1000);
  EXPECT_FALSE(codes.Take(value, 1000 + CodeStore::kLifetimeSeconds));
}

TEST(CodeStore, UnknownCodes) {
  CodeStore codes;
  std::string value = codes.Put(Code("u1"), 1000);
  EXPECT_FALSE(codes.Take("", 1000));
  EXPECT_FALSE(codes.Take("not-a-code", 1000));
  EXPECT_FALSE(codes.Take(value + "x", 1000));
  EXPECT_FALSE(codes.Take(value.substr(1), 1000));
  EXPECT_TRUE(codes.Take(value, 1000));  // the wrong guesses did not burn it
}

TEST(CodeStore, CodesAreDistinct) {
  CodeStore codes;
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) seen.insert(codes.Put(Code("u" + std::to_string(i)), 1000));
  EXPECT_EQ(seen.size(), 200u);
  EXPECT_EQ(codes.size(), 200u);
  // Each value takes its own grant.
  CodeStore two;
  std::string a = two.Put(Code("alice"), 1000), b = two.Put(Code("bob"), 1000);
  EXPECT_EQ(two.Take(b, 1000)->grant.who.raw_id, "bob");
  EXPECT_EQ(two.Take(a, 1000)->grant.who.raw_id, "alice");
}

TEST(CodeStore, ExpiresAfterLifetime) {
  static_assert(CodeStore::kLifetimeSeconds == 120, "spec: codes live two minutes");
  CodeStore codes;
  std::string last_second = codes.Put(Code("u1"), 1000);
  std::string at_expiry = codes.Put(Code("u2"), 1000);
  std::string long_after = codes.Put(Code("u3"), 1000);
  EXPECT_TRUE(codes.Take(last_second, 1000 + 119));
  EXPECT_FALSE(codes.Take(at_expiry, 1000 + 120));
  EXPECT_FALSE(codes.Take(long_after, 1000 + 100000));
  // An expired code is gone, not merely refused.
  EXPECT_FALSE(codes.Take(at_expiry, 1000));
  EXPECT_EQ(codes.size(), 0u);
}

TEST(CodeStore, ExpiredCodesArePrunedOnPut) {
  CodeStore codes;
  codes.Put(Code("old1"), 1000);
  codes.Put(Code("old2"), 1000);
  std::string fresh = codes.Put(Code("fresh"), 1100);
  EXPECT_EQ(codes.size(), 3u);
  codes.Put(Code("new"), 1000 + CodeStore::kLifetimeSeconds);  // old1/old2 expire now
  EXPECT_EQ(codes.size(), 2u);
  EXPECT_TRUE(codes.Take(fresh, 1000 + CodeStore::kLifetimeSeconds));
}

TEST(CodeStore, BoundDropsTheOldest) {
  CodeStore codes(3);
  std::vector<std::string> values;
  for (int i = 0; i < 5; ++i) values.push_back(codes.Put(Code("u" + std::to_string(i)), 1000 + i));
  EXPECT_EQ(codes.size(), 3u);
  EXPECT_FALSE(codes.Take(values[0], 1010));
  EXPECT_FALSE(codes.Take(values[1], 1010));
  for (int i = 2; i < 5; ++i) {
    auto taken = codes.Take(values[i], 1010);
    ASSERT_TRUE(taken) << i;
    EXPECT_EQ(taken->grant.who.raw_id, "u" + std::to_string(i));
  }
}

TEST(CodeStore, BoundCountsOnlyLiveCodes) {
  CodeStore codes(2);
  std::string a = codes.Put(Code("a"), 1000);
  ASSERT_TRUE(codes.Take(a, 1000));  // taken early: leaves a stale order entry
  std::string b = codes.Put(Code("b"), 1001);
  std::string c = codes.Put(Code("c"), 1002);
  EXPECT_EQ(codes.size(), 2u);
  EXPECT_TRUE(codes.Take(b, 1003));  // b was not dropped for a's sake
  EXPECT_TRUE(codes.Take(c, 1003));
}

TEST(CodeStore, ManyTakenCodesStayBounded) {
  CodeStore codes(4);
  for (int i = 0; i < 1000; ++i) {
    std::string v = codes.Put(Code("u"), 1000);
    ASSERT_TRUE(codes.Take(v, 1000)) << i;
  }
  EXPECT_EQ(codes.size(), 0u);
  std::vector<std::string> live;
  for (int i = 0; i < 4; ++i) live.push_back(codes.Put(Code("l" + std::to_string(i)), 1000));
  for (const auto& v : live) EXPECT_TRUE(codes.Take(v, 1000));
}

// ---------------------------------------------------------------------------------------------
// RefreshStore

class RefreshStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = palaver::testing::OpenStore(tmp_.path() / "p.db", std::chrono::milliseconds(100));
    ASSERT_TRUE(store);
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Migrate("oidc_refresh", RefreshStore::Migrations()));
  }
  int64_t Rows() {
    int64_t n = -1;
    EXPECT_TRUE(store_->With([&](sdk::Db& db) -> Status {
      PALAVER_ASSIGN_OR_RETURN(auto rows, db.Query("SELECT COUNT(*) FROM oidc_refresh_tokens"));
      n = sdk::SqlInt(rows.at(0).at(0));
      return OkStatus();
    }));
    return n;
  }
  palaver::testing::TempDir tmp_;
  std::unique_ptr<sdk::Store> store_;
};

using Use = RefreshStore::Use;

Use Consume(RefreshStore& rs, const std::string& jti, int64_t now) {
  auto r = rs.Consume(jti, now);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : Use::kUnknown;
}

TEST_F(RefreshStoreTest, ConsumeOnce) {
  RefreshStore rs(*store_);
  ASSERT_TRUE(rs.Record("j1", "fam", "app", "u1", 5000));
  EXPECT_EQ(Consume(rs, "j1", 1000), Use::kOk);
}

TEST_F(RefreshStoreTest, ReuseRevokesTheWholeFamily) {
  RefreshStore rs(*store_);
  // A rotation chain j1 -> j2 -> j3 in one family, plus another family.
  ASSERT_TRUE(rs.Record("j1", "fam", "app", "u1", 5000));
  EXPECT_EQ(Consume(rs, "j1", 1000), Use::kOk);
  ASSERT_TRUE(rs.Record("j2", "fam", "app", "u1", 5000));
  ASSERT_TRUE(rs.Record("j3", "fam", "app", "u1", 5000));
  ASSERT_TRUE(rs.Record("other", "fam2", "app", "u1", 5000));

  EXPECT_EQ(Consume(rs, "j1", 1100), Use::kReused);  // the stolen old token is replayed
  EXPECT_EQ(Consume(rs, "j2", 1200), Use::kUnknown);  // the sibling is revoked
  EXPECT_EQ(Consume(rs, "j3", 1200), Use::kUnknown);
  EXPECT_EQ(Consume(rs, "j1", 1300), Use::kUnknown);  // the reused one is gone too
  EXPECT_EQ(Consume(rs, "other", 1300), Use::kOk);    // other families are untouched
}

TEST_F(RefreshStoreTest, UnknownJti) {
  RefreshStore rs(*store_);
  EXPECT_EQ(Consume(rs, "never-recorded", 1000), Use::kUnknown);
  ASSERT_TRUE(rs.Record("j1", "fam", "app", "u1", 5000));
  EXPECT_EQ(Consume(rs, "j", 1000), Use::kUnknown);
  EXPECT_EQ(Consume(rs, "J1", 1000), Use::kUnknown);
  EXPECT_EQ(Consume(rs, "j1", 1000), Use::kOk);  // still usable after the misses
}

TEST_F(RefreshStoreTest, Expired) {
  RefreshStore rs(*store_);
  ASSERT_TRUE(rs.Record("j1", "fam", "app", "u1", 2000));
  ASSERT_TRUE(rs.Record("j2", "fam", "app", "u1", 2000));
  EXPECT_EQ(Consume(rs, "j1", 2000), Use::kUnknown);  // expires_at is exclusive
  EXPECT_EQ(Consume(rs, "j1", 5000), Use::kUnknown);
  // An expired token being presented is not reuse: the family survives.
  EXPECT_EQ(Consume(rs, "j2", 1999), Use::kOk);
}

TEST_F(RefreshStoreTest, DuplicateJtiRefused) {
  RefreshStore rs(*store_);
  ASSERT_TRUE(rs.Record("j1", "fam", "app", "u1", 5000));
  EXPECT_FALSE(rs.Record("j1", "fam-other", "app", "u2", 9000));
}

TEST_F(RefreshStoreTest, Prune) {
  RefreshStore rs(*store_);
  ASSERT_TRUE(rs.Record("old", "f1", "app", "u1", 1000));
  ASSERT_TRUE(rs.Record("edge", "f2", "app", "u1", 2000));
  ASSERT_TRUE(rs.Record("new", "f3", "app", "u1", 3000));
  EXPECT_EQ(Rows(), 3);
  ASSERT_TRUE(rs.Prune(2000));
  EXPECT_EQ(Rows(), 1);
  EXPECT_EQ(Consume(rs, "new", 2500), Use::kOk);
  EXPECT_EQ(Consume(rs, "old", 500), Use::kUnknown);   // pruned, even for an earlier clock
  EXPECT_EQ(Consume(rs, "edge", 500), Use::kUnknown);
  ASSERT_TRUE(rs.Prune(10000));
  EXPECT_EQ(Rows(), 0);
}

// ---------------------------------------------------------------------------------------------
// SessionStore

TEST_F(RefreshStoreTest, SessionsLiveUntilEndedOrExpired) {
  ASSERT_TRUE(store_->Migrate("oidc_sessions", SessionStore::Migrations()));
  SessionStore sessions(*store_);
  ASSERT_TRUE(sessions.Add("s1", "u1", 3, 2000));
  ASSERT_TRUE(sessions.Add("s2", "u1", 3, 2000));
  EXPECT_EQ(*sessions.Epoch("s1", "u1", 1000), std::optional<int64_t>(3));
  EXPECT_FALSE(*sessions.Epoch("s1", "u2", 1000));  // another user's cookie cannot borrow it
  EXPECT_FALSE(*sessions.Epoch("", "u1", 1000));
  EXPECT_FALSE(*sessions.Epoch("s1", "u1", 2000));  // expired
  ASSERT_TRUE(sessions.End("s1"));
  EXPECT_FALSE(*sessions.Epoch("s1", "u1", 1000));  // signed out
  EXPECT_TRUE(*sessions.Epoch("s2", "u1", 1000));   // other sessions of the user stay
  ASSERT_TRUE(sessions.Prune(2000));
  EXPECT_FALSE(*sessions.Epoch("s2", "u1", 1000));
}

}  // namespace
}  // namespace palaver::oidc
