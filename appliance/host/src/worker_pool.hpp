// The worker pool: runs blocking work off the net loop; completions go back to the loop.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "palaver/sdk/check.hpp"
#include "palaver/sdk/http.hpp"
#include "palaver/sdk/metrics.hpp"
#include "palaver/sdk/net_loop.hpp"

namespace spdlog {
class logger;
}

namespace palaver::host {

/// Marks the net-loop code that handles one HTTP request (the router wraps every handler in
/// one): work submitted inside it is *HTTP work*. When the pool's queue is full, HTTP work is
/// not queued: the request is answered 503 with `Retry-After` instead (unless its handler has
/// answered already). Work submitted outside a scope (timers, WebSocket checks, completions that
/// chain a second task) is always queued: it is bounded by what started it.
/// Loop thread only; scopes nest (the innermost counts).
class HttpWorkScope {
 public:
  HttpWorkScope(const sdk::Request& request, std::shared_ptr<std::atomic<bool>> answered, sdk::Responder respond);
  ~HttpWorkScope();
  HttpWorkScope(const HttpWorkScope&) = delete;
  HttpWorkScope& operator=(const HttpWorkScope&) = delete;

  /// The scope open on this thread, or nullptr.
  static HttpWorkScope* Current();
  /// Answers the request 503 + `Retry-After` (JSON unless the client asks for HTML) and returns
  /// true; false (nothing sent) if the handler has answered already.
  bool Reject();

  /// Wraps `handler` so that it runs inside a scope (what the router does for every route).
  static sdk::Handler Wrap(sdk::Handler handler);

 private:
  const sdk::Request& request_;
  std::shared_ptr<std::atomic<bool>> answered_;
  sdk::Responder respond_;
  HttpWorkScope* previous_;
};

/// Thread-safe. Tasks run in submission order per worker; `on_done` is posted to `loop`.
/// At most `max_queue` tasks wait for a worker when the work is HTTP work (see HttpWorkScope).
class WorkerPool final : public sdk::Workers {
 public:
  WorkerPool(int threads, size_t max_queue, sdk::NetLoop& loop, std::shared_ptr<spdlog::logger> log,
             sdk::Metrics* metrics = nullptr);
  ~WorkerPool() override;
  void Submit(std::function<void()> task, std::function<void()> on_done) override;
  /// Finishes queued tasks, then joins. Idempotent.
  void Shutdown();
  /// Tasks waiting for a worker (not counting the running ones).
  size_t Depth();
  /// HTTP work refused because the queue was full.
  uint64_t Rejected() const { return rejected_->Value(); }

 private:
  void Run(int index);

  sdk::NetLoop& loop_;
  std::shared_ptr<spdlog::logger> log_;
  const size_t max_queue_;
  // Own counters when no registry is given (unit tests).
  sdk::Counter own_rejected_;
  sdk::Gauge own_depth_;
  sdk::Counter* rejected_;
  sdk::Gauge* depth_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::function<void()>, std::function<void()>>> queue_ PALAVER_GUARDED_BY(mu_);
  bool stopping_ PALAVER_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point last_reject_log_ PALAVER_GUARDED_BY(mu_){};
  std::vector<std::thread> threads_;
};

}  // namespace palaver::host
