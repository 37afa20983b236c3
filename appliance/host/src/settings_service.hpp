// The typed settings service (sdk::Settings) backed by the store.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "palaver/sdk/check.hpp"
#include "palaver/sdk/net_loop.hpp"
#include "palaver/sdk/settings.hpp"
#include "palaver/sdk/store.hpp"

namespace palaver::host {

/// Thread-safe. Get() never blocks on the store: values are cached in memory. Define() loads a
/// stored value once (blocking: call from Start or a worker). Subscribers run on the net loop.
class SettingsService final : public sdk::Settings {
 public:
  SettingsService(sdk::Store& store, sdk::NetLoop& loop);
  /// Creates the settings table. Blocking.
  Status Init();

  Status Define(sdk::SettingSpec spec) override;
  Result<sdk::SettingValue> Get(const std::string& key) const override;
  Status Set(const std::string& key, const sdk::SettingValue& value) override;
  uint64_t Subscribe(const std::string& prefix,
                     std::function<void(const std::string&, const sdk::SettingValue&)> fn) override;
  void Unsubscribe(uint64_t id) override;
  std::vector<sdk::SettingSpec> List() const override;

  static std::string Encode(const sdk::SettingValue& v);
  static Result<sdk::SettingValue> Decode(const sdk::SettingValue& like, const std::string& text);

 private:
  struct Entry {
    sdk::SettingSpec spec;
    sdk::SettingValue value;
  };
  struct Subscriber {
    std::string prefix;
    std::function<void(const std::string&, const sdk::SettingValue&)> fn;
  };

  sdk::Store& store_;
  sdk::NetLoop& loop_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_ PALAVER_GUARDED_BY(mu_);
  std::map<uint64_t, Subscriber> subscribers_ PALAVER_GUARDED_BY(mu_);
  uint64_t next_id_ PALAVER_GUARDED_BY(mu_) = 1;
};

}  // namespace palaver::host
