// The net loop's reactor: epoll (edge-triggered), an eventfd for cross-thread wake-ups and a
// timer heap. One instance, driven by one thread; nothing here is thread-safe except Wake().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <queue>
#include <unordered_map>
#include <vector>

#include "palaver/sdk/status.hpp"

namespace palaver::host::net {

using Clock = std::chrono::steady_clock;

/// Something registered with the loop for readiness events of one fd.
class IoHandler {
 public:
  virtual ~IoHandler() = default;
  /// `events`: EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP/EPOLLRDHUP bits.
  virtual void OnIo(uint32_t events) = 0;
};

class EventLoop {
 public:
  using TimerId = uint64_t;

  EventLoop() = default;
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  Status Init();
  /// Edge-triggered registration for `events` (EPOLLET is added).
  Status Add(int fd, IoHandler* handler, uint32_t events);
  void Remove(int fd);
  /// Interrupts a Wait from any thread.
  void Wake();

  /// Waits at most `max_wait` (less if a timer is due), then calls the handlers of ready fds and
  /// the timers that are due. `on_wake` runs when Wake() was called. False on a fatal error.
  bool RunOnce(std::chrono::milliseconds max_wait, const std::function<void()>& on_wake);

  /// Timers: O(log n) insert; cancel is O(1) (the heap entry is skipped when it comes up).
  TimerId AddTimer(Clock::time_point when, std::function<void()> fn);
  void CancelTimer(TimerId id);
  size_t PendingTimers() const { return timers_.size(); }

 private:
  void RunDueTimers();

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  struct HeapEntry {
    Clock::time_point when;
    TimerId id;
    bool operator>(const HeapEntry& o) const { return when > o.when || (when == o.when && id > o.id); }
  };
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<>> heap_;
  std::unordered_map<TimerId, std::function<void()>> timers_;
  TimerId next_timer_ = 1;
  std::vector<uint8_t> events_buf_;
};

}  // namespace palaver::host::net
