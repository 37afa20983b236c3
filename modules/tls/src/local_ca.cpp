#include "local_ca.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <set>
#include <tuple>
#include <utility>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "config.hpp"

namespace palaver::tls {
namespace {

struct BignumDeleter {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct ExtensionDeleter {
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
struct StoreDeleter {
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
};
struct StoreCtxDeleter {
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};
struct NameConstraintsDeleter {
  void operator()(NAME_CONSTRAINTS* p) const { NAME_CONSTRAINTS_free(p); }
};
struct GeneralNamesDeleter {
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
using BignumPtr = std::unique_ptr<BIGNUM, BignumDeleter>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, ExtensionDeleter>;
using StorePtr = std::unique_ptr<X509_STORE, StoreDeleter>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, StoreCtxDeleter>;
using NameConstraintsPtr = std::unique_ptr<NAME_CONSTRAINTS, NameConstraintsDeleter>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesDeleter>;

// X.520 upper bound for a commonName.
constexpr size_t kMaxCommonNameLength = 64;

// One subjectAltName entry in canonical form: a lowercase DNS name or an IP address as
// inet_ntop prints it. Value type.
struct AltName {
  bool is_ip = false;
  std::string value;

  bool operator==(const AltName&) const = default;
  bool operator<(const AltName& other) const {
    return std::tie(is_ip, value) < std::tie(other.is_ip, other.value);
  }
  std::string ToConf() const { return (is_ip ? "IP:" : "DNS:") + value; }
};

// The canonical text of an IP address, or "" when `text` is not one.
std::string CanonicalIp(const std::string& text) {
  unsigned char bytes[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) return inet_ntop(AF_INET, bytes, out, sizeof out);
  if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) return inet_ntop(AF_INET6, bytes, out, sizeof out);
  return {};
}

// Letters, digits, hyphens and dots, optionally behind one leading `*.` label. Also keeps the
// characters that are special in OpenSSL's extension syntax (`,` `:` `;`) out of the conf strings.
bool IsValidDnsName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  std::string_view rest = name;
  if (rest.substr(0, 2) == "*.") rest.remove_prefix(2);
  if (rest.empty() || rest.front() == '.' || rest.back() == '.' || rest.find("..") != std::string_view::npos) {
    return false;
  }
  return std::all_of(rest.begin(), rest.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.';
  });
}

// The names a server certificate carries, in order: the hostnames, localhost, 127.0.0.1, ::1.
Result<std::vector<AltName>> ServerNames(const std::vector<std::string>& hostnames) {
  std::vector<AltName> out;
  auto add = [&out](AltName name) {
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
  };
  for (const std::string& host : hostnames) {
    std::string ip = CanonicalIp(host);
    if (!ip.empty()) {
      add({true, ip});
      continue;
    }
    std::string lower = host;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (!IsValidDnsName(lower)) {
      return Fail(ErrorCode::kInvalidArgument, "hostname \"" + host + "\" is not a valid DNS name or IP address");
    }
    add({false, lower});
  }
  add({false, "localhost"});
  add({true, "127.0.0.1"});
  add({true, "::1"});
  return out;
}

std::string SubjectAltNameConf(const std::vector<AltName>& names) {
  std::string conf;
  for (const AltName& name : names) conf += (conf.empty() ? "" : ",") + name.ToConf();
  return conf;
}

// Permitted subtrees: every DNS name (a wildcard permits its parent domain and everything under
// it), each configured IP as a single address, all of 127.0.0.0/8 and ::1.
std::string NameConstraintsConf(const std::vector<AltName>& names) {
  std::vector<std::string> entries;
  auto add = [&entries](std::string entry) {
    if (std::find(entries.begin(), entries.end(), entry) == entries.end()) entries.push_back(std::move(entry));
  };
  for (const AltName& name : names) {
    if (!name.is_ip) {
      std::string_view base = name.value;
      if (base.substr(0, 2) == "*.") base.remove_prefix(2);
      add("permitted;DNS:" + std::string(base));
    } else if (name.value == "127.0.0.1" || name.value == "::1") {
      continue;  // covered by the loopback entries below
    } else if (name.value.find(':') != std::string::npos) {
      add("permitted;IP:" + name.value + "/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    } else {
      add("permitted;IP:" + name.value + "/255.255.255.255");
    }
  }
  add("permitted;IP:127.0.0.0/255.0.0.0");
  add("permitted;IP:::1/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  std::string conf = "critical";
  for (const std::string& entry : entries) conf += "," + entry;
  return conf;
}

// The subjectAltName entries of `cert` in canonical form.
std::set<AltName> AltNamesOf(const X509& cert) {
  std::set<AltName> out;
  GeneralNamesPtr sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(&cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!sans) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), i);
    if (name->type == GEN_DNS) {
      std::string dns(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName)),
                      static_cast<size_t>(ASN1_STRING_length(name->d.dNSName)));
      std::transform(dns.begin(), dns.end(), dns.begin(), [](unsigned char c) { return std::tolower(c); });
      out.insert({false, dns});
    } else if (name->type == GEN_IPADD) {
      const unsigned char* bytes = ASN1_STRING_get0_data(name->d.iPAddress);
      int len = ASN1_STRING_length(name->d.iPAddress);
      char text[INET6_ADDRSTRLEN];
      int family = len == 4 ? AF_INET : (len == 16 ? AF_INET6 : 0);
      if (family != 0 && inet_ntop(family, bytes, text, sizeof text) != nullptr) out.insert({true, text});
    }
  }
  return out;
}

