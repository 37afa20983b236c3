#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "authorize.hpp"
#include "palaver/sdk/encoding.hpp"

namespace palaver::oidc {
namespace {

// ---------------------------------------------------------------------------------------------
// Helpers: independent reference computations (OpenSSL directly, hand-written hex).

std::string RefSha256(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

std::string RefHex(std::string_view bytes) {
  std::string out;
  char buf[3];
  for (unsigned char c : bytes) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    out += buf;
  }
  return out;
}

Params With(Params p, const std::string& key, const std::string& value) {
  for (auto& [k, v] : p) {
    if (k == key) {
      v = value;
      return p;
    }
  }
  p.emplace_back(key, value);
  return p;
}

Params Without(Params p, const std::string& key) {
  p.erase(std::remove_if(p.begin(), p.end(), [&](const auto& kv) { return kv.first == key; }), p.end());
  return p;
}

// A valid code-flow authorization request.
Params CodeRequest() {
  return {{"client_id", "kpop-https://meet.example.org/meet"},
          {"redirect_uri", "https://meet.example.org/meet/#oidc-callback"},
          {"response_type", "code"},
          {"scope", "openid profile"},
          {"state", "st-1"}};
}

// A valid implicit-flow authorization request.
Params ImplicitRequest() {
  return With(With(CodeRequest(), "response_type", "id_token token"), "nonce", "n-0S6_WzA2Mj");
}

Poco::JSON::Object::Ptr Json(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

// ---------------------------------------------------------------------------------------------
// ParseForm / ParamValue / EncodeForm

TEST(ParseForm, DecodesPairsInOrder) {
  auto p = ParseForm("b=2&a=%41%42c&empty=&novalue&x%20y=z%2Fw");
  ASSERT_TRUE(p) << p.error().message;
  Params expected{{"b", "2"}, {"a", "ABc"}, {"empty", ""}, {"novalue", ""}, {"x y", "z/w"}};
  EXPECT_EQ(*p, expected);
  EXPECT_EQ(ParamValue(*p, "a"), "ABc");
  EXPECT_EQ(ParamValue(*p, "missing"), "");
}

TEST(ParseForm, PlusIsASpaceButEncodedPlusIsAPlus) {
  auto p = ParseForm("scope=openid+profile+email&q=a%2Bb");
  ASSERT_TRUE(p);
  EXPECT_EQ(ParamValue(*p, "scope"), "openid profile email");
  EXPECT_EQ(ParamValue(*p, "q"), "a+b");
}

TEST(ParseForm, EmptyInputAndEmptyPairs) {
  auto empty = ParseForm("");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  auto sparse = ParseForm("&&a=1&&b=2&");
  ASSERT_TRUE(sparse);
  Params expected{{"a", "1"}, {"b", "2"}};
  EXPECT_EQ(*sparse, expected);
}

TEST(ParseForm, MalformedEscapesAreRefused) {
  for (const char* bad : {"a=%", "a=%4", "a=%zz", "a=%G1", "%=1", "a=1&b=%x", "a=%00"}) {
    auto p = ParseForm(bad);
    EXPECT_FALSE(p) << bad;
    if (!p) {
      EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument) << bad;
    }
  }
}

TEST(ParseForm, RepeatedParameterIsRefused) {
  auto p = ParseForm("client_id=a&scope=openid&client_id=b");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(p.error().public_message.find("client_id"), std::string::npos);
  // Also when the repetition only shows after decoding.
  EXPECT_FALSE(ParseForm("state=1&st%61te=2"));
  EXPECT_FALSE(ParseForm("a=1&a=1"));
}

TEST(EncodeForm, PercentEncodesAllButUnreserved) {
  EXPECT_EQ(EncodeForm({}), "");
  EXPECT_EQ(EncodeForm({{"a", "1"}}), "a=1");
  EXPECT_EQ(EncodeForm({{"a b", "c&d=e"}, {"x", "-._~"}}), "a%20b=c%26d%3De&x=-._~");
  EXPECT_EQ(EncodeForm({{"u", "https://h/p?q#f"}}), "u=https%3A%2F%2Fh%2Fp%3Fq%23f");
}

TEST(EncodeForm, RoundTripsThroughParseForm) {
  Params original{{"redirect_uri", "https://meet.example.org/meet/#oidc-callback"},
                  {"scope", "openid profile konnect/guestok"},
                  {"state", "a+b c&d=e%f"},
                  {"claims", R"({"id_token":{"name":{"value":"Ä Ö <x>"}}})"},
                  {"empty", ""},
                  {"unicode", "Grüße 😀"}};
  auto parsed = ParseForm(EncodeForm(original));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, original);
}

// ---------------------------------------------------------------------------------------------
// ParseClaimsRequest

TEST(ParseClaimsRequest, EmptyIsNoRequest) {
  auto c = ParseClaimsRequest("");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->id_token.empty());
  EXPECT_TRUE(c->userinfo.empty());
  EXPECT_TRUE(c->json.empty());
  EXPECT_TRUE(c->passthru.empty());
}

TEST(ParseClaimsRequest, CollectsNamesOfBothMembers) {
  auto c = ParseClaimsRequest(
      R"({"id_token":{"auth_time":{"essential":true},"email":null,"name":null},)"
      R"("userinfo":{"given_name":{"essential":true},"email":null}})");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->id_token, (std::set<std::string>{"auth_time", "email", "name"}));
  EXPECT_EQ(c->userinfo, (std::set<std::string>{"email", "given_name"}));
  EXPECT_TRUE(c->guest.empty());
  EXPECT_TRUE(c->name.empty());
  EXPECT_TRUE(c->passthru.empty());
  // The re-serialized request is equivalent JSON.
  ASSERT_FALSE(c->json.empty());
  auto back = Json(c->json);
  ASSERT_TRUE(back->getObject("id_token"));
  EXPECT_TRUE(back->getObject("id_token")->getObject("auth_time")->getValue<bool>("essential"));
  ASSERT_TRUE(back->getObject("userinfo"));
  EXPECT_TRUE(back->getObject("userinfo")->has("given_name"));
}

