// CertificateProvider: the current certificate (chain + key) per server name.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;
typedef struct ssl_st SSL;

namespace palaver::sdk {

/// A loaded certificate chain with its private key. Immutable once built; shared by
/// reference-counted pointer so a swap never frees a certificate a handshake is using.
struct TlsIdentity {
  std::string chain_pem;  // leaf first
  std::string key_pem;
  std::vector<std::string> names;  // DNS names the leaf covers
  std::chrono::system_clock::time_point not_after;
  std::string source;     // "files", "local-ca", "acme"
  // Parsed forms for the TLS stack (owned; freed with the identity).
  X509* leaf = nullptr;
  std::vector<X509*> intermediates;
  EVP_PKEY* key = nullptr;

  TlsIdentity() = default;
  TlsIdentity(const TlsIdentity&) = delete;
  TlsIdentity& operator=(const TlsIdentity&) = delete;
  ~TlsIdentity();
};

/// The ACME side of the served certificate, for the admin console. Value type.
struct CertificateRenewal {
  bool acme = false;               // false: certificates from files or the local CA only
  int64_t last_check_unix = 0;     // 0: no ACME check yet
  bool last_ok = false;
  std::string last_result;         // what the last check did or why it failed (English, for admins)
  int64_t next_check_unix = 0;
};

/// Published by the `tls` module. Thread-safe; ForName is non-blocking (called per handshake).
class CertificateProvider {
 public:
  virtual ~CertificateProvider() = default;
  /// The identity for an SNI name (empty: no SNI). Never null once the module started.
  virtual std::shared_ptr<const TlsIdentity> ForName(std::string_view server_name) const = 0;
  /// Called (on an unspecified thread) after any certificate changed.
  virtual uint64_t OnChange(std::function<void()> fn) = 0;
  /// Path of a CA certificate users must trust (the generated local CA), or empty.
  virtual std::string TrustAnchorPath() const = 0;
  /// The TLS-ALPN-01 challenge certificate (RFC 8737) for a name while an ACME order is being
  /// validated, else null. Non-blocking.
  /// The last ACME check and the next one. Non-blocking.
  virtual CertificateRenewal Renewal() const { return {}; }
  virtual std::shared_ptr<const TlsIdentity> ForAcmeTlsAlpn(std::string_view /*server_name*/) const {
    return nullptr;
  }
};

/// The ALPN protocol of ACME TLS-ALPN-01 validation connections (RFC 8737).
inline constexpr std::string_view kAcmeTlsAlpnProtocol = "acme-tls/1";

/// For SSL_CTX_set_client_hello_cb: marks a handshake whose client offers ALPN "acme-tls/1", so
/// that UseCertificateForSni answers it with the challenge certificate. Always succeeds.
int NoteAcmeTlsAlpnOffer(SSL* ssl, int* alert, void* arg);
/// Whether NoteAcmeTlsAlpnOffer marked this handshake.
bool IsAcmeTlsAlpnHandshake(SSL* ssl);

/// For an OpenSSL `cert_cb`: puts the provider's identity for the handshake's SNI name (chain
/// and key) on `ssl`. False when there is none or OpenSSL refuses it (fail the handshake then).
/// Called per handshake, so a swapped certificate applies to the next connection. A handshake
/// marked by NoteAcmeTlsAlpnOffer gets ForAcmeTlsAlpn's certificate instead, or fails.
bool UseCertificateForSni(SSL* ssl, const CertificateProvider& provider);

/// A server SSL_CTX with the TLS policy every listener of palaverd shares (HTTPS, TURN over TLS;
/// docs/security.md "TLS"): TLS 1.2 and 1.3 only, AEAD suites with forward secrecy only, no
/// compression, no renegotiation, server preference, partial writes, buffers released when idle,
/// a server-side session cache. The caller adds its certificate and ALPN callbacks. Null when
/// OpenSSL cannot make one.
SSL_CTX* NewServerTlsContext();

}  // namespace palaver::sdk
