#include "authorize.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>

#include "jose.hpp"
#include "palaver/sdk/encoding.hpp"
#include "palaver/sdk/http.hpp"

namespace palaver::oidc {
namespace {

std::string Sha256(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

std::string Hex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

AuthorizeError Unsafe(std::string description) { return {"invalid_request", std::move(description), false}; }
AuthorizeError Invalid(std::string description, std::string error = "invalid_request") {
  return {std::move(error), std::move(description), true};
}

std::vector<std::string> SplitSpaces(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    size_t j = i;
    while (j < text.size() && text[j] != ' ') ++j;
    if (j > i) {
      std::string word(text.substr(i, j - i));
      if (std::find(out.begin(), out.end(), word) == out.end()) out.push_back(std::move(word));
    }
    i = j;
  }
  return out;
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f || c == ' '; });
}

std::string Stringify(const Poco::Dynamic::Var& v) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(v, out);
  return out.str();
}

}  // namespace

Result<ClaimsRequest> ParseClaimsRequest(std::string_view json) {
  ClaimsRequest out;
  if (json.empty()) return out;
  if (json.size() > 8192) return Fail(ErrorCode::kInvalidArgument, "claims too large", "the claims parameter is too large");
  Poco::JSON::Object::Ptr root = ParseJsonObject(json);
  if (!root) {
    return Fail(ErrorCode::kInvalidArgument, "claims is not a JSON object", "the claims parameter is not a JSON object");
  }
  auto names = [&](const char* member, std::set<std::string>& into) -> Status {
    if (!root->has(member)) return OkStatus();
    auto obj = root->getObject(member);
    if (!obj) return Fail(ErrorCode::kInvalidArgument, "claims member not an object", std::string("claims.") + member + " must be an object");
    for (const auto& [name, spec] : *obj) into.insert(name);
    return OkStatus();
  };
  PALAVER_RETURN_IF_ERROR(names("id_token", out.id_token));
  PALAVER_RETURN_IF_ERROR(names("userinfo", out.userinfo));
  if (auto idt = root->getObject("id_token")) {
    auto value_of = [&](const char* claim) -> std::string {
      auto spec = idt->getObject(claim);
      if (!spec || !spec->has("value") || !spec->get("value").isString()) return {};
      return spec->getValue<std::string>("value");
    };
    out.guest = value_of("guest");
    out.name = value_of("name");
  }
  if (root->has("passthru")) out.passthru = Stringify(root->get("passthru"));
  out.json = Stringify(root);
  return out;
}

bool AuthorizeRequest::HasScope(std::string_view s) const {
  return std::find(scopes.begin(), scopes.end(), s) != scopes.end();
}

AuthResult<Params> ApplyRequestObject(const Params& outer, const Poco::JSON::Object& object, bool is_signed) {
  Params merged = outer;
  auto set = [&merged](const std::string& key, const std::string& value) {
    for (auto& [k, v] : merged) {
      if (k == key) {
        v = value;
        return;
      }
    }
    merged.emplace_back(key, value);
  };
  auto string_member = [&object](const char* name) -> std::optional<std::string> {
    if (!object.has(name)) return std::nullopt;
    const auto& v = object.get(name);
    if (v.isString()) return v.extract<std::string>();
    if (v.isNumeric()) return v.convert<std::string>();
    return std::nullopt;
  };
  for (const char* must_match : {"response_type", "client_id"}) {
    if (auto v = string_member(must_match); v && *v != ParamValue(outer, must_match)) {
      return tl::unexpected(Invalid(std::string("the request object's ") + must_match + " differs",
                                    "invalid_request_object"));
    }
  }
  for (const char* key : {"scope", "redirect_uri", "state", "nonce", "prompt", "id_token_hint", "max_age",
                          "code_challenge", "code_challenge_method"}) {
    if (auto v = string_member(key)) set(key, *v);
  }
  if (object.has("claims")) {
    auto claims = object.getObject("claims");
    if (!claims) return tl::unexpected(Invalid("claims in the request object must be an object", "invalid_request_object"));
    Poco::JSON::Object copy(*claims);
    if (!is_signed) copy.remove("passthru");
    set("claims", Stringify(Poco::Dynamic::Var(Poco::JSON::Object::Ptr(new Poco::JSON::Object(copy)))));
  }
  return merged;
}

