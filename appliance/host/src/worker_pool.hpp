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

/// Admission of HTTP requests to the worker pool (the router wraps every handler with it).
/// A route whose handler has submitted work before is *admitted* only while fewer than the
/// pool's `max_queue` tasks wait; otherwise the request is answered 503 + `Retry-After: 1` at
/// once (JSON, or text for a client that asks for HTML) and its handler does not run. The check
/// is made before the handler, so a handler never sees its work dropped (a task whose
/// completion releases something, such as a sign-in limiter's attempt in flight, always runs).
/// Routes that never submit (files, /healthz) are never refused. Work submitted outside a request
/// (timers, WebSocket checks, a task's follow-up) always queues: what started it bounds it.
class HttpAdmission {
 public:
  /// Wraps `handler` (loop thread; uses the pool that is running, if any).
  static sdk::Handler Wrap(sdk::Handler handler);
};

/// Thread-safe. Tasks run in submission order per worker; `on_done` is posted to `loop`.
/// HTTP requests are admitted only while fewer than `max_queue` tasks wait (see HttpAdmission).
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
  /// HTTP requests refused because the queue was full.
  uint64_t Rejected() const { return rejected_->Value(); }
  /// Whether `max_queue` tasks wait.
  bool Full();
  /// Answers `request` 503 + Retry-After and counts it (loop thread).
  void Refuse(const sdk::Request& request, const sdk::Responder& respond);

 private:
  void Run();

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
