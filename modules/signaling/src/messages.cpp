#include "messages.hpp"

#include <sstream>

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include "palaver/sdk/http.hpp"

namespace palaver::signaling {
namespace {

Error Bad(std::string why) { return Error{ErrorCode::kInvalidArgument, why, why}; }

std::string Stringify(const Poco::Dynamic::Var& v) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(v, out);
  return out.str();
}

}  // namespace

std::string Quoted(std::string_view s) { return "\"" + sdk::JsonEscape(s) + "\""; }

Result<Incoming> ParseIncoming(std::string_view text) {
  Incoming m;
  try {
    Poco::JSON::Parser parser;
    auto v = parser.parse(std::string(text));
    if (v.type() != typeid(Poco::JSON::Object::Ptr)) return Fail(Bad("message is not a JSON object"));
    m.raw = v.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    return Fail(Bad("message is not valid JSON"));
  }
  const auto& o = *m.raw;
  auto str = [&o](const char* key, std::string& into) -> Status {
    if (!o.has(key) || o.get(key).isEmpty()) return OkStatus();
    if (!o.get(key).isString()) return Fail(Bad(std::string(key) + " must be a string"));
    into = o.get(key).extract<std::string>();
    return OkStatus();
  };
  auto num = [&o](const char* key, uint64_t& into) -> Status {
    if (!o.has(key) || o.get(key).isEmpty()) return OkStatus();
    const auto& v = o.get(key);
    if (!v.isNumeric() || v.isBoolean()) return Fail(Bad(std::string(key) + " must be a number"));
    try {
      double d = v.convert<double>();
      if (d < 0 || d > 9007199254740991.0) return Fail(Bad(std::string(key) + " out of range"));
      if (!v.isInteger()) return Fail(Bad(std::string(key) + " must be a whole number"));
      into = v.convert<uint64_t>();
    } catch (const Poco::Exception&) {
      return Fail(Bad(std::string(key) + " must be a number"));
    }
    return OkStatus();
  };
  if (!o.has("type") || !o.get("type").isString()) return Fail(Bad("type must be a string"));
  m.type = o.get("type").extract<std::string>();
  for (auto [key, into] : {std::pair{"subtype", &m.subtype}, {"target", &m.target}, {"source", &m.source},
                           {"state", &m.state}, {"channel", &m.channel}, {"group", &m.group}, {"hash", &m.hash},
                           {"transaction", &m.transaction}, {"pcid", &m.pcid}}) {
    PALAVER_RETURN_IF_ERROR(str(key, *into));
  }
  PALAVER_RETURN_IF_ERROR(num("id", m.id));
  PALAVER_RETURN_IF_ERROR(num("v", m.v));
  if (o.has("initiator") && !o.get("initiator").isEmpty()) {
    if (!o.get("initiator").isBoolean()) return Fail(Bad("initiator must be a boolean"));
    m.initiator = o.get("initiator").extract<bool>();
  }
  m.has_profile = o.has("profile") && !o.get("profile").isEmpty();
  if (o.has("data")) {
    m.has_data = true;
    const auto& d = o.get("data");
    m.data_json = Stringify(d);
    if (d.type() == typeid(Poco::JSON::Object::Ptr)) m.data = d.extract<Poco::JSON::Object::Ptr>();
  }
  return m;
}

std::optional<CallData> ParseCallData(const Incoming& m) {
  if (!m.data) return std::nullopt;
  CallData c;
  const auto& d = *m.data;
  if (d.has("accept")) {
    if (!d.get("accept").isBoolean()) return std::nullopt;
    c.accept = d.get("accept").extract<bool>();
  }
  if (d.has("state") && !d.get("state").isEmpty()) {
    if (!d.get("state").isString()) return std::nullopt;
    c.state = d.get("state").extract<std::string>();
  }
  if (d.has("reason") && !d.get("reason").isEmpty()) {
    if (!d.get("reason").isString()) return std::nullopt;
    c.reason = d.get("reason").extract<std::string>();
  }
  return c;
}

std::string Serialize(const OutWebrtc& m) {
  std::string o = "{\"type\":\"webrtc\",\"subtype\":" + Quoted(m.subtype);
  if (m.reply_to != 0) o += ",\"reply_to\":" + std::to_string(m.reply_to);
  o += ",\"target\":" + Quoted(m.target) + ",\"source\":" + Quoted(m.source);
  if (m.initiator) o += ",\"initiator\":true";
  if (!m.state.empty()) o += ",\"state\":" + Quoted(m.state);
  if (!m.channel.empty()) o += ",\"channel\":" + Quoted(m.channel);
  if (!m.group.empty()) o += ",\"group\":" + Quoted(m.group);
  if (!m.hash.empty()) o += ",\"hash\":" + Quoted(m.hash);
  o += ",\"v\":" + std::to_string(m.v);
  if (!m.transaction.empty()) o += ",\"transaction\":" + Quoted(m.transaction);
  if (!m.pcid.empty()) o += ",\"pcid\":" + Quoted(m.pcid);
  if (m.profile_name) o += ",\"profile\":{\"name\":" + Quoted(*m.profile_name) + "}";
  if (m.data_json) o += ",\"data\":" + *m.data_json;
  return o + "}";
}

std::string ErrorMessage(uint64_t reply_to, std::string_view code, std::string_view msg) {
  std::string o = "{\"type\":\"error\"";
  if (reply_to != 0) o += ",\"reply_to\":" + std::to_string(reply_to);
  return o + ",\"error\":{\"code\":" + Quoted(code) + ",\"msg\":" + Quoted(msg) + "}}";
}

std::string Pong(const Incoming& ping) {
  Poco::JSON::Object copy(*ping.raw);
  copy.set("type", "pong");
  std::ostringstream out;
  copy.stringify(out);
  return out.str();
}

std::string Hello(std::string_view user_id, std::string_view name, std::string_view auth) {
  return "{\"type\":\"hello\",\"self\":{\"id\":" + Quoted(user_id) + ",\"name\":" + Quoted(name) +
         ",\"auth\":" + Quoted(auth) + "},\"server_status\":{}}";
}

std::string Goodbye() { return "{\"type\":\"goodbye\",\"server_status\":null}"; }

std::string Serialize(const OutChat& m) {
  std::string o = "{\"type\":\"chats\",\"subtype\":" + Quoted(m.subtype);
  if (m.reply_to != 0) o += ",\"reply_to\":" + std::to_string(m.reply_to);
  o += ",\"channel\":" + Quoted(m.channel) + ",\"v\":" + std::to_string(kChatsVersion);
  if (m.profile_name) o += ",\"profile\":{\"name\":" + Quoted(*m.profile_name) + "}";
  o += ",\"data\":{\"kind\":" + Quoted(m.kind) + ",\"sender\":" + Quoted(m.sender) + ",\"target\":" + Quoted(m.target) +
       ",\"ts\":" + std::to_string(m.ts) + ",\"text\":" + Quoted(m.text);
  if (!m.rich_text.empty()) o += ",\"richText\":" + Quoted(m.rich_text);
  o += ",\"id\":" + Quoted(m.id);
  if (!m.extra_id.empty()) o += ",\"extra\":{\"id\":" + Quoted(m.extra_id) + "}";
  return o + "}}";
}

}  // namespace palaver::signaling
