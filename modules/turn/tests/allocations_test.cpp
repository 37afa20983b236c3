// The allocation table with an injected clock: lifetimes, permissions, channel bindings (both
// directions, rebinding rules), quotas, expiry sweeps, the bandwidth limiter.
#include <gtest/gtest.h>

#include <vector>

#include "allocations.hpp"

namespace palaver::turn {
namespace {

constexpr int64_t kSecond = 1000;

Address A(std::string_view text) { return *Address::Parse(text); }

class TableTest : public ::testing::Test {
 protected:
  explicit TableTest(AllocationLimits limits = {}) : table_(limits, [this](const Allocation& a) { removed_.push_back(a.relayed); }) {}

  FiveTuple Tuple(uint16_t client_port, Transport t = Transport::kUdp) {
    return FiveTuple{A("192.0.2.10:1").WithPort(client_port), A("198.51.100.1:3478"), t};
  }

  Allocation* Make(uint16_t client_port, std::string user = "alice", uint32_t lifetime = 600) {
    NewAllocation n;
    n.tuple = Tuple(client_port);
    n.relayed = A("198.51.100.1:1").WithPort(static_cast<uint16_t>(50000 + client_port));
    n.username = "1700086400:" + user;
    n.user = std::move(user);
    n.lifetime_s = lifetime;
    auto r = table_.Create(std::move(n), now_);
    EXPECT_TRUE(r);
    return r ? *r : nullptr;
  }

