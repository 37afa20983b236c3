// The sign-in JSON API (konnect's identifier API, spec §1.13): request checks and bodies.
// Sans-I/O.
#pragma once

#include <string>
#include <vector>

#include "palaver/sdk/http.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::oidc {

inline constexpr const char* kSigninApiPrefix = "/signin/v1/identifier/_/";

/// The media type of a Content-Type value: "type/subtype" lowercase, parameters after ';'
/// dropped; empty when malformed. Pure.
std::string MediaType(std::string_view content_type);

/// CSRF guard of every sign-in API call: an `Origin` (or, without one, `Referer`) whose host[:port]
/// is the request's Host, a JSON `Content-Type` (which a cross-site form cannot send), and
/// `Kopano-Konnect-XSRF: 1`, on HTTP/1.1 and HTTP/2 alike.
Status CheckSigninRequest(const sdk::Request& request);
/// CSRF guard of the sign-in pages' form posts (besides their double-submit token): a form
/// content type and a same-origin `Origin` (or `Referer`).
Status CheckFormRequest(const sdk::Request& request);

struct LogonRequest {
  std::string state;
  std::string username;
  std::string password;
  std::string mode;  // "1": password; "0": continue as the signed-in user
};
/// `{"state": "...", "params": [username, password, mode], ...}`.
Result<LogonRequest> ParseLogon(const std::string& body);
struct ConsentRequest {
  std::string state;
  bool allow = false;
  std::string scope;  // approved scopes, space-separated
  std::string client_id;
  std::string redirect_uri;
};
/// `{"state","allow","scope","client_id","redirect_uri",...}` of consent.
Result<ConsentRequest> ParseConsent(const std::string& body);
/// `{"state": "..."}` of hello and logoff.
Result<std::string> ParseState(const std::string& body);

}  // namespace palaver::oidc
