// libFuzzer target for the directory module's handling of outside input (sans-I/O parts of src/):
// LDAP filter escaping of what users type (usernames at sign-in, address-book searches), filter
// validation, GUID and DN forms, and the address-book (gc) API's paths, query and JSON answers.
// Registered by CMakeLists.txt (palaver_add_fuzz); cmake/PalaverFuzz.cmake says how it runs.
//
// Input: the first byte picks the part (selector % 4), the rest is the outside input.
// Properties (abort on violation):
//  - EscapeFilterValue leaves no filter metacharacter ('*', '(', ')', NUL), no control byte and no
//    byte >= 0x80 unescaped, every '\' starts a two-digit lowercase hex escape, and unescaping gives
//    the value back; EscapeFilterBytes escapes every byte; filters built from escaped values
//    (AnyEquals, AnyContains, AndFilter) pass ValidateFilter;
//  - GuidToString/GuidFromString are inverse; NormalizeDn is idempotent; IsPlausibleId ids are
//    URL-safe;
//  - the gc list query is within its documented bounds, and user JSON built from any field values
//    is valid JSON that gives the values back.
#include <Poco/JSON/Parser.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gc_api.hpp"
#include "ldap_filter.hpp"
#include "palaver/sdk/http.hpp"

using namespace palaver;             // NOLINT: fuzz target
using namespace palaver::directory;  // NOLINT: fuzz target

#define FUZZ_CHECK(c)                                                                           \
  do {                                                                                          \
    if (!(c)) {                                                                                 \
      std::fprintf(stderr, "directory_fuzz: property violated: %s (line %d)\n", #c, __LINE__); \
      std::abort();                                                                             \
    }                                                                                           \
  } while (0)

namespace {

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Checks an escaped assertion value and returns it unescaped.
std::string Unescape(const std::string& escaped) {
  std::string out;
  for (size_t i = 0; i < escaped.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(escaped[i]);
    FUZZ_CHECK(c != '*' && c != '(' && c != ')' && c != 0 && c >= 0x20 && c < 0x7f);
    if (c == '\\') {
      FUZZ_CHECK(i + 2 < escaped.size());
      int hi = Hex(escaped[i + 1]), lo = Hex(escaped[i + 2]);
      FUZZ_CHECK(hi >= 0 && lo >= 0);
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

void FuzzFilter(std::string_view value) {
  std::string escaped = EscapeFilterValue(value);
  FUZZ_CHECK(Unescape(escaped) == value);
  std::string bytes = EscapeFilterBytes(value);
  FUZZ_CHECK(bytes.size() == 3 * value.size());
  FUZZ_CHECK(Unescape(bytes) == value);
  std::vector<std::string> attrs = {"uid", "mail", "cn"};
  std::string eq = AnyEquals(attrs, value);
  FUZZ_CHECK(ValidateFilter(eq).has_value());
  FUZZ_CHECK(ValidateFilter(AnyEquals({"uid"}, value)).has_value());
  std::string contains = AnyContains(attrs, value);
  if (!value.empty()) FUZZ_CHECK(ValidateFilter(contains).has_value());
  std::string both = AndFilter({"(objectClass=inetOrgPerson)", eq, contains});
  FUZZ_CHECK(ValidateFilter(both).has_value());
  // The input as an operator's filter: validation must not crash; a valid one stays valid in an AND.
  if (ValidateFilter(value).has_value()) FUZZ_CHECK(ValidateFilter(AndFilter({std::string(value), eq})).has_value());
  (void)IsAttributeName(value);
}

void FuzzIds(std::string_view text) {
  if (text.size() >= 16) {
    std::string guid = GuidToString(text.substr(0, 16));
    FUZZ_CHECK(guid.size() == 36);
    auto back = GuidFromString(guid);
    FUZZ_CHECK(back.has_value() && *back == text.substr(0, 16));
  }
  if (auto bytes = GuidFromString(text)) {
    FUZZ_CHECK(bytes->size() == 16);
    FUZZ_CHECK(GuidFromString(GuidToString(*bytes)) == *bytes);
  }
  std::string dn = NormalizeDn(text);
  FUZZ_CHECK(NormalizeDn(dn) == dn);
  if (IsPlausibleId(text)) {
    FUZZ_CHECK(!text.empty() && text.size() <= 64);
    for (char c : text) FUZZ_CHECK(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '=');
  }
}

void FuzzGc(std::string_view text) {
  sdk::Request request;
  request.method = "GET";
  size_t q = text.find('?');
  request.path = std::string(kGcPrefix) + std::string(text.substr(0, q));
  if (q != std::string_view::npos) request.query = std::string(text.substr(q + 1));
  GcTarget target = ParseGcPath(request.path);
  if (target.kind == GcTarget::Kind::kUser || target.kind == GcTarget::Kind::kUserPhoto) {
    FUZZ_CHECK(!target.id.empty() && target.id.find('/') == std::string::npos);
  }
  auto query = ParseListQuery(request);
  if (!query) return;
  FUZZ_CHECK(query->top >= 1 && query->top <= 1000 && query->skip <= 1000000 && query->search.size() <= 256);
  for (char c : query->search) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  sdk::UserPage page;
  page.more = true;
  (void)UserListJson(page, *query);
}

void FuzzUserJson(std::string_view text) {
  // Field values as a directory (LDAP) could hold them: split at NUL.
  std::vector<std::string> f;
  size_t start = 0;
  while (f.size() < 8) {
    size_t nul = text.find('\0', start);
    f.emplace_back(text.substr(start, nul == std::string_view::npos ? std::string_view::npos : nul - start));
    if (nul == std::string_view::npos) break;
    start = nul + 1;
  }
  f.resize(8);
  sdk::DirectoryUser u;
  u.id = f[0];
  u.username = f[1];
  u.display_name = f[2];
  u.given_name = f[3];
  u.surname = f[4];
  u.mail = f[5];
  u.job_title = f[6];
  u.business_phones = {f[7]};
  std::string json = UserJson(u, {});
  Poco::JSON::Object::Ptr o;
  try {
    Poco::JSON::Parser parser;
    o = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    // POCO refuses invalid UTF-8 in strings; escaping passes bytes >= 0x80 through as they are.
    bool ascii = true;
    for (const auto& s : f) for (unsigned char c : s) ascii &= c < 0x80;
    FUZZ_CHECK(!ascii);
    return;
  }
  FUZZ_CHECK(o->getValue<std::string>("id") == u.id);
  FUZZ_CHECK(o->getValue<std::string>("displayName") == u.display_name);
  FUZZ_CHECK(o->getValue<std::string>("mail") == u.mail);
  sdk::UserPage page;
  page.users = {u, u};
  ListQuery query;
  std::string list = UserListJson(page, query);
  try {
    Poco::JSON::Parser parser;
    parser.parse(list);
  } catch (const Poco::Exception&) {
    FUZZ_CHECK(false);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: FuzzFilter(input); break;
    case 1: FuzzIds(input); break;
    case 2: FuzzGc(input); break;
    case 3: FuzzUserJson(input); break;
  }
  return 0;
}
