#include "kvs_api.hpp"

#include <cctype>
#include <optional>
#include <string_view>

#include "json_text.hpp"
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

std::string MediaType(std::string_view content_type) {
  // RFC 9110 §8.3.1: type "/" subtype, then parameters after ';'. Tokens only; lowercase.
  std::string_view v = content_type.substr(0, content_type.find(';'));
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  auto token_char = [](unsigned char c) {
    return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
  };
  size_t slash = v.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == v.size()) return {};
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(v[i]);
    if (i != slash && !token_char(c)) return {};
    out.push_back(static_cast<char>(std::tolower(c)));
  }
  return out;
}

bool IsJsonType(const std::string& content_type) { return MediaType(content_type) == "application/json"; }

Status ValidateJson(const std::string& value) { return ValidateJsonText(value); }

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
  // Read as text: a JSON value is stored exactly as sent (a parse and re-encode would narrow
  // 18446744073709551616 or 1e-400 to 0).
  auto items = ParseArrayOfObjects(body, kMaxBatchItems);
  if (!items) {
    if (items.error().message.find("more than") != std::string::npos) {
      return Fail(Bad("a batch holds at most " + std::to_string(kMaxBatchItems) + " items"));
    }
    return Fail(Bad("a batch is a JSON array of objects: " + items.error().public_message));
  }
  std::vector<Record> out;
  for (size_t i = 0; i < items->size(); ++i) {
    const std::string item_name = "batch item " + std::to_string(i);
    std::optional<std::string_view> key, value, type;
    for (const auto& m : (*items)[i]) {
      if (m.name == "key") key = m.raw;
      else if (m.name == "value") value = m.raw;
      else if (m.name == "content_type") type = m.raw;
    }
    if (!key || !value) return Fail(Bad(item_name + " needs a string key and a value"));
    auto key_text = DecodeJsonString(*key);
    if (!key_text) return Fail(Bad(item_name + " needs a string key and a value"));
    Record r;
    r.key = prefix + "/" + *key_text;
    PALAVER_RETURN_IF_ERROR(ValidateKey(r.key));
    if (type) {
      auto t = DecodeJsonString(*type);
      if (t) r.content_type = std::move(*t);  // a non-string type is no type, as before
    }
    if (IsJsonType(r.content_type)) {
      r.value = std::string(*value);
    } else {
      auto text = DecodeJsonString(*value);
      if (!text) return Fail(Bad(item_name + ": a non-JSON value is base64 text"));
      auto decoded = sdk::Base64Decode(*text);
      if (!decoded) return Fail(Bad(item_name + ": the value is not base64"));
      r.value = std::move(*decoded);
    }
    if (r.value.size() > kMaxValueBytes) return Fail(Bad(item_name + " is over 16 KiB"));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace palaver::kvs
