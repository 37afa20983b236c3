// The kwm RTM wire codec (spec kwm-protocol.md §3): what clients send is decoded strictly, what
// the server sends has the shapes kwmjs relies on. Output is parsed back with Poco's parser so
// that key order never matters.
#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include "messages.hpp"

namespace palaver::signaling {
namespace {

using Poco::JSON::Object;

Object::Ptr Parse(const std::string& text) {
  Poco::JSON::Parser parser;
  Poco::Dynamic::Var v;
  try {
    v = parser.parse(text);
  } catch (const Poco::Exception& e) {
    ADD_FAILURE() << "not JSON: " << text << " (" << e.displayText() << ")";
    return new Object;
  }
  if (v.type() != typeid(Object::Ptr)) {
    ADD_FAILURE() << "not a JSON object: " << text;
    return new Object;
  }
  return v.extract<Object::Ptr>();
}

std::set<std::string> Keys(const Object& o) {
  std::set<std::string> keys;
  for (const auto& [k, v] : o) keys.insert(k);
  return keys;
}

std::string Str(const Object& o, const std::string& key) {
  if (!o.has(key) || !o.get(key).isString()) {
    ADD_FAILURE() << "no string " << key;
    return "<missing>";
  }
  return o.get(key).extract<std::string>();
}

uint64_t U64(const Object& o, const std::string& key) {
  if (!o.has(key) || !o.get(key).isNumeric()) {
    ADD_FAILURE() << "no number " << key;
    return 0;
  }
  return o.get(key).convert<uint64_t>();
}

Object::Ptr Sub(const Object& o, const std::string& key) {
  Object::Ptr sub = o.getObject(key);
  if (!sub) {
    ADD_FAILURE() << "no object " << key;
    return new Object;
  }
  return sub;
}

// The whole JSON value, re-serialized through Poco's canonical (sorted-key) form: equal JSON
// values compare equal as strings.
std::string Canonical(const std::string& json) {
  Poco::JSON::Parser parser;
  auto v = parser.parse(json);
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(v, out);
  return out.str();
}

void ExpectRefused(const std::string& text, const std::string& public_message) {
  auto r = ParseIncoming(text);
  ASSERT_FALSE(r) << "accepted: " << text;
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << text;
  EXPECT_EQ(r.error().public_message, public_message) << text;
}

// --- ParseIncoming: valid messages -------------------------------------------------------

TEST(ParseIncoming, KwmjsCallRequest) {
  auto r = ParseIncoming(
      R"({"type":"webrtc","subtype":"webrtc_call","id":5,"target":"bob","initiator":true,"state":"s1a2b3",)"
      R"("channel":"","group":"","hash":"","transaction":"tx","pcid":"pc9","v":20180703})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->type, "webrtc");
  EXPECT_EQ(r->subtype, "webrtc_call");
  EXPECT_EQ(r->id, 5u);
  EXPECT_EQ(r->v, 20180703u);
  EXPECT_EQ(r->target, "bob");
  EXPECT_TRUE(r->initiator);
  EXPECT_EQ(r->state, "s1a2b3");
  EXPECT_EQ(r->channel, "");
  EXPECT_EQ(r->group, "");
  EXPECT_EQ(r->hash, "");
  EXPECT_EQ(r->source, "");
  EXPECT_EQ(r->transaction, "tx");
  EXPECT_EQ(r->pcid, "pc9");
  EXPECT_FALSE(r->has_profile);
  EXPECT_FALSE(r->has_data);
  EXPECT_EQ(r->data_json, "");
  EXPECT_TRUE(r->data.isNull());
  ASSERT_FALSE(r->raw.isNull());
  EXPECT_EQ(Str(*r->raw, "target"), "bob");
}

TEST(ParseIncoming, AllStringFieldsAreRead) {
  auto r = ParseIncoming(
      R"({"type":"webrtc","subtype":"webrtc_signal","target":"t","source":"s","state":"st","channel":"@g",)"
      R"("group":"g","hash":"aGFzaA==","transaction":"x","pcid":"p"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->target, "t");
  EXPECT_EQ(r->source, "s");
  EXPECT_EQ(r->state, "st");
  EXPECT_EQ(r->channel, "@g");
  EXPECT_EQ(r->group, "g");
  EXPECT_EQ(r->hash, "aGFzaA==");
  EXPECT_EQ(r->transaction, "x");
  EXPECT_EQ(r->pcid, "p");
  EXPECT_EQ(r->id, 0u);
  EXPECT_EQ(r->v, 0u);
  EXPECT_FALSE(r->initiator);
}

TEST(ParseIncoming, ChatsMessageWithDataObject) {
  auto r = ParseIncoming(
      R"({"type":"chats","subtype":"chats_message","id":12,"channel":"@group/team","transaction":"","v":20201201,)"
      R"("data":{"kind":"","sender":"","target":"","id":"c1","text":"hello","richText":"<b>hello</b>"}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, "chats");
  EXPECT_EQ(r->subtype, "chats_message");
  EXPECT_EQ(r->id, 12u);
  EXPECT_EQ(r->v, 20201201u);
  EXPECT_EQ(r->channel, "@group/team");
  EXPECT_TRUE(r->has_data);
  ASSERT_FALSE(r->data.isNull());
  EXPECT_EQ(Str(*r->data, "text"), "hello");
  EXPECT_EQ(Str(*r->data, "richText"), "<b>hello</b>");
  EXPECT_EQ(Canonical(r->data_json),
            Canonical(R"({"kind":"","sender":"","target":"","id":"c1","text":"hello","richText":"<b>hello</b>"})"));
}

TEST(ParseIncoming, PingKeepsTheWholeObject) {
  auto r = ParseIncoming(R"({"id":7,"ts":1700000000123,"type":"ping","auth":"x"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, "ping");
  EXPECT_EQ(r->id, 7u);
  ASSERT_FALSE(r->raw.isNull());
  EXPECT_EQ(U64(*r->raw, "ts"), 1700000000123u);
  EXPECT_EQ(Str(*r->raw, "auth"), "x");
}

TEST(ParseIncoming, DataKeptAsJsonAndAsObject) {
  auto r = ParseIncoming(
      R"({"type":"webrtc","data":{"sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n","type":"offer","n":[1,2.5,null,true],)"
      R"("nested":{"x":"ü€😀"}}})");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->has_data);
  ASSERT_FALSE(r->data.isNull());
  EXPECT_EQ(Str(*r->data, "type"), "offer");
  EXPECT_EQ(Str(*r->data, "sdp"), "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n");
  // data_json is a JSON text for the same value (forwarded opaque).
  Object::Ptr again = Parse(r->data_json);
  EXPECT_EQ(Str(*again, "sdp"), "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n");
  EXPECT_EQ(Str(*Sub(*again, "nested"), "x"), "ü€😀");
  auto n = again->getArray("n");
  ASSERT_TRUE(n);
  ASSERT_EQ(n->size(), 4u);
  EXPECT_EQ(n->get(0).convert<int>(), 1);
  EXPECT_DOUBLE_EQ(n->get(1).convert<double>(), 2.5);
  EXPECT_TRUE(n->get(2).isEmpty());
  EXPECT_TRUE(n->get(3).extract<bool>());
}

TEST(ParseIncoming, NonObjectDataIsKeptAsJsonOnly) {
  auto s = ParseIncoming(R"({"type":"webrtc","data":"opaque"})");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->has_data);
  EXPECT_TRUE(s->data.isNull());
  EXPECT_EQ(s->data_json, "\"opaque\"");

  auto a = ParseIncoming(R"({"type":"webrtc","data":[1,"x"]})");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->has_data);
  EXPECT_TRUE(a->data.isNull());
  EXPECT_EQ(Canonical(a->data_json), Canonical(R"([1,"x"])"));

  auto n = ParseIncoming(R"({"type":"webrtc","data":42})");
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->has_data);
  EXPECT_EQ(n->data_json, "42");
}

TEST(ParseIncoming, NullDataCountsAsPresent) {
  // Go: only an absent `data` key is "empty" (spec §3.1).
  auto r = ParseIncoming(R"({"type":"webrtc","data":null})");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->has_data);
  EXPECT_TRUE(r->data.isNull());
  EXPECT_EQ(r->data_json, "null");
}

TEST(ParseIncoming, ProfilePresence) {
  auto with = ParseIncoming(R"({"type":"webrtc","profile":{"name":"x"}})");
  ASSERT_TRUE(with);
  EXPECT_TRUE(with->has_profile);
  auto empty_object = ParseIncoming(R"({"type":"webrtc","profile":{}})");
  ASSERT_TRUE(empty_object);
  EXPECT_TRUE(empty_object->has_profile);
  auto null_profile = ParseIncoming(R"({"type":"webrtc","profile":null})");
  ASSERT_TRUE(null_profile);
  EXPECT_FALSE(null_profile->has_profile);
  auto without = ParseIncoming(R"({"type":"webrtc"})");
  ASSERT_TRUE(without);
  EXPECT_FALSE(without->has_profile);
}

TEST(ParseIncoming, NullKnownFieldsAreAbsent) {
  auto r = ParseIncoming(R"({"type":"webrtc","target":null,"id":null,"v":null,"initiator":null,"hash":null})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->target, "");
  EXPECT_EQ(r->hash, "");
  EXPECT_EQ(r->id, 0u);
  EXPECT_EQ(r->v, 0u);
  EXPECT_FALSE(r->initiator);
}

TEST(ParseIncoming, UnknownKeysAreIgnored) {
  auto r = ParseIncoming(R"({"type":"webrtc","subtype":"webrtc_call","whatever":{"a":[1]},"Target":5})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->subtype, "webrtc_call");
  EXPECT_EQ(r->target, "");
}

TEST(ParseIncoming, InitiatorFalse) {
  auto r = ParseIncoming(R"({"type":"webrtc","initiator":false})");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->initiator);
}

TEST(ParseIncoming, LargestSafeIntegerIsAccepted) {
  auto r = ParseIncoming(R"({"type":"ping","id":9007199254740991,"v":0})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, 9007199254740991u);
  EXPECT_EQ(r->v, 0u);
}

// --- ParseIncoming: refused ----------------------------------------------------------------

TEST(ParseIncoming, TypeMissingOrNotAString) {
  ExpectRefused(R"({"subtype":"webrtc_call"})", "type must be a string");
  ExpectRefused(R"({"type":5})", "type must be a string");
  ExpectRefused(R"({"type":null})", "type must be a string");
  ExpectRefused(R"({"type":true})", "type must be a string");
  ExpectRefused(R"({"type":["ping"]})", "type must be a string");
  ExpectRefused(R"({"type":{"x":1}})", "type must be a string");
}

TEST(ParseIncoming, NumbersOfTheWrongType) {
  ExpectRefused(R"({"type":"webrtc","id":"5"})", "id must be a number");
  ExpectRefused(R"({"type":"webrtc","id":true})", "id must be a number");
  ExpectRefused(R"({"type":"webrtc","id":false})", "id must be a number");
  ExpectRefused(R"({"type":"webrtc","id":[1]})", "id must be a number");
  ExpectRefused(R"({"type":"webrtc","id":{}})", "id must be a number");
  ExpectRefused(R"({"type":"webrtc","v":"20180703"})", "v must be a number");
  ExpectRefused(R"({"type":"ping","v":true})", "v must be a number");
}

TEST(ParseIncoming, NumbersOutOfRange) {
  ExpectRefused(R"({"type":"webrtc","id":-1})", "id out of range");
  ExpectRefused(R"({"type":"webrtc","id":9007199254740992})", "id out of range");
  ExpectRefused(R"({"type":"webrtc","id":18446744073709551615})", "id out of range");
  ExpectRefused(R"({"type":"webrtc","id":1e300})", "id out of range");
  ExpectRefused(R"({"type":"webrtc","v":-20180703})", "v out of range");
  ExpectRefused(R"({"type":"webrtc","v":-0.5})", "v out of range");
}

TEST(ParseIncoming, StringsOfTheWrongType) {
  for (const char* key : {"subtype", "target", "source", "state", "channel", "group", "hash", "transaction", "pcid"}) {
    for (const char* value : {"5", "true", "{}", "[\"x\"]"}) {
      ExpectRefused(std::string(R"({"type":"webrtc",")") + key + "\":" + value + "}",
                    std::string(key) + " must be a string");
    }
  }
}

TEST(ParseIncoming, InitiatorOfTheWrongType) {
  ExpectRefused(R"({"type":"webrtc","initiator":"true"})", "initiator must be a boolean");
  ExpectRefused(R"({"type":"webrtc","initiator":1})", "initiator must be a boolean");
  ExpectRefused(R"({"type":"webrtc","initiator":0})", "initiator must be a boolean");
  ExpectRefused(R"({"type":"webrtc","initiator":{}})", "initiator must be a boolean");
}

TEST(ParseIncoming, ArraysAreNotObjects) {
  for (const char* text : {"[]", "[{\"type\":\"ping\"}]", "[1,2]"}) {
    ExpectRefused(text, "message is not a JSON object");
  }
}

TEST(ParseIncoming, TopLevelScalarsAreRefused) {
  // Poco's parser already refuses top-level scalars (RFC 4627); either way they are refused.
  for (const char* text : {"\"ping\"", "5", "true", "null"}) {
    auto r = ParseIncoming(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << text;
    EXPECT_TRUE(r.error().public_message == "message is not a JSON object" ||
                r.error().public_message == "message is not valid JSON")
        << r.error().public_message;
  }
}

TEST(ParseIncoming, InvalidJson) {
  for (const char* text : {"", "{", "{\"type\":}", "not json", "{\"type\":\"ping\",}", "{'type':'ping'}",
                           "{\"type\":\"ping\"", "\x01\x02"}) {
    ExpectRefused(text, "message is not valid JSON");
  }
}

TEST(ParseIncoming, FractionalNumbersAreNotIntegers) {
  // `id` and `v` are uint64 on the wire (spec §3.1); Go's decoder refuses 1.5 (and 5.0, 1e3) for
  // them, as a wrongly typed known field. Here they must not be silently truncated.
  auto r = ParseIncoming(R"({"type":"webrtc","id":1.5})");
  ASSERT_FALSE(r) << "1.5 was read as " << r->id;
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(ParseIncoming(R"({"type":"webrtc","v":20180703.5})"));
}

// --- ParseCallData ----------------------------------------------------------------------

CallData MustCallData(const std::string& text) {
  auto m = ParseIncoming(text);
  EXPECT_TRUE(m) << text;
  if (!m) return {};
  auto d = ParseCallData(*m);
  EXPECT_TRUE(d) << text;
  return d.value_or(CallData{});
}

std::optional<CallData> CallDataOf(const std::string& text) {
  auto m = ParseIncoming(text);
  EXPECT_TRUE(m) << text;
  if (!m) return std::nullopt;
  return ParseCallData(*m);
}

TEST(ParseCallData, AcceptStateReason) {
  CallData d = MustCallData(R"({"type":"webrtc","data":{"accept":true,"state":"sA","reason":""}})");
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.state, "sA");
  EXPECT_EQ(d.reason, "");

  CallData r = MustCallData(R"({"type":"webrtc","data":{"accept":false,"state":"sB","reason":"reject_busy"}})");
  EXPECT_FALSE(r.accept);
  EXPECT_EQ(r.state, "sB");
  EXPECT_EQ(r.reason, "reject_busy");
}

TEST(ParseCallData, EmptyObjectIsARejectWithoutState) {
  CallData d = MustCallData(R"({"type":"webrtc","data":{}})");
  EXPECT_FALSE(d.accept);
  EXPECT_EQ(d.state, "");
  EXPECT_EQ(d.reason, "");
}

TEST(ParseCallData, UnknownKeysAndNullStringsAreFine) {
  CallData d = MustCallData(R"({"type":"webrtc","data":{"accept":true,"state":null,"reason":null,"x":[1]}})");
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.state, "");
  EXPECT_EQ(d.reason, "");
}

TEST(ParseCallData, NoDataOrNotAnObject) {
  EXPECT_FALSE(CallDataOf(R"({"type":"webrtc"})"));
  EXPECT_FALSE(CallDataOf(R"({"type":"webrtc","data":null})"));
  EXPECT_FALSE(CallDataOf(R"({"type":"webrtc","data":"accept"})"));
  EXPECT_FALSE(CallDataOf(R"({"type":"webrtc","data":[true]})"));
  EXPECT_FALSE(CallDataOf(R"({"type":"webrtc","data":true})"));
}

TEST(ParseCallData, WrongTypes) {
  EXPECT_FALSE(CallDataOf(R"({"type":"webrtc","data":{"accept":"true"}})"));
  EXPECT_FALSE(CallDataOf(R"({"type":"webrtc","data":{"accept":1}})"));
  EXPECT_FALSE(CallDataOf(R"({"type":"webrtc","data":{"accept":true,"state":5}})"));
  EXPECT_FALSE(CallDataOf(R"({"type":"webrtc","data":{"accept":true,"state":{}}})"));
  EXPECT_FALSE(CallDataOf(R"({"type":"webrtc","data":{"accept":false,"reason":true}})"));
}

// --- Serialize(OutWebrtc) ---------------------------------------------------------------

TEST(SerializeWebrtc, MinimalShape) {
  std::string text = Serialize(OutWebrtc{.subtype = "webrtc_channel"});
  Object::Ptr o = Parse(text);
  EXPECT_EQ(Keys(*o), (std::set<std::string>{"type", "subtype", "target", "source", "v"}));
  EXPECT_EQ(Str(*o, "type"), "webrtc");
  EXPECT_EQ(Str(*o, "subtype"), "webrtc_channel");
  EXPECT_EQ(Str(*o, "target"), "");
  EXPECT_EQ(Str(*o, "source"), "");
  EXPECT_EQ(U64(*o, "v"), 20180703u);
}

TEST(SerializeWebrtc, AllFields) {
  OutWebrtc m{.subtype = "webrtc_call",
              .reply_to = 77,
              .target = "bob",
              .source = "alice",
              .state = "sA",
              .channel = "*chan",
              .group = "group/team",
              .hash = "aGFzaA==",
              .transaction = "tx1",
              .pcid = "pc1",
              .initiator = true,
              .profile_name = "Alice A",
              .data_json = R"({"accept":true,"state":"sB"})",
              .v = 20180704};
  Object::Ptr o = Parse(Serialize(m));
  EXPECT_EQ(Keys(*o), (std::set<std::string>{"type", "subtype", "reply_to", "target", "source", "initiator", "state",
                                             "channel", "group", "hash", "v", "transaction", "pcid", "profile",
                                             "data"}));
  EXPECT_EQ(Str(*o, "type"), "webrtc");
  EXPECT_EQ(Str(*o, "subtype"), "webrtc_call");
  EXPECT_EQ(U64(*o, "reply_to"), 77u);
  EXPECT_EQ(Str(*o, "target"), "bob");
  EXPECT_EQ(Str(*o, "source"), "alice");
  EXPECT_TRUE(o->get("initiator").extract<bool>());
  EXPECT_EQ(Str(*o, "state"), "sA");
  EXPECT_EQ(Str(*o, "channel"), "*chan");
  EXPECT_EQ(Str(*o, "group"), "group/team");
  EXPECT_EQ(Str(*o, "hash"), "aGFzaA==");
  EXPECT_EQ(U64(*o, "v"), 20180704u);
  EXPECT_EQ(Str(*o, "transaction"), "tx1");
  EXPECT_EQ(Str(*o, "pcid"), "pc1");
  Object::Ptr profile = Sub(*o, "profile");
  EXPECT_EQ(Keys(*profile), (std::set<std::string>{"name"}));
  EXPECT_EQ(Str(*profile, "name"), "Alice A");
  Object::Ptr data = Sub(*o, "data");
  EXPECT_TRUE(data->get("accept").extract<bool>());
  EXPECT_EQ(Str(*data, "state"), "sB");
}

TEST(SerializeWebrtc, OptionalFieldsOmittedWhenEmpty) {
  OutWebrtc m{.subtype = "webrtc_signal", .target = "bob", .source = "alice", .initiator = false};
  Object::Ptr o = Parse(Serialize(m));
  for (const char* key : {"reply_to", "initiator", "state", "channel", "group", "hash", "transaction", "pcid",
                          "profile", "data", "id"}) {
    EXPECT_FALSE(o->has(key)) << key;
  }
  EXPECT_EQ(Str(*o, "target"), "bob");
  EXPECT_EQ(Str(*o, "source"), "alice");
}

TEST(SerializeWebrtc, ReplyToOnlyWhenNonZero) {
  EXPECT_FALSE(Parse(Serialize(OutWebrtc{.subtype = "x", .reply_to = 0}))->has("reply_to"));
  Object::Ptr o = Parse(Serialize(OutWebrtc{.subtype = "x", .reply_to = 1}));
  EXPECT_EQ(U64(*o, "reply_to"), 1u);
  Object::Ptr big = Parse(Serialize(OutWebrtc{.subtype = "x", .reply_to = 9007199254740991ull}));
  EXPECT_EQ(U64(*big, "reply_to"), 9007199254740991ull);
}

TEST(SerializeWebrtc, EmptyProfileNameIsStillAProfile) {
  Object::Ptr o = Parse(Serialize(OutWebrtc{.subtype = "webrtc_call", .profile_name = ""}));
  ASSERT_TRUE(o->has("profile"));
  EXPECT_EQ(Str(*Sub(*o, "profile"), "name"), "");
}

TEST(SerializeWebrtc, DataIsWrittenVerbatim) {
  const std::string data = R"({"z":1,"a":[true,null,"x"],"sdp":"v=0\r\n"})";
  std::string text = Serialize(OutWebrtc{.subtype = "webrtc_signal", .data_json = data});
  EXPECT_NE(text.find("\"data\":" + data), std::string::npos) << text;
  Object::Ptr o = Parse(text);
  EXPECT_EQ(Str(*Sub(*o, "data"), "sdp"), "v=0\r\n");

  Object::Ptr null_data = Parse(Serialize(OutWebrtc{.subtype = "webrtc_signal", .data_json = "null"}));
  ASSERT_TRUE(null_data->has("data"));
  EXPECT_TRUE(null_data->get("data").isEmpty());

  Object::Ptr string_data = Parse(Serialize(OutWebrtc{.subtype = "webrtc_signal", .data_json = "\"s\""}));
  EXPECT_EQ(Str(*string_data, "data"), "s");
}

TEST(SerializeWebrtc, StringsAreEscaped) {
  const std::string nasty = "a\"b\\c\nd\te</script>\x01ü😀";
  OutWebrtc m{.subtype = "webrtc_call", .target = nasty, .source = nasty, .state = nasty, .channel = nasty,
              .group = nasty, .hash = nasty, .transaction = nasty, .pcid = nasty, .profile_name = nasty};
  Object::Ptr o = Parse(Serialize(m));
  for (const char* key : {"target", "source", "state", "channel", "group", "hash", "transaction", "pcid"}) {
    EXPECT_EQ(Str(*o, key), nasty) << key;
  }
  EXPECT_EQ(Str(*Sub(*o, "profile"), "name"), nasty);
}

// --- ErrorMessage, Pong, Hello, Goodbye ---------------------------------------------------

TEST(ErrorMessage, WithReplyTo) {
  Object::Ptr o = Parse(ErrorMessage(7, "bad_message", "invalid hash"));
  EXPECT_EQ(Keys(*o), (std::set<std::string>{"type", "reply_to", "error"}));
  EXPECT_EQ(Str(*o, "type"), "error");
  EXPECT_EQ(U64(*o, "reply_to"), 7u);
  Object::Ptr e = Sub(*o, "error");
  EXPECT_EQ(Keys(*e), (std::set<std::string>{"code", "msg"}));
  EXPECT_EQ(Str(*e, "code"), "bad_message");
  EXPECT_EQ(Str(*e, "msg"), "invalid hash");
}

TEST(ErrorMessage, ReplyToOmittedWhenZero) {
  Object::Ptr o = Parse(ErrorMessage(0, "access_restricted", "access denied"));
  EXPECT_EQ(Keys(*o), (std::set<std::string>{"type", "error"}));
  EXPECT_EQ(Str(*Sub(*o, "error"), "code"), "access_restricted");
  EXPECT_EQ(Str(*Sub(*o, "error"), "msg"), "access denied");
}

TEST(ErrorMessage, Escaped) {
  Object::Ptr o = Parse(ErrorMessage(1, "c\"ode", "m\\s\ng"));
  EXPECT_EQ(Str(*Sub(*o, "error"), "code"), "c\"ode");
  EXPECT_EQ(Str(*Sub(*o, "error"), "msg"), "m\\s\ng");
}

TEST(Pong, EchoesEverythingButType) {
  const std::string ping = R"({"id":42,"ts":1700000000123,"type":"ping","auth":"tok","nested":{"a":[1,"b"]},"u":"ü"})";
  auto m = ParseIncoming(ping);
  ASSERT_TRUE(m);
  Object::Ptr pong = Parse(Pong(*m));
  Object::Ptr original = Parse(ping);
  EXPECT_EQ(Keys(*pong), Keys(*original));
  EXPECT_EQ(Str(*pong, "type"), "pong");
  EXPECT_EQ(U64(*pong, "id"), 42u);
  EXPECT_EQ(U64(*pong, "ts"), 1700000000123u);
  EXPECT_EQ(Str(*pong, "auth"), "tok");
  EXPECT_EQ(Str(*pong, "u"), "ü");
  auto arr = Sub(*pong, "nested")->getArray("a");
  ASSERT_TRUE(arr);
  ASSERT_EQ(arr->size(), 2u);
  EXPECT_EQ(arr->get(0).convert<int>(), 1);
  EXPECT_EQ(arr->get(1).convert<std::string>(), "b");
  // Everything but `type` is the same value.
  pong->set("type", "ping");
  std::ostringstream a, b;
  pong->stringify(a);
  original->stringify(b);
  EXPECT_EQ(a.str(), b.str());
}

TEST(Pong, DoesNotChangeThePing) {
  auto m = ParseIncoming(R"({"id":1,"ts":2,"type":"ping"})");
  ASSERT_TRUE(m);
  (void)Pong(*m);
  EXPECT_EQ(Str(*m->raw, "type"), "ping");
}

TEST(Pong, WithoutId) {
  auto m = ParseIncoming(R"({"type":"ping"})");
  ASSERT_TRUE(m);
  Object::Ptr pong = Parse(Pong(*m));
  EXPECT_EQ(Keys(*pong), (std::set<std::string>{"type"}));
  EXPECT_EQ(Str(*pong, "type"), "pong");
}

TEST(Hello, Shape) {
  Object::Ptr o = Parse(Hello("alice@example", "Alice \"A\"", "1"));
  EXPECT_EQ(Keys(*o), (std::set<std::string>{"type", "self", "server_status"}));
  EXPECT_EQ(Str(*o, "type"), "hello");
  Object::Ptr self = Sub(*o, "self");
  EXPECT_EQ(Keys(*self), (std::set<std::string>{"id", "name", "auth"}));
  EXPECT_EQ(Str(*self, "id"), "alice@example");
  EXPECT_EQ(Str(*self, "name"), "Alice \"A\"");
  EXPECT_EQ(Str(*self, "auth"), "1");
  Object::Ptr status = Sub(*o, "server_status");
  EXPECT_EQ(status->size(), 0u);
}

TEST(Hello, EmptyStringsArePresent) {
  Object::Ptr self = Sub(*Parse(Hello("u", "", "")), "self");
  EXPECT_EQ(Str(*self, "name"), "");
  EXPECT_EQ(Str(*self, "auth"), "");
}

TEST(Goodbye, Shape) {
  Object::Ptr o = Parse(Goodbye());
  EXPECT_EQ(Keys(*o), (std::set<std::string>{"type", "server_status"}));
  EXPECT_EQ(Str(*o, "type"), "goodbye");
  EXPECT_TRUE(o->get("server_status").isEmpty());  // null
}

// --- Serialize(OutChat) -----------------------------------------------------------------

TEST(SerializeChat, MessageReplyShape) {
  OutChat m{.subtype = "chats_message", .reply_to = 12, .channel = "@group/team", .kind = "", .sender = "alice",
            .target = "", .text = "hello", .rich_text = "<b>hello</b>", .id = "0123456789abcdef"};
  m.ts = 1700000000;
  Object::Ptr o = Parse(Serialize(m));
  EXPECT_EQ(Keys(*o), (std::set<std::string>{"type", "subtype", "reply_to", "channel", "v", "data"}));
  EXPECT_EQ(Str(*o, "type"), "chats");
  EXPECT_EQ(Str(*o, "subtype"), "chats_message");
  EXPECT_EQ(U64(*o, "reply_to"), 12u);
  EXPECT_EQ(Str(*o, "channel"), "@group/team");
  EXPECT_EQ(U64(*o, "v"), 20201201u);
  Object::Ptr d = Sub(*o, "data");
  EXPECT_EQ(Keys(*d), (std::set<std::string>{"kind", "sender", "target", "ts", "text", "richText", "id"}));
  EXPECT_EQ(Str(*d, "kind"), "");
  EXPECT_EQ(Str(*d, "sender"), "alice");
  EXPECT_EQ(Str(*d, "target"), "");
  EXPECT_EQ(U64(*d, "ts"), 1700000000u);
  EXPECT_EQ(Str(*d, "text"), "hello");
  EXPECT_EQ(Str(*d, "richText"), "<b>hello</b>");
  EXPECT_EQ(Str(*d, "id"), "0123456789abcdef");
}

TEST(SerializeChat, SystemWithProfileAndExtra) {
  OutChat m{.subtype = "chats_system", .channel = "@g", .profile_name = "Bob B", .kind = "system", .sender = "bob",
            .text = "Bob B has joined the meeting.", .id = "id16id16id16id16", .extra_id = "joined"};
  m.ts = 5;
  Object::Ptr o = Parse(Serialize(m));
  EXPECT_EQ(Keys(*o), (std::set<std::string>{"type", "subtype", "channel", "v", "profile", "data"}));
  EXPECT_EQ(Str(*Sub(*o, "profile"), "name"), "Bob B");
  Object::Ptr d = Sub(*o, "data");
  EXPECT_EQ(Keys(*d), (std::set<std::string>{"kind", "sender", "target", "ts", "text", "id", "extra"}));
  EXPECT_EQ(Str(*d, "kind"), "system");
  EXPECT_EQ(Str(*d, "text"), "Bob B has joined the meeting.");
  EXPECT_EQ(U64(*d, "ts"), 5u);
  Object::Ptr extra = Sub(*d, "extra");
  EXPECT_EQ(Keys(*extra), (std::set<std::string>{"id"}));
  EXPECT_EQ(Str(*extra, "id"), "joined");
}

TEST(SerializeChat, DeliveryQueuedShape) {
  OutChat m{.subtype = "chats_system", .channel = "@g", .kind = "delivery_queued", .id = "abc"};
  Object::Ptr o = Parse(Serialize(m));
  EXPECT_EQ(Keys(*o), (std::set<std::string>{"type", "subtype", "channel", "v", "data"}));
  Object::Ptr d = Sub(*o, "data");
  EXPECT_EQ(Keys(*d), (std::set<std::string>{"kind", "sender", "target", "ts", "text", "id"}));
  EXPECT_EQ(Str(*d, "kind"), "delivery_queued");
  EXPECT_EQ(Str(*d, "sender"), "");
  EXPECT_EQ(Str(*d, "target"), "");
  EXPECT_EQ(U64(*d, "ts"), 0u);
  EXPECT_EQ(Str(*d, "text"), "");
  EXPECT_EQ(Str(*d, "id"), "abc");
}

TEST(SerializeChat, EscapedText) {
  const std::string text = "line1\nline2 \"q\" <i>x</i> \\ ü😀\x1f";
  OutChat m{.subtype = "chats_message", .channel = "@g", .text = text, .rich_text = text, .id = "i"};
  Object::Ptr d = Sub(*Parse(Serialize(m)), "data");
  EXPECT_EQ(Str(*d, "text"), text);
  EXPECT_EQ(Str(*d, "richText"), text);
}

TEST(Quoted, IsAJsonStringLiteral) {
  const std::string s = "a\"b\\c\n\r\t\x01<>ü";
  Poco::JSON::Parser parser;
  auto v = parser.parse("[" + Quoted(s) + "]");
  auto arr = v.extract<Poco::JSON::Array::Ptr>();
  ASSERT_EQ(arr->size(), 1u);
  EXPECT_EQ(arr->get(0).extract<std::string>(), s);
  EXPECT_EQ(Quoted(""), "\"\"");
  EXPECT_EQ(Quoted("abc"), "\"abc\"");
}

}  // namespace
}  // namespace palaver::signaling
