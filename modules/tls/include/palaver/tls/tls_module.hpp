// The `tls` module: serves the certificate for the HTTPS listener, from files or a local CA.
#pragma once

#include <memory>

#include "palaver/sdk/module.hpp"

namespace palaver::tls {

/// Creates the `tls` module. It publishes an sdk::CertificateProvider in Start().
std::unique_ptr<sdk::Module> CreateModule();

}  // namespace palaver::tls