AuthResult<AuthorizeRequest> ParseAuthorizeRequest(const Params& params) {
  AuthorizeRequest r;
  r.client_id = ParamValue(params, "client_id");
  r.redirect_uri = ParamValue(params, "redirect_uri");
  if (r.client_id.empty()) return tl::unexpected(Unsafe("client_id is missing"));
  if (r.client_id.size() > 512 || HasControl(r.client_id)) return tl::unexpected(Unsafe("client_id is malformed"));
  if (r.redirect_uri.empty()) return tl::unexpected(Unsafe("redirect_uri is missing"));
  if (HasControl(r.redirect_uri)) {
    // Refused whole, never cut at the CR/LF: the request is invalid, not a shorter URI.
    return tl::unexpected(Unsafe("redirect_uri must not contain spaces or control characters (invalid_request)"));
  }
  if (r.redirect_uri.size() > 2048 || !ParseAbsoluteUrl(r.redirect_uri)) {
    return tl::unexpected(Unsafe("redirect_uri must be an absolute URL"));
  }
  // From here on the client and its redirect URI are known; the module checks that they belong
  // together before it redirects any of the following errors.
  r.state = ParamValue(params, "state");
  r.response_type = ParamValue(params, "response_type");
  std::string mode = ParamValue(params, "response_mode");
  for (const auto& word : SplitSpaces(r.response_type)) {
    if (word == "code") r.code = true;
    else if (word == "id_token") r.id_token = true;
    else if (word == "token") r.token = true;
    else return tl::unexpected(Invalid("response_type " + r.response_type + " is not supported", "unsupported_response_type"));
  }
  if (!r.code && !r.id_token && !r.token) {
    return tl::unexpected(Invalid("response_type is missing", "unsupported_response_type"));
  }
  if (!mode.empty() && mode != "query" && mode != "fragment") {
    return tl::unexpected(Invalid("response_mode " + mode + " is not supported"));
  }
  // Defaults per OAuth 2.0 Multiple Response Types: the code flow answers in the query, every
  // flow returning a token in the fragment. Tokens never go into a query.
  r.fragment = mode == "fragment" || (mode.empty() && (r.id_token || r.token));
  if (mode == "query" && (r.id_token || r.token)) {
    return tl::unexpected(Invalid("tokens are not returned in the query"));
  }
  r.scopes = SplitSpaces(ParamValue(params, "scope"));
  if (!r.HasScope("openid")) return tl::unexpected(Invalid("scope must contain openid", "invalid_scope"));
  r.nonce = ParamValue(params, "nonce");
  if (r.id_token && !r.code && r.nonce.empty()) return tl::unexpected(Invalid("nonce is required for the implicit flow"));
  for (const auto& p : SplitSpaces(ParamValue(params, "prompt"))) {
    if (p != "none" && p != "login" && p != "consent" && p != "select_account") {
      return tl::unexpected(Invalid("prompt " + p + " is not supported"));
    }
    r.prompt.insert(p);
  }
  if (r.prompt.count("none") && r.prompt.size() > 1) {
    return tl::unexpected(Invalid("prompt=none cannot be combined with other values"));
  }
  if (auto age = ParamValue(params, "max_age"); !age.empty()) {
    if (age.size() > 10 || !std::all_of(age.begin(), age.end(), [](unsigned char c) { return std::isdigit(c); })) {
      return tl::unexpected(Invalid("max_age must be a number of seconds"));
    }
    r.max_age = std::stoll(age);
  }
  r.id_token_hint = ParamValue(params, "id_token_hint");
  std::string method = ParamValue(params, "code_challenge_method");
  r.code_challenge = ParamValue(params, "code_challenge");
  if (!r.code_challenge.empty() || !method.empty()) {
    if (!method.empty() && method != "S256") {
      return tl::unexpected(Invalid("code_challenge_method must be S256 (plain is not supported)"));
    }
    if (!ValidPkceChallenge(r.code_challenge)) return tl::unexpected(Invalid("code_challenge is malformed"));
  }
  auto claims = ParseClaimsRequest(ParamValue(params, "claims"));
  if (!claims) return tl::unexpected(Invalid(claims.error().public_message));
  r.claims = std::move(*claims);
  if (!ParamValue(params, "request_uri").empty()) {
    return tl::unexpected(Invalid("request_uri is not supported", "request_uri_not_supported"));
  }
  if (!ParamValue(params, "registration").empty()) {
    return tl::unexpected(Invalid("registration is not supported", "registration_not_supported"));
  }
  return r;
}

std::string RedirectWith(std::string_view redirect_uri, const Params& params, bool fragment) {
  std::string encoded = EncodeForm(params);
  std::string uri(redirect_uri);
  size_t hash = uri.find('#');
  if (fragment) {
    if (hash == std::string::npos) return uri + "#" + encoded;
    return uri + (hash + 1 == uri.size() ? "" : "&") + encoded;
  }
  std::string tail;
  if (hash != std::string::npos) {
    tail = uri.substr(hash);
    uri.resize(hash);
  }
  char sep = uri.find('?') == std::string::npos ? '?' : (uri.back() == '?' || uri.back() == '&' ? '\0' : '&');
  if (sep != '\0') uri += sep;
  return uri + encoded + tail;
}

