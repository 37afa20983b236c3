#include "settings_ops.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <map>
#include <regex>
#include <thread>

#include "palaver/testing/store.hpp"
#include "palaver/testing/temp_dir.hpp"

namespace palaver::admin {
namespace {

// Settings in memory with the real service's contract (typed, validated, all or nothing).
class FakeSettings final : public sdk::Settings {
 public:
  Status Define(sdk::SettingSpec spec) override {
    std::lock_guard lock(mu_);
    values_[spec.key] = spec.default_value;
    specs_[spec.key] = std::move(spec);
    return OkStatus();
  }
  Result<sdk::SettingValue> Get(const std::string& key) const override {
    std::lock_guard lock(mu_);
    auto it = values_.find(key);
    if (it == values_.end()) return Fail(ErrorCode::kNotFound, "no setting");
    return it->second;
  }
  Status Set(const std::string& key, const sdk::SettingValue& value) override {
    std::lock_guard lock(mu_);
    ++sets_;
    values_[key] = value;
    return OkStatus();
  }
  uint64_t Subscribe(const std::string&, std::function<void(const std::string&, const sdk::SettingValue&)>) override {
    return 0;
  }
  void Unsubscribe(uint64_t) override {}
  std::vector<sdk::SettingSpec> List() const override {
    std::lock_guard lock(mu_);
    std::vector<sdk::SettingSpec> out;
    for (const auto& [k, s] : specs_) out.push_back(s);
    return out;
  }
  int sets_ = 0;

 private:
  mutable std::mutex mu_;
  std::map<std::string, sdk::SettingSpec> specs_;
  std::map<std::string, sdk::SettingValue> values_;
};

class SettingsChangerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = palaver::testing::OpenStore(tmp_.path() / "p.db", std::chrono::milliseconds(100));
    ASSERT_TRUE(store);
    db_ = std::move(*store);
    ASSERT_TRUE(db_->Migrate("admin", AuditLog::Migrations()));
    audit_ = std::make_unique<AuditLog>(*db_);
    ASSERT_TRUE(settings_.Define({.key = "signaling.guests_enabled", .default_value = false}));
    ASSERT_TRUE(settings_.Define({.key = "signaling.public_guest_access_regexp",
                                  .default_value = std::string("^group/public/.*"),
                                  .validate = [](const sdk::SettingValue& v) -> std::string {
                                    try {
                                      std::regex(std::get<std::string>(v), std::regex::ECMAScript);
                                      return "";
                                    } catch (const std::regex_error&) {
                                      return "not a valid regular expression";
                                    }
                                  }}));
    ASSERT_TRUE(settings_.Define({.key = "web.camera_bitrate_kbps", .default_value = int64_t{1000},
                                  .validate = [](const sdk::SettingValue& v) -> std::string {
                                    return std::get<int64_t>(v) < 100 ? "must be at least 100" : "";
                                  }}));
    changer_ = std::make_unique<SettingsChanger>(settings_, *audit_, // Not registered in spdlog's registry: a registered name
                                                 // (e.g. from `this`, which the next test reuses) throws.
                                                 std::make_shared<spdlog::logger>(
                                                     "test-admin", std::make_shared<spdlog::sinks::null_sink_mt>()),
                                                 [this] { return ++clock_; });
  }
  palaver::testing::TempDir tmp_;
  std::unique_ptr<sdk::Store> db_;
  std::unique_ptr<AuditLog> audit_;
  FakeSettings settings_;
  std::unique_ptr<SettingsChanger> changer_;
  int64_t clock_ = 1000;
};

TEST_F(SettingsChangerTest, ChangesAndRecordsOldAndNew) {
  Actor root{"root", "192.0.2.7"};
  ASSERT_TRUE(changer_->Change(root, {{"signaling.guests_enabled", true}, {"web.camera_bitrate_kbps", int64_t{800}}}));
  EXPECT_EQ(std::get<bool>(*settings_.Get("signaling.guests_enabled")), true);
  auto entries = audit_->Search("", 10);
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].target, "web.camera_bitrate_kbps");
  EXPECT_EQ((*entries)[0].old_value, "1000");
  EXPECT_EQ((*entries)[0].new_value, "800");
  EXPECT_EQ((*entries)[1].actor, "root");
  EXPECT_EQ((*entries)[1].source, "192.0.2.7");
  EXPECT_EQ((*entries)[1].old_value, "false");
  EXPECT_EQ((*entries)[1].new_value, "true");
  EXPECT_EQ((*entries)[1].at_ms, 1001);
}