TEST(ParseClaimsRequest, GuestAndNameValues) {
  auto c = ParseClaimsRequest(
      R"({"id_token":{"guest":{"essential":true,"value":"g-42"},"name":{"value":"(Guest) Anna"}}})");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->guest, "g-42");
  EXPECT_EQ(c->name, "(Guest) Anna");
  EXPECT_EQ(c->id_token, (std::set<std::string>{"guest", "name"}));
}

TEST(ParseClaimsRequest, NonStringOrMissingValuesAreIgnored) {
  auto c = ParseClaimsRequest(R"({"id_token":{"guest":{"value":42},"name":{"essential":true}}})");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->guest.empty());
  EXPECT_TRUE(c->name.empty());
  // guest/name in userinfo do not count.
  auto u = ParseClaimsRequest(R"({"userinfo":{"guest":{"value":"g"},"name":{"value":"n"}}})");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->guest.empty());
  EXPECT_TRUE(u->name.empty());
}

TEST(ParseClaimsRequest, PassthruIsKeptAsJson) {
  auto c = ParseClaimsRequest(R"({"passthru":{"path":"group/public/team","n":[1,2]}})");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_FALSE(c->passthru.empty());
  auto p = Json(c->passthru);
  EXPECT_EQ(p->getValue<std::string>("path"), "group/public/team");
  ASSERT_TRUE(p->getArray("n"));
  EXPECT_EQ(p->getArray("n")->size(), 2u);
}

TEST(ParseClaimsRequest, NotAnObjectIsAnError) {
  for (const char* bad : {"[]", "\"x\"", "42", "null", "{", "not json", "{\"id_token\":}"}) {
    auto c = ParseClaimsRequest(bad);
    EXPECT_FALSE(c) << bad;
    if (!c) {
      EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument) << bad;
    }
  }
  for (const char* bad : {R"({"id_token":[]})", R"({"id_token":"name"})", R"({"userinfo":1})"}) {
    auto c = ParseClaimsRequest(bad);
    EXPECT_FALSE(c) << bad;
    if (!c) {
      EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument) << bad;
    }
  }
}

TEST(ParseClaimsRequest, SizeLimit) {
  const std::string head = R"({"id_token":{"name":{"value":")";
  const std::string tail = R"("}}})";
  auto make = [&](size_t total) { return head + std::string(total - head.size() - tail.size(), 'a') + tail; };
  std::string at_limit = make(8192);
  ASSERT_EQ(at_limit.size(), 8192u);
  auto ok = ParseClaimsRequest(at_limit);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->name, std::string(8192 - head.size() - tail.size(), 'a'));
  auto too_big = ParseClaimsRequest(make(8193));
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code, ErrorCode::kInvalidArgument);
  // Whitespace counts as well: the limit is on the parameter, not on the content.
  auto padded = ParseClaimsRequest(std::string(9000, ' ') + "{}");
  EXPECT_FALSE(padded);
}

// ---------------------------------------------------------------------------------------------
// ApplyRequestObject

TEST(ApplyRequestObject, OverridesAndAddsParameters) {
  Params outer = ImplicitRequest();
  outer = With(outer, "max_age", "10");
  auto object = Json(R"({"response_type":"id_token token","client_id":"kpop-https://meet.example.org/meet",)"
                     R"("scope":"openid konnect/guestok","redirect_uri":"https://meet.example.org/meet/guest",)"
                     R"("state":"inner-state","nonce":"inner-nonce","prompt":"none","max_age":300,)"
                     R"("id_token_hint":"hint","code_challenge":"c","code_challenge_method":"S256",)"
                     R"("unknown":"ignored"})");
  auto merged = ApplyRequestObject(outer, *object, false);
  ASSERT_TRUE(merged) << merged.error().description;
  EXPECT_EQ(ParamValue(*merged, "scope"), "openid konnect/guestok");
  EXPECT_EQ(ParamValue(*merged, "redirect_uri"), "https://meet.example.org/meet/guest");
  EXPECT_EQ(ParamValue(*merged, "state"), "inner-state");
  EXPECT_EQ(ParamValue(*merged, "nonce"), "inner-nonce");
  EXPECT_EQ(ParamValue(*merged, "prompt"), "none");
  EXPECT_EQ(ParamValue(*merged, "max_age"), "300");  // a JSON number becomes its decimal text
  EXPECT_EQ(ParamValue(*merged, "id_token_hint"), "hint");
  EXPECT_EQ(ParamValue(*merged, "code_challenge"), "c");
  EXPECT_EQ(ParamValue(*merged, "code_challenge_method"), "S256");
  EXPECT_EQ(ParamValue(*merged, "unknown"), "");
  // Untouched outer parameters stay; nothing is duplicated.
  EXPECT_EQ(ParamValue(*merged, "client_id"), "kpop-https://meet.example.org/meet");
  EXPECT_EQ(ParamValue(*merged, "response_type"), "id_token token");
  for (const char* key : {"scope", "state", "nonce", "max_age", "redirect_uri"}) {
    EXPECT_EQ(std::count_if(merged->begin(), merged->end(), [&](const auto& kv) { return kv.first == key; }), 1)
        << key;
  }
}

