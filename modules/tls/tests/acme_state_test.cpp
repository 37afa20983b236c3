#include "acme_state.hpp"

#include <sys/stat.h>

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "identity.hpp"
#include "local_ca.hpp"
#include "palaver/testing/temp_dir.hpp"

namespace palaver::tls {
namespace {

using Clock = std::chrono::system_clock;
using std::chrono::days;
using std::chrono::hours;
using std::chrono::seconds;
using palaver::testing::TempDir;

int ModeOf(const std::filesystem::path& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : -1;
}

TEST(AcmeRenewal, RenewsWhenAThirdOfTheLifetimeIsLeft) {
  Clock::time_point t0 = Clock::from_time_t(1'700'000'000);
  EXPECT_EQ(RenewalTime(t0, t0 + days(90)), t0 + days(60));
  EXPECT_EQ(RenewalTime(t0, t0 + days(6)), t0 + days(4));
  EXPECT_EQ(RenewalTime(t0, t0), t0);
}

TEST(AcmeRenewal, PicksInsideTheAriWindow) {
  Clock::time_point t0 = Clock::from_time_t(1'700'000'000);
  AcmeRenewalWindow w{t0, t0 + hours(10), std::nullopt};
  EXPECT_EQ(PickInWindow(w, 0.0), t0);
  EXPECT_EQ(PickInWindow(w, 0.5), t0 + hours(5));
  EXPECT_LE(PickInWindow(w, 0.999999), t0 + hours(10));
}

TEST(AcmeRenewal, BacksOffExponentiallyAndHonoursRetryAfter) {
  EXPECT_EQ(Backoff(1, seconds(60), hours(12), std::nullopt), seconds(60));
  EXPECT_EQ(Backoff(2, seconds(60), hours(12), std::nullopt), seconds(120));
  EXPECT_EQ(Backoff(4, seconds(60), hours(12), std::nullopt), seconds(480));
  EXPECT_EQ(Backoff(40, seconds(60), hours(12), std::nullopt), hours(12));
  EXPECT_EQ(Backoff(1, seconds(60), hours(12), seconds(3600)), seconds(3600));
  EXPECT_EQ(Backoff(3, seconds(60), hours(12), seconds(10)), seconds(240));
}

TEST(AcmeRenewal, WarnsWellBeforeExpiry) {
  Clock::time_point t0 = Clock::from_time_t(1'700'000'000);
  EXPECT_EQ(ExpiryWarningLead(t0, t0 + days(90)), days(14));
  EXPECT_EQ(ExpiryWarningLead(t0, t0 + days(5)), days(1));
}

// An identity as an ACME CA would issue it, valid [now, now + lifetime).
std::shared_ptr<sdk::TlsIdentity> Issued(const std::vector<std::string>& names, Clock::time_point now,
                                         std::chrono::seconds lifetime) {
  EvpPkeyPtr ca_key = *GenerateKey();
  X509Ptr ca = *IssueCaCertificate(*ca_key, names, now);
  EvpPkeyPtr leaf_key = *GenerateKey();
  X509Ptr leaf = *IssueServerCertificate(*ca, *ca_key, *leaf_key, names, now + kBackdate, lifetime);
  return *LoadIdentity(*CertificateToPem(*leaf) + *CertificateToPem(*ca), *PrivateKeyToPem(*leaf_key), "acme");
}

TEST(AcmeRenewal, PlansAnOrderWithoutCertificateOrWhenNamesChange) {
  Clock::time_point now = Clock::now();
  RenewalPlan none = PlanRenewal(nullptr, {"a.example.test"}, now, std::nullopt, 0.5);
  EXPECT_TRUE(none.due);
  EXPECT_EQ(none.reason, "no certificate");
  auto cert = Issued({"a.example.test"}, now, days(90));
  RenewalPlan more = PlanRenewal(cert.get(), {"a.example.test", "b.example.test"}, now, std::nullopt, 0.5);
  EXPECT_TRUE(more.due);
  EXPECT_EQ(more.reason, "hostnames changed");
}

TEST(AcmeRenewal, PlansByLifetimeWithoutAri) {
  Clock::time_point now = Clock::now();
  auto cert = Issued({"a.example.test"}, now, days(90));
  RenewalPlan fresh = PlanRenewal(cert.get(), {"a.example.test"}, now, std::nullopt, 0.5);
  EXPECT_FALSE(fresh.due);
  EXPECT_EQ(fresh.renew_at, RenewalTime(NotBefore(*cert->leaf), cert->not_after));
  EXPECT_GT(fresh.renew_at, now + days(59));
  RenewalPlan later = PlanRenewal(cert.get(), {"a.example.test"}, now + days(61), std::nullopt, 0.5);
  EXPECT_TRUE(later.due);
  EXPECT_EQ(later.reason, "renewal due (a third of the lifetime left)");
}

TEST(AcmeRenewal, AriWindowOverridesTheLifetimeRule) {
  Clock::time_point now = Clock::now();
  auto cert = Issued({"a.example.test"}, now, days(90));
  // The CA wants it renewed early (e.g. a revocation ahead): a window that has begun.
  AcmeRenewalWindow early{now - hours(2), now - hours(1), std::nullopt};
  RenewalPlan plan = PlanRenewal(cert.get(), {"a.example.test"}, now, early, 0.5);
  EXPECT_TRUE(plan.due);
  EXPECT_EQ(plan.reason, "renewal due (in the CA's renewal window (ARI))");
  // A window later than the lifetime rule is followed too.
  AcmeRenewalWindow late{now + days(70), now + days(72), std::nullopt};
  RenewalPlan wait = PlanRenewal(cert.get(), {"a.example.test"}, now + days(65), late, 0.5);
  EXPECT_FALSE(wait.due);
  EXPECT_EQ(wait.renew_at, now + days(71));
}

TEST(AcmeStorage, AccountKeyIsCreatedOnceWithMode0600) {
  TempDir tmp;
  AcmeStorage storage(tmp.path() / "acme");
  ASSERT_TRUE(storage.EnsureDir());
  EXPECT_EQ(ModeOf(storage.Dir()), 0700);
  bool created = false;
  Result<EvpPkeyPtr> first = storage.LoadOrCreateAccountKey(&created);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(created);
  EXPECT_EQ(ModeOf(storage.AccountKeyPath()), 0600);
  Result<EvpPkeyPtr> second = storage.LoadOrCreateAccountKey(&created);
  ASSERT_TRUE(second);
  EXPECT_FALSE(created);
  EXPECT_EQ(EVP_PKEY_eq(first->get(), second->get()), 1);
}

TEST(AcmeStorage, CorruptAccountKeyIsAnErrorAndKept) {
  TempDir tmp;
  AcmeStorage storage(tmp.path());
  ASSERT_TRUE(sdk::WriteFileAtomically(storage.AccountKeyPath(), "garbage\n", 0600));
  bool created = false;
  Result<EvpPkeyPtr> key = storage.LoadOrCreateAccountKey(&created);
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message.find(storage.AccountKeyPath().string()), std::string::npos) << key.error().message;
  EXPECT_EQ(*ReadSmallFile(storage.AccountKeyPath(), "x"), "garbage\n");
}

TEST(AcmeStorage, AccountUrlIsPerDirectory) {
  TempDir tmp;
  AcmeStorage storage(tmp.path());
  EXPECT_EQ(storage.LoadAccountUrl("https://ca/dir"), "");
  ASSERT_TRUE(storage.SaveAccountUrl("https://ca/dir", "https://ca/acct/1"));
  EXPECT_EQ(storage.LoadAccountUrl("https://ca/dir"), "https://ca/acct/1");
  EXPECT_EQ(storage.LoadAccountUrl("https://other/dir"), "");
}

TEST(AcmeStorage, OrderJournalRoundTripsAndClears) {
  TempDir tmp;
  AcmeStorage storage(tmp.path());
  EXPECT_FALSE(storage.Load());
  AcmePendingOrder order{"https://ca/dir", "https://ca/order/7", "-----BEGIN PRIVATE KEY-----\nx\n", {"a.test", "b.test"}};
  ASSERT_TRUE(storage.Save(order));
  EXPECT_EQ(ModeOf(tmp.path() / "order.json"), 0600);
  std::optional<AcmePendingOrder> loaded = storage.Load();
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->directory, order.directory);
  EXPECT_EQ(loaded->url, order.url);
  EXPECT_EQ(loaded->key_pem, order.key_pem);
  EXPECT_EQ(loaded->names, order.names);
  storage.ClearOrder();
  EXPECT_FALSE(storage.Load());
  // A damaged journal is ignored (a new order is made).
  ASSERT_TRUE(sdk::WriteFileAtomically(tmp.path() / "order.json", "{\"url\":", 0600));
  EXPECT_FALSE(storage.Load());
}

TEST(AcmeStorage, CertificateAndKeyAreOneFile) {
  TempDir tmp;
  AcmeStorage storage(tmp.path());
  EXPECT_EQ(storage.LoadCertificatePem().error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(storage.SaveCertificate("CHAIN", "KEY"));
  EXPECT_EQ(*storage.LoadCertificatePem(), "CHAIN\nKEY");
  EXPECT_EQ(ModeOf(storage.CertificatePath()), 0600);
}

TEST(AcmeChallenges, ServesHttpAndTlsAlpnAnswersUntilCleared) {
  AcmeChallenges challenges;
  ASSERT_TRUE(challenges.Present("http-01", "meet.example.test", "tok1", "tok1.thumb"));
  ASSERT_TRUE(challenges.Present("tls-alpn-01", "meet.example.test", "tok2", "tok2.thumb"));
  EXPECT_FALSE(challenges.Present("dns-01", "meet.example.test", "tok3", "tok3.thumb"));
  EXPECT_EQ(challenges.HttpAnswer("tok1"), "tok1.thumb");
  EXPECT_FALSE(challenges.HttpAnswer("tok2"));
  std::shared_ptr<const sdk::TlsIdentity> alpn = challenges.TlsAlpnIdentity("MEET.example.test");
  ASSERT_NE(alpn, nullptr);
  EXPECT_EQ(alpn->source, "acme-tls-alpn");
  EXPECT_EQ(challenges.TlsAlpnIdentity("other.example.test"), nullptr);
  challenges.Clear();
  EXPECT_FALSE(challenges.HttpAnswer("tok1"));
  EXPECT_EQ(challenges.TlsAlpnIdentity("meet.example.test"), nullptr);
}

}  // namespace
}  // namespace palaver::tls
