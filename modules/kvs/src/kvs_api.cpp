#include "kvs_api.hpp"

#include <sstream>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include "palaver/sdk/encoding.hpp"
#include "palaver/sdk/http.hpp"

namespace palaver::kvs {
namespace {

Error Bad(const std::string& why) { return Error{ErrorCode::kInvalidArgument, why, why}; }

Status ValidateKey(const std::string& key) {
  if (key.empty() || key.size() > 1024) return Fail(Bad("the key must be 1-1024 bytes"));
  size_t start = 0;
  while (start <= key.size()) {
    size_t slash = key.find('/', start);
    if (slash == std::string::npos) slash = key.size();
    std::string seg = key.substr(start, slash - start);
    if (seg.empty() || seg == "." || seg == "..") return Fail(Bad("the key has an empty or dot segment"));
    start = slash + 1;
  }
  for (unsigned char c : key) {
    if (c < 0x20 || c == 0x7f) return Fail(Bad("the key has control characters"));
  }
  return OkStatus();
}

}  // namespace

Result<std::string> KeyFromPath(const std::string& path) {
  std::string_view prefix = kUserRealmPrefix;
  if (path.compare(0, prefix.size(), prefix) != 0) {
    return Fail(ErrorCode::kNotFound, "not in the user realm", "only the realm 'user' exists");
  }
  std::string key = path.substr(prefix.size());
  PALAVER_RETURN_IF_ERROR(ValidateKey(key));
  return key;
}

bool IsJsonType(const std::string& content_type) { return content_type.rfind("application/json", 0) == 0; }

Status ValidateJson(const std::string& value) {
  try {
    Poco::JSON::Parser parser;
    parser.parse(value);
    return OkStatus();
  } catch (const Poco::Exception&) {
    return Fail(Bad("the value is not valid JSON"));
  }
}

std::string Envelope(const Record& r) {
  std::string o = "{\"key\":\"" + sdk::JsonEscape(r.key) + "\",\"value\":";
  if (IsJsonType(r.content_type)) return o + r.value + "}";
  return o + "\"" + sdk::Base64Encode(r.value) + "\",\"content_type\":\"" + sdk::JsonEscape(r.content_type) + "\"}";
}

std::string EnvelopeArray(const std::vector<Record>& records) {
  std::string o = "[";
  for (size_t i = 0; i < records.size(); ++i) o += (i ? "," : "") + Envelope(records[i]);
  return o + "]";
}

Result<std::vector<Record>> ParseBatch(const std::string& body, const std::string& prefix) {
  Poco::JSON::Array::Ptr items;
  try {
    Poco::JSON::Parser parser;
    auto parsed = parser.parse(body);
    if (parsed.type() != typeid(Poco::JSON::Array::Ptr)) return Fail(Bad("a batch is a JSON array"));
    items = parsed.extract<Poco::JSON::Array::Ptr>();
  } catch (const Poco::Exception&) {
    return Fail(Bad("the batch is not valid JSON"));
  }
  if (items->size() > kMaxBatchItems) return Fail(Bad("a batch holds at most 500 items"));
  std::vector<Record> out;
  for (size_t i = 0; i < items->size(); ++i) {
    auto item = items->getObject(static_cast<unsigned>(i));
    if (!item || !item->has("key") || !item->get("key").isString() || !item->has("value")) {
      return Fail(Bad("batch item " + std::to_string(i) + " needs a string key and a value"));
    }
    Record r;
    r.key = prefix + "/" + item->getValue<std::string>("key");
    PALAVER_RETURN_IF_ERROR(ValidateKey(r.key));
    r.content_type = item->has("content_type") && item->get("content_type").isString()
                         ? item->getValue<std::string>("content_type")
                         : "";
    if (IsJsonType(r.content_type)) {
      std::ostringstream json;
      Poco::JSON::Stringifier::condense(item->get("value"), json);
      r.value = json.str();
    } else {
      if (!item->get("value").isString()) return Fail(Bad("batch item " + std::to_string(i) + ": a non-JSON value is base64 text"));
      auto decoded = sdk::Base64Decode(item->getValue<std::string>("value"));
      if (!decoded) return Fail(Bad("batch item " + std::to_string(i) + ": the value is not base64"));
      r.value = std::move(*decoded);
    }
    if (r.value.size() > kMaxValueBytes) return Fail(Bad("batch item " + std::to_string(i) + " is over 16 KiB"));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace palaver::kvs
