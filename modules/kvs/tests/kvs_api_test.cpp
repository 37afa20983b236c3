#include <gtest/gtest.h>

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
}

}  // namespace
}  // namespace palaver::kvs
