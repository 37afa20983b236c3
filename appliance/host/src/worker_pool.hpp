// The worker pool: runs blocking work off the net loop; completions go back to the loop.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "palaver/sdk/check.hpp"
#include "palaver/sdk/net_loop.hpp"

namespace spdlog {
class logger;
}

namespace palaver::host {

/// Thread-safe. Tasks run in submission order per worker; `on_done` is posted to `loop`.
class WorkerPool final : public sdk::Workers {
 public:
  WorkerPool(int threads, sdk::NetLoop& loop, std::shared_ptr<spdlog::logger> log);
  ~WorkerPool() override;
  void Submit(std::function<void()> task, std::function<void()> on_done) override;
  /// Finishes queued tasks, then joins. Idempotent.
  void Shutdown();

 private:
  void Run(int index);

  sdk::NetLoop& loop_;
  std::shared_ptr<spdlog::logger> log_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::function<void()>, std::function<void()>>> queue_ PALAVER_GUARDED_BY(mu_);
  bool stopping_ PALAVER_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace palaver::host
