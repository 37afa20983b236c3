// The host's registry of module-owned threads (sdk::ThreadHost): names them, blocks signals in
// them, logs an exception that escapes, counts them in `palaver_threads{owner}`, and stops and
// joins what an owner left running (StopOwner, when a module stops; StopAll at shutdown).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "metrics_registry.hpp"
#include "palaver/sdk/check.hpp"
#include "palaver/sdk/threads.hpp"

namespace spdlog {
class logger;
}

namespace palaver::host {

/// Thread-safe.
class ThreadRegistry {
 public:
  ThreadRegistry(MetricsRegistry& metrics, std::shared_ptr<spdlog::logger> log);
  ~ThreadRegistry();

  /// Starts a thread for `owner` (a module id, or "host").
  Result<std::unique_ptr<sdk::Thread>> Start(const std::string& owner, std::string name,
                                             std::function<void(std::stop_token)> body);
  /// Requests a stop of every live thread of `owner` and joins them.
  void StopOwner(const std::string& owner);
  /// Refuses new threads; stops and joins every thread.
  void StopAll();
  /// The threads running now: "owner/name" each (for tests and the status page).
  std::vector<std::string> Running() const;

  /// The sdk::ThreadHost one owner sees.
  std::unique_ptr<sdk::ThreadHost> For(const std::string& owner);

  struct Entry;

 private:
  void StopWhere(const std::function<bool(const Entry&)>& which);

  MetricsRegistry& metrics_;
  std::shared_ptr<spdlog::logger> log_;
  mutable std::mutex mu_;
  bool closed_ PALAVER_GUARDED_BY(mu_) = false;
  std::vector<std::shared_ptr<Entry>> entries_ PALAVER_GUARDED_BY(mu_);
};

}  // namespace palaver::host
