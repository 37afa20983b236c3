#include "local_ca.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "palaver/testing/temp_dir.hpp"

namespace palaver::tls {
namespace {

namespace fs = std::filesystem;
using std::chrono::days;

using palaver::testing::TempDir;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteAll(const fs::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

mode_t ModeOf(const fs::path& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

X509Ptr ReadCertificate(const fs::path& path) {
  auto certs = ParseCertificatesPem(ReadAll(path), path.string());
  EXPECT_TRUE(certs) << certs.error().message;
  return std::move(certs->front());
}

// The X509_V_* result of verifying `leaf` against `ca` as a TLS server certificate at `at`.
int VerifyAt(X509* leaf, X509* ca, TimePoint at) {
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
  X509_STORE_add_cert(store.get(), ca);
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
  X509_STORE_CTX_set_time(ctx.get(), 0, std::chrono::system_clock::to_time_t(at));
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  if (X509_verify_cert(ctx.get()) == 1) return X509_V_OK;
  return X509_STORE_CTX_get_error(ctx.get());
}

bool SameSerial(const X509& a, const X509& b) {
  return ASN1_INTEGER_cmp(X509_get0_serialNumber(&a), X509_get0_serialNumber(&b)) == 0;
}

LocalCaOptions Options(std::vector<std::string> hostnames) {
  LocalCaOptions options;
  options.hostnames = std::move(hostnames);
  options.leaf_lifetime = days(180);
  return options;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(LocalCa, FirstRunCreatesFilesWithModes) {
  TempDir tmp;
  fs::path dir = tmp.path() / "state" / "tls";
  TimePoint now = std::chrono::system_clock::now();
  Result<LocalCaOutcome> outcome = EnsureLocalCa(dir, Options({"meet.example.org"}), now);
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_TRUE(outcome->ca_created);
  EXPECT_TRUE(outcome->ca_replaced_reason.empty());
  EXPECT_TRUE(outcome->leaf_issued);
  EXPECT_EQ(ModeOf(dir), 0700u);
  EXPECT_EQ(ModeOf(dir / "ca.crt"), 0644u);
  EXPECT_EQ(ModeOf(dir / "ca.key"), 0600u);
  EXPECT_EQ(ModeOf(dir / "server.crt"), 0644u);
  EXPECT_EQ(ModeOf(dir / "server.key"), 0600u);
  EXPECT_EQ(outcome->files.ca_certificate, dir / "ca.crt");
  // Nothing else (no temporary files) is left behind.
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 4);
  ASSERT_NE(outcome->identity, nullptr);
  EXPECT_EQ(outcome->identity->source, "local-ca");
  EXPECT_EQ(outcome->identity->chain_pem, ReadAll(dir / "server.crt"));
  ASSERT_EQ(outcome->identity->intermediates.size(), 1u);
}

TEST(LocalCa, IssuesLeafForHostnamesAndLocalhost) {
  TempDir tmp;
  TimePoint now = std::chrono::system_clock::now();
  Result<LocalCaOutcome> outcome =
      EnsureLocalCa(tmp.path() / "tls", Options({"meet.example.org", "palaver.internal"}), now);
  ASSERT_TRUE(outcome) << outcome.error().message;
  X509Ptr ca = ReadCertificate(tmp.path() / "tls" / "ca.crt");
  X509* leaf = outcome->identity->leaf;

  EXPECT_EQ(VerifyAt(leaf, ca.get(), now), X509_V_OK);
  for (const char* host : {"meet.example.org", "palaver.internal", "localhost"}) {
    EXPECT_EQ(X509_check_host(leaf, host, 0, 0, nullptr), 1) << host;
  }
  EXPECT_EQ(X509_check_ip_asc(leaf, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf, "::1", 0), 1);
  EXPECT_NE(X509_check_host(leaf, "other.example.org", 0, 0, nullptr), 1);
  EXPECT_EQ(outcome->identity->names,
            (std::vector<std::string>{"meet.example.org", "palaver.internal", "localhost"}));

  // The leaf: CN = first hostname, ECDSA P-256, SHA-256, a server certificate.
  char cn[128];
  X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "meet.example.org");
  EXPECT_EQ(EVP_PKEY_get_id(outcome->identity->key), EVP_PKEY_EC);
  EXPECT_EQ(X509_get_signature_nid(leaf), NID_ecdsa_with_SHA256);
  EXPECT_EQ(X509_check_ca(leaf), 0);
  EXPECT_TRUE(X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER);
  EXPECT_EQ(NotAfter(*leaf) - NotBefore(*leaf), days(180));
  EXPECT_LE(NotBefore(*leaf), now - std::chrono::minutes(59));

  // The CA: a pathlen-0 CA with critical name constraints.
  char ca_cn[128];
  X509_NAME_get_text_by_NID(X509_get_subject_name(ca.get()), NID_commonName, ca_cn, sizeof ca_cn);
  EXPECT_STREQ(ca_cn, "Palaver local CA (meet.example.org)");
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  int nc_index = X509_get_ext_by_NID(ca.get(), NID_name_constraints, -1);
  ASSERT_GE(nc_index, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(ca.get(), nc_index)), 1);
  EXPECT_GE(NotAfter(*ca) - now, days(3649));
}

TEST(LocalCa, NameConstraintsRejectCertificatesForOtherSites) {
  TempDir tmp;
  TimePoint now = std::chrono::system_clock::now();
  ASSERT_TRUE(EnsureLocalCa(tmp.path(), Options({"meet.example.org"}), now));
  X509Ptr ca = ReadCertificate(tmp.path() / "ca.crt");
  EvpPkeyPtr ca_key = ParsePrivateKeyPem(ReadAll(tmp.path() / "ca.key"), "ca.key").value();
  EvpPkeyPtr key = GenerateKey().value();

  // Someone holding the CA key mints a certificate for another site: clients refuse it.
  X509Ptr evil = IssueServerCertificate(*ca, *ca_key, *key, {"bank.example.com"}, now, days(30)).value();
  EXPECT_EQ(VerifyAt(evil.get(), ca.get(), now), X509_V_ERR_PERMITTED_VIOLATION);
  X509Ptr sub = IssueServerCertificate(*ca, *ca_key, *key, {"sub.meet.example.org"}, now, days(30)).value();
  EXPECT_EQ(VerifyAt(sub.get(), ca.get(), now), X509_V_OK);
}

TEST(LocalCa, SecondRunReusesCaAndLeaf) {
  TempDir tmp;
  TimePoint now = std::chrono::system_clock::now();
  Result<LocalCaOutcome> first = EnsureLocalCa(tmp.path(), Options({"meet.example.org"}), now);
  ASSERT_TRUE(first) << first.error().message;
  std::string ca_bytes = ReadAll(tmp.path() / "ca.crt");
  std::string ca_key_bytes = ReadAll(tmp.path() / "ca.key");

  Result<LocalCaOutcome> second =
      EnsureLocalCa(tmp.path(), Options({"meet.example.org"}), now + std::chrono::hours(5));
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE(second->ca_created);
  EXPECT_FALSE(second->leaf_issued) << second->leaf_reason;
  EXPECT_TRUE(SameSerial(*first->identity->leaf, *second->identity->leaf));
  EXPECT_EQ(ReadAll(tmp.path() / "ca.crt"), ca_bytes);
  EXPECT_EQ(ReadAll(tmp.path() / "ca.key"), ca_key_bytes);
  EXPECT_EQ(second->identity->chain_pem, first->identity->chain_pem);
}

TEST(LocalCa, ReissuesLeafNearExpiryWithSameCa) {
  TempDir tmp;
  TimePoint now = std::chrono::system_clock::now();
  Result<LocalCaOutcome> first = EnsureLocalCa(tmp.path(), Options({"meet.example.org"}), now);
  ASSERT_TRUE(first) << first.error().message;
  X509Ptr ca = ReadCertificate(tmp.path() / "ca.crt");

  // 160 days in: 20 days left, inside the 30-day renewal window.
  TimePoint later = now + days(160);
  Result<LocalCaOutcome> renewed = EnsureLocalCa(tmp.path(), Options({"meet.example.org"}), later);
  ASSERT_TRUE(renewed) << renewed.error().message;
  EXPECT_FALSE(renewed->ca_created);
  EXPECT_TRUE(renewed->leaf_issued);
  EXPECT_TRUE(Contains(renewed->leaf_reason, "expires")) << renewed->leaf_reason;
  EXPECT_FALSE(SameSerial(*first->identity->leaf, *renewed->identity->leaf));
  EXPECT_EQ(VerifyAt(renewed->identity->leaf, ca.get(), later), X509_V_OK);

  // 200 days in: the first leaf has expired; reissued again from the same CA.
  X509Ptr ca_again = ReadCertificate(tmp.path() / "ca.crt");
  EXPECT_EQ(X509_cmp(ca.get(), ca_again.get()), 0);
  TempDir other;
  Result<LocalCaOutcome> fresh = EnsureLocalCa(other.path(), Options({"meet.example.org"}), now);
  ASSERT_TRUE(fresh);
  TimePoint much_later = now + days(200);
  Result<LocalCaOutcome> expired = EnsureLocalCa(other.path(), Options({"meet.example.org"}), much_later);
  ASSERT_TRUE(expired) << expired.error().message;
  EXPECT_FALSE(expired->ca_created);
  EXPECT_TRUE(expired->leaf_issued);
  X509Ptr other_ca = ReadCertificate(other.path() / "ca.crt");
  EXPECT_EQ(VerifyAt(expired->identity->leaf, other_ca.get(), much_later), X509_V_OK);
  EXPECT_EQ(VerifyAt(fresh->identity->leaf, other_ca.get(), much_later), X509_V_ERR_CERT_HAS_EXPIRED);
}

TEST(LocalCa, NewHostnameReplacesCaAndReissuesLeaf) {
  TempDir tmp;
  TimePoint now = std::chrono::system_clock::now();
  Result<LocalCaOutcome> first = EnsureLocalCa(tmp.path(), Options({"meet.example.org"}), now);
  ASSERT_TRUE(first) << first.error().message;
  X509Ptr old_ca = ReadCertificate(tmp.path() / "ca.crt");

  Result<LocalCaOutcome> changed =
      EnsureLocalCa(tmp.path(), Options({"meet.example.org", "video.example.net"}), now);
  ASSERT_TRUE(changed) << changed.error().message;
  // The old CA's name constraints do not permit the new name: it has to be replaced.
  EXPECT_TRUE(changed->ca_created);
  EXPECT_TRUE(Contains(changed->ca_replaced_reason, "video.example.net")) << changed->ca_replaced_reason;
  EXPECT_TRUE(changed->leaf_issued);
  X509Ptr new_ca = ReadCertificate(tmp.path() / "ca.crt");
  EXPECT_NE(X509_cmp(old_ca.get(), new_ca.get()), 0);
  EXPECT_EQ(X509_check_host(changed->identity->leaf, "video.example.net", 0, 0, nullptr), 1);
  EXPECT_EQ(VerifyAt(changed->identity->leaf, new_ca.get(), now), X509_V_OK);
}

TEST(LocalCa, RemovedHostnameKeepsCaAndReissuesLeaf) {
  TempDir tmp;
  TimePoint now = std::chrono::system_clock::now();
  ASSERT_TRUE(EnsureLocalCa(tmp.path(), Options({"meet.example.org", "old.example.org"}), now));
  std::string ca_bytes = ReadAll(tmp.path() / "ca.crt");

  Result<LocalCaOutcome> changed = EnsureLocalCa(tmp.path(), Options({"meet.example.org"}), now);
  ASSERT_TRUE(changed) << changed.error().message;
  EXPECT_FALSE(changed->ca_created);
  EXPECT_TRUE(changed->leaf_issued);
  EXPECT_EQ(ReadAll(tmp.path() / "ca.crt"), ca_bytes);
  EXPECT_NE(X509_check_host(changed->identity->leaf, "old.example.org", 0, 0, nullptr), 1);
}

TEST(LocalCa, ReissuesLeafNotSignedByCurrentCa) {
  TempDir a;
  TempDir b;
  TimePoint now = std::chrono::system_clock::now();
  ASSERT_TRUE(EnsureLocalCa(a.path(), Options({"meet.example.org"}), now));
  ASSERT_TRUE(EnsureLocalCa(b.path(), Options({"meet.example.org"}), now));
  // Put b's CA in a: a's server certificate is now from a foreign CA.
  fs::copy_file(b.path() / "ca.crt", a.path() / "ca.crt", fs::copy_options::overwrite_existing);
  fs::copy_file(b.path() / "ca.key", a.path() / "ca.key", fs::copy_options::overwrite_existing);

  Result<LocalCaOutcome> outcome = EnsureLocalCa(a.path(), Options({"meet.example.org"}), now);
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_FALSE(outcome->ca_created);
  EXPECT_TRUE(outcome->leaf_issued);
  EXPECT_TRUE(Contains(outcome->leaf_reason, "not issued by the current local CA")) << outcome->leaf_reason;
  X509Ptr ca = ReadCertificate(a.path() / "ca.crt");
  EXPECT_EQ(VerifyAt(outcome->identity->leaf, ca.get(), now), X509_V_OK);
}

TEST(LocalCa, ReissuesMissingOrCorruptLeaf) {
  TempDir tmp;
  TimePoint now = std::chrono::system_clock::now();
  ASSERT_TRUE(EnsureLocalCa(tmp.path(), Options({"meet.example.org"}), now));
  fs::remove(tmp.path() / "server.key");
  Result<LocalCaOutcome> missing = EnsureLocalCa(tmp.path(), Options({"meet.example.org"}), now);
  ASSERT_TRUE(missing) << missing.error().message;
  EXPECT_TRUE(missing->leaf_issued);
  EXPECT_FALSE(missing->ca_created);

  WriteAll(tmp.path() / "server.crt", "garbage");
  Result<LocalCaOutcome> corrupt = EnsureLocalCa(tmp.path(), Options({"meet.example.org"}), now);
  ASSERT_TRUE(corrupt) << corrupt.error().message;
  EXPECT_TRUE(corrupt->leaf_issued);
  EXPECT_FALSE(corrupt->ca_created);
}

TEST(LocalCa, ReplacesCaWhoseKeyDoesNotMatch) {
  TempDir tmp;
  TimePoint now = std::chrono::system_clock::now();
  ASSERT_TRUE(EnsureLocalCa(tmp.path(), Options({"meet.example.org"}), now));
  EvpPkeyPtr other = GenerateKey().value();
  WriteAll(tmp.path() / "ca.key", PrivateKeyToPem(*other).value());

  Result<LocalCaOutcome> outcome = EnsureLocalCa(tmp.path(), Options({"meet.example.org"}), now);
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_TRUE(outcome->ca_created);
  EXPECT_EQ(outcome->ca_replaced_reason, "ca.key does not match ca.crt");
  EXPECT_EQ(ModeOf(tmp.path() / "ca.key"), 0600u);
}

TEST(LocalCa, CorruptCaKeyIsAnErrorAndLeavesFileUntouched) {
  TempDir tmp;
  TimePoint now = std::chrono::system_clock::now();
  ASSERT_TRUE(EnsureLocalCa(tmp.path(), Options({"meet.example.org"}), now));
  std::string corrupt = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";
  WriteAll(tmp.path() / "ca.key", corrupt);
  std::string ca_bytes = ReadAll(tmp.path() / "ca.crt");

  Result<LocalCaOutcome> outcome = EnsureLocalCa(tmp.path(), Options({"meet.example.org"}), now);
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, ErrorCode::kDataLoss);
  EXPECT_TRUE(Contains(outcome.error().message, (tmp.path() / "ca.key").string())) << outcome.error().message;
  EXPECT_EQ(ReadAll(tmp.path() / "ca.key"), corrupt);
  EXPECT_EQ(ReadAll(tmp.path() / "ca.crt"), ca_bytes);
}

TEST(LocalCa, CorruptCaCertificateIsAnError) {
  TempDir tmp;
  TimePoint now = std::chrono::system_clock::now();
  ASSERT_TRUE(EnsureLocalCa(tmp.path(), Options({"meet.example.org"}), now));
  WriteAll(tmp.path() / "ca.crt", "truncated");
  std::string key_bytes = ReadAll(tmp.path() / "ca.key");

  Result<LocalCaOutcome> outcome = EnsureLocalCa(tmp.path(), Options({"meet.example.org"}), now);
  ASSERT_FALSE(outcome);
  EXPECT_TRUE(Contains(outcome.error().message, (tmp.path() / "ca.crt").string())) << outcome.error().message;
  EXPECT_EQ(ReadAll(tmp.path() / "ca.crt"), "truncated");
  EXPECT_EQ(ReadAll(tmp.path() / "ca.key"), key_bytes);
}

TEST(LocalCa, ReplacesCaWhenOneFileIsMissing) {
  TempDir tmp;
  TimePoint now = std::chrono::system_clock::now();
  ASSERT_TRUE(EnsureLocalCa(tmp.path(), Options({"meet.example.org"}), now));
  fs::remove(tmp.path() / "ca.key");
  Result<LocalCaOutcome> outcome = EnsureLocalCa(tmp.path(), Options({"meet.example.org"}), now);
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_TRUE(outcome->ca_created);
  EXPECT_TRUE(Contains(outcome->ca_replaced_reason, "ca.key is missing")) << outcome->ca_replaced_reason;
}

TEST(LocalCa, CoversIpAddressHostnames) {
  TempDir tmp;
  TimePoint now = std::chrono::system_clock::now();
  Result<LocalCaOutcome> outcome = EnsureLocalCa(tmp.path(), Options({"192.168.1.10"}), now);
  ASSERT_TRUE(outcome) << outcome.error().message;
  X509Ptr ca = ReadCertificate(tmp.path() / "ca.crt");
  EXPECT_EQ(X509_check_ip_asc(outcome->identity->leaf, "192.168.1.10", 0), 1);
  EXPECT_EQ(VerifyAt(outcome->identity->leaf, ca.get(), now), X509_V_OK);
  Result<LocalCaOutcome> again = EnsureLocalCa(tmp.path(), Options({"192.168.1.10"}), now);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->ca_created);
  EXPECT_FALSE(again->leaf_issued) << again->leaf_reason;
}

