// libFuzzer target for the host's parsers of outside input other than the wire codecs
// (net_codec_fuzz has those): request paths (net/util DecodePath) and the router's lookup, query
// and form parameters and header helpers (sdk http), JSON escaping, and the config file parser
// (ini_file). Registered by CMakeLists.txt (palaver_add_fuzz); cmake/PalaverFuzz.cmake says how.
//
// Input: the first byte picks the parser (selector % 4), the rest is the outside input.
// Properties (abort on violation):
//  - DecodePath: the result starts with '/', has no "." or ".." segment and no NUL, and decoding it
//    again (when it has no '%') gives it back; the router finds only a route whose path is the
//    request path or a segment-aligned prefix of it, on the right listener and method;
//  - query parameters: ParseForm ∘ EncodeForm is the identity; Request::QueryParam returns the
//    first parsed value of a name;
//  - JsonEscape leaves no raw control character, quote, backslash-less escape, '<' or '>';
//  - ParseIni: a file that parses, written out again (values quoted when they can be), parses to
//    the same sections, keys and values.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ini_file.hpp"
#include "net/util.hpp"
#include "palaver/sdk/http.hpp"
#include "router.hpp"

using namespace palaver;  // NOLINT: fuzz target

#define FUZZ_CHECK(c)                                                                      \
  do {                                                                                     \
    if (!(c)) {                                                                            \
      std::fprintf(stderr, "host_fuzz: property violated: %s (line %d)\n", #c, __LINE__); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace {

host::RouterImpl& TheRouter() {
  static host::RouterImpl* router = [] {
    auto* r = new host::RouterImpl;
    auto add = [r](std::vector<std::string> methods, std::string path, sdk::Match match, bool http) {
      sdk::Route route;
      route.methods = std::move(methods);
      route.path = std::move(path);
      route.match = match;
      route.on_http = http;
      FUZZ_CHECK(r->Add("fuzz", route, [](const sdk::Request&, sdk::Responder) {}).has_value());
    };
    add({}, "/", sdk::Match::kPrefix, false);
    add({"POST"}, "/signin/v1/identifier/_/logon", sdk::Match::kExact, false);
    add({"GET", "POST"}, "/konnect/v1/token", sdk::Match::kExact, false);
    add({"GET", "PUT", "DELETE"}, "/api/kvs/v1/kv/", sdk::Match::kPrefix, false);
    add({}, "/api/gc/v1", sdk::Match::kPrefix, false);
    add({}, "/.well-known/acme-challenge/", sdk::Match::kPrefix, true);
    add({}, "/meet", sdk::Match::kPrefix, false);
    return r;
  }();
  return *router;
}

void FuzzPath(std::string_view input) {
  size_t sp = input.find(' ');
  std::string method = sp == std::string_view::npos ? "GET" : std::string(input.substr(0, sp));
  std::string_view target = sp == std::string_view::npos ? input : input.substr(sp + 1);
  size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  auto path = host::net::DecodePath(raw_path);
  if (!path) return;
  const std::string& p = *path;
  FUZZ_CHECK(!p.empty() && p[0] == '/');
  FUZZ_CHECK(p.find('\0') == std::string::npos);
  for (size_t at = 0; at != std::string::npos;) {
    size_t next = p.find('/', at + 1);
    std::string_view seg = std::string_view(p).substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
    FUZZ_CHECK(seg != "." && seg != "..");
    at = next;
  }
  if (p.find('%') == std::string::npos) {
    auto again = host::net::DecodePath(p);
    FUZZ_CHECK(again.has_value() && *again == p);
  }
  for (auto listener : {sdk::Listener::kHttps, sdk::Listener::kHttp}) {
    auto match = TheRouter().Lookup(method, p, listener);
    if (match.kind != host::RouteMatch::Kind::kFound) continue;
    const auto& route = match.entry->route;
    FUZZ_CHECK(listener == sdk::Listener::kHttps ? route.on_https : route.on_http);
    if (route.match == sdk::Match::kExact) {
      FUZZ_CHECK(p == route.path);
    } else {
      FUZZ_CHECK(p.compare(0, route.path.size(), route.path) == 0);
      FUZZ_CHECK(p.size() == route.path.size() || route.path.back() == '/' || p[route.path.size()] == '/');
    }
  }
  (void)TheRouter().LookupWebSocket(p);
  if (q != std::string_view::npos) {
    sdk::Request request;
    request.query = std::string(target.substr(q + 1));
    auto params = sdk::ParseForm(request.query);
    if (params) {
      auto again = sdk::ParseForm(sdk::EncodeForm(*params));
      FUZZ_CHECK(again.has_value() && *again == *params);
      for (const auto& [name, value] : *params) {
        // Empty pairs ("&&") are skipped by ParseForm but read as the empty name by QueryParam;
        // no handler asks for the empty name.
        if (name.empty()) continue;
        auto got = request.QueryParam(name);
        FUZZ_CHECK(got.has_value());
        FUZZ_CHECK(*got == sdk::FormValue(*params, name));
      }
    }
  }
}

void FuzzHeaders(std::string_view input) {
  // "name: value" lines as a request's headers, then the helpers handlers use on them.
  sdk::Request request;
  size_t start = 0;
  while (start < input.size()) {
    size_t nl = input.find('\n', start);
    std::string_view line = input.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      request.headers.emplace_back(host::net::Lower(line.substr(0, colon)), std::string(line.substr(colon + 1)));
    }
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  for (const auto& [name, value] : request.headers) {
    auto got = request.Header(name);
    FUZZ_CHECK(got.has_value());
    FUZZ_CHECK(host::net::Lower(name) == name);
    (void)host::net::HasToken(value, "upgrade");
    (void)host::net::HasToken(value, "gzip");
    std::string host = host::net::StripPort(value);
    FUZZ_CHECK(host.size() <= value.size());
  }
}

void FuzzJsonEscape(std::string_view input) {
  std::string out = sdk::JsonEscape(input);
  for (size_t i = 0; i < out.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(out[i]);
    FUZZ_CHECK(c >= 0x20 && c != '<' && c != '>');
    if (c == '"') FUZZ_CHECK(i > 0 && out[i - 1] == '\\');
    if (c == '\\') {
      FUZZ_CHECK(i + 1 < out.size());
      char e = out[i + 1];
      FUZZ_CHECK(e == '"' || e == '\\' || e == 'n' || e == 'r' || e == 't' || e == 'u');
      ++i;  // the escaped character
    }
  }
  auto enc = sdk::PercentEncode(input);
  for (char c : enc) FUZZ_CHECK(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~' || c == '%');
}

void FuzzIni(std::string_view input) {
  auto ini = host::ParseIni(std::string(input), "fuzz.cfg");
  if (!ini) return;
  std::string text;
  for (const auto& [name, section] : ini->sections) {
    FUZZ_CHECK(name == section.name);
    text += "[" + name + "]\n";
    for (const auto& [key, entry] : section.entries) {
      FUZZ_CHECK(entry.value.find('\n') == std::string::npos);
      if (entry.value.find('"') == std::string::npos) {
        text += key + " = \"" + entry.value + "\"\n";
      } else {
        text += key + " = " + entry.value + "\n";
      }
    }
  }
  auto again = host::ParseIni(text, "again.cfg");
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->sections.size() == ini->sections.size());
  for (const auto& [name, section] : ini->sections) {
    auto it = again->sections.find(name);
    FUZZ_CHECK(it != again->sections.end());
    FUZZ_CHECK(it->second.entries.size() == section.entries.size());
    for (const auto& [key, entry] : section.entries) {
      auto e = it->second.entries.find(key);
      FUZZ_CHECK(e != it->second.entries.end());
      FUZZ_CHECK(e->second.value == entry.value);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: FuzzPath(input); break;
    case 1: FuzzHeaders(input); break;
    case 2: FuzzJsonEscape(input); break;
    case 3: FuzzIni(input); break;
  }
  return 0;
}