Status SetRandomSerial(X509& cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return Fail(ErrorCode::kInternal, "cannot generate a serial number: " + OpenSslErrors());
  }
  if (std::all_of(std::begin(bytes), std::end(bytes), [](unsigned char b) { return b == 0; })) bytes[15] = 1;
  BignumPtr bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(&cert)) == nullptr) {
    return Fail(ErrorCode::kInternal, "cannot set the serial number: " + OpenSslErrors());
  }
  return OkStatus();
}

Status SetValidity(X509& cert, TimePoint not_before, TimePoint not_after) {
  if (ASN1_TIME_set(X509_getm_notBefore(&cert), std::chrono::system_clock::to_time_t(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(&cert), std::chrono::system_clock::to_time_t(not_after)) == nullptr) {
    return Fail(ErrorCode::kInternal, "cannot set the validity period: " + OpenSslErrors());
  }
  return OkStatus();
}

Status AddNameEntry(X509_NAME& name, const char* field, const std::string& value) {
  if (X509_NAME_add_entry_by_txt(&name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.c_str()),
                                 -1, -1, 0) != 1) {
    return Fail(ErrorCode::kInternal, std::string("cannot set ") + field + "=" + value + ": " + OpenSslErrors());
  }
  return OkStatus();
}

Status AddExtension(X509& cert, X509V3_CTX& ctx, int nid, const std::string& value) {
  ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(&cert, ext.get(), -1) != 1) {
    return Fail(ErrorCode::kInternal,
                std::string("cannot add extension ") + OBJ_nid2sn(nid) + "=" + value + ": " + OpenSslErrors());
  }
  return OkStatus();
}

X509V3_CTX ExtensionContext(X509* issuer, X509* subject) {
  X509V3_CTX ctx;
  std::memset(&ctx, 0, sizeof ctx);
  X509V3_set_ctx(&ctx, issuer, subject, nullptr, nullptr, 0);
  return ctx;
}

Status Sign(X509& cert, EVP_PKEY& key) {
  if (X509_sign(&cert, &key, EVP_sha256()) <= 0) {
    return Fail(ErrorCode::kInternal, "cannot sign the certificate: " + OpenSslErrors());
  }
  return OkStatus();
}

