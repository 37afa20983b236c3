#include "acme_cert.hpp"

#include <chrono>
#include <string>

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "identity.hpp"
#include "local_ca.hpp"

namespace palaver::tls {
namespace {

using Clock = std::chrono::system_clock;

std::vector<std::string> SanOfRequest(X509_REQ& req) {
  std::vector<std::string> out;
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(&req);
  for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
    auto* names = static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext));
    for (int j = 0; j < sk_GENERAL_NAME_num(names); ++j) {
      GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, j);
      if (gn->type == GEN_DNS) {
        out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)),
                         static_cast<size_t>(ASN1_STRING_length(gn->d.dNSName)));
      }
    }
    GENERAL_NAMES_free(names);
  }
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  return out;
}

TEST(AcmeCert, CsrNamesEveryHostAndIsSelfSigned) {
  Result<EvpPkeyPtr> key = GenerateKey();
  ASSERT_TRUE(key);
  Result<std::string> der = BuildCsrDer(**key, {"meet.example.test", "turn.example.test"});
  ASSERT_TRUE(der) << der.error().message;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der->data());
  X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(der->size()));
  ASSERT_NE(req, nullptr);
  EXPECT_EQ(X509_REQ_verify(req, key->get()), 1);
  EXPECT_EQ(SanOfRequest(*req), (std::vector<std::string>{"meet.example.test", "turn.example.test"}));
  X509_REQ_free(req);
  EXPECT_FALSE(BuildCsrDer(**key, {}));
  EXPECT_FALSE(BuildCsrDer(**key, {"bad name,DNS:evil.example"}));
}

TEST(AcmeCert, TlsAlpnCertificateCarriesTheCriticalAcmeIdentifier) {
  Result<std::shared_ptr<sdk::TlsIdentity>> id = BuildTlsAlpnIdentity("meet.example.test", "token.thumb", Clock::now());
  ASSERT_TRUE(id) << id.error().message;
  X509* cert = (*id)->leaf;
  EXPECT_EQ((*id)->names, (std::vector<std::string>{"meet.example.test"}));
  ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
  int pos = X509_get_ext_by_OBJ(cert, oid, -1);
  ASN1_OBJECT_free(oid);
  ASSERT_GE(pos, 0);
  X509_EXTENSION* ext = X509_get_ext(cert, pos);
  EXPECT_EQ(X509_EXTENSION_get_critical(ext), 1);
  ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(ext);
  ASSERT_EQ(ASN1_STRING_length(value), 34);
  const unsigned char* data = ASN1_STRING_get0_data(value);
  EXPECT_EQ(data[0], 0x04);
  EXPECT_EQ(data[1], 32);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  std::string ka = "token.thumb";
  SHA256(reinterpret_cast<const unsigned char*>(ka.data()), ka.size(), digest);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(data + 2), 32), std::string(reinterpret_cast<char*>(digest), 32));
  EXPECT_FALSE(BuildTlsAlpnIdentity("*.example.test", "t.k", Clock::now()));
}

TEST(AcmeCert, AriCertIdMatchesRfc9773Example) {
  // RFC 9773 §4.1: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4,
  // serial 0x87654321 -> "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".
  X509Ptr cert(X509_new());
  ASN1_INTEGER* serial = X509_get_serialNumber(cert.get());
  BIGNUM* bn = nullptr;
  BN_hex2bn(&bn, "87654321");
  BN_to_ASN1_INTEGER(bn, serial);
  BN_free(bn);
  AUTHORITY_KEYID* akid = AUTHORITY_KEYID_new();
  const unsigned char keyid[] = {0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
                                 0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4};
  akid->keyid = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(akid->keyid, keyid, sizeof keyid);
  ASSERT_EQ(X509_add1_ext_i2d(cert.get(), NID_authority_key_identifier, akid, 0, 0), 1);
  AUTHORITY_KEYID_free(akid);
  Result<std::string> id = AriCertId(*cert);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  X509Ptr bare(X509_new());
  EXPECT_FALSE(AriCertId(*bare));
}

// A chain as an ACME CA would send it: leaf issued by a CA, then the CA, then the leaf's key.
std::string IssuedPem(const std::vector<std::string>& names, Clock::time_point now, std::chrono::seconds lifetime) {
  EvpPkeyPtr ca_key = *GenerateKey();
  X509Ptr ca = *IssueCaCertificate(*ca_key, names, now);
  EvpPkeyPtr leaf_key = *GenerateKey();
  X509Ptr leaf = *IssueServerCertificate(*ca, *ca_key, *leaf_key, names, now, lifetime);
  return *CertificateToPem(*leaf) + *CertificateToPem(*ca) + *PrivateKeyToPem(*leaf_key);
}

TEST(AcmeCert, StoredCertificateIsCheckedBeforeUse) {
  Clock::time_point now = Clock::now();
  std::vector<std::string> names{"meet.example.test", "turn.example.test"};
  std::string pem = IssuedPem(names, now, std::chrono::days(90));
  Result<std::shared_ptr<sdk::TlsIdentity>> ok = CheckStoredCertificate(pem, names, now);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ((*ok)->source, "acme");
  EXPECT_TRUE(CoversNames(**ok, names));

  // Another configured name.
  EXPECT_FALSE(CheckStoredCertificate(pem, {"other.example.test"}, now));
  // Expired.
  EXPECT_FALSE(CheckStoredCertificate(pem, names, now + std::chrono::days(91)));
  // Truncated in the middle of the key.
  EXPECT_FALSE(CheckStoredCertificate(pem.substr(0, pem.size() - 60), names, now));
  // Truncated after the leaf (no issuer left to check it with).
  EXPECT_FALSE(CheckStoredCertificate(pem.substr(0, pem.find("-----END CERTIFICATE-----") + 26), names, now));
  // One character of the leaf's body changed (still base64, still parses or not: never accepted).
  std::string tampered = pem;
  size_t pos = tampered.find('\n', tampered.find("BEGIN CERTIFICATE")) + 200;
  tampered[pos] = tampered[pos] == 'A' ? 'B' : 'A';
  Result<std::shared_ptr<sdk::TlsIdentity>> bad = CheckStoredCertificate(tampered, names, now);
  EXPECT_FALSE(bad);
}

}  // namespace
}  // namespace palaver::tls
