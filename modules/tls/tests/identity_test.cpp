#include "identity.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cert_store.hpp"
#include "local_ca.hpp"

#include "palaver/testing/temp_dir.hpp"
#include "palaver/testing/unprivileged.hpp"

namespace palaver::tls {
namespace {

namespace fs = std::filesystem;
using std::chrono::days;

using palaver::testing::TempDir;

void WriteFile(const fs::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

std::string Pem(const X509& cert) { return CertificateToPem(cert).value(); }
std::string Pem(const EVP_PKEY& key) { return PrivateKeyToPem(key).value(); }

// A CA, and a leaf it issued for `hostnames`, as generated in memory.
struct Material {
  EvpPkeyPtr ca_key;
  X509Ptr ca;
  EvpPkeyPtr leaf_key;
  X509Ptr leaf;
};

Material MakeMaterial(std::vector<std::string> hostnames, TimePoint now = std::chrono::system_clock::now(),
                      std::chrono::seconds lifetime = days(90)) {
  Material m;
  m.ca_key = GenerateKey().value();
  m.ca = IssueCaCertificate(*m.ca_key, hostnames, now).value();
  m.leaf_key = GenerateKey().value();
  m.leaf = IssueServerCertificate(*m.ca, *m.ca_key, *m.leaf_key, hostnames, now, lifetime).value();
  return m;
}

// A self-signed certificate with only a subject CN (no subjectAltName).
X509Ptr SelfSignedWithCommonName(EVP_PKEY& key, const std::string& common_name) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), &key);
  X509_sign(cert.get(), &key, EVP_sha256());
  return cert;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(LoadIdentity, LoadsLeafKeyAndNames) {
  TimePoint now = std::chrono::system_clock::now();
  Material m = MakeMaterial({"meet.example.org"}, now);
  Result<std::shared_ptr<sdk::TlsIdentity>> identity = LoadIdentity(Pem(*m.leaf), Pem(*m.leaf_key), "files");
  ASSERT_TRUE(identity) << identity.error().message;
  const sdk::TlsIdentity& id = **identity;
  EXPECT_EQ(id.source, "files");
  ASSERT_NE(id.leaf, nullptr);
  ASSERT_NE(id.key, nullptr);
  EXPECT_TRUE(id.intermediates.empty());
  EXPECT_EQ(X509_cmp(id.leaf, m.leaf.get()), 0);
  EXPECT_EQ(X509_check_private_key(id.leaf, id.key), 1);
  EXPECT_EQ(id.names, (std::vector<std::string>{"meet.example.org", "localhost"}));
  EXPECT_EQ(id.not_after, NotAfter(*m.leaf));
  EXPECT_EQ(id.chain_pem, Pem(*m.leaf));
  EXPECT_TRUE(Contains(id.key_pem, "-----BEGIN PRIVATE KEY-----"));
}

TEST(LoadIdentity, LoadsChainWithIntermediate) {
  Material m = MakeMaterial({"meet.example.org"});
  std::string chain = Pem(*m.leaf) + Pem(*m.ca);
  Result<std::shared_ptr<sdk::TlsIdentity>> identity = LoadIdentity(chain, Pem(*m.leaf_key), "files");
  ASSERT_TRUE(identity) << identity.error().message;
  ASSERT_EQ((*identity)->intermediates.size(), 1u);
  EXPECT_EQ(X509_cmp((*identity)->intermediates[0], m.ca.get()), 0);
  EXPECT_EQ(X509_cmp((*identity)->leaf, m.leaf.get()), 0);
  EXPECT_EQ((*identity)->chain_pem, chain);
}

TEST(LoadIdentity, SkipsOtherPemBlocksInTheChain) {
  Material m = MakeMaterial({"meet.example.org"});
  // A "combined" file: key and certificates together.
  std::string combined = Pem(*m.leaf_key) + Pem(*m.leaf) + Pem(*m.ca);
  Result<std::shared_ptr<sdk::TlsIdentity>> identity = LoadIdentity(combined, combined, "files");
  ASSERT_TRUE(identity) << identity.error().message;
  EXPECT_EQ((*identity)->intermediates.size(), 1u);
  EXPECT_FALSE(Contains((*identity)->chain_pem, "PRIVATE KEY"));
}

TEST(LoadIdentity, RejectsEmptyInput) {
  Material m = MakeMaterial({"meet.example.org"});
  Result<std::shared_ptr<sdk::TlsIdentity>> no_chain = LoadIdentity("", Pem(*m.leaf_key), "files");
  ASSERT_FALSE(no_chain);
  EXPECT_EQ(no_chain.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(Contains(no_chain.error().message, "certificate chain is empty")) << no_chain.error().message;
  Result<std::shared_ptr<sdk::TlsIdentity>> no_key = LoadIdentity(Pem(*m.leaf), " \n", "files");
  ASSERT_FALSE(no_key);
  EXPECT_TRUE(Contains(no_key.error().message, "private key is empty")) << no_key.error().message;
}

TEST(LoadIdentity, RejectsGarbage) {
  Material m = MakeMaterial({"meet.example.org"});
  Result<std::shared_ptr<sdk::TlsIdentity>> identity =
      LoadIdentity("this is not a certificate\n", Pem(*m.leaf_key), "files");
  ASSERT_FALSE(identity);
  EXPECT_EQ(identity.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(Contains(identity.error().message, "contains no PEM certificate")) << identity.error().message;

  Result<std::shared_ptr<sdk::TlsIdentity>> bad_key = LoadIdentity(Pem(*m.leaf), "garbage", "files");
  ASSERT_FALSE(bad_key);
  EXPECT_TRUE(Contains(bad_key.error().message, "no usable PEM private key")) << bad_key.error().message;
}

TEST(LoadIdentity, RejectsCorruptCertificateBlock) {
  Material m = MakeMaterial({"meet.example.org"});
  std::string corrupt =
      Pem(*m.leaf) + "-----BEGIN CERTIFICATE-----\nTUlJQm9nbm90YWNlcnQ=\n-----END CERTIFICATE-----\n";
  Result<std::shared_ptr<sdk::TlsIdentity>> identity = LoadIdentity(corrupt, Pem(*m.leaf_key), "files");
  ASSERT_FALSE(identity);
  EXPECT_TRUE(Contains(identity.error().message, "certificate #2 cannot be parsed")) << identity.error().message;
}

TEST(LoadIdentity, RejectsMismatchedKey) {
  Material m = MakeMaterial({"meet.example.org"});
  EvpPkeyPtr other = GenerateKey().value();
  Result<std::shared_ptr<sdk::TlsIdentity>> identity = LoadIdentity(Pem(*m.leaf), Pem(*other), "files");
  ASSERT_FALSE(identity);
  EXPECT_EQ(identity.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(Contains(identity.error().message, "does not match the first certificate"))
      << identity.error().message;
  EXPECT_FALSE(Contains(identity.error().message, "PRIVATE KEY"));
}

TEST(LoadIdentity, RejectsChainInWrongOrder) {
  Material m = MakeMaterial({"meet.example.org"});
  Result<std::shared_ptr<sdk::TlsIdentity>> identity =
      LoadIdentity(Pem(*m.ca) + Pem(*m.leaf), Pem(*m.leaf_key), "files");
  ASSERT_FALSE(identity);
  EXPECT_TRUE(Contains(identity.error().message, "must start with the server certificate"))
      << identity.error().message;
}

TEST(LoadIdentity, RejectsEncryptedKey) {
  Material m = MakeMaterial({"meet.example.org"});
  BioPtr bio(BIO_new(BIO_s_mem()));
  char password[] = "secret";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), m.leaf_key.get(), EVP_aes_256_cbc(), nullptr, 0, nullptr,
                                          password),
            1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  Result<std::shared_ptr<sdk::TlsIdentity>> identity =
      LoadIdentity(Pem(*m.leaf), std::string(data, static_cast<size_t>(len)), "files");
  ASSERT_FALSE(identity);
  EXPECT_TRUE(Contains(identity.error().message, "encrypted")) << identity.error().message;
}

TEST(LoadIdentity, LoadsExpiredCertificate) {
  TimePoint long_ago = std::chrono::system_clock::now() - days(400);
  Material m = MakeMaterial({"meet.example.org"}, long_ago, days(30));
  Result<std::shared_ptr<sdk::TlsIdentity>> identity = LoadIdentity(Pem(*m.leaf), Pem(*m.leaf_key), "files");
  ASSERT_TRUE(identity) << identity.error().message;
  EXPECT_LT((*identity)->not_after, std::chrono::system_clock::now());
}

TEST(LoadIdentity, FallsBackToCommonNameWithoutSubjectAltName) {
  EvpPkeyPtr key = GenerateKey().value();
  X509Ptr cert = SelfSignedWithCommonName(*key, "legacy.example.org");
  Result<std::shared_ptr<sdk::TlsIdentity>> identity = LoadIdentity(Pem(*cert), Pem(*key), "files");
  ASSERT_TRUE(identity) << identity.error().message;
  EXPECT_EQ((*identity)->names, (std::vector<std::string>{"legacy.example.org"}));
}

TEST(LoadIdentityFiles, LoadsFiles) {
  TempDir dir;
  Material m = MakeMaterial({"meet.example.org"});
  WriteFile(dir.path() / "chain.pem", Pem(*m.leaf) + Pem(*m.ca));
  WriteFile(dir.path() / "key.pem", Pem(*m.leaf_key));
  Result<std::shared_ptr<sdk::TlsIdentity>> identity =
      LoadIdentityFiles(dir.path() / "chain.pem", dir.path() / "key.pem", "files");
  ASSERT_TRUE(identity) << identity.error().message;
  EXPECT_EQ((*identity)->intermediates.size(), 1u);
}

TEST(LoadIdentityFiles, NamesMissingFile) {
  TempDir dir;
  Material m = MakeMaterial({"meet.example.org"});
  WriteFile(dir.path() / "key.pem", Pem(*m.leaf_key));
  fs::path missing = dir.path() / "missing.pem";
  Result<std::shared_ptr<sdk::TlsIdentity>> identity = LoadIdentityFiles(missing, dir.path() / "key.pem", "files");
  ASSERT_FALSE(identity);
  EXPECT_EQ(identity.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(Contains(identity.error().message, missing.string())) << identity.error().message;
}

// Runs as an unprivileged user (a forked child drops to nobody when the tests run as root, as in
// CI), because root reads files whatever their mode.
TEST(LoadIdentityFiles, NamesUnreadableFile) {
  TempDir dir;
  Material m = MakeMaterial({"meet.example.org"});
  WriteFile(dir.path() / "chain.pem", Pem(*m.leaf));
  WriteFile(dir.path() / "key.pem", Pem(*m.leaf_key));
  ::chmod(dir.path().c_str(), 0755);
  ::chmod((dir.path() / "chain.pem").c_str(), 0644);
  ::chmod((dir.path() / "key.pem").c_str(), 0);
  fs::path key = dir.path() / "key.pem";
  std::string verdict = palaver::testing::RunUnprivileged([&]() -> std::string {
    Result<std::shared_ptr<sdk::TlsIdentity>> identity = LoadIdentityFiles(dir.path() / "chain.pem", key, "files");
    if (identity) return "an unreadable key file was loaded";
    if (identity.error().code != ErrorCode::kPermissionDenied) return "not kPermissionDenied: " + identity.error().message;
    if (!Contains(identity.error().message, key.string())) return "the message does not name the file: " + identity.error().message;
    return "";
  });
  EXPECT_EQ(verdict, "");
}

TEST(LoadIdentityFiles, NamesFileWithBadContent) {
  TempDir dir;
  Material m = MakeMaterial({"meet.example.org"});
  WriteFile(dir.path() / "chain.pem", Pem(*m.leaf));
  WriteFile(dir.path() / "key.pem", "not a key");
  Result<std::shared_ptr<sdk::TlsIdentity>> identity =
      LoadIdentityFiles(dir.path() / "chain.pem", dir.path() / "key.pem", "files");
  ASSERT_FALSE(identity);
  EXPECT_EQ(identity.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(Contains(identity.error().message, "key file " + (dir.path() / "key.pem").string()))
      << identity.error().message;
}

TEST(FileStamp, ChangesWhenTheFileIsReplaced) {
  TempDir dir;
  fs::path path = dir.path() / "chain.pem";
  WriteFile(path, "one");
  FileStamp first = StampFile(path);
  EXPECT_EQ(first.error, 0);
  EXPECT_EQ(StampFile(path), first);
  WriteFile(dir.path() / "next.pem", "two!");
  fs::rename(dir.path() / "next.pem", path);
  EXPECT_NE(StampFile(path), first);
  EXPECT_EQ(StampFile(dir.path() / "gone.pem").error, ENOENT);
}

std::shared_ptr<const sdk::TlsIdentity> MakeIdentity(const std::string& hostname) {
  Material m = MakeMaterial({hostname});
  return LoadIdentity(Pem(*m.leaf), Pem(*m.leaf_key), "files").value();
}

TEST(CertStore, ServesTheSameIdentityForEveryName) {
  auto identity = MakeIdentity("meet.example.org");
  CertStore store(identity, "");
  EXPECT_EQ(store.ForName(""), identity);
  EXPECT_EQ(store.ForName("meet.example.org"), identity);
  EXPECT_EQ(store.ForName("other.example.org"), identity);
  EXPECT_EQ(store.TrustAnchorPath(), "");
}

TEST(CertStore, SwapsAndNotifiesSubscribers) {
  auto first = MakeIdentity("a.example.org");
  auto second = MakeIdentity("b.example.org");
  CertStore store(first, "");
  std::shared_ptr<const sdk::TlsIdentity> seen;
  int calls = 0;
  uint64_t id1 = store.OnChange([&] {
    ++calls;
    seen = store.ForName("");
  });
  uint64_t id2 = store.OnChange([&] { ++calls; });
  EXPECT_NE(id1, id2);
  std::shared_ptr<const sdk::TlsIdentity> held = store.ForName("");  // a handshake in progress
  store.Set(second, "/var/lib/palaver/tls/ca.crt");
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(seen, second);
  EXPECT_EQ(store.ForName(""), second);
  EXPECT_EQ(store.TrustAnchorPath(), "/var/lib/palaver/tls/ca.crt");
  EXPECT_EQ(held, first);  // still valid after the swap
  EXPECT_NE(held->leaf, nullptr);
}

}  // namespace
}  // namespace palaver::tls
