#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "palaver/sdk/services/certificate_provider.hpp"

namespace palaver::sdk {

TlsIdentity::~TlsIdentity() {
  if (leaf != nullptr) X509_free(leaf);
  for (X509* c : intermediates) X509_free(c);
  if (key != nullptr) EVP_PKEY_free(key);
}

bool UseCertificateForSni(SSL* ssl, const CertificateProvider& provider) {
  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  auto id = provider.ForName(sni != nullptr ? sni : "");
  if (!id || id->leaf == nullptr || id->key == nullptr) return false;
  if (SSL_use_certificate(ssl, id->leaf) != 1) return false;
  if (SSL_use_PrivateKey(ssl, id->key) != 1) return false;
  SSL_clear_chain_certs(ssl);
  for (X509* c : id->intermediates) SSL_add1_chain_cert(ssl, c);
  return true;
}

}  // namespace palaver::sdk
