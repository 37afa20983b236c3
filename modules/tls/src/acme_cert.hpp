// X.509 work ACME needs besides the protocol: the CSR, the TLS-ALPN-01 challenge certificate
// (RFC 8737), the ARI certificate identifier (RFC 9773), and the check of a stored certificate.
// OpenSSL only, no I/O.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "identity.hpp"
#include "palaver/sdk/services/certificate_provider.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::tls {

// A DER CSR for `names` (the first is the CN; all are subjectAltName DNS entries), signed with `key`.
Result<std::string> BuildCsrDer(EVP_PKEY& key, const std::vector<std::string>& names);

// The self-signed certificate that answers a TLS-ALPN-01 challenge for `name` (RFC 8737 §3): a
// subjectAltName of `name` and the critical id-pe-acmeIdentifier extension holding
// SHA-256(key_authorization). Its key is fresh; `source` is "acme-tls-alpn".
Result<std::shared_ptr<sdk::TlsIdentity>> BuildTlsAlpnIdentity(const std::string& name,
                                                               const std::string& key_authorization,
                                                               std::chrono::system_clock::time_point now);

// The ARI CertID of a certificate (RFC 9773 §4.1): base64url(authorityKeyIdentifier) "."
// base64url(serial number DER content). Fails when the certificate has no AKI keyIdentifier.
Result<std::string> AriCertId(X509& cert);

// Checks a stored ACME certificate file (chain + key in one PEM) before it is served: it parses,
// the key matches the leaf, every certificate is signed by the next one in the chain, it covers
// every name in `names`, and it has not expired. Returns the identity (source "acme") or the
// reason it cannot be used.
Result<std::shared_ptr<sdk::TlsIdentity>> CheckStoredCertificate(const std::string& pem,
                                                                 const std::vector<std::string>& names,
                                                                 std::chrono::system_clock::time_point now);

// Whether the certificate's DNS names cover every one of `names` (exact, or one `*.` label).
bool CoversNames(const sdk::TlsIdentity& identity, const std::vector<std::string>& names);

}  // namespace palaver::tls