TEST(ApplyRequestObject, KeepsOuterValuesTheObjectDoesNotName) {
  Params outer = ImplicitRequest();
  auto merged = ApplyRequestObject(outer, *Json(R"({"nonce":"n2"})"), false);
  ASSERT_TRUE(merged);
  EXPECT_EQ(ParamValue(*merged, "state"), "st-1");
  EXPECT_EQ(ParamValue(*merged, "scope"), "openid profile");
  EXPECT_EQ(ParamValue(*merged, "nonce"), "n2");
}

TEST(ApplyRequestObject, ResponseTypeOrClientIdMismatchIsRefused) {
  Params outer = ImplicitRequest();
  auto rt = ApplyRequestObject(outer, *Json(R"({"response_type":"code"})"), true);
  ASSERT_FALSE(rt);
  EXPECT_EQ(rt.error().error, "invalid_request_object");
  EXPECT_TRUE(rt.error().redirectable);
  auto cid = ApplyRequestObject(outer, *Json(R"({"client_id":"other"})"), true);
  ASSERT_FALSE(cid);
  EXPECT_EQ(cid.error().error, "invalid_request_object");
  // Present in the object but absent outside is a mismatch too.
  auto missing = ApplyRequestObject(Without(outer, "client_id"), *Json(R"({"client_id":"x"})"), true);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().error, "invalid_request_object");
  // Matching values pass.
  EXPECT_TRUE(ApplyRequestObject(
      outer, *Json(R"({"response_type":"id_token token","client_id":"kpop-https://meet.example.org/meet"})"), true));
}

TEST(ApplyRequestObject, ClaimsMustBeAnObject) {
  auto r = ApplyRequestObject(ImplicitRequest(), *Json(R"({"claims":"x"})"), true);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error, "invalid_request_object");
}

TEST(ApplyRequestObject, PassthruOnlyFromSignedObjects) {
  auto object = Json(R"({"claims":{"id_token":{"guest":{"value":"g1"}},"passthru":{"path":"group/public/x"}}})");
  auto unsigned_ = ApplyRequestObject(ImplicitRequest(), *object, false);
  ASSERT_TRUE(unsigned_) << unsigned_.error().description;
  auto c1 = ParseClaimsRequest(ParamValue(*unsigned_, "claims"));
  ASSERT_TRUE(c1);
  EXPECT_TRUE(c1->passthru.empty());
  EXPECT_EQ(c1->guest, "g1");  // the rest of the claims survive
  EXPECT_FALSE(Json(ParamValue(*unsigned_, "claims"))->has("passthru"));

  auto signed_ = ApplyRequestObject(ImplicitRequest(), *object, true);
  ASSERT_TRUE(signed_);
  auto c2 = ParseClaimsRequest(ParamValue(*signed_, "claims"));
  ASSERT_TRUE(c2);
  ASSERT_FALSE(c2->passthru.empty());
  EXPECT_EQ(Json(c2->passthru)->getValue<std::string>("path"), "group/public/x");
  // The caller's object is not modified by dropping passthru.
  EXPECT_TRUE(object->getObject("claims")->has("passthru"));
}

TEST(ApplyRequestObject, ClaimsReplaceOuterClaims) {
  Params outer = With(ImplicitRequest(), "claims", R"({"id_token":{"email":null}})");
  auto merged = ApplyRequestObject(outer, *Json(R"({"claims":{"id_token":{"name":null}}})"), false);
  ASSERT_TRUE(merged);
  auto c = ParseClaimsRequest(ParamValue(*merged, "claims"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->id_token, (std::set<std::string>{"name"}));
}

// ---------------------------------------------------------------------------------------------
// ParseAuthorizeRequest

void ExpectError(const AuthResult<AuthorizeRequest>& r, const std::string& error, bool redirectable,
                 const std::string& context) {
  ASSERT_FALSE(r) << context;
  EXPECT_EQ(r.error().error, error) << context << ": " << r.error().description;
  EXPECT_EQ(r.error().redirectable, redirectable) << context << ": " << r.error().description;
  EXPECT_FALSE(r.error().description.empty()) << context;
}

TEST(ParseAuthorizeRequest, CodeFlow) {
  auto r = ParseAuthorizeRequest(CodeRequest());
  ASSERT_TRUE(r) << r.error().description;
  EXPECT_EQ(r->client_id, "kpop-https://meet.example.org/meet");
  EXPECT_EQ(r->redirect_uri, "https://meet.example.org/meet/#oidc-callback");
  EXPECT_EQ(r->response_type, "code");
  EXPECT_TRUE(r->code);
  EXPECT_FALSE(r->id_token);
  EXPECT_FALSE(r->token);
  EXPECT_FALSE(r->fragment);  // code: query by default
  EXPECT_EQ(r->state, "st-1");
  EXPECT_TRUE(r->nonce.empty());  // not needed for the code flow
  EXPECT_EQ(r->scopes, (std::vector<std::string>{"openid", "profile"}));
  EXPECT_TRUE(r->HasScope("openid"));
  EXPECT_FALSE(r->HasScope("email"));
  EXPECT_TRUE(r->prompt.empty());
  EXPECT_EQ(r->max_age, -1);
  EXPECT_TRUE(r->code_challenge.empty());
  EXPECT_FALSE(r->signed_request);
}

TEST(ParseAuthorizeRequest, ClientIdErrorsAreNotRedirectable) {
  ExpectError(ParseAuthorizeRequest(Without(CodeRequest(), "client_id")), "invalid_request", false, "missing");
  ExpectError(ParseAuthorizeRequest(With(CodeRequest(), "client_id", "")), "invalid_request", false, "empty");
  ExpectError(ParseAuthorizeRequest(With(CodeRequest(), "client_id", "a b")), "invalid_request", false, "space");
  ExpectError(ParseAuthorizeRequest(With(CodeRequest(), "client_id", "a\nb")), "invalid_request", false, "newline");
  ExpectError(ParseAuthorizeRequest(With(CodeRequest(), "client_id", std::string(513, 'c'))), "invalid_request",
              false, "too long");
  EXPECT_TRUE(ParseAuthorizeRequest(With(CodeRequest(), "client_id", std::string(512, 'c'))));
  // Even when other things are wrong too, the client_id error wins (and is not redirectable).
  ExpectError(ParseAuthorizeRequest(With(Without(CodeRequest(), "client_id"), "scope", "profile")),
              "invalid_request", false, "missing client_id and openid");
}

TEST(ParseAuthorizeRequest, RedirectUriErrorsAreNotRedirectable) {
  ExpectError(ParseAuthorizeRequest(Without(CodeRequest(), "redirect_uri")), "invalid_request", false, "missing");
  for (const char* bad : {"/meet/", "meet.example.org/cb", "https://", "https://user:pw@meet.example.org/cb",
                          "https://meet.example.org/a b", "javascript:alert(1)",
                          "https://meet.example.org/meet/\r\nLocation: https://evil.example/",
                          "https://meet.example.org/meet/\n", "https://meet.example.org/me\ret/"}) {
    ExpectError(ParseAuthorizeRequest(With(CodeRequest(), "redirect_uri", bad)), "invalid_request", false, bad);
  }
  std::string long_uri = "https://meet.example.org/" + std::string(2049, 'a');
  ExpectError(ParseAuthorizeRequest(With(CodeRequest(), "redirect_uri", long_uri)), "invalid_request", false, "long");
  // Redirect URI errors win over later ones.
  ExpectError(ParseAuthorizeRequest(With(With(CodeRequest(), "redirect_uri", "/x"), "response_type", "bogus")),
              "invalid_request", false, "bad uri and response type");
}

TEST(ParseAuthorizeRequest, ResponseTypes) {
  struct Case {
    const char* response_type;
    bool code, id_token, token;
  };
  for (const Case& c : {Case{"code", true, false, false}, Case{"id_token", false, true, false},
                        Case{"id_token token", false, true, true}, Case{"token id_token", false, true, true},
                        Case{"code id_token", true, true, false}, Case{"code token", true, false, true},
                        Case{"code id_token token", true, true, true}, Case{"token", false, false, true}}) {
    auto r = ParseAuthorizeRequest(With(ImplicitRequest(), "response_type", c.response_type));
    ASSERT_TRUE(r) << c.response_type << ": " << r.error().description;
    EXPECT_EQ(r->response_type, c.response_type);
    EXPECT_EQ(r->code, c.code) << c.response_type;
    EXPECT_EQ(r->id_token, c.id_token) << c.response_type;
    EXPECT_EQ(r->token, c.token) << c.response_type;
    // Default mode: code alone in the query, anything carrying a token in the fragment.
    EXPECT_EQ(r->fragment, c.id_token || c.token) << c.response_type;
  }
}

TEST(ParseAuthorizeRequest, UnsupportedResponseTypes) {
  for (const char* bad : {"", " ", "none", "code foo", "Code", "id_token  tokens"}) {
    auto r = ParseAuthorizeRequest(With(ImplicitRequest(), "response_type", bad));
    ExpectError(r, "unsupported_response_type", true, std::string("response_type=") + bad);
  }
  ExpectError(ParseAuthorizeRequest(Without(CodeRequest(), "response_type")), "unsupported_response_type", true,
              "missing");
}

TEST(ParseAuthorizeRequest, ResponseModes) {
  auto code_fragment = ParseAuthorizeRequest(With(CodeRequest(), "response_mode", "fragment"));
  ASSERT_TRUE(code_fragment);
  EXPECT_TRUE(code_fragment->fragment);
  auto code_query = ParseAuthorizeRequest(With(CodeRequest(), "response_mode", "query"));
  ASSERT_TRUE(code_query);
  EXPECT_FALSE(code_query->fragment);
  auto implicit_fragment = ParseAuthorizeRequest(With(ImplicitRequest(), "response_mode", "fragment"));
  ASSERT_TRUE(implicit_fragment);
  EXPECT_TRUE(implicit_fragment->fragment);
  // Tokens never go into a query.
  for (const char* rt : {"id_token", "id_token token", "token", "code id_token", "code token"}) {
    auto r = ParseAuthorizeRequest(With(With(ImplicitRequest(), "response_type", rt), "response_mode", "query"));
    ExpectError(r, "invalid_request", true, std::string("query mode with ") + rt);
  }
  for (const char* mode : {"form_post", "web_message", "Query"}) {
    ExpectError(ParseAuthorizeRequest(With(CodeRequest(), "response_mode", mode)), "invalid_request", true, mode);
  }
}

TEST(ParseAuthorizeRequest, OpenidScopeRequired) {
  ExpectError(ParseAuthorizeRequest(With(CodeRequest(), "scope", "profile email")), "invalid_scope", true, "no openid");
  ExpectError(ParseAuthorizeRequest(Without(CodeRequest(), "scope")), "invalid_scope", true, "no scope");
  ExpectError(ParseAuthorizeRequest(With(CodeRequest(), "scope", "openidx")), "invalid_scope", true, "openidx");
  auto r = ParseAuthorizeRequest(With(CodeRequest(), "scope", "  profile openid  profile email openid "));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->scopes, (std::vector<std::string>{"profile", "openid", "email"}));  // deduplicated, in order
}

TEST(ParseAuthorizeRequest, NonceRequiredForImplicit) {
  for (const char* rt : {"id_token", "id_token token"}) {
    auto r = ParseAuthorizeRequest(Without(With(ImplicitRequest(), "response_type", rt), "nonce"));
    ExpectError(r, "invalid_request", true, rt);
  }
  auto with_nonce = ParseAuthorizeRequest(ImplicitRequest());
  ASSERT_TRUE(with_nonce);
  EXPECT_EQ(with_nonce->nonce, "n-0S6_WzA2Mj");
  EXPECT_TRUE(ParseAuthorizeRequest(Without(CodeRequest(), "nonce")));
}

TEST(ParseAuthorizeRequest, Prompt) {
  auto r = ParseAuthorizeRequest(With(CodeRequest(), "prompt", "login consent select_account"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->prompt, (std::set<std::string>{"login", "consent", "select_account"}));
  auto none = ParseAuthorizeRequest(With(CodeRequest(), "prompt", "none"));
  ASSERT_TRUE(none);
  EXPECT_EQ(none->prompt, (std::set<std::string>{"none"}));
  auto twice = ParseAuthorizeRequest(With(CodeRequest(), "prompt", "none none"));
  ASSERT_TRUE(twice);
  EXPECT_EQ(twice->prompt, (std::set<std::string>{"none"}));
  ExpectError(ParseAuthorizeRequest(With(CodeRequest(), "prompt", "none login")), "invalid_request", true,
              "none+login");
  ExpectError(ParseAuthorizeRequest(With(CodeRequest(), "prompt", "consent none")), "invalid_request", true,
              "consent+none");
  ExpectError(ParseAuthorizeRequest(With(CodeRequest(), "prompt", "create")), "invalid_request", true, "create");
  ExpectError(ParseAuthorizeRequest(With(CodeRequest(), "prompt", "Login")), "invalid_request", true, "Login");
}

TEST(ParseAuthorizeRequest, MaxAge) {
  auto zero = ParseAuthorizeRequest(With(CodeRequest(), "max_age", "0"));
  ASSERT_TRUE(zero);
  EXPECT_EQ(zero->max_age, 0);
  auto big = ParseAuthorizeRequest(With(CodeRequest(), "max_age", "9999999999"));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->max_age, 9999999999LL);
  auto some = ParseAuthorizeRequest(With(CodeRequest(), "max_age", "3600"));
  ASSERT_TRUE(some);
  EXPECT_EQ(some->max_age, 3600);
  auto empty = ParseAuthorizeRequest(With(CodeRequest(), "max_age", ""));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->max_age, -1);
  for (const char* bad : {"-1", "1.5", "abc", "1e3", " 5", "12345678901", "+5"}) {
    ExpectError(ParseAuthorizeRequest(With(CodeRequest(), "max_age", bad)), "invalid_request", true, bad);
  }
}