// Why the existing CA cannot be kept, or "" when it can.
std::string CaProblem(X509& ca, EVP_PKEY& ca_key, const std::vector<AltName>& names, TimePoint now,
                      std::chrono::seconds leaf_lifetime) {
  ERR_clear_error();
  if (X509_check_private_key(&ca, &ca_key) != 1) {
    ERR_clear_error();
    return "ca.key does not match ca.crt";
  }
  if (X509_check_ca(&ca) != 1) return "ca.crt is not a CA certificate";
  if (NotAfter(ca) < now + leaf_lifetime) {
    return "it expires at " + FormatTime(NotAfter(ca)) + ", before a new server certificate would";
  }
  NameConstraintsPtr constraints(
      static_cast<NAME_CONSTRAINTS*>(X509_get_ext_d2i(&ca, NID_name_constraints, nullptr, nullptr)));
  if (!constraints) return "it has no name constraints";
  // Probe each name on its own so that the reason can say which one is not permitted.
  for (const AltName& name : names) {
    X509Ptr probe(X509_new());
    if (!probe) return "out of memory";
    X509V3_CTX ctx = ExtensionContext(nullptr, probe.get());
    if (!AddExtension(*probe, ctx, NID_subject_alt_name, name.ToConf())) return "cannot check " + name.ToConf();
    // NAME_CONSTRAINTS_check reads the cached, decoded extensions; this fills that cache.
    (void)X509_get_extension_flags(probe.get());
    if (NAME_CONSTRAINTS_check(probe.get(), constraints.get()) != X509_V_OK) {
      return "its name constraints do not permit " + name.ToConf();
    }
  }
  return {};
}

// Why the server certificate in `files` must be (re)issued, or "" when it is fine; then `*out`
// is its identity.
std::string LeafProblem(const LocalCaFiles& files, X509& ca, const std::vector<AltName>& names, TimePoint now,
                        std::chrono::seconds renew_before, std::shared_ptr<sdk::TlsIdentity>* out) {
  Result<std::shared_ptr<sdk::TlsIdentity>> loaded =
      LoadIdentityFiles(files.server_certificate, files.server_key, "local-ca");
  if (!loaded) return loaded.error().message;
  std::shared_ptr<sdk::TlsIdentity>& identity = *loaded;
  if (!VerifyIssuedBy(*identity->leaf, ca)) return "it was not issued by the current local CA";
  if (identity->intermediates.size() != 1 || X509_cmp(identity->intermediates.front(), &ca) != 0) {
    return "its chain does not end with the current CA certificate";
  }
  if (AltNamesOf(*identity->leaf) != std::set<AltName>(names.begin(), names.end())) {
    return "its names differ from the configured hostnames";
  }
  if (NotBefore(*identity->leaf) > now) return "it is not valid yet";
  if (NotAfter(*identity->leaf) - now < renew_before) {
    return "it expires at " + FormatTime(NotAfter(*identity->leaf));
  }
  *out = std::move(identity);
  return {};
}

// Creates `dir` with mode 0700 (parents with the default mode) unless it exists.
Status EnsureDirectory(const std::filesystem::path& dir) {
  std::error_code ec;
  if (dir.has_parent_path()) std::filesystem::create_directories(dir.parent_path(), ec);
  if (ec) return Fail(ErrorCode::kUnavailable, "cannot create directory " + dir.parent_path().string() + ": " + ec.message());
  if (::mkdir(dir.c_str(), 0700) == 0) {
    // mkdir applies the umask; the CA keys live here, so set the mode exactly.
    if (::chmod(dir.c_str(), 0700) != 0) {
      return Fail(ErrorCode::kUnavailable, "cannot chmod " + dir.string() + ": " + std::strerror(errno));
    }
    return OkStatus();
  }
  int err = errno;
  if (err != EEXIST) return Fail(ErrorCode::kUnavailable, "cannot create directory " + dir.string() + ": " + std::strerror(err));
  if (!std::filesystem::is_directory(dir, ec)) {
    return Fail(ErrorCode::kFailedPrecondition, dir.string() + " exists but is not a directory");
  }
  return OkStatus();
}