std::vector<std::string> SupportedScopes() {
  return {"openid", "profile", "email", "offline_access", "kopano/gc", "kopano/kvs", "kopano/kwm", "konnect/guestok"};
}

std::vector<std::string> FilterScopes(const std::vector<std::string>& requested, bool code_flow) {
  auto supported = SupportedScopes();
  std::vector<std::string> out;
  for (const auto& s : requested) {
    if (std::find(supported.begin(), supported.end(), s) == supported.end()) continue;
    if (s == "offline_access" && !code_flow) continue;
    if (s == "konnect/guestok") continue;  // only ever granted to guest requests, by the caller
    out.push_back(s);
  }
  if (std::find(out.begin(), out.end(), "openid") == out.end()) out.insert(out.begin(), "openid");
  return out;
}

bool ValidPkceChallenge(std::string_view challenge) {
  if (challenge.size() != 43) return false;
  return std::all_of(challenge.begin(), challenge.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; });
}

bool VerifyPkce(std::string_view challenge, std::string_view verifier) {
  if (verifier.size() < 43 || verifier.size() > 128) return false;
  bool charset = std::all_of(verifier.begin(), verifier.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
  });
  if (!charset || challenge.size() != 43) return false;
  std::string computed = sdk::Base64UrlEncode(Sha256(verifier));
  return computed.size() == challenge.size() && CRYPTO_memcmp(computed.data(), challenge.data(), challenge.size()) == 0;
}

std::string HalfHash(std::string_view token) {
  std::string digest = Sha256(token);
  return sdk::Base64UrlEncode(std::string_view(digest).substr(0, digest.size() / 2));
}

std::string BrowserState(std::string_view subject, std::string_view issuer) {
  std::string input = (subject.empty() ? std::string(" ") : std::string(subject)) + " " + std::string(issuer) +
                      " palaver-session-1";
  return sdk::Base64UrlEncode(Sha256(input));
}

std::string SessionState(std::string_view client_id, std::string_view origin, std::string_view browser_state,
                         std::string_view salt) {
  std::string input = std::string(client_id) + " " + std::string(origin) + " " + std::string(browser_state) + " " +
                      std::string(salt);
  return Hex(Sha256(input)) + "." + std::string(salt);
}

Result<Url> ParseAbsoluteUrl(std::string_view text) {
  auto bad = [](const char* why) { return Fail(ErrorCode::kInvalidArgument, why, "not an absolute URL"); };
  if (text.empty() || HasControl(text)) return bad("empty or with spaces/control characters");
  Url u;
  size_t colon = text.find("://");
  if (colon == std::string_view::npos || colon == 0) return bad("no scheme");
  for (size_t i = 0; i < colon; ++i) {
    unsigned char c = text[i];
    if (!(std::isalpha(c) || (i > 0 && (std::isdigit(c) || c == '+' || c == '-' || c == '.')))) return bad("bad scheme");
    u.scheme += static_cast<char>(std::tolower(c));
  }
  std::string_view rest = text.substr(colon + 3);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (authority.empty()) return bad("no host");
  if (authority.find('@') != std::string_view::npos) return bad("user info is not allowed");
  for (char c : authority) u.authority += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string port;
  if (u.authority.front() == '[') {
    size_t close = u.authority.find(']');
    if (close == std::string::npos) return bad("unterminated IPv6 literal");
    u.host = u.authority.substr(1, close - 1);
    std::string tail = u.authority.substr(close + 1);
    if (!tail.empty() && tail.front() != ':') return bad("only a port may follow an IPv6 literal");
    if (!tail.empty()) port = tail.substr(1);
    else if (close + 1 != u.authority.size()) return bad("bad IPv6 literal");
    if (tail == ":") return bad("empty port");
  } else {
    size_t colon = u.authority.find(':');
    u.host = u.authority.substr(0, colon);
    if (colon != std::string::npos) {
      port = u.authority.substr(colon + 1);
      if (port.empty()) return bad("empty port");
    }
  }
  if (u.host.empty()) return bad("no host");
  if (!port.empty() && (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); }) ||
                        std::stoi(port) > 65535)) {
    return bad("the port must be a number up to 65535");
  }
  if (end == std::string_view::npos) return u;
  rest = rest.substr(end);
  size_t hash = rest.find('#');
  if (hash != std::string_view::npos) {
    u.fragment = std::string(rest.substr(hash + 1));
    rest = rest.substr(0, hash);
  }
  size_t q = rest.find('?');
  if (q != std::string_view::npos) {
    u.query = std::string(rest.substr(q + 1));
    rest = rest.substr(0, q);
  }
  u.path = std::string(rest);
  return u;
}

}  // namespace palaver::oidc