TEST(ParseAuthorizeRequest, IdTokenHint) {
  auto r = ParseAuthorizeRequest(With(CodeRequest(), "id_token_hint", "eyJ.x.y"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id_token_hint, "eyJ.x.y");
}

TEST(ParseAuthorizeRequest, Pkce) {
  const std::string challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
  auto s256 = ParseAuthorizeRequest(
      With(With(CodeRequest(), "code_challenge", challenge), "code_challenge_method", "S256"));
  ASSERT_TRUE(s256) << s256.error().description;
  EXPECT_EQ(s256->code_challenge, challenge);
  // Method omitted: still accepted as S256 (plain is never assumed).
  auto no_method = ParseAuthorizeRequest(With(CodeRequest(), "code_challenge", challenge));
  ASSERT_TRUE(no_method);
  EXPECT_EQ(no_method->code_challenge, challenge);
  ExpectError(ParseAuthorizeRequest(
                  With(With(CodeRequest(), "code_challenge", challenge), "code_challenge_method", "plain")),
              "invalid_request", true, "plain");
  ExpectError(ParseAuthorizeRequest(
                  With(With(CodeRequest(), "code_challenge", challenge), "code_challenge_method", "s256")),
              "invalid_request", true, "lowercase s256");
  ExpectError(ParseAuthorizeRequest(With(CodeRequest(), "code_challenge_method", "S256")), "invalid_request", true,
              "method without challenge");
  for (const std::string& bad :
       {challenge.substr(0, 42), challenge + "A", challenge.substr(0, 42) + "=", challenge.substr(0, 42) + "+",
        challenge.substr(0, 42) + "/", std::string("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk~")}) {
    ExpectError(ParseAuthorizeRequest(With(CodeRequest(), "code_challenge", bad)), "invalid_request", true, bad);
  }
}

TEST(ParseAuthorizeRequest, Claims) {
  auto r = ParseAuthorizeRequest(
      With(CodeRequest(), "claims", R"({"id_token":{"auth_time":{"essential":true}},"userinfo":{"email":null}})"));
  ASSERT_TRUE(r) << r.error().description;
  EXPECT_EQ(r->claims.id_token, (std::set<std::string>{"auth_time"}));
  EXPECT_EQ(r->claims.userinfo, (std::set<std::string>{"email"}));
  ExpectError(ParseAuthorizeRequest(With(CodeRequest(), "claims", "[1]")), "invalid_request", true, "claims array");
}

TEST(ParseAuthorizeRequest, RequestUriAndRegistrationRefused) {
  ExpectError(ParseAuthorizeRequest(With(CodeRequest(), "request_uri", "https://client.example.org/req.jwt")),
              "request_uri_not_supported", true, "request_uri");
  ExpectError(ParseAuthorizeRequest(With(CodeRequest(), "registration", R"({"logo_uri":"x"})")),
              "registration_not_supported", true, "registration");
}

// ---------------------------------------------------------------------------------------------
// RedirectWith

TEST(RedirectWith, FragmentWithoutExistingFragment) {
  EXPECT_EQ(RedirectWith("https://h/cb", {{"code", "abc"}, {"state", "s 1"}}, true), "https://h/cb#code=abc&state=s%201");
  EXPECT_EQ(RedirectWith("https://h/cb?x=1", {{"a", "b"}}, true), "https://h/cb?x=1#a=b");
}

TEST(RedirectWith, FragmentAppendedToExistingFragment) {
  EXPECT_EQ(RedirectWith("https://h/meet/#oidc-callback", {{"id_token", "t"}, {"state", "s"}}, true),
            "https://h/meet/#oidc-callback&id_token=t&state=s");
  EXPECT_EQ(RedirectWith("https://h/meet/#", {{"a", "1"}}, true), "https://h/meet/#a=1");
}

TEST(RedirectWith, QueryMode) {
  EXPECT_EQ(RedirectWith("https://h/cb", {{"code", "c"}, {"state", "x&y"}}, false), "https://h/cb?code=c&state=x%26y");
  EXPECT_EQ(RedirectWith("https://h/cb?tenant=1", {{"code", "c"}}, false), "https://h/cb?tenant=1&code=c");
  EXPECT_EQ(RedirectWith("https://h/cb?", {{"code", "c"}}, false), "https://h/cb?code=c");
  EXPECT_EQ(RedirectWith("https://h/cb?a=1&", {{"code", "c"}}, false), "https://h/cb?a=1&code=c");
  // The query goes before the fragment, which is kept.
  EXPECT_EQ(RedirectWith("https://h/meet/#oidc-callback", {{"code", "c"}}, false),
            "https://h/meet/?code=c#oidc-callback");
  EXPECT_EQ(RedirectWith("https://h/meet/?x=1#oidc-callback", {{"code", "c"}}, false),
            "https://h/meet/?x=1&code=c#oidc-callback");
  // A '?' inside the fragment is not a query.
  EXPECT_EQ(RedirectWith("https://h/p#frag?notquery", {{"code", "c"}}, false), "https://h/p?code=c#frag?notquery");
}

TEST(RedirectWith, ResultParsesBack) {
  Params out{{"error", "access_denied"}, {"error_description", "the user said no & left"}, {"state", "ä/ö"}};
  std::string uri = RedirectWith("https://h/meet/#oidc-callback", out, true);
  auto url = ParseAbsoluteUrl(uri);
  ASSERT_TRUE(url);
  ASSERT_EQ(url->fragment.rfind("oidc-callback&", 0), 0u) << url->fragment;
  auto parsed = ParseForm(url->fragment.substr(std::string("oidc-callback&").size()));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, out);
}

