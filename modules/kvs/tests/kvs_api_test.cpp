#include <gtest/gtest.h>

#include "json_text.hpp"
#include "kvs_api.hpp"

namespace palaver::kvs {
namespace {

TEST(KvsApi, KeysFromPaths) {
  EXPECT_EQ(*KeyFromPath("/api/kvs/v1/kv/user/kopano-meet-recents/group/public/foo"),
            "kopano-meet-recents/group/public/foo");
  EXPECT_EQ(KeyFromPath("/api/kvs/v1/kv/system/x").error().code, ErrorCode::kNotFound);
  for (const char* bad : {"/api/kvs/v1/kv/user/", "/api/kvs/v1/kv/user/a//b", "/api/kvs/v1/kv/user/a/../b",
                          "/api/kvs/v1/kv/user/a/./b", "/api/kvs/v1/kv/user/a\x01"}) {
    EXPECT_EQ(KeyFromPath(bad).error().code, ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(KeyFromPath("/api/kvs/v1/kv/user/" + std::string(1025, 'k')));
}

TEST(KvsApi, Envelopes) {
  EXPECT_EQ(Envelope({"k", "{\"a\":[1]}", "application/json; charset=utf-8"}), R"({"key":"k","value":{"a":[1]}})");
  EXPECT_EQ(Envelope({"k", "hi\x01", "text/plain"}), R"({"key":"k","value":"aGkB","content_type":"text/plain"})");
  EXPECT_EQ(EnvelopeArray({}), "[]");
}

TEST(KvsApi, BatchBodies) {
  auto items = ParseBatch(R"([{"key":"contact/1","value":{"n":1},"content_type":"application/json"},)"
                          R"({"key":"blob","value":"aGk=","content_type":"text/plain"}])",
                          "kopano-meet-recents");
  ASSERT_TRUE(items) << items.error().message;
  ASSERT_EQ(items->size(), 2u);
  EXPECT_EQ((*items)[0].key, "kopano-meet-recents/contact/1");
  EXPECT_EQ((*items)[0].value, R"({"n":1})");
  EXPECT_EQ((*items)[1].value, "hi");
  for (const char* bad : {"{}", "not json", R"([{"value":1}])", R"([{"key":"x","value":"%%%","content_type":"text/plain"}])",
                          R"([{"key":"../x","value":{},"content_type":"application/json"}])"}) {
    auto r = ParseBatch(bad, "p");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  std::string many = "[";
  for (int i = 0; i < 501; ++i) many += std::string(i ? "," : "") + R"({"key":"k)" + std::to_string(i) + R"(","value":1,"content_type":"application/json"})";
  EXPECT_FALSE(ParseBatch(many + "]", "p"));
  std::string big = R"([{"key":"k","value":")" + std::string(16 * 1024, 'a') + R"(","content_type":"application/json"}])";
  EXPECT_FALSE(ParseBatch(big, "p"));
}

TEST(KvsApi, JsonValidation) {
  EXPECT_TRUE(ValidateJson(R"({"a":1})"));
  EXPECT_TRUE(ValidateJson("[]"));
  EXPECT_FALSE(ValidateJson("{"));
  EXPECT_FALSE(ValidateJson(""));
  // Every JSON value is a value (finding 13): scalars too, and numbers of any size.
  for (const char* good : {"0.1", "\"str\"", "true", "null", "-0", "18446744073709551616", "1e-400", "1E+400",
                           " [1, {\"a\": \"\\u00e4\\ud83d\\ude00\"}] ", "\"\xc3\xa4\""}) {
    EXPECT_TRUE(ValidateJson(good)) << good;
  }
  for (const char* bad : {"01", "1.", ".5", "+1", "-", "1e", "0x10", "NaN", "Infinity", "tru", "\"a", "'a'",
                          "[1,]", "{\"a\":1,}", "{a:1}", "1 2", "\"\\x\"", "\"\\ud800\"", "\"tab\there\"",
                          "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\""}) {
    EXPECT_FALSE(ValidateJson(bad)) << bad;
  }
  EXPECT_TRUE(ValidateJson(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']')));
  EXPECT_FALSE(ValidateJson(std::string(kMaxJsonDepth + 2, '[') + std::string(kMaxJsonDepth + 2, ']')));
}

// A batch stores each JSON value as sent: nothing narrowed or rounded (finding 13).
TEST(KvsApi, BatchValuesKeepTheirText) {
  auto items = ParseBatch(R"([{"key":"a","value":18446744073709551616,"content_type":"application/json"},)"
                          R"({"key":"b","value":1e-400,"content_type":"application/json; charset=utf-8"},)"
                          R"({"key":"c","value": {"x" : 0.10} ,"content_type":"application/json"},)"
                          R"({"key":"d\u00e4","value":"str","content_type":"application/json"}])",
                          "p");
  ASSERT_TRUE(items) << items.error().message;
  ASSERT_EQ(items->size(), 4u);
  EXPECT_EQ((*items)[0].value, "18446744073709551616");
  EXPECT_EQ((*items)[1].value, "1e-400");
  EXPECT_EQ((*items)[2].value, R"({"x" : 0.10})");
  EXPECT_EQ((*items)[3].key, "p/d\xc3\xa4");
  EXPECT_EQ((*items)[3].value, R"("str")");
  for (const char* bad : {R"([{"key":"a","value":01,"content_type":"application/json"}])",
                          R"([{"key":"a","key":"b","value":1,"content_type":"application/json"}])",
                          R"([{"key":1,"value":1,"content_type":"application/json"}])", "[1]", "[{}] x"}) {
    EXPECT_FALSE(ParseBatch(bad, "p")) << bad;
  }
}

TEST(KvsApi, JsonMediaTypes) {
  EXPECT_TRUE(IsJsonType("application/json"));
  EXPECT_TRUE(IsJsonType("Application/JSON; charset=utf-8"));
  EXPECT_FALSE(IsJsonType("application/jsonx"));
  EXPECT_FALSE(IsJsonType("application/json-seq"));
  EXPECT_FALSE(IsJsonType("text/plain"));
  EXPECT_FALSE(IsJsonType(""));
  EXPECT_EQ(Envelope({"k", "{}", "application/jsonx"}), R"({"key":"k","value":"e30=","content_type":"application/jsonx"})");
}

}  // namespace
}  // namespace palaver::kvs