  int64_t now_ = 1'000'000;
  std::vector<Address> removed_;
  AllocationTable table_;
};

TEST_F(TableTest, DesiredLifetimeFollowsRfc8656) {
  EXPECT_EQ(table_.DesiredLifetime(std::nullopt), 600u);
  EXPECT_EQ(table_.DesiredLifetime(0), 0u);
  EXPECT_EQ(table_.DesiredLifetime(1), 600u);
  EXPECT_EQ(table_.DesiredLifetime(599), 600u);
  EXPECT_EQ(table_.DesiredLifetime(1200), 1200u);
  EXPECT_EQ(table_.DesiredLifetime(3600), 3600u);
  EXPECT_EQ(table_.DesiredLifetime(3601), 3600u);
  EXPECT_EQ(table_.DesiredLifetime(0xFFFFFFFF), 3600u);
}

TEST_F(TableTest, CreatesAndFindsByTupleAndRelay) {
  Allocation* a = Make(1000);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(table_.Find(Tuple(1000), now_), a);
  EXPECT_EQ(table_.FindByRelay(A("198.51.100.1:51000"), now_), a);
  EXPECT_EQ(table_.Find(Tuple(1001), now_), nullptr);
  EXPECT_EQ(table_.Find(Tuple(1000, Transport::kTcp), now_), nullptr);  // transport is part of the key
  EXPECT_EQ(table_.FindByRelay(A("198.51.100.1:51001"), now_), nullptr);
  EXPECT_EQ(a->expires_ms, now_ + 600 * kSecond);
  EXPECT_EQ(table_.size(), 1u);

  NewAllocation dup;
  dup.tuple = Tuple(1000);
  dup.relayed = A("198.51.100.1:60000");
  auto r = table_.Create(dup, now_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), CreateError::kExists);
}

TEST_F(TableTest, ExpiresExactlyAtTheEndOfItsLifetime) {
  Allocation* a = Make(1000, "alice", 600);
  ASSERT_NE(a, nullptr);
  now_ += 600 * kSecond - 1;
  EXPECT_EQ(table_.Find(Tuple(1000), now_), a);
  EXPECT_TRUE(removed_.empty());
  now_ += 1;
  EXPECT_EQ(table_.Find(Tuple(1000), now_), nullptr);
  ASSERT_EQ(removed_.size(), 1u);  // the relay is released at once
  EXPECT_EQ(removed_[0], A("198.51.100.1:51000"));
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_EQ(table_.Stats().expired_total, 1u);
  // Its tuple and relay can be used again.
  EXPECT_NE(Make(1000), nullptr);
}

TEST_F(TableTest, RefreshExtendsAndRemoveDeletes) {
  Allocation* a = Make(1000);
  now_ += 500 * kSecond;
  table_.Refresh(*a, 1200, now_);
  now_ += 1199 * kSecond;
  ASSERT_EQ(table_.Find(Tuple(1000), now_), a);
  EXPECT_EQ(a->lifetime_s, 1200u);
  table_.Remove(*a);
  EXPECT_EQ(table_.Find(Tuple(1000), now_), nullptr);
  EXPECT_EQ(removed_.size(), 1u);
  EXPECT_EQ(table_.Stats().deleted_total, 1u);
  EXPECT_EQ(table_.Stats().expired_total, 0u);
}

TEST_F(TableTest, SweepRemovesExpiredAllocationsPermissionsAndChannels) {
  Allocation* a = Make(1000, "alice", 600);
  Allocation* b = Make(1001, "bob", 1200);
  ASSERT_TRUE(table_.InstallPermission(*b, A("203.0.113.1:1"), now_));
  ASSERT_EQ(table_.Bind(*b, 0x4000, A("203.0.113.2:2"), now_), BindResult::kOk);
  EXPECT_EQ(table_.Stats().permissions, 2u);
  EXPECT_EQ(table_.Stats().channels, 1u);
  (void)a;
  now_ += 600 * kSecond;
  EXPECT_EQ(table_.Sweep(now_), 1u);
  EXPECT_EQ(removed_, std::vector<Address>{A("198.51.100.1:51000")});
  TableStats s = table_.Stats();
  EXPECT_EQ(s.allocations, 1u);
  EXPECT_EQ(s.permissions, 0u);  // 300 s permissions are gone
  EXPECT_EQ(s.channels, 0u);     // 600 s channel too
  EXPECT_EQ(table_.Sweep(now_), 0u);
}

TEST_F(TableTest, PermissionsAreByIpAndLast300Seconds) {
  Allocation* a = Make(1000);
  EXPECT_FALSE(a->HasPermission(A("203.0.113.1:5000"), now_));
  ASSERT_TRUE(table_.InstallPermission(*a, A("203.0.113.1:5000"), now_));
  EXPECT_TRUE(a->HasPermission(A("203.0.113.1:9999"), now_));  // any port
  EXPECT_FALSE(a->HasPermission(A("203.0.113.2:5000"), now_));
  EXPECT_FALSE(a->HasPermission(A("[::ffff:203.0.113.1]:5000"), now_));
  now_ += 200 * kSecond;
  ASSERT_TRUE(table_.InstallPermission(*a, A("203.0.113.1:1"), now_));  // refresh
  EXPECT_EQ(a->permissions.size(), 1u);
  now_ += 299 * kSecond;
  EXPECT_TRUE(a->HasPermission(A("203.0.113.1:1"), now_));
  now_ += 1 * kSecond;
  EXPECT_FALSE(a->HasPermission(A("203.0.113.1:1"), now_));
}

class SmallTableTest : public TableTest {
 protected:
  static AllocationLimits Limits() {
    AllocationLimits l;
    l.max_permissions = 2;
    l.max_channels = 2;
    l.max_allocations = 3;
    l.max_allocations_per_user = 2;
    return l;
  }
  SmallTableTest() : TableTest(Limits()) {}
};

TEST_F(SmallTableTest, PermissionLimitCountsLiveOnes) {
  Allocation* a = Make(1000);
  ASSERT_TRUE(table_.InstallPermission(*a, A("203.0.113.1"), now_));
  ASSERT_TRUE(table_.InstallPermission(*a, A("203.0.113.2"), now_));
  EXPECT_FALSE(table_.InstallPermission(*a, A("203.0.113.3"), now_));
  EXPECT_TRUE(table_.InstallPermission(*a, A("203.0.113.2"), now_));  // refreshing is fine
  now_ += 300 * kSecond;
  EXPECT_TRUE(table_.InstallPermission(*a, A("203.0.113.3"), now_));  // the old ones expired
}

TEST_F(SmallTableTest, QuotasPerUserAndInTotal) {
  ASSERT_NE(Make(1, "alice"), nullptr);
  ASSERT_NE(Make(2, "alice"), nullptr);
  EXPECT_EQ(table_.CheckQuota("alice"), CreateError::kUserQuota);
  NewAllocation n;
  n.tuple = Tuple(3);
  n.relayed = A("198.51.100.1:60003");
  n.user = "alice";
  auto r = table_.Create(n, now_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), CreateError::kUserQuota);
  EXPECT_EQ(table_.Stats().quota_rejected_total, 1u);

