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

namespace {

int AcmeExIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

int NoteAcmeTlsAlpnOffer(SSL* ssl, int* /*alert*/, void* /*arg*/) {
  const unsigned char* ext = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &ext, &len) != 1 || len < 2) {
    return SSL_CLIENT_HELLO_SUCCESS;
  }
  size_t list_len = (static_cast<size_t>(ext[0]) << 8) | ext[1];
  if (list_len + 2 > len) return SSL_CLIENT_HELLO_SUCCESS;
  for (size_t i = 2; i < 2 + list_len;) {
    size_t n = ext[i];
    if (i + 1 + n > 2 + list_len) break;
    if (std::string_view(reinterpret_cast<const char*>(ext + i + 1), n) == kAcmeTlsAlpnProtocol) {
      SSL_set_ex_data(ssl, AcmeExIndex(), reinterpret_cast<void*>(1));
      break;
    }
    i += 1 + n;
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

bool IsAcmeTlsAlpnHandshake(SSL* ssl) { return SSL_get_ex_data(ssl, AcmeExIndex()) != nullptr; }

bool UseCertificateForSni(SSL* ssl, const CertificateProvider& provider) {
  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  auto id = IsAcmeTlsAlpnHandshake(ssl) ? provider.ForAcmeTlsAlpn(sni != nullptr ? sni : "")
                                        : provider.ForName(sni != nullptr ? sni : "");
  if (!id || id->leaf == nullptr || id->key == nullptr) return false;
  if (SSL_use_certificate(ssl, id->leaf) != 1) return false;
  if (SSL_use_PrivateKey(ssl, id->key) != 1) return false;
  SSL_clear_chain_certs(ssl);
  for (X509* c : id->intermediates) SSL_add1_chain_cert(ssl, c);
  return true;
}

SSL_CTX* NewServerTlsContext() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_cipher_list(ctx,
                          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                          "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  return ctx;
}

}  // namespace palaver::sdk