// Whether `path` exists; an error other than "no such file" is returned as an error naming it.
Result<bool> Exists(const std::filesystem::path& path) {
  FileStamp stamp = StampFile(path);
  if (stamp.error == 0) return true;
  if (stamp.error == ENOENT) return false;
  return Fail(stamp.error == EACCES ? ErrorCode::kPermissionDenied : ErrorCode::kUnavailable,
              "cannot stat " + path.string() + ": " + std::strerror(stamp.error));
}

std::string CorruptCaAdvice(const LocalCaFiles& files) {
  return "; fix it, or move " + files.ca_certificate.string() + " and " + files.ca_key.string() +
         " away to create a new local CA (clients must then trust the new ca.crt)";
}

}  // namespace

LocalCaFiles LocalCaFiles::In(const std::filesystem::path& dir) {
  return LocalCaFiles{dir, dir / "ca.crt", dir / "ca.key", dir / "server.crt", dir / "server.key"};
}

std::chrono::seconds RenewBefore(std::chrono::seconds leaf_lifetime) {
  return std::min<std::chrono::seconds>(std::chrono::days(30), leaf_lifetime / 3);
}

Result<EvpPkeyPtr> GenerateKey() {
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return Fail(ErrorCode::kInternal, "cannot generate an ECDSA P-256 key: " + OpenSslErrors());
  return key;
}

