#include <gtest/gtest.h>

#include <deque>

#include "settings_service.hpp"
#include "sqlite_store.hpp"
#include "palaver/testing/temp_dir.hpp"

namespace palaver::host {
namespace {

// Runs posted work when told to, on the test thread.
class ManualLoop final : public sdk::NetLoop {
 public:
  void Post(std::function<void()> fn) override { queue.push_back(std::move(fn)); }
  TimerId Schedule(std::chrono::milliseconds, std::function<void()>) override { return 0; }
  void Cancel(TimerId) override {}
  bool IsLoopThread() const override { return true; }
  void RunAll() {
    while (!queue.empty()) {
      auto fn = std::move(queue.front());
      queue.pop_front();
      fn();
    }
  }
  std::deque<std::function<void()>> queue;
};

TEST(SettingsService, DefaultsSetPersistAndNotify) {
  testing::TempDir dir;
  auto store = SqliteStore::Open(dir.path() / "p.db", std::chrono::milliseconds(100));
  ASSERT_TRUE(store);
  ManualLoop loop;
  {
    SettingsService s(**store, loop);
    ASSERT_TRUE(s.Init());
    ASSERT_TRUE(s.Define({.key = "signaling.guests_enabled", .default_value = false}));
    EXPECT_FALSE(s.GetBool("signaling.guests_enabled", true));
    std::vector<std::string> seen;
    s.Subscribe("signaling.", [&](const std::string& k, const sdk::SettingValue& v) {
      seen.push_back(k + "=" + (std::get<bool>(v) ? "true" : "false"));
    });
    ASSERT_TRUE(s.Set("signaling.guests_enabled", true));
    EXPECT_TRUE(seen.empty());  // delivered on the loop
    loop.RunAll();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0], "signaling.guests_enabled=true");
  }
  SettingsService again(**store, loop);
  ASSERT_TRUE(again.Init());
  ASSERT_TRUE(again.Define({.key = "signaling.guests_enabled", .default_value = false}));
  EXPECT_TRUE(again.GetBool("signaling.guests_enabled", false));
}

TEST(SettingsService, RejectsWrongTypeUnknownKeyAndInvalidValue) {
  testing::TempDir dir;
  auto store = SqliteStore::Open(dir.path() / "p.db", std::chrono::milliseconds(100));
  ASSERT_TRUE(store);
  ManualLoop loop;
  SettingsService s(**store, loop);
  ASSERT_TRUE(s.Init());
  ASSERT_TRUE(s.Define({.key = "signaling.max_bitrate", .default_value = int64_t{1000},
                        .validate = [](const sdk::SettingValue& v) {
                          return std::get<int64_t>(v) < 64 ? std::string("must be at least 64") : std::string();
                        }}));
  EXPECT_FALSE(s.Set("signaling.max_bitrate", std::string("fast")));
  auto bad = s.Set("signaling.max_bitrate", int64_t{10});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().public_message, "must be at least 64");
  EXPECT_EQ(s.GetInt("signaling.max_bitrate", 0), 1000);
  EXPECT_FALSE(s.Set("nope.x", true));
  EXPECT_FALSE(s.Define({.key = "nodot", .default_value = true}));
  EXPECT_FALSE(s.Define({.key = "signaling.max_bitrate", .default_value = true}));
}

}  // namespace
}  // namespace palaver::host
