// Loading a certificate chain and private key into an sdk::TlsIdentity, plus the small OpenSSL
// helpers (RAII handles, PEM encoding, time conversion, file reading) the module shares.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "palaver/sdk/services/certificate_provider.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::tls {

// Owning handles for OpenSSL objects.
struct X509Deleter {
  void operator()(X509* p) const { X509_free(p); }
};
struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioDeleter {
  void operator()(BIO* p) const { BIO_free_all(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

// Drains OpenSSL's thread-local error queue into one line ("" when it was empty).
std::string OpenSslErrors();

// PEM encodings. The key is written as unencrypted PKCS#8.
Result<std::string> CertificateToPem(const X509& cert);
Result<std::string> PrivateKeyToPem(const EVP_PKEY& key);

// Validity bounds of a certificate.
std::chrono::system_clock::time_point NotBefore(const X509& cert);
std::chrono::system_clock::time_point NotAfter(const X509& cert);
// `2025-06-01T12:00:00Z`, for logs and health details.
std::string FormatTime(std::chrono::system_clock::time_point t);

// The DNS names a certificate covers: its subjectAltName DNS entries, or its subject CN when it
// has none.
std::vector<std::string> DnsNames(const X509& cert);

// Parses every CERTIFICATE block of `pem` in order (other PEM blocks are skipped); at least one is
// required. Parses the first private key of `pem` (any type; encrypted keys are refused).
// `label` names the input in error messages ("certificate file /etc/x.pem").
Result<std::vector<X509Ptr>> ParseCertificatesPem(const std::string& pem, const std::string& label);
Result<EvpPkeyPtr> ParsePrivateKeyPem(const std::string& pem, const std::string& label);

// Reads a whole (small) file. Errors name the path: kNotFound, kPermissionDenied,
// kInvalidArgument (larger than 1 MiB, not a regular file) or kUnavailable. `what` describes the
// file in messages ("certificate file").
Result<std::string> ReadSmallFile(const std::filesystem::path& path, const std::string& what);

// What identifies a version of a file on disk, to notice replacements without reading it.
// Follows symlinks (certbot's live/ directory is symlinks into archive/). Value type.
struct FileStamp {
  int error = 0;  // errno of stat(), 0 when the file exists
  dev_t device = 0;
  ino_t inode = 0;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;

  bool operator==(const FileStamp&) const = default;
};
FileStamp StampFile(const std::filesystem::path& path);

// Parses a PEM chain (leaf first, then intermediates; other PEM blocks are skipped) and a PEM
// private key into an identity, and checks that the key belongs to the leaf. An expired
// certificate loads (the caller reports it). `source` is stored as TlsIdentity::source.
// Errors are kInvalidArgument and never contain key material.
Result<std::shared_ptr<sdk::TlsIdentity>> LoadIdentity(std::string chain_pem, std::string key_pem,
                                                       std::string source);

// LoadIdentity on the contents of two files; every error message names the file concerned.
Result<std::shared_ptr<sdk::TlsIdentity>> LoadIdentityFiles(const std::filesystem::path& chain,
                                                            const std::filesystem::path& key,
                                                            std::string source);

}  // namespace palaver::tls