  EXPECT_EQ(table_.CheckQuota("bob"), std::nullopt);
  ASSERT_NE(Make(4, "bob"), nullptr);
  EXPECT_EQ(table_.CheckQuota("carol"), CreateError::kCapacity);
  n.user = "carol";
  r = table_.Create(n, now_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), CreateError::kCapacity);

  // Deleting frees both quotas.
  table_.Remove(*table_.Find(Tuple(1), now_));
  EXPECT_EQ(table_.CheckQuota("alice"), std::nullopt);
  EXPECT_EQ(table_.CheckQuota("carol"), std::nullopt);
  // So does expiry.
  now_ += 600 * kSecond;
  table_.Sweep(now_);
  EXPECT_EQ(table_.size(), 0u);
  ASSERT_NE(Make(5, "alice"), nullptr);
  ASSERT_NE(Make(6, "alice"), nullptr);
}

TEST_F(TableTest, ChannelBindingsWorkInBothDirections) {
  Allocation* a = Make(1000);
  Address peer = A("203.0.113.9:7000");
  ASSERT_EQ(table_.Bind(*a, 0x4001, peer, now_), BindResult::kOk);
  const ChannelBinding* by_number = a->ChannelByNumber(0x4001, now_);
  ASSERT_NE(by_number, nullptr);
  EXPECT_EQ(by_number->peer, peer);
  const ChannelBinding* by_peer = a->ChannelByPeer(peer, now_);
  ASSERT_NE(by_peer, nullptr);
  EXPECT_EQ(by_peer->number, 0x4001);
  EXPECT_EQ(a->ChannelByPeer(peer.WithPort(7001), now_), nullptr);  // a channel is per address+port
  EXPECT_EQ(a->ChannelByNumber(0x4002, now_), nullptr);
  EXPECT_TRUE(a->HasPermission(peer, now_));  // binding installs the permission
}

TEST_F(TableTest, RebindingRules) {
  Allocation* a = Make(1000);
  Address p1 = A("203.0.113.9:7000");
  Address p2 = A("203.0.113.9:7001");
  ASSERT_EQ(table_.Bind(*a, 0x4001, p1, now_), BindResult::kOk);
  EXPECT_EQ(table_.Bind(*a, 0x4001, p2, now_), BindResult::kChannelTaken);
  EXPECT_EQ(table_.Bind(*a, 0x4002, p1, now_), BindResult::kPeerTaken);
  EXPECT_EQ(a->channels.size(), 1u);
  // The same pair again refreshes the binding and its permission.
  now_ += 500 * kSecond;
  ASSERT_EQ(table_.Bind(*a, 0x4001, p1, now_), BindResult::kOk);
  now_ += 599 * kSecond;
  EXPECT_NE(a->ChannelByNumber(0x4001, now_), nullptr);
  // Permissions (300 s) lapse before channels (600 s) unless refreshed.
  EXPECT_FALSE(a->HasPermission(p1, now_));
  now_ += 1 * kSecond;
  EXPECT_EQ(a->ChannelByNumber(0x4001, now_), nullptr);
  // Once expired, the number and the peer are free to pair differently.
  EXPECT_EQ(table_.Bind(*a, 0x4001, p2, now_), BindResult::kOk);
  EXPECT_EQ(table_.Bind(*a, 0x4002, p1, now_), BindResult::kOk);
  EXPECT_EQ(a->channels.size(), 2u);
}