TEST(LocalCa, RejectsInvalidHostname) {
  TempDir tmp;
  Result<LocalCaOutcome> outcome =
      EnsureLocalCa(tmp.path(), Options({"meet.example.org,DNS:evil.com"}), std::chrono::system_clock::now());
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, ErrorCode::kInvalidArgument);
}

TEST(LocalCa, RenewsThirtyDaysOrAThirdOfTheLifetimeBeforeExpiry) {
  EXPECT_EQ(RenewBefore(days(180)), days(30));
  EXPECT_EQ(RenewBefore(days(30)), days(10));
}

TEST(LocalCa, WritesFilesAtomicallyWithExactMode) {
  TempDir tmp;
  mode_t old_umask = ::umask(0077);
  Status written = WriteFileAtomically(tmp.path() / "a.crt", "data", 0644);
  ::umask(old_umask);
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(ModeOf(tmp.path() / "a.crt"), 0644u);
  ASSERT_TRUE(WriteFileAtomically(tmp.path() / "a.crt", "new", 0600));
  EXPECT_EQ(ReadAll(tmp.path() / "a.crt"), "new");
  EXPECT_EQ(ModeOf(tmp.path() / "a.crt"), 0600u);
  Status bad = WriteFileAtomically(tmp.path() / "no-such-dir" / "a.crt", "x", 0600);
  ASSERT_FALSE(bad);
  EXPECT_TRUE(Contains(bad.error().message, "no-such-dir"));
}

}  // namespace
}  // namespace palaver::tls
