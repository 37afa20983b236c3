#include "net/event_loop.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace palaver::host::net {

namespace {
constexpr int kMaxEvents = 256;
IoHandler* const kWakeTag = nullptr;
}  // namespace

EventLoop::~EventLoop() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

Status EventLoop::Init() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return Fail(ErrorCode::kInternal, std::string("epoll_create1: ") + std::strerror(errno));
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return Fail(ErrorCode::kInternal, std::string("eventfd: ") + std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.ptr = kWakeTag;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    return Fail(ErrorCode::kInternal, std::string("epoll_ctl: ") + std::strerror(errno));
  }
  events_buf_.resize(sizeof(epoll_event) * kMaxEvents);
  return OkStatus();
}

Status EventLoop::Add(int fd, IoHandler* handler, uint32_t events) {
  epoll_event ev{};
  ev.events = events | EPOLLET;
  ev.data.ptr = handler;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return Fail(ErrorCode::kInternal, std::string("epoll_ctl add: ") + std::strerror(errno));
  }
  return OkStatus();
}

void EventLoop::Remove(int fd) { epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

void EventLoop::Wake() {
  uint64_t one = 1;
  ssize_t n = ::write(wake_fd_, &one, sizeof one);
  (void)n;  // EAGAIN: the counter is already non-zero, a wake-up is pending anyway
}

bool EventLoop::RunOnce(std::chrono::milliseconds max_wait, const std::function<void()>& on_wake) {
  auto timeout = max_wait;
  if (!heap_.empty()) {
    auto until = std::chrono::duration_cast<std::chrono::milliseconds>(heap_.top().when - Clock::now());
    if (until.count() < 0) until = std::chrono::milliseconds(0);
    // Round up so a timer is not polled for in a busy loop just before it is due.
    if (until < timeout) timeout = until + std::chrono::milliseconds(until.count() > 0 ? 1 : 0);
  }
  auto* events = reinterpret_cast<epoll_event*>(events_buf_.data());
  int n = epoll_wait(epoll_fd_, events, kMaxEvents, static_cast<int>(timeout.count()));
  if (n < 0) {
    if (errno == EINTR) return true;
    return false;
  }
  bool woken = false;
  for (int i = 0; i < n; ++i) {
    auto* handler = static_cast<IoHandler*>(events[i].data.ptr);
    if (handler == kWakeTag) {
      uint64_t v;
      while (::read(wake_fd_, &v, sizeof v) > 0) {
      }
      woken = true;
      continue;
    }
    handler->OnIo(events[i].events);
  }
  if (woken && on_wake) on_wake();
  RunDueTimers();
  return true;
}

EventLoop::TimerId EventLoop::AddTimer(Clock::time_point when, std::function<void()> fn) {
  TimerId id = next_timer_++;
  timers_.emplace(id, std::move(fn));
  heap_.push(HeapEntry{when, id});
  return id;
}

void EventLoop::CancelTimer(TimerId id) { timers_.erase(id); }

void EventLoop::RunDueTimers() {
  auto now = Clock::now();
  while (!heap_.empty() && heap_.top().when <= now) {
    TimerId id = heap_.top().id;
    heap_.pop();
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;  // cancelled
    auto fn = std::move(it->second);
    timers_.erase(it);
    fn();
  }
  // Cancelled entries are dropped lazily; keep the heap from growing without bound when many
  // timers are cancelled long before they are due.
  if (heap_.size() > 1024 && heap_.size() > 4 * timers_.size()) {
    std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<>> kept;
    while (!heap_.empty()) {
      if (timers_.count(heap_.top().id)) kept.push(heap_.top());
      heap_.pop();
    }
    heap_.swap(kept);
  }
}

}  // namespace palaver::host::net