// ---------------------------------------------------------------------------------------------
// FilterScopes

TEST(FilterScopes, UnknownDroppedOrderKept) {
  EXPECT_EQ(FilterScopes({"openid", "bogus", "email", "profile"}, true),
            (std::vector<std::string>{"openid", "email", "profile"}));
  EXPECT_EQ(FilterScopes({"kopano/kwm", "kopano/gc", "kopano/kvs", "kopano/other"}, false),
            (std::vector<std::string>{"openid", "kopano/kwm", "kopano/gc", "kopano/kvs"}));
}

TEST(FilterScopes, OpenidAlwaysAddedFirst) {
  EXPECT_EQ(FilterScopes({}, true), (std::vector<std::string>{"openid"}));
  EXPECT_EQ(FilterScopes({"profile"}, false), (std::vector<std::string>{"openid", "profile"}));
  // Not duplicated when present at another position.
  EXPECT_EQ(FilterScopes({"profile", "openid"}, false), (std::vector<std::string>{"profile", "openid"}));
}

TEST(FilterScopes, OfflineAccessOnlyForCodeFlow) {
  EXPECT_EQ(FilterScopes({"openid", "offline_access"}, true), (std::vector<std::string>{"openid", "offline_access"}));
  EXPECT_EQ(FilterScopes({"openid", "offline_access"}, false), (std::vector<std::string>{"openid"}));
}