TEST_F(SettingsChangerTest, UnchangedValuesAreNotRecorded) {
  ASSERT_TRUE(changer_->Change({"root", "::1"}, {{"signaling.guests_enabled", false}}));
  EXPECT_EQ(settings_.sets_, 0);
  EXPECT_EQ(audit_->Search("", 10)->size(), 0u);
}

TEST_F(SettingsChangerTest, ABadValueChangesNothing) {
  // The first change is fine, the second is not: neither is stored.
  auto st = changer_->Change({"root", "::1"}, {{"signaling.guests_enabled", true},
                                               {"signaling.public_guest_access_regexp", std::string("(unclosed")}});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(st.error().public_message.find("signaling.public_guest_access_regexp"), std::string::npos);
  EXPECT_NE(st.error().public_message.find("not a valid regular expression"), std::string::npos);
  EXPECT_EQ(settings_.sets_, 0);
  EXPECT_EQ(audit_->Search("", 10)->size(), 0u);

  st = changer_->Change({"root", "::1"}, {{"web.camera_bitrate_kbps", int64_t{-5}}});
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().public_message.find("at least 100"), std::string::npos);

  st = changer_->Change({"root", "::1"}, {{"no.such.key", true}});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(st.error().public_message, "unknown setting \"no.such.key\"");

  st = changer_->Change({"root", "::1"}, {{"web.camera_bitrate_kbps", std::string("fast")}});
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().public_message.find("a whole number"), std::string::npos);
  EXPECT_EQ(settings_.sets_, 0);
}

TEST_F(SettingsChangerTest, ConcurrentChangesAreAllRecorded) {
  std::thread a([&] {
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(changer_->Change({"anna", "::1"}, {{"web.camera_bitrate_kbps", int64_t{200 + i}}}));
  });
  std::thread b([&] {
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(changer_->Change({"bert", "::2"}, {{"web.camera_bitrate_kbps", int64_t{500 + i}}}));
  });
  a.join();
  b.join();
  auto entries = audit_->Search("", 100);
  ASSERT_EQ(entries->size(), 40u);
  // Serialized: each entry's old value is the previous entry's new value.
  for (size_t i = 0; i + 1 < entries->size(); ++i) EXPECT_EQ((*entries)[i].old_value, (*entries)[i + 1].new_value);
}

TEST(ParseTextValue, TypedLikeTheSetting) {
  EXPECT_EQ(std::get<bool>(*ParseTextValue("on", false)), true);
  EXPECT_EQ(std::get<bool>(*ParseTextValue("false", true)), false);
  EXPECT_FALSE(ParseTextValue("maybe", false));
  EXPECT_EQ(std::get<int64_t>(*ParseTextValue("-12", int64_t{0})), -12);
  EXPECT_FALSE(ParseTextValue("12kb", int64_t{0}));
  EXPECT_FALSE(ParseTextValue("", int64_t{0}));
  EXPECT_FALSE(ParseTextValue("99999999999999999999", int64_t{0}));
  EXPECT_EQ(std::get<std::string>(*ParseTextValue("^a|b$", std::string())), "^a|b$");
}

TEST(ParseJsonValue, TypedLikeTheSetting) {
  EXPECT_EQ(std::get<bool>(*ParseJsonValue(R"({"value": true})", false)), true);
  EXPECT_FALSE(ParseJsonValue(R"({"value": "yes"})", false));
  EXPECT_FALSE(ParseJsonValue(R"({"value": 1.5})", int64_t{0}));
  EXPECT_FALSE(ParseJsonValue(R"({"value": true})", int64_t{0}));
  EXPECT_FALSE(ParseJsonValue(R"({"other": 1})", int64_t{0}));
  EXPECT_FALSE(ParseJsonValue("not json", int64_t{0}));
  EXPECT_EQ(ValueJson(sdk::SettingValue(std::string("a\"b"))), "\"a\\\"b\"");
}

}  // namespace
}  // namespace palaver::admin
