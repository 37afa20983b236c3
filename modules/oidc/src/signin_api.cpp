#include "signin_api.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include "jose.hpp"

namespace palaver::oidc {
namespace {

Error Bad(const std::string& why) { return Error{ErrorCode::kInvalidArgument, why, why}; }

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// "https://host:port/path" -> "host:port"; empty when not an http(s) URL.
std::string AuthorityOf(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  std::string_view rest = url.substr(scheme + 3);
  return Lower(std::string(rest.substr(0, rest.find_first_of("/?#"))));
}

Result<Poco::JSON::Object::Ptr> ParseObject(const std::string& body) {
  auto o = ParseJsonObject(body);
  if (!o) return Fail(Bad("the body must be a JSON object"));
  return o;
}

Result<std::string> StateOf(const Poco::JSON::Object& o) {
  if (!o.has("state")) return std::string();
  if (!o.get("state").isString()) return Fail(Bad("state must be a string"));
  std::string state = o.getValue<std::string>("state");
  if (state.size() > 256) return Fail(Bad("state is too long"));
  return state;
}

}  // namespace

// The media type of a Content-Type value: "type/subtype" in lowercase without parameters
// (RFC 9110 §8.3.1); empty when it is not one. So "application/jsonx" is not JSON.
std::string MediaType(std::string_view value) {
  std::string_view v = value.substr(0, value.find(';'));
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  size_t slash = v.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == v.size()) return {};
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(v[i]);
    bool token = std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    if (i != slash && !token) return {};
    out.push_back(static_cast<char>(std::tolower(c)));
  }
  return out;
}

namespace {
Status CheckSameOrigin(const sdk::Request& r) {
  std::string from;
  if (auto origin = r.Header("origin")) from = AuthorityOf(*origin);
  else if (auto referer = r.Header("referer")) from = AuthorityOf(*referer);
  if (from.empty() || from != Lower(r.authority)) return Fail(Bad("cross-origin sign-in request"));
  return OkStatus();
}
}  // namespace

Status CheckFormRequest(const sdk::Request& r) {
  auto type = r.Header("content-type");
  if (!type || MediaType(*type) != "application/x-www-form-urlencoded") {
    return Fail(Bad("the form must be application/x-www-form-urlencoded"));
  }
  return CheckSameOrigin(r);
}

Result<ConsentRequest> ParseConsent(const std::string& body) {
  PALAVER_ASSIGN_OR_RETURN(auto o, ParseObject(body));
  ConsentRequest out;
  PALAVER_ASSIGN_OR_RETURN(out.state, StateOf(*o));
  if (!o->has("allow") || !o->get("allow").isBoolean()) return Fail(Bad("allow must be true or false"));
  out.allow = o->getValue<bool>("allow");
  auto str = [&o](const char* key) {
    return o->has(key) && o->get(key).isString() ? o->getValue<std::string>(key) : std::string();
  };
  out.scope = str("scope");
  out.client_id = str("client_id");
  out.redirect_uri = str("redirect_uri");
  if (out.client_id.empty() || out.redirect_uri.empty()) return Fail(Bad("client_id and redirect_uri are required"));
  return out;
}

Status CheckSigninRequest(const sdk::Request& r) {
  auto xsrf = r.Header("kopano-konnect-xsrf");
  if (!xsrf || *xsrf != "1") return Fail(Bad("missing Kopano-Konnect-XSRF header"));
  auto type = r.Header("content-type");
  if (!type || MediaType(*type) != "application/json") {
    return Fail(Bad("the body must be application/json"));
  }
  return CheckSameOrigin(r);
}

Result<LogonRequest> ParseLogon(const std::string& body) {
  PALAVER_ASSIGN_OR_RETURN(auto o, ParseObject(body));
  LogonRequest out;
  PALAVER_ASSIGN_OR_RETURN(out.state, StateOf(*o));
  auto params = o->getArray("params");
  if (!params || params->size() < 3) return Fail(Bad("params must be [username, password, mode]"));
  for (unsigned i = 0; i < 3; ++i) {
    if (!params->get(i).isString()) return Fail(Bad("params must be strings"));
  }
  out.username = params->getElement<std::string>(0);
  out.password = params->getElement<std::string>(1);
  out.mode = params->getElement<std::string>(2);
  if (out.mode != "0" && out.mode != "1") return Fail(Bad("unknown logon mode"));
  if (out.username.empty() || out.username.size() > 256) return Fail(Bad("bad username"));
  return out;
}

Result<std::string> ParseState(const std::string& body) {
  if (body.empty()) return std::string();
  PALAVER_ASSIGN_OR_RETURN(auto o, ParseObject(body));
  return StateOf(*o);
}

}  // namespace palaver::oidc