TEST(FilterScopes, GuestOkNeverGranted) {
  EXPECT_EQ(FilterScopes({"openid", "konnect/guestok"}, true), (std::vector<std::string>{"openid"}));
  EXPECT_EQ(FilterScopes({"openid", "konnect/guestok"}, false), (std::vector<std::string>{"openid"}));
  // ...although it is a scope the provider knows.
  auto supported = SupportedScopes();
  EXPECT_NE(std::find(supported.begin(), supported.end(), "konnect/guestok"), supported.end());
  EXPECT_NE(std::find(supported.begin(), supported.end(), "openid"), supported.end());
}

// ---------------------------------------------------------------------------------------------
// PKCE

const char kRfc7636Verifier[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const char kRfc7636Challenge[] = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

TEST(Pkce, Rfc7636AppendixB) {
  EXPECT_TRUE(ValidPkceChallenge(kRfc7636Challenge));
  EXPECT_TRUE(VerifyPkce(kRfc7636Challenge, kRfc7636Verifier));
  // The vector agrees with an independent computation.
  EXPECT_EQ(sdk::Base64UrlEncode(RefSha256(kRfc7636Verifier)), kRfc7636Challenge);
}

TEST(Pkce, WrongVerifierOrChallenge) {
  std::string other = kRfc7636Verifier;
  other[0] = 'e';
  EXPECT_FALSE(VerifyPkce(kRfc7636Challenge, other));
  std::string challenge = kRfc7636Challenge;
  challenge.back() = 'N';
  EXPECT_FALSE(VerifyPkce(challenge, kRfc7636Verifier));
  EXPECT_FALSE(VerifyPkce("", kRfc7636Verifier));
  EXPECT_FALSE(VerifyPkce(std::string(kRfc7636Challenge) + "=", kRfc7636Verifier));
  // A "plain" challenge (challenge == verifier) never verifies.
  EXPECT_FALSE(VerifyPkce(kRfc7636Verifier, kRfc7636Verifier));
}

TEST(Pkce, VerifierLengthLimits) {
  std::string v42(42, 'a'), v43(43, 'a'), v128(128, 'a'), v129(129, 'a');
  EXPECT_FALSE(VerifyPkce(sdk::Base64UrlEncode(RefSha256(v42)), v42));
  EXPECT_TRUE(VerifyPkce(sdk::Base64UrlEncode(RefSha256(v43)), v43));
  EXPECT_TRUE(VerifyPkce(sdk::Base64UrlEncode(RefSha256(v128)), v128));
  EXPECT_FALSE(VerifyPkce(sdk::Base64UrlEncode(RefSha256(v129)), v129));
  EXPECT_FALSE(VerifyPkce(kRfc7636Challenge, ""));
}

TEST(Pkce, VerifierCharacters) {
  std::string unreserved = "abcXYZ019-._~" + std::string(30, 'q');
  EXPECT_TRUE(VerifyPkce(sdk::Base64UrlEncode(RefSha256(unreserved)), unreserved));
  for (char bad : {'+', '/', '=', ' ', '%', '!', '\n'}) {
    std::string v = std::string(43, 'a');
    v[10] = bad;
    EXPECT_FALSE(VerifyPkce(sdk::Base64UrlEncode(RefSha256(v)), v)) << int(bad);
  }
}

TEST(Pkce, ChallengeSyntax) {
  EXPECT_TRUE(ValidPkceChallenge(std::string(43, 'A')));
  EXPECT_TRUE(ValidPkceChallenge("-_" + std::string(41, '9')));
  EXPECT_FALSE(ValidPkceChallenge(""));
  EXPECT_FALSE(ValidPkceChallenge(std::string(42, 'A')));
  EXPECT_FALSE(ValidPkceChallenge(std::string(44, 'A')));
  EXPECT_FALSE(ValidPkceChallenge("+" + std::string(42, 'A')));
  EXPECT_FALSE(ValidPkceChallenge("." + std::string(42, 'A')));
  EXPECT_FALSE(ValidPkceChallenge("~" + std::string(42, 'A')));
}

// ---------------------------------------------------------------------------------------------
// HalfHash, BrowserState, SessionState

TEST(HalfHash, LeftHalfOfSha256Base64Url) {
  for (const std::string token : {"", "abc", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "SplxlOBeZQQYbYS6WxSbIA"}) {
    std::string digest = RefSha256(token);
    EXPECT_EQ(HalfHash(token), sdk::Base64UrlEncode(digest.substr(0, 16))) << token;
    EXPECT_EQ(HalfHash(token).size(), 22u);  // 16 bytes, unpadded
  }
  EXPECT_NE(HalfHash("a"), HalfHash("b"));
}

TEST(BrowserState, DeterministicAndDistinct) {
  std::string s = BrowserState("sub1@konnect", "https://meet.example.org");
  EXPECT_EQ(s, BrowserState("sub1@konnect", "https://meet.example.org"));
  EXPECT_NE(s, BrowserState("sub2@konnect", "https://meet.example.org"));
  EXPECT_NE(s, BrowserState("sub1@konnect", "https://other.example.org"));
  EXPECT_NE(s, BrowserState("", "https://meet.example.org"));
  // base64url of a SHA-256 digest: 43 characters of the URL-safe alphabet (cookie-safe).
  EXPECT_EQ(s.size(), 43u);
  auto decoded = sdk::Base64UrlDecode(s);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->size(), 32u);
  EXPECT_FALSE(BrowserState("", "https://meet.example.org").empty());
}

