// The `oidc` module: the OpenID Connect provider (konnect-compatible). This slice: signing keys,
// discovery, JWKS and the TokenVerifier service; authorize, token, userinfo and sign-in follow.
#pragma once

#include <memory>

#include "palaver/sdk/module.hpp"

namespace palaver::oidc {

std::unique_ptr<sdk::Module> CreateModule();

}  // namespace palaver::oidc
