// The net loop as modules see it: post work onto it, run timers on it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace palaver::sdk {

/// The single network event loop (the host's net thread).
/// Thread-safe: Post() may be called from any thread; the callbacks run on the loop.
class NetLoop {
 public:
  using TimerId = uint64_t;
  virtual ~NetLoop() = default;
  /// Runs `fn` on the loop soon. Safe from any thread. Dropped if the loop has stopped.
  virtual void Post(std::function<void()> fn) = 0;
  /// Runs `fn` on the loop after `delay`. Safe from any thread.
  virtual TimerId Schedule(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
  /// Cancels a timer that has not fired yet. Safe from any thread.
  virtual void Cancel(TimerId id) = 0;
  virtual bool IsLoopThread() const = 0;
};

/// The worker pool: everything that may block (SQLite, LDAP, hashing, outbound HTTPS).
/// Thread-safe.
class Workers {
 public:
  virtual ~Workers() = default;
  /// Runs `task` on a worker; then `on_done` (if set) on the net loop.
  virtual void Submit(std::function<void()> task, std::function<void()> on_done) = 0;

  /// Runs `task` on a worker and hands its result to `on_done` on the net loop.
  template <typename T>
  void SubmitFor(std::function<T()> task, std::function<void(T)> on_done) {
    auto slot = std::make_shared<std::optional<T>>();
    Submit([slot, task = std::move(task)] { slot->emplace(task()); },
           [slot, on_done = std::move(on_done)] { on_done(std::move(**slot)); });
  }
};

}  // namespace palaver::sdk