TEST(SessionState, HexDigestDotSalt) {
  const std::string client = "kpop-https://meet.example.org/meet", origin = "https://meet.example.org",
                    browser = "bs", salt = "s4lt";
  std::string st = SessionState(client, origin, browser, salt);
  // OpenID Session Management 1.0 §4.2 example computation.
  EXPECT_EQ(st, RefHex(RefSha256(client + " " + origin + " " + browser + " " + salt)) + "." + salt);
  size_t dot = st.find('.');
  ASSERT_EQ(dot, 64u);
  EXPECT_TRUE(std::all_of(st.begin(), st.begin() + 64, [](char c) { return std::isxdigit(c) && !std::isupper(c); }));
  EXPECT_EQ(st.substr(dot + 1), salt);
  EXPECT_EQ(st, SessionState(client, origin, browser, salt));
}

TEST(SessionState, ChangesWithEachInput) {
  std::string base = SessionState("c", "https://o", "b", "s");
  EXPECT_NE(SessionState("c2", "https://o", "b", "s"), base);
  EXPECT_NE(SessionState("c", "https://o2", "b", "s"), base);
  EXPECT_NE(SessionState("c", "https://o", "b2", "s"), base);
  EXPECT_NE(SessionState("c", "https://o", "b", "s2"), base);
  // Digest part changes with the salt as well, not only the suffix.
  EXPECT_NE(SessionState("c", "https://o", "b", "s2").substr(0, 64), base.substr(0, 64));
}

// ---------------------------------------------------------------------------------------------
// ParseAbsoluteUrl