Result<X509Ptr> IssueCaCertificate(EVP_PKEY& ca_key, const std::vector<std::string>& hostnames, TimePoint now) {
  PALAVER_ASSIGN_OR_RETURN(std::vector<AltName> names, ServerNames(hostnames));
  X509Ptr cert(X509_new());
  if (!cert) return Fail(ErrorCode::kInternal, "out of memory");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return Fail(ErrorCode::kInternal, "cannot set the certificate version: " + OpenSslErrors());
  }
  PALAVER_RETURN_IF_ERROR(SetRandomSerial(*cert));
  PALAVER_RETURN_IF_ERROR(SetValidity(*cert, now - kBackdate, now + kCaLifetime));
  std::string common_name = "Palaver local CA (" + names.front().value + ")";
  if (common_name.size() > kMaxCommonNameLength) {
    common_name = common_name.substr(0, kMaxCommonNameLength - 4) + "...)";
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  PALAVER_RETURN_IF_ERROR(AddNameEntry(*subject, "CN", common_name));
  PALAVER_RETURN_IF_ERROR(AddNameEntry(*subject, "O", "Palaver"));
  if (X509_set_issuer_name(cert.get(), subject) != 1 || X509_set_pubkey(cert.get(), &ca_key) != 1) {
    return Fail(ErrorCode::kInternal, "cannot set the CA names or key: " + OpenSslErrors());
  }
  X509V3_CTX ctx = ExtensionContext(cert.get(), cert.get());
  PALAVER_RETURN_IF_ERROR(AddExtension(*cert, ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  PALAVER_RETURN_IF_ERROR(AddExtension(*cert, ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
  PALAVER_RETURN_IF_ERROR(AddExtension(*cert, ctx, NID_subject_key_identifier, "hash"));
  PALAVER_RETURN_IF_ERROR(AddExtension(*cert, ctx, NID_name_constraints, NameConstraintsConf(names)));
  PALAVER_RETURN_IF_ERROR(Sign(*cert, ca_key));
  return cert;
}

Result<X509Ptr> IssueServerCertificate(X509& ca, EVP_PKEY& ca_key, EVP_PKEY& leaf_key,
                                       const std::vector<std::string>& hostnames, TimePoint now,
                                       std::chrono::seconds lifetime) {
  PALAVER_ASSIGN_OR_RETURN(std::vector<AltName> names, ServerNames(hostnames));
  lifetime = std::min<std::chrono::seconds>(lifetime, kMaxLeafLifetime);
  X509Ptr cert(X509_new());
  if (!cert) return Fail(ErrorCode::kInternal, "out of memory");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return Fail(ErrorCode::kInternal, "cannot set the certificate version: " + OpenSslErrors());
  }
  PALAVER_RETURN_IF_ERROR(SetRandomSerial(*cert));
  TimePoint not_before = now - kBackdate;
  PALAVER_RETURN_IF_ERROR(SetValidity(*cert, not_before, not_before + lifetime));
  // A name too long for a CN is left to the subjectAltName, which clients use anyway; the
  // extension is then critical, as RFC 5280 requires for an empty subject.
  const std::string& first = names.front().value;
  bool has_common_name = first.size() <= kMaxCommonNameLength;
  if (has_common_name) PALAVER_RETURN_IF_ERROR(AddNameEntry(*X509_get_subject_name(cert.get()), "CN", first));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(&ca)) != 1 ||
      X509_set_pubkey(cert.get(), &leaf_key) != 1) {
    return Fail(ErrorCode::kInternal, "cannot set the certificate names or key: " + OpenSslErrors());
  }
  X509V3_CTX ctx = ExtensionContext(&ca, cert.get());
  PALAVER_RETURN_IF_ERROR(AddExtension(*cert, ctx, NID_basic_constraints, "CA:FALSE"));
  PALAVER_RETURN_IF_ERROR(AddExtension(*cert, ctx, NID_key_usage, "critical,digitalSignature"));
  PALAVER_RETURN_IF_ERROR(AddExtension(*cert, ctx, NID_ext_key_usage, "serverAuth"));
  PALAVER_RETURN_IF_ERROR(AddExtension(*cert, ctx, NID_subject_key_identifier, "hash"));
  PALAVER_RETURN_IF_ERROR(AddExtension(*cert, ctx, NID_authority_key_identifier, "keyid:always"));
  PALAVER_RETURN_IF_ERROR(AddExtension(*cert, ctx, NID_subject_alt_name,
                                       (has_common_name ? "" : "critical,") + SubjectAltNameConf(names)));
  PALAVER_RETURN_IF_ERROR(Sign(*cert, ca_key));
  return cert;
}

Status VerifyIssuedBy(X509& leaf, X509& ca) {
  StorePtr store(X509_STORE_new());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), &ca) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), &leaf, nullptr) != 1) {
    return Fail(ErrorCode::kInternal, "cannot set up certificate verification: " + OpenSslErrors());
  }
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_NO_CHECK_TIME);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return Fail(ErrorCode::kInvalidArgument,
                std::string("certificate does not verify against the CA: ") + X509_verify_cert_error_string(err));
  }
  return OkStatus();
}


