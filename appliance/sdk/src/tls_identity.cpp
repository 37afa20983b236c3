#include <openssl/evp.h>
#include <openssl/x509.h>

#include "palaver/sdk/services/certificate_provider.hpp"

namespace palaver::sdk {

TlsIdentity::~TlsIdentity() {
  if (leaf != nullptr) X509_free(leaf);
  for (X509* c : intermediates) X509_free(c);
  if (key != nullptr) EVP_PKEY_free(key);
}

}  // namespace palaver::sdk
