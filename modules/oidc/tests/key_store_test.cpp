#include <gtest/gtest.h>

#include "key_store.hpp"
#include "palaver/testing/store.hpp"
#include "palaver/testing/temp_dir.hpp"

namespace palaver::oidc {
namespace {

class KeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = palaver::testing::OpenStore(tmp_.path() / "p.db", std::chrono::milliseconds(100));
    ASSERT_TRUE(store);
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Migrate("oidc", KeyStore::Migrations()));
  }
  palaver::testing::TempDir tmp_;
  std::unique_ptr<sdk::Store> store_;
};

TEST_F(KeyStoreTest, FirstStartCreatesAKeyThatPersists) {
  KeyStore ks(*store_);
  KeyPolicy policy{.alg = JwsAlg::kES256, .rotate_after_s = 1000, .keep_retired_s = 500};
  auto first = ks.Ensure(policy, 10000);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->validation.size(), 1u);
  auto again = ks.Ensure(policy, 10500);
  EXPECT_EQ(again->signing.kid(), first->signing.kid());
  EXPECT_EQ(again->signing.PublicJwk(), first->signing.PublicJwk());
}

TEST_F(KeyStoreTest, RotatesAndKeepsRetiredKeysUntilTheirTokensExpire) {
  KeyStore ks(*store_);
  KeyPolicy policy{.alg = JwsAlg::kES256, .rotate_after_s = 1000, .keep_retired_s = 500};
  auto k1 = ks.Ensure(policy, 10000);
  auto k2 = ks.Ensure(policy, 11000);  // due: rotated
  ASSERT_TRUE(k2);
  EXPECT_NE(k2->signing.kid(), k1->signing.kid());
  ASSERT_EQ(k2->validation.size(), 2u);
  EXPECT_EQ(k2->validation[0].kid(), k2->signing.kid());
  EXPECT_EQ(k2->validation[1].kid(), k1->signing.kid());
  auto jwks = k2->Jwks();
  EXPECT_NE(jwks.find(k1->signing.kid()), std::string::npos);
  auto k3 = ks.Ensure(policy, 11600);  // k1 retired 600 s ago > keep 500: gone
  ASSERT_EQ(k3->validation.size(), 1u);
  EXPECT_EQ(k3->signing.kid(), k2->signing.kid());
}

TEST_F(KeyStoreTest, ChangingTheAlgorithmRotatesAtOnce) {
  KeyStore ks(*store_);
  auto es = ks.Ensure({.alg = JwsAlg::kES256, .rotate_after_s = 0, .keep_retired_s = 500}, 100);
  auto ps = ks.Ensure({.alg = JwsAlg::kPS256, .rotate_after_s = 0, .keep_retired_s = 500}, 200);
  ASSERT_TRUE(ps);
  EXPECT_EQ(ps->signing.alg(), JwsAlg::kPS256);
  ASSERT_EQ(ps->validation.size(), 2u);
  EXPECT_EQ(ps->validation[1].alg(), JwsAlg::kES256);
}

TEST_F(KeyStoreTest, CorruptStoredKeyIsAnError) {
  KeyStore ks(*store_);
  ASSERT_TRUE(ks.Ensure({}, 100));
  ASSERT_TRUE(store_->With([](sdk::Db& db) { return db.Exec("UPDATE oidc_signing_keys SET private_pem = 'junk'"); }));
  auto r = ks.Ensure({}, 200);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kDataLoss);
}

}  // namespace
}  // namespace palaver::oidc
