#include "acme_cert.hpp"

#include <algorithm>
#include <cctype>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "local_ca.hpp"
#include "palaver/sdk/encoding.hpp"

namespace palaver::tls {
namespace {

struct ReqDeleter {
  void operator()(X509_REQ* p) const { X509_REQ_free(p); }
};
using ReqPtr = std::unique_ptr<X509_REQ, ReqDeleter>;
struct ExtStackDeleter {
  void operator()(STACK_OF(X509_EXTENSION) * p) const { sk_X509_EXTENSION_pop_free(p, X509_EXTENSION_free); }
};
using ExtStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), ExtStackDeleter>;
struct AkidDeleter {
  void operator()(AUTHORITY_KEYID* p) const { AUTHORITY_KEYID_free(p); }
};
using AkidPtr = std::unique_ptr<AUTHORITY_KEYID, AkidDeleter>;

// RFC 8737 §6.1: id-pe-acmeIdentifier.
constexpr const char* kAcmeIdentifierOid = "1.3.6.1.5.5.7.1.31";

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// DNS names only: an ACME CA issues for names it can validate, not for IP addresses here.
bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == '*';
  });
}

std::string SanConf(const std::vector<std::string>& names) {
  std::string conf;
  for (const auto& n : names) conf += (conf.empty() ? "DNS:" : ",DNS:") + n;
  return conf;
}

bool Covers(const std::string& pattern, const std::string& name) {
  if (pattern == name) return true;
  if (pattern.rfind("*.", 0) == 0) {
    auto dot = name.find('.');
    return dot != std::string::npos && name.substr(dot) == pattern.substr(1) && name.find('*') == std::string::npos;
  }
  return false;
}

}  // namespace

Result<std::string> BuildCsrDer(EVP_PKEY& key, const std::vector<std::string>& names) {
  if (names.empty()) return Fail(ErrorCode::kInvalidArgument, "no names for the certificate request");
  for (const auto& n : names) {
    if (!ValidName(n)) return Fail(ErrorCode::kInvalidArgument, "not a DNS name for ACME: " + n);
  }
  ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1) return Fail(ErrorCode::kInternal, "out of memory");
  X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  if (names.front().size() <= 64 &&
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(names.front().c_str()),
                                 -1, -1, 0) != 1) {
    return Fail(ErrorCode::kInternal, "CSR subject: " + OpenSslErrors());
  }
  ExtStackPtr exts(sk_X509_EXTENSION_new_null());
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, SanConf(names).c_str());
  if (!exts || san == nullptr) return Fail(ErrorCode::kInternal, "CSR subjectAltName: " + OpenSslErrors());
  sk_X509_EXTENSION_push(exts.get(), san);
  if (X509_REQ_add_extensions(req.get(), exts.get()) != 1 || X509_REQ_set_pubkey(req.get(), &key) != 1 ||
      X509_REQ_sign(req.get(), &key, EVP_sha256()) <= 0) {
    return Fail(ErrorCode::kInternal, "CSR signing failed: " + OpenSslErrors());
  }
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req.get(), &der);
  if (len <= 0) return Fail(ErrorCode::kInternal, "CSR encoding failed: " + OpenSslErrors());
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

Result<std::shared_ptr<sdk::TlsIdentity>> BuildTlsAlpnIdentity(const std::string& name,
                                                               const std::string& key_authorization,
                                                               std::chrono::system_clock::time_point now) {
  if (!ValidName(name) || name.find('*') != std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument, "not a DNS name for TLS-ALPN-01: " + name);
  }
  PALAVER_ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateKey());
  X509Ptr cert(X509_new());
  if (!cert) return Fail(ErrorCode::kInternal, "out of memory");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return Fail(ErrorCode::kInternal, "no randomness: " + OpenSslErrors());
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  if (bn == nullptr || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) == nullptr) {
    BN_free(bn);
    return Fail(ErrorCode::kInternal, "serial: " + OpenSslErrors());
  }
  BN_free(bn);
  time_t nb = std::chrono::system_clock::to_time_t(now - std::chrono::hours(1));
  time_t na = std::chrono::system_clock::to_time_t(now + std::chrono::days(7));
  X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, 0, &nb);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), 0, 0, &na);
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), subject);
  X509_set_pubkey(cert.get(), key.get());

  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, ("DNS:" + name).c_str());
  if (san == nullptr) return Fail(ErrorCode::kInternal, "subjectAltName: " + OpenSslErrors());
  X509_add_ext(cert.get(), san, -1);
  X509_EXTENSION_free(san);

  // extnValue = DER(OCTET STRING (SHA-256 of the key authorization)).
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key_authorization.data()), key_authorization.size(), digest);
  unsigned char inner[2 + SHA256_DIGEST_LENGTH] = {0x04, SHA256_DIGEST_LENGTH};
  std::copy(digest, digest + SHA256_DIGEST_LENGTH, inner + 2);
  ASN1_OBJECT* oid = OBJ_txt2obj(kAcmeIdentifierOid, 1);
  ASN1_OCTET_STRING* value = ASN1_OCTET_STRING_new();
  X509_EXTENSION* acme = nullptr;
  if (oid != nullptr && value != nullptr && ASN1_OCTET_STRING_set(value, inner, sizeof inner) == 1) {
    acme = X509_EXTENSION_create_by_OBJ(nullptr, oid, 1, value);
  }
  ASN1_OBJECT_free(oid);
  ASN1_OCTET_STRING_free(value);
  if (acme == nullptr) return Fail(ErrorCode::kInternal, "acmeIdentifier extension: " + OpenSslErrors());
  X509_add_ext(cert.get(), acme, -1);
  X509_EXTENSION_free(acme);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) {
    return Fail(ErrorCode::kInternal, "TLS-ALPN-01 certificate signing failed: " + OpenSslErrors());
  }
  PALAVER_ASSIGN_OR_RETURN(std::string chain, CertificateToPem(*cert));
  PALAVER_ASSIGN_OR_RETURN(std::string key_pem, PrivateKeyToPem(*key));
  return LoadIdentity(std::move(chain), std::move(key_pem), "acme-tls-alpn");
}