TEST(ParseAbsoluteUrl, SplitsParts) {
  auto u = ParseAbsoluteUrl("HTTPS://Meet.Example.ORG:8443/Meet/x?a=1&b=2#oidc-callback");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->authority, "meet.example.org:8443");
  EXPECT_EQ(u->host, "meet.example.org");
  EXPECT_EQ(u->path, "/Meet/x");  // the path keeps its case
  EXPECT_EQ(u->query, "a=1&b=2");
  EXPECT_EQ(u->fragment, "oidc-callback");
  EXPECT_EQ(u->Origin(), "https://meet.example.org:8443");
}

TEST(ParseAbsoluteUrl, OptionalParts) {
  auto bare = ParseAbsoluteUrl("https://h");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->host, "h");
  EXPECT_EQ(bare->authority, "h");
  EXPECT_EQ(bare->path, "");
  EXPECT_EQ(bare->query, "");
  EXPECT_EQ(bare->fragment, "");

  auto query_only = ParseAbsoluteUrl("https://h?x=1");
  ASSERT_TRUE(query_only);
  EXPECT_EQ(query_only->authority, "h");
  EXPECT_EQ(query_only->path, "");
  EXPECT_EQ(query_only->query, "x=1");

  auto frag_only = ParseAbsoluteUrl("https://h#f?notquery");
  ASSERT_TRUE(frag_only);
  EXPECT_EQ(frag_only->path, "");
  EXPECT_EQ(frag_only->query, "");
  EXPECT_EQ(frag_only->fragment, "f?notquery");

  auto empty_frag = ParseAbsoluteUrl("https://h/meet/#");
  ASSERT_TRUE(empty_frag);
  EXPECT_EQ(empty_frag->path, "/meet/");
  EXPECT_EQ(empty_frag->fragment, "");
}

TEST(ParseAbsoluteUrl, Ports) {
  auto u = ParseAbsoluteUrl("http://localhost:8080/cb");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "localhost");
  EXPECT_EQ(u->authority, "localhost:8080");
  EXPECT_EQ(u->Origin(), "http://localhost:8080");
  auto v = ParseAbsoluteUrl("http://127.0.0.1:1/");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->host, "127.0.0.1");
  EXPECT_EQ(v->authority, "127.0.0.1:1");
}

TEST(ParseAbsoluteUrl, Ipv6Literal) {
  auto u = ParseAbsoluteUrl("http://[::1]:8080/cb?x#y");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->authority, "[::1]:8080");
  EXPECT_EQ(u->path, "/cb");
  EXPECT_EQ(u->query, "x");
  EXPECT_EQ(u->fragment, "y");
  auto no_port = ParseAbsoluteUrl("https://[2001:DB8::1]/");
  ASSERT_TRUE(no_port);
  EXPECT_EQ(no_port->host, "2001:db8::1");
  EXPECT_EQ(no_port->authority, "[2001:db8::1]");
  EXPECT_FALSE(ParseAbsoluteUrl("http://[::1/cb"));  // unterminated
  EXPECT_FALSE(ParseAbsoluteUrl("http://[]/cb"));    // empty literal
}

TEST(ParseAbsoluteUrl, MalformedPortOrIpv6TailRefused) {
  // RFC 3986 §3.2: authority = host [ ":" port ], port = *DIGIT; nothing may follow an IP literal
  // but a port. Url documents authority as "host[:port]".
  EXPECT_FALSE(ParseAbsoluteUrl("https://h:abc/"));
  EXPECT_FALSE(ParseAbsoluteUrl("https://h:443:1/"));
  EXPECT_FALSE(ParseAbsoluteUrl("https://[::1]evil/"));
  EXPECT_FALSE(ParseAbsoluteUrl("https://[::1]:x/"));
}

TEST(ParseAbsoluteUrl, SchemeSyntax) {
  auto custom = ParseAbsoluteUrl("com.example-app+x://cb/path");
  ASSERT_TRUE(custom);
  EXPECT_EQ(custom->scheme, "com.example-app+x");
  EXPECT_EQ(custom->host, "cb");
  EXPECT_FALSE(ParseAbsoluteUrl("1http://h/"));  // must start with a letter
  EXPECT_FALSE(ParseAbsoluteUrl("ht_tp://h/"));
  EXPECT_FALSE(ParseAbsoluteUrl("-x://h/"));
}

TEST(ParseAbsoluteUrl, Refusals) {
  for (const char* bad : {"", "h/path", "//h/path", "://h/", "/relative", "https:/h/", "https:h", "mailto:a@b",
                          "https://", "https:///path", "https://?q", "https://#f", "https://:443/",
                          "https://user@h/", "https://user:pw@h/", "https://h/@x/@y" /* '@' only in path: ok */}) {
    auto u = ParseAbsoluteUrl(bad);
    if (std::string(bad) == "https://h/@x/@y") {
      EXPECT_TRUE(u) << bad;
      continue;
    }
    EXPECT_FALSE(u) << bad;
    if (!u) {
      EXPECT_EQ(u.error().code, ErrorCode::kInvalidArgument) << bad;
    }
  }
}

TEST(ParseAbsoluteUrl, WhitespaceAndControlCharactersRefused) {
  const std::vector<std::string> bad_urls = {"https://h/a b",   " https://h/",     "https://h/\t",
                                             "https://h/\r\n", "https://h /",     "https://h/\x7f",
                                             "https://h/\x01",  std::string("https://h\0x/", 12)};
  for (const std::string& bad : bad_urls) {
    EXPECT_FALSE(ParseAbsoluteUrl(bad)) << bad;
  }
}

}  // namespace
}  // namespace palaver::oidc
