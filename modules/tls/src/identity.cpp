#include "identity.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace palaver::tls {
namespace {

constexpr int64_t kMaxPemFileBytes = 1 << 20;

struct GeneralNamesDeleter {
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesDeleter>;

// PEM password callback that refuses: without it OpenSSL would prompt on the terminal for an
// encrypted key.
int RefusePassword(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return -1; }

std::chrono::system_clock::time_point AsnTimeToTimePoint(const ASN1_TIME* t) {
  struct tm tm;
  std::memset(&tm, 0, sizeof tm);
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string Asn1ToUtf8(const ASN1_STRING* s) {
  unsigned char* out = nullptr;
  int len = ASN1_STRING_to_UTF8(&out, s);
  if (len < 0) return {};
  std::string result(reinterpret_cast<const char*>(out), static_cast<size_t>(len));
  OPENSSL_free(out);
  return result;
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<size_t>(len));
}

bool IsBlank(const std::string& s) {
  for (unsigned char c : s) {
    if (!std::isspace(c)) return false;
  }
  return true;
}

std::string Subject(const X509& cert) {
  char buf[256];
  X509_NAME_oneline(X509_get_subject_name(&cert), buf, sizeof buf);
  return buf;
}

BioPtr MemoryBio(const std::string& data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// Parses every CERTIFICATE block of `pem`, in order. `label` names the input in errors.
}  // namespace

Result<std::vector<X509Ptr>> ParseCertificatesPem(const std::string& pem, const std::string& label) {
  if (IsBlank(pem)) return Fail(ErrorCode::kInvalidArgument, label + " is empty");
  if (pem.size() > static_cast<size_t>(kMaxPemFileBytes)) {
    return Fail(ErrorCode::kInvalidArgument, label + " is larger than 1 MiB");
  }
  BioPtr bio = MemoryBio(pem);
  if (!bio) return Fail(ErrorCode::kInternal, "out of memory");
  std::vector<X509Ptr> certs;
  ERR_clear_error();
  while (true) {
    X509* raw = PEM_read_bio_X509(bio.get(), nullptr, RefusePassword, nullptr);
    if (raw == nullptr) {
      unsigned long err = ERR_peek_last_error();
      if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
        ERR_clear_error();  // end of input
        break;
      }
      return Fail(ErrorCode::kInvalidArgument, label + ": certificate #" + std::to_string(certs.size() + 1) +
                                                   " cannot be parsed: " + OpenSslErrors());
    }
    certs.emplace_back(raw);
  }
  if (certs.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                label + " contains no PEM certificate (expected \"-----BEGIN CERTIFICATE-----\")");
  }
  return certs;
}

Result<EvpPkeyPtr> ParsePrivateKeyPem(const std::string& pem, const std::string& label) {
  if (IsBlank(pem)) return Fail(ErrorCode::kInvalidArgument, label + " is empty");
  if (pem.size() > static_cast<size_t>(kMaxPemFileBytes)) {
    return Fail(ErrorCode::kInvalidArgument, label + " is larger than 1 MiB");
  }
  if (pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string::npos ||
      pem.find("Proc-Type: 4,ENCRYPTED") != std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument,
                label + " holds an encrypted private key; palaverd needs it unencrypted (readable only by palaverd)");
  }
  BioPtr bio = MemoryBio(pem);
  if (!bio) return Fail(ErrorCode::kInternal, "out of memory");
  ERR_clear_error();
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, RefusePassword, nullptr));
  if (!key) {
    std::string detail = OpenSslErrors();
    return Fail(ErrorCode::kInvalidArgument, label + " contains no usable PEM private key" +
                                                 (detail.empty() ? std::string() : ": " + detail));
  }
  return key;
}

namespace {

Result<std::shared_ptr<sdk::TlsIdentity>> BuildIdentity(const std::string& chain_pem, const std::string& chain_label,
                                                        const std::string& key_pem, const std::string& key_label,
                                                        std::string source) {
  PALAVER_ASSIGN_OR_RETURN(std::vector<X509Ptr> certs, ParseCertificatesPem(chain_pem, chain_label));
  PALAVER_ASSIGN_OR_RETURN(EvpPkeyPtr key, ParsePrivateKeyPem(key_pem, key_label));
  ERR_clear_error();
  if (X509_check_private_key(certs.front().get(), key.get()) != 1) {
    ERR_clear_error();
    return Fail(ErrorCode::kInvalidArgument,
                "the private key in " + key_label + " does not match the first certificate in " + chain_label +
                    " (subject " + Subject(*certs.front()) +
                    "); the chain must start with the server certificate");
  }

  auto identity = std::make_shared<sdk::TlsIdentity>();
  // Re-encode both so that what the TLS stack loads is exactly what was checked here (no stray
  // blocks, and a key format every consumer reads).
  for (const X509Ptr& cert : certs) {
    PALAVER_ASSIGN_OR_RETURN(std::string pem, CertificateToPem(*cert));
    identity->chain_pem += pem;
  }
  PALAVER_ASSIGN_OR_RETURN(identity->key_pem, PrivateKeyToPem(*key));
  identity->names = DnsNames(*certs.front());
  identity->not_after = NotAfter(*certs.front());
  identity->source = std::move(source);
  // The identity's destructor frees what it holds; hand over our single references.
  identity->leaf = certs.front().release();
  for (size_t i = 1; i < certs.size(); ++i) identity->intermediates.push_back(certs[i].release());
  identity->key = key.release();
  return identity;
}

}  // namespace

