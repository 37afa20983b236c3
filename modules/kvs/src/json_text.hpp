// Strict JSON (RFC 8259) read as text: validation and the raw text of values, so a stored value
// is exactly what the client sent — no number is narrowed, rounded or re-encoded. Sans-I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "palaver/sdk/status.hpp"

namespace palaver::kvs {

/// Deepest nesting of arrays and objects accepted.
inline constexpr int kMaxJsonDepth = 64;

/// Whether `text` is exactly one JSON value (any type: object, array, string, number, true,
/// false, null), surrounded by optional whitespace, in valid UTF-8. Numbers of any magnitude
/// and precision are valid (they are kept as text). kInvalidArgument with the offset otherwise.
Status ValidateJsonText(std::string_view text);

/// One member of a JSON object: its decoded name and its value's raw text.
struct JsonMember {
  std::string name;
  std::string_view raw;  // into the parsed text
};

/// The members of each object in a top-level JSON array of objects (a kvs batch), in order.
/// Duplicate member names are refused.
Result<std::vector<std::vector<JsonMember>>> ParseArrayOfObjects(std::string_view text, size_t max_items);

/// The decoded value of a JSON string literal (`raw` as from JsonMember); kInvalidArgument when
/// `raw` is not a string.
Result<std::string> DecodeJsonString(std::string_view raw);

}  // namespace palaver::kvs