Result<std::string> AriCertId(X509& cert) {
  int crit = 0;
  AkidPtr akid(static_cast<AUTHORITY_KEYID*>(X509_get_ext_d2i(&cert, NID_authority_key_identifier, &crit, nullptr)));
  if (!akid || akid->keyid == nullptr) {
    return Fail(ErrorCode::kInvalidArgument, "certificate has no authority key identifier");
  }
  const ASN1_INTEGER* serial = X509_get0_serialNumber(&cert);
  // The DER content octets of the serial INTEGER (with a leading zero when the high bit is set).
  unsigned char* der = nullptr;
  int len = i2d_ASN1_INTEGER(serial, &der);
  if (len < 3) {
    OPENSSL_free(der);
    return Fail(ErrorCode::kInvalidArgument, "certificate serial cannot be encoded");
  }
  // Skip tag and length (serials are at most 20 octets, so the length is one byte).
  std::string serial_content(reinterpret_cast<const char*>(der) + 2, static_cast<size_t>(len - 2));
  OPENSSL_free(der);
  std::string keyid(reinterpret_cast<const char*>(ASN1_STRING_get0_data(akid->keyid)),
                    static_cast<size_t>(ASN1_STRING_length(akid->keyid)));
  return sdk::Base64UrlEncode(keyid) + "." + sdk::Base64UrlEncode(serial_content);
}

bool CoversNames(const sdk::TlsIdentity& identity, const std::vector<std::string>& names) {
  for (const auto& want : names) {
    std::string w = Lower(want);
    bool found = std::any_of(identity.names.begin(), identity.names.end(),
                             [&](const std::string& have) { return Covers(Lower(have), w); });
    if (!found) return false;
  }
  return true;
}

Result<std::shared_ptr<sdk::TlsIdentity>> CheckStoredCertificate(const std::string& pem,
                                                                 const std::vector<std::string>& names,
                                                                 std::chrono::system_clock::time_point now) {
  // LoadIdentity parses every CERTIFICATE block, the first private key, and matches them.
  PALAVER_ASSIGN_OR_RETURN(std::shared_ptr<sdk::TlsIdentity> identity, LoadIdentity(pem, pem, "acme"));
  // Each certificate must carry a valid signature of the next one: a changed byte in a
  // certificate's body shows here even when it still parses.
  std::vector<X509*> chain{identity->leaf};
  chain.insert(chain.end(), identity->intermediates.begin(), identity->intermediates.end());
  if (chain.size() < 2) return Fail(ErrorCode::kInvalidArgument, "the chain has no issuer certificate");
  for (size_t i = 0; i + 1 < chain.size(); ++i) {
    EVP_PKEY* issuer_key = X509_get0_pubkey(chain[i + 1]);
    if (issuer_key == nullptr || X509_verify(chain[i], issuer_key) != 1) {
      OpenSslErrors();
      return Fail(ErrorCode::kInvalidArgument,
                  "certificate #" + std::to_string(i + 1) + " is not signed by the next one (damaged file?)");
    }
  }
  if (!CoversNames(*identity, names)) {
    return Fail(ErrorCode::kInvalidArgument, "the certificate does not cover every configured hostname");
  }
  if (identity->not_after <= now) {
    return Fail(ErrorCode::kInvalidArgument, "the certificate expired at " + FormatTime(identity->not_after));
  }
  return identity;
}

}  // namespace palaver::tls