std::string OpenSslErrors() {
  std::string out;
  unsigned long err = 0;
  while ((err = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out;
}

Result<std::string> CertificateToPem(const X509& cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), &cert) != 1) {
    return Fail(ErrorCode::kInternal, "cannot PEM-encode certificate: " + OpenSslErrors());
  }
  return BioContents(bio.get());
}

Result<std::string> PrivateKeyToPem(const EVP_PKEY& key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), &key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Fail(ErrorCode::kInternal, "cannot PEM-encode private key: " + OpenSslErrors());
  }
  return BioContents(bio.get());
}

std::chrono::system_clock::time_point NotBefore(const X509& cert) {
  return AsnTimeToTimePoint(X509_get0_notBefore(&cert));
}

std::chrono::system_clock::time_point NotAfter(const X509& cert) {
  return AsnTimeToTimePoint(X509_get0_notAfter(&cert));
}

std::string FormatTime(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  struct tm tm;
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::vector<std::string> DnsNames(const X509& cert) {
  std::vector<std::string> names;
  GeneralNamesPtr sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(&cert, NID_subject_alt_name, nullptr, nullptr)));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), i);
      if (name->type != GEN_DNS) continue;
      const ASN1_IA5STRING* dns = name->d.dNSName;
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                         static_cast<size_t>(ASN1_STRING_length(dns)));
    }
  }
  if (names.empty()) {
    const X509_NAME* subject = X509_get_subject_name(&cert);
    int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (index >= 0) {
      std::string cn = Asn1ToUtf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
      if (!cn.empty()) names.push_back(std::move(cn));
    }
  }
  return names;
}

Result<std::string> ReadSmallFile(const std::filesystem::path& path, const std::string& what) {
  auto fail_errno = [&](int err) {
    ErrorCode code = ErrorCode::kUnavailable;
    if (err == ENOENT || err == ENOTDIR) code = ErrorCode::kNotFound;
    if (err == EACCES || err == EPERM) code = ErrorCode::kPermissionDenied;
    return Fail(code, "cannot read " + what + " " + path.string() + ": " + std::strerror(err));
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail_errno(errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return fail_errno(err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Fail(ErrorCode::kInvalidArgument, what + " " + path.string() + " is not a regular file");
  }
  if (st.st_size > kMaxPemFileBytes) {
    ::close(fd);
    return Fail(ErrorCode::kInvalidArgument, what + " " + path.string() + " is larger than 1 MiB");
  }
  std::string data;
  char buf[16384];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return fail_errno(err);
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > static_cast<size_t>(kMaxPemFileBytes)) {
      ::close(fd);
      return Fail(ErrorCode::kInvalidArgument, what + " " + path.string() + " is larger than 1 MiB");
    }
  }
  ::close(fd);
  return data;
}

FileStamp StampFile(const std::filesystem::path& path) {
  FileStamp stamp;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    stamp.error = errno;
    return stamp;
  }
  stamp.device = st.st_dev;
  stamp.inode = st.st_ino;
  stamp.size = static_cast<int64_t>(st.st_size);
  stamp.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  stamp.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
  return stamp;
}

Result<std::shared_ptr<sdk::TlsIdentity>> LoadIdentity(std::string chain_pem, std::string key_pem,
                                                       std::string source) {
  return BuildIdentity(chain_pem, "the certificate chain", key_pem, "the private key", std::move(source));
}

Result<std::shared_ptr<sdk::TlsIdentity>> LoadIdentityFiles(const std::filesystem::path& chain,
                                                            const std::filesystem::path& key, std::string source) {
  PALAVER_ASSIGN_OR_RETURN(std::string chain_pem, ReadSmallFile(chain, "certificate file"));
  PALAVER_ASSIGN_OR_RETURN(std::string key_pem, ReadSmallFile(key, "key file"));
  Result<std::shared_ptr<sdk::TlsIdentity>> identity =
      BuildIdentity(chain_pem, "certificate file " + chain.string(), key_pem, "key file " + key.string(),
                    std::move(source));
  // The PEM text of the key is in memory anyway; wipe our local copy before it is freed.
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  return identity;
}

}  // namespace palaver::tls
