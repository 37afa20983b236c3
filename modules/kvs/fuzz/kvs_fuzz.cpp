// libFuzzer target for the kvs module's parsers of request bodies and paths (src/json_text,
// src/kvs_api): the JSON validator values are stored with, batch bodies, key paths, content types.
// Registered by CMakeLists.txt (palaver_add_fuzz); cmake/PalaverFuzz.cmake says how it runs.
//
// Input: the first byte picks the parser (selector % 4), the rest is the request's bytes.
// Properties (abort on violation):
//  - ValidateJsonText: whitespace around a value does not change the verdict; a valid value stays
//    valid inside an array and an object; POCO's JSON parser (a second, independent parser)
//    accepts the number-free objects and arrays it accepts;
//  - a parsed batch: every member value is valid JSON, every record key is `<prefix>/<key>` with a
//    valid key, JSON records keep the text they were sent with, and the envelope of the records is
//    valid JSON;
//  - DecodeJsonString: a decoded string, escaped again, decodes to the same string;
//  - KeyFromPath: keys are non-empty, at most 1024 bytes, without control characters or empty,
//    "." or ".." segments.
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "json_text.hpp"
#include "kvs_api.hpp"
#include "palaver/sdk/http.hpp"

using namespace palaver;       // NOLINT: fuzz target
using namespace palaver::kvs;  // NOLINT: fuzz target

#define FUZZ_CHECK(c)                                                                     \
  do {                                                                                    \
    if (!(c)) {                                                                           \
      std::fprintf(stderr, "kvs_fuzz: property violated: %s (line %d)\n", #c, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

namespace {

bool PocoAccepts(std::string_view text) {
  try {
    Poco::JSON::Parser parser;
    parser.parse(std::string(text));
    return true;
  } catch (const Poco::Exception&) {
    return false;
  }
}

// Nesting depth, brackets inside strings not counted.
size_t Depth(std::string_view text) {
  size_t depth = 0, max = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '[' || c == '{') max = std::max(max, ++depth);
    if ((c == ']' || c == '}') && depth > 0) --depth;
  }
  return max;
}

void CheckKey(const std::string& key) {
  FUZZ_CHECK(!key.empty() && key.size() <= 1024);
  for (unsigned char c : key) FUZZ_CHECK(c >= 0x20 && c != 0x7f);
  size_t start = 0;
  while (true) {
    size_t slash = key.find('/', start);
    std::string_view seg = std::string_view(key).substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    FUZZ_CHECK(!seg.empty() && seg != "." && seg != "..");
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
}

void FuzzJson(std::string_view text) {
  bool ok = ValidateJsonText(text).has_value();
  std::string s(text);
  // Whitespace around a value does not change the verdict.
  FUZZ_CHECK(ValidateJsonText(" \t" + s + "\r\n").has_value() == ok);
  if (!ok) return;
  FUZZ_CHECK(ValidateJson(s).has_value());
  // A valid value stays valid as an array element and an object member (within the depth limit).
  if (Depth(text) < static_cast<size_t>(kMaxJsonDepth) - 1) {
    FUZZ_CHECK(ValidateJsonText("[" + s + "," + s + "]").has_value());
    FUZZ_CHECK(ValidateJsonText("{\"k\":" + s + "}").has_value());
  }
  // POCO (a second, independent parser) accepts objects and arrays we accept, unless they hold
  // numbers (POCO refuses some valid forms, e.g. -0.0e+10) or nest deeper than its limit.
  if ((text.find('{') == 0 || text.find('[') == 0) && Depth(text) < 100 &&
      text.find_first_of("0123456789") == std::string_view::npos) {
    FUZZ_CHECK(PocoAccepts(text));
  }
}

void FuzzBatch(std::string_view text) {
  std::string body(text);
  if (auto items = ParseArrayOfObjects(text, 50)) {
    FUZZ_CHECK(ValidateJsonText(text).has_value());
    for (const auto& object : *items) {
      for (const auto& member : object) FUZZ_CHECK(ValidateJsonText(member.raw).has_value());
    }
  }
  auto records = ParseBatch(body, "meet");
  if (!records) return;
  for (const auto& r : *records) {
    FUZZ_CHECK(r.key.rfind("meet/", 0) == 0);
    CheckKey(r.key);
    if (IsJsonType(r.content_type)) FUZZ_CHECK(ValidateJsonText(r.value).has_value());
    FUZZ_CHECK(ValidateJsonText(Envelope(r)).has_value());
  }
  FUZZ_CHECK(ValidateJsonText(EnvelopeArray(*records)).has_value());
}

void FuzzString(std::string_view text) {
  auto decoded = DecodeJsonString(text);
  if (!decoded) return;
  FUZZ_CHECK(ValidateJsonText(text).has_value());
  auto again = DecodeJsonString("\"" + sdk::JsonEscape(*decoded) + "\"");
  FUZZ_CHECK(again.has_value() && *again == *decoded);
}

void FuzzPath(std::string_view text) {
  auto key = KeyFromPath(std::string(kUserRealmPrefix) + std::string(text));
  if (key) CheckKey(*key);
  auto outside = KeyFromPath(std::string(text));
  if (outside) FUZZ_CHECK(std::string(text).rfind(kUserRealmPrefix, 0) == 0);
  std::string media = MediaType(text);
  for (char c : media) FUZZ_CHECK(!std::isupper(static_cast<unsigned char>(c)) && c != ';' && c != ' ');
  (void)IsJsonType(std::string(text));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: FuzzJson(input); break;
    case 1: FuzzBatch(input); break;
    case 2: FuzzString(input); break;
    case 3: FuzzPath(input); break;
  }
  return 0;
}
