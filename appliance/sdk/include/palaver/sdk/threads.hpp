// Threads a module runs itself (a long-lived loop of its own, e.g. the TURN relay threads), started,
// named and stopped through the host, so that every thread of the process is one the host knows:
// it has a name in `ps -L`/`top -H`, signals are blocked in it, an escaping exception is logged,
// it is counted in `palaver_threads{owner}`, and the host stops and joins whatever a module left
// running when the module stops.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "palaver/sdk/status.hpp"

namespace palaver::sdk {

/// One running thread. Destroying the handle requests a stop and joins (like std::jthread).
/// Thread-safe except that Join and the destructor must not run on the thread itself.
class Thread {
 public:
  virtual ~Thread() = default;
  /// Sets the thread's stop token; callbacks registered on it (std::stop_callback) run now.
  virtual void RequestStop() = 0;
  /// Waits for the thread's function to return. Idempotent.
  virtual void Join() = 0;
  /// The name the thread runs under (at most 15 bytes, as the kernel keeps it).
  virtual const std::string& Name() const = 0;
};

/// Starts threads for one module (sdk::Host::Threads). Thread-safe.
class ThreadHost {
 public:
  virtual ~ThreadHost() = default;
  /// Starts `body` on a new thread named `name` (cut to 15 bytes; "palaver-" is not added).
  /// `body` returns when its stop token is set: a thread that waits on something else (epoll,
  /// a socket) registers a std::stop_callback that wakes it. Fails when the host is stopping.
  virtual Result<std::unique_ptr<Thread>> StartThread(std::string name, std::function<void(std::stop_token)> body) = 0;
};

}  // namespace palaver::sdk
