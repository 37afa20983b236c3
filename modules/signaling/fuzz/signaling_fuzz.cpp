// libFuzzer target for the signaling module's sans-I/O code (src/messages, src/hub): every RTM
// message a client can send (spec kwm-protocol.md §3: ping, webrtc call/answer/hangup/signal/group,
// chats), parsed alone and played through a Hub with four connections (three users, one guest).
// Registered by CMakeLists.txt (palaver_add_fuzz); cmake/PalaverFuzz.cmake says how it runs.
//
// Input: up to 24 records separated by '\n'. A record's first byte picks the connection (its low two bits);
// the rest is the text frame. Before it is sent, "@H" is replaced by the last `hash` and "@C" by the
// last `channel` the hub sent to that connection (a client echoes them; the fuzzer cannot forge an
// HMAC). A record starting with '!' closes and reopens the connection, '~' runs Sweep.
//
// Properties (abort on violation):
//  - ParseIncoming accepts a text only if it is a JSON object with a string `type`;
//  - a parsed webrtc message, written back with Serialize, parses to the same fields (and `data`);
//  - Quoted() of a parsed string parses back to the same string;
//  - every frame the hub sends is a JSON object with a string `type`, and goes to an open
//    connection; nothing is sent to a connection after the hub was told it closed.
#include <Poco/JSON/Parser.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "hub.hpp"
#include "messages.hpp"

using namespace palaver::signaling;  // NOLINT: fuzz target

#define FUZZ_CHECK(c)                                                          \
  do {                                                                         \
    if (!(c)) {                                                                \
      std::fprintf(stderr, "signaling_fuzz: property violated: %s (line %d)\n", #c, __LINE__); \
      std::abort();                                                            \
    }                                                                          \
  } while (0)

namespace {

Poco::JSON::Object::Ptr ParseObject(const std::string& text) {
  try {
    Poco::JSON::Parser parser;
    auto v = parser.parse(text);
    if (v.type() != typeid(Poco::JSON::Object::Ptr)) return nullptr;
    return v.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    return nullptr;
  }
}

std::string StrField(const Poco::JSON::Object& o, const char* key) {
  if (!o.has(key) || !o.get(key).isString()) return {};
  return o.get(key).extract<std::string>();
}

struct Recorder final : Sink {
  std::set<ConnId> open;
  std::map<ConnId, std::string> last_hash, last_channel;
  void Send(ConnId conn, std::string text) override {
    FUZZ_CHECK(open.count(conn) == 1);
    auto o = ParseObject(text);
    FUZZ_CHECK(o != nullptr);
    FUZZ_CHECK(o->has("type") && o->get("type").isString());
    if (auto h = StrField(*o, "hash"); !h.empty()) last_hash[conn] = h;
    if (auto c = StrField(*o, "channel"); !c.empty()) last_channel[conn] = c;
  }
  void Close(ConnId conn, int, std::string) override { FUZZ_CHECK(open.count(conn) == 1); }
};

Identity IdentityOf(ConnId conn) {
  static const char* const kUsers[] = {"alice", "Ym9i+/x", "carol", "guest-1"};
  Identity id;
  id.user_id = kUsers[conn & 3];
  id.name = std::string("User ") + kUsers[conn & 3];
  if ((conn & 3) == 3) {
    id.guest = true;
    id.guest_path = "public/room";
    id.may_create = false;
  }
  return id;
}

void CheckRoundTrip(const Incoming& m) {
  FUZZ_CHECK(m.raw != nullptr);
  if (m.type != "webrtc") return;
  OutWebrtc out;
  out.subtype = m.subtype;
  out.target = m.target;
  out.source = m.source;
  out.state = m.state;
  out.channel = m.channel;
  out.group = m.group;
  out.hash = m.hash;
  out.transaction = m.transaction;
  out.pcid = m.pcid;
  out.initiator = m.initiator;
  out.v = m.v;
  if (m.has_data) out.data_json = m.data_json;
  auto back = ParseIncoming(Serialize(out));
  FUZZ_CHECK(back.has_value());
  FUZZ_CHECK(back->type == "webrtc");
  FUZZ_CHECK(back->subtype == m.subtype && back->target == m.target && back->source == m.source);
  FUZZ_CHECK(back->state == m.state && back->channel == m.channel && back->group == m.group);
  FUZZ_CHECK(back->hash == m.hash && back->transaction == m.transaction && back->pcid == m.pcid);
  FUZZ_CHECK(back->initiator == m.initiator && back->v == m.v);
  FUZZ_CHECK(back->has_data == m.has_data);
  if (m.has_data) FUZZ_CHECK(back->data_json == m.data_json);
  for (const std::string* s : {&m.subtype, &m.target, &m.channel}) {
    auto quoted = "{\"type\":" + Quoted(*s) + "}";
    auto again = ParseIncoming(quoted);
    FUZZ_CHECK(again.has_value() && again->type == *s);
  }
  (void)ParseCallData(m);
}

std::string Substitute(std::string text, const Recorder& rec, ConnId conn) {
  auto replace = [&text](std::string_view token, const std::string& with) {
    for (size_t at = text.find(token); at != std::string::npos; at = text.find(token, at + with.size())) {
      text.replace(at, token.size(), with);
    }
  };
  auto h = rec.last_hash.find(conn);
  replace("@H", h == rec.last_hash.end() ? std::string() : h->second);
  auto c = rec.last_channel.find(conn);
  replace("@C", c == rec.last_channel.end() ? std::string() : c->second);
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Recorder rec;
  HubOptions options;
  options.hmac_key = std::string(32, 'k');
  int64_t clock = 1700000000;
  options.now = [&clock] { return clock; };
  uint64_t counter = 0;
  options.random = [&counter](size_t n) {
    std::string s = "r" + std::to_string(++counter);
    s.resize(n, 'x');
    return s;
  };
  options.guests_may_create = [] { return false; };
  options.limits.max_calls_per_connection = 2;
  options.limits.max_groups_per_connection = 2;
  Hub hub(rec, options);
  for (ConnId conn = 0; conn < 4; ++conn) {
    rec.open.insert(conn);
    hub.Open(conn, IdentityOf(conn));
  }

  size_t records = 0;
  while (!input.empty() && records++ < 24) {
    size_t nl = input.find('\n');
    std::string_view record = input.substr(0, nl);
    input = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
    if (record.empty()) continue;
    ConnId conn = static_cast<unsigned char>(record[0]) & 3;
    if (record[0] == '!') {
      hub.Closed(conn);
      rec.open.erase(conn);
      rec.open.insert(conn);
      hub.Open(conn, IdentityOf(conn));
      continue;
    }
    if (record[0] == '~') {
      clock += 3600;
      hub.Sweep();
      continue;
    }
    std::string text = Substitute(std::string(record.substr(1)), rec, conn);
    auto parsed = ParseIncoming(text);
    if (parsed) {
      FUZZ_CHECK(parsed->raw->has("type") && parsed->raw->get("type").isString());
      CheckRoundTrip(*parsed);
    }
    hub.Message(conn, text);
    auto stats = hub.Stats();
    FUZZ_CHECK(stats.connections == 4);
  }
  for (ConnId conn = 0; conn < 4; ++conn) {
    hub.Closed(conn);
    rec.open.erase(conn);
  }
  FUZZ_CHECK(hub.Stats().connections == 0 && hub.Stats().channels == 0);
  return 0;
}