Result<LocalCaOutcome> EnsureLocalCa(const std::filesystem::path& dir, const LocalCaOptions& options,
                                     TimePoint now) {
  PALAVER_ASSIGN_OR_RETURN(std::vector<AltName> names, ServerNames(options.hostnames));
  std::chrono::seconds lifetime = std::min<std::chrono::seconds>(options.leaf_lifetime, kMaxLeafLifetime);
  LocalCaOutcome out;
  out.files = LocalCaFiles::In(dir);
  const LocalCaFiles& files = out.files;
  PALAVER_RETURN_IF_ERROR(EnsureDirectory(dir));

  // The CA: reuse it when possible; users have been asked to trust it.
  X509Ptr ca;
  EvpPkeyPtr ca_key;
  std::string replace_reason;
  PALAVER_ASSIGN_OR_RETURN(bool have_ca_cert, Exists(files.ca_certificate));
  PALAVER_ASSIGN_OR_RETURN(bool have_ca_key, Exists(files.ca_key));
  if (have_ca_cert && have_ca_key) {
    PALAVER_ASSIGN_OR_RETURN(std::string cert_pem, ReadSmallFile(files.ca_certificate, "local CA certificate"));
    Result<std::vector<X509Ptr>> certs =
        ParseCertificatesPem(cert_pem, "local CA certificate " + files.ca_certificate.string());
    if (!certs) return Fail(ErrorCode::kDataLoss, certs.error().message + CorruptCaAdvice(files));
    PALAVER_ASSIGN_OR_RETURN(std::string key_pem, ReadSmallFile(files.ca_key, "local CA key"));
    Result<EvpPkeyPtr> key = ParsePrivateKeyPem(key_pem, "local CA key " + files.ca_key.string());
    OPENSSL_cleanse(key_pem.data(), key_pem.size());
    if (!key) return Fail(ErrorCode::kDataLoss, key.error().message + CorruptCaAdvice(files));
    ca = std::move(certs->front());
    ca_key = std::move(*key);
    replace_reason = CaProblem(*ca, *ca_key, names, now, lifetime);
  } else if (have_ca_cert || have_ca_key) {
    replace_reason = (have_ca_cert ? files.ca_key : files.ca_certificate).string() + " is missing";
  }
  if (!ca || !replace_reason.empty()) {
    PALAVER_ASSIGN_OR_RETURN(ca_key, GenerateKey());
    PALAVER_ASSIGN_OR_RETURN(ca, IssueCaCertificate(*ca_key, options.hostnames, now));
    PALAVER_ASSIGN_OR_RETURN(std::string key_pem, PrivateKeyToPem(*ca_key));
    PALAVER_ASSIGN_OR_RETURN(std::string cert_pem, CertificateToPem(*ca));
    // Key first: after a crash between the two renames the pair mismatches and is replaced again.
    Status written = WriteFileAtomically(files.ca_key, key_pem, 0600);
    OPENSSL_cleanse(key_pem.data(), key_pem.size());
    PALAVER_RETURN_IF_ERROR(written);
    PALAVER_RETURN_IF_ERROR(WriteFileAtomically(files.ca_certificate, cert_pem, 0644));
    out.ca_created = true;
    out.ca_replaced_reason = replace_reason;
  }

  // The server certificate.
  std::shared_ptr<sdk::TlsIdentity> identity;
  std::string leaf_reason = out.ca_created ? "the local CA is new"
                                           : LeafProblem(files, *ca, names, now, RenewBefore(lifetime), &identity);
  if (!leaf_reason.empty()) {
    PALAVER_ASSIGN_OR_RETURN(EvpPkeyPtr leaf_key, GenerateKey());
    PALAVER_ASSIGN_OR_RETURN(X509Ptr leaf,
                             IssueServerCertificate(*ca, *ca_key, *leaf_key, options.hostnames, now, lifetime));
    // A CA that cannot issue a certificate that verifies is broken; do not serve from it.
    PALAVER_RETURN_IF_ERROR(VerifyIssuedBy(*leaf, *ca));
    PALAVER_ASSIGN_OR_RETURN(std::string leaf_pem, CertificateToPem(*leaf));
    PALAVER_ASSIGN_OR_RETURN(std::string ca_pem, CertificateToPem(*ca));
    PALAVER_ASSIGN_OR_RETURN(std::string key_pem, PrivateKeyToPem(*leaf_key));
    Status written = WriteFileAtomically(files.server_key, key_pem, 0600);
    if (written) written = WriteFileAtomically(files.server_certificate, leaf_pem + ca_pem, 0644);
    if (written) {
      Result<std::shared_ptr<sdk::TlsIdentity>> loaded = LoadIdentity(leaf_pem + ca_pem, key_pem, "local-ca");
      if (loaded) identity = std::move(*loaded);
      else written = Fail(loaded.error());
    }
    OPENSSL_cleanse(key_pem.data(), key_pem.size());
    PALAVER_RETURN_IF_ERROR(written);
    out.leaf_issued = true;
    out.leaf_reason = leaf_reason;
  }
  out.identity = std::move(identity);
  return out;
}

}  // namespace palaver::tls