TEST_F(SmallTableTest, ChannelLimitAndNothingChangesOnFailure) {
  Allocation* a = Make(1000);
  ASSERT_EQ(table_.Bind(*a, 0x4000, A("203.0.113.1:1"), now_), BindResult::kOk);
  ASSERT_EQ(table_.Bind(*a, 0x4001, A("203.0.113.1:2"), now_), BindResult::kOk);
  EXPECT_EQ(table_.Bind(*a, 0x4002, A("203.0.113.1:3"), now_), BindResult::kFull);
  EXPECT_EQ(a->channels.size(), 2u);
  // A third peer IP needs a third permission: full as well, and no channel appears.
  Allocation* b = Make(1001, "bob");
  ASSERT_TRUE(table_.InstallPermission(*b, A("203.0.113.1"), now_));
  ASSERT_TRUE(table_.InstallPermission(*b, A("203.0.113.2"), now_));
  EXPECT_EQ(table_.Bind(*b, 0x4000, A("203.0.113.3:1"), now_), BindResult::kFull);
  EXPECT_TRUE(b->channels.empty());
  EXPECT_EQ(table_.Bind(*b, 0x4000, A("203.0.113.2:1"), now_), BindResult::kOk);  // permitted IP
}

TEST(TokenBucket, LimitsBytesPerSecondWithBurst) {
  TokenBucket b(1000, 1000, 0);
  EXPECT_TRUE(b.Take(600, 0));
  EXPECT_TRUE(b.Take(400, 0));
  EXPECT_FALSE(b.Take(1, 0));
  EXPECT_TRUE(b.Take(1, 1));  // 1 ms refills 1 byte
  EXPECT_FALSE(b.Take(1, 1));
  EXPECT_TRUE(b.Take(500, 501));
  EXPECT_FALSE(b.Take(1, 501));
  EXPECT_TRUE(b.Take(1000, 100'000));  // refill is capped at the burst
  EXPECT_FALSE(b.Take(1, 100'000));
  EXPECT_FALSE(b.Take(1001, 1'000'000'000'000));  // more than the burst never passes
  EXPECT_TRUE(b.Take(1000, 1'000'000'000'000));
}

TEST(TokenBucket, DefaultBurstIsOneSecondAndZeroRateIsUnlimited) {
  TokenBucket b(500, 0, 0);
  EXPECT_TRUE(b.Take(500, 0));
  EXPECT_FALSE(b.Take(1, 0));
  TokenBucket unlimited;
  EXPECT_TRUE(unlimited.unlimited());
  EXPECT_TRUE(unlimited.Take(1'000'000'000, 0));
}

TEST(AllocationTableBandwidth, EachAllocationGetsItsOwnBucket) {
  AllocationLimits l;
  l.bandwidth_bytes_per_s = 1000;
  AllocationTable t(l);
  NewAllocation n;
  n.tuple = FiveTuple{A("192.0.2.1:1"), A("198.51.100.1:3478"), Transport::kUdp};
  n.relayed = A("198.51.100.1:50000");
  n.lifetime_s = 600;
  Allocation* a = *t.Create(n, 0);
  n.tuple.client = A("192.0.2.1:2");
  n.relayed = A("198.51.100.1:50001");
  Allocation* b = *t.Create(n, 0);
  EXPECT_TRUE(a->bucket.Take(1000, 0));
  EXPECT_FALSE(a->bucket.Take(1, 0));
  EXPECT_TRUE(b->bucket.Take(1000, 0));
}

}  // namespace
}  // namespace palaver::turn
