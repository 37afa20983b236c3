// The authorization request (spec §1.4): parameters, request objects, validation, scopes, the
// redirect that answers it, PKCE and the session-management hashes. Sans-I/O.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <Poco/JSON/Object.h>

#include "palaver/sdk/http.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::oidc {

/// Form and query parameters (the SDK's parser: repeated parameters are refused).
using Params = sdk::FormParams;
using sdk::EncodeForm;
using sdk::ParseForm;
inline std::string ParamValue(const Params& params, std::string_view name) { return sdk::FormValue(params, name); }

/// An OAuth error: `error` is the protocol code (`invalid_request`, ...), `description` says why.
/// `redirectable` errors go back to the client's redirect URI; the others are shown to the user
/// (the client or its redirect URI cannot be trusted with them).
struct AuthorizeError {
  std::string error;
  std::string description;
  bool redirectable = true;
};
template <typename T>
using AuthResult = tl::expected<T, AuthorizeError>;

/// What the `claims` parameter asks for (OpenID Connect Core §5.5), as far as we act on it.
struct ClaimsRequest {
  std::set<std::string> id_token;  // claim names requested in the ID token
  std::set<std::string> userinfo;
  std::string guest;               // id_token.guest.value (guest requests)
  std::string name;                // id_token.name.value (guest display name)
  std::string passthru;            // the "passthru" object as JSON (signed request objects only)
  std::string json;                // the request as given, re-serialized; empty when none
};

/// Parses a claims request. An empty string is no request.
Result<ClaimsRequest> ParseClaimsRequest(std::string_view json);

struct AuthorizeRequest {
  std::string client_id;
  std::string redirect_uri;
  std::string response_type;  // as given, e.g. "code" or "id_token token"
  bool code = false, id_token = false, token = false;
  bool fragment = false;      // deliver in the fragment (else the query)
  std::string state;
  std::string nonce;
  std::vector<std::string> scopes;  // requested, deduplicated, in order
  std::set<std::string> prompt;
  int64_t max_age = -1;             // -1: not given
  std::string id_token_hint;
  std::string code_challenge;       // S256 only
  ClaimsRequest claims;
  bool signed_request = false;      // a request object signed by one of our keys was applied

  bool HasScope(std::string_view s) const;
};

/// Merges a verified request object's claims over the outer parameters (konnect's
/// ApplyRequestObject): `response_type` and `client_id` must match when present; the other
/// parameters override. `claims.passthru` is kept only when the object was signed.
AuthResult<Params> ApplyRequestObject(const Params& outer, const Poco::JSON::Object& object, bool is_signed);

/// Parses and checks an authorization request. Errors about `client_id` and `redirect_uri` are
/// not redirectable; everything after them is.
AuthResult<AuthorizeRequest> ParseAuthorizeRequest(const Params& params);

/// The URL that answers `request`: `params` added to the redirect URI's fragment (appended with
/// `&` when it already has one, as Meet's `#oidc-callback` URIs do) or query.
std::string RedirectWith(std::string_view redirect_uri, const Params& params, bool fragment);

/// Scopes the provider knows. `openid` always; `offline_access` only for flows that return a code.
std::vector<std::string> SupportedScopes();
/// `requested` ∩ supported (+ `openid`), in request order.
std::vector<std::string> FilterScopes(const std::vector<std::string>& requested, bool code_flow);

/// RFC 7636 S256: base64url(SHA-256(verifier)) == challenge, compared in constant time. The
/// verifier must be 43–128 unreserved characters.
bool VerifyPkce(std::string_view challenge, std::string_view verifier);
/// A syntactically valid S256 challenge (43 base64url characters).
bool ValidPkceChallenge(std::string_view challenge);

/// base64url of the left half of SHA-256 (at_hash / c_hash for ES256, RS256 and PS256).
std::string HalfHash(std::string_view token);

/// The browser-state cookie value for a subject (empty: not signed in).
std::string BrowserState(std::string_view subject, std::string_view issuer);
/// OpenID Session Management: hex(SHA-256(client_id " " origin " " browser_state " " salt)) "." salt.
std::string SessionState(std::string_view client_id, std::string_view origin, std::string_view browser_state,
                         std::string_view salt);

/// An absolute URL split up. Value type.
struct Url {
  std::string scheme;     // lowercase
  std::string authority;  // host[:port], lowercase
  std::string host;       // without port (IPv6 without brackets)
  std::string path;       // may be empty
  std::string query;      // without '?'
  std::string fragment;   // without '#'
  std::string Origin() const { return scheme + "://" + authority; }
};
/// Absolute `scheme://authority[/path][?query][#fragment]`; no user info, no whitespace or
/// control characters.
Result<Url> ParseAbsoluteUrl(std::string_view text);

}  // namespace palaver::oidc
