#include "palaver/sdk/services/token_verifier.hpp"

#include "palaver/sdk/http.hpp"

namespace palaver::sdk {

namespace {
bool HasBearerHeader(const Request& request) {
  auto auth = request.Header("authorization");
  return auth && auth->size() > 7 && (auth->substr(0, 7) == "Bearer " || auth->substr(0, 7) == "bearer ");
}

Result<TokenClaims> Authorize(const Request& request, const TokenVerifier* verifier,
                              const std::vector<std::string>& required_scopes, bool active) {
  if (verifier == nullptr) return Fail(ErrorCode::kUnavailable, "no token verifier", "no token service");
  if (!HasBearerHeader(request)) return Fail(ErrorCode::kPermissionDenied, "no bearer token", "");
  auto auth = request.Header("authorization");
  auto claims = active ? verifier->VerifyActiveAccessToken(auth->substr(7)) : verifier->VerifyAccessToken(auth->substr(7));
  if (!claims) {
    // A directory that cannot answer is not the client's fault.
    if (active && claims.error().code == ErrorCode::kUnavailable) return Fail(claims.error());
    return Fail(ErrorCode::kPermissionDenied, claims.error().message, "");
  }
  for (const auto& scope : required_scopes) {
    if (!claims->HasScope(scope)) return Fail(ErrorCode::kPermissionDenied, "missing scope " + scope, "");
  }
  return claims;
}

}  // namespace

Result<TokenClaims> AuthorizeBearer(const Request& request, const TokenVerifier* verifier,
                                    const std::vector<std::string>& required_scopes) {
  return Authorize(request, verifier, required_scopes, false);
}

Result<TokenClaims> AuthorizeActiveBearer(const Request& request, const TokenVerifier* verifier,
                                          const std::vector<std::string>& required_scopes) {
  return Authorize(request, verifier, required_scopes, true);
}

Response BearerFailure(const Error& error) {
  if (error.code != ErrorCode::kPermissionDenied) return Response::FromError(error);
  Response r;
  r.status = 403;
  r.SetHeader("cache-control", "no-store");
  return r;
}

}  // namespace palaver::sdk
