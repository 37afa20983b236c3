// The kvs HTTP API (spec §3.1): key paths, JSON envelopes, batch bodies. Sans-I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kv_store.hpp"
#include "palaver/sdk/status.hpp"

namespace palaver::kvs {

inline constexpr const char* kKvsPrefix = "/api/kvs/v1/";
inline constexpr const char* kUserRealmPrefix = "/api/kvs/v1/kv/user/";

/// The key of a request path under /api/kvs/v1/kv/user/: non-empty, at most 1024 bytes, no
/// control characters, no empty or dot segments. kNotFound for paths outside the user realm.
Result<std::string> KeyFromPath(const std::string& path);
/// The media type of a Content-Type value ("type/subtype", lowercase, parameters dropped);
/// empty when it is not one.
std::string MediaType(std::string_view content_type);
/// Whether the media type is application/json (parameters such as charset allowed).
bool IsJsonType(const std::string& content_type);
/// Checks that a value stored with a JSON content type is one valid JSON value of any type
/// (ValidateJsonText; it is stored as sent and embedded raw). The same rule as batch values.
Status ValidateJson(const std::string& value);
/// {"key": ..., "value": <raw JSON>} or {"key", "value": "<base64>", "content_type"}.
std::string Envelope(const Record& record);
std::string EnvelopeArray(const std::vector<Record>& records);
/// A `?batch=1` body: JSON array of {key, value, content_type}; keys become `<prefix>/<key>`.
/// JSON values keep the text they were sent with.
Result<std::vector<Record>> ParseBatch(const std::string& body, const std::string& prefix);

}  // namespace palaver::kvs
