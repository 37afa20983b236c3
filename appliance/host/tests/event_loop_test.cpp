#include "net/event_loop.hpp"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

namespace palaver::host::net {
namespace {

using namespace std::chrono_literals;

TEST(EventLoop, TimersFireInDeadlineOrderAndCancelledOnesDoNot) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init());
  std::vector<int> fired;
  auto now = Clock::now();
  loop.AddTimer(now + 30ms, [&] { fired.push_back(3); });
  loop.AddTimer(now + 10ms, [&] { fired.push_back(1); });
  auto cancelled = loop.AddTimer(now + 20ms, [&] { fired.push_back(2); });
  loop.CancelTimer(cancelled);
  auto deadline = Clock::now() + 2s;
  while (fired.size() < 2 && Clock::now() < deadline) ASSERT_TRUE(loop.RunOnce(100ms, nullptr));
  EXPECT_EQ(fired, (std::vector<int>{1, 3}));
  EXPECT_EQ(loop.PendingTimers(), 0u);
}

TEST(EventLoop, WaitEndsAtTheNextTimerNotTheMaximum) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init());
  bool fired = false;
  loop.AddTimer(Clock::now() + 20ms, [&] { fired = true; });
  auto start = Clock::now();
  while (!fired) ASSERT_TRUE(loop.RunOnce(5s, nullptr));
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(EventLoop, WakeFromAnotherThreadRunsTheWakeCallback) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init());
  std::atomic<int> woken{0};
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    loop.Wake();
  });
  auto start = Clock::now();
  while (woken == 0 && Clock::now() - start < 3s) ASSERT_TRUE(loop.RunOnce(5s, [&] { woken++; }));
  t.join();
  EXPECT_EQ(woken, 1);
  EXPECT_LT(Clock::now() - start, 2s);
}

class Recorder : public IoHandler {
 public:
  void OnIo(uint32_t events) override { seen.push_back(events); }
  std::vector<uint32_t> seen;
};

TEST(EventLoop, ReadinessReachesTheHandlerOncePerEdge) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init());
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  Recorder r;
  ASSERT_TRUE(loop.Add(fds[0], &r, EPOLLIN));
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  ASSERT_TRUE(loop.RunOnce(1s, nullptr));
  ASSERT_EQ(r.seen.size(), 1u);
  // Edge-triggered: unread data does not report again until new data arrives.
  ASSERT_TRUE(loop.RunOnce(20ms, nullptr));
  EXPECT_EQ(r.seen.size(), 1u);
  ASSERT_EQ(write(fds[1], "y", 1), 1);
  ASSERT_TRUE(loop.RunOnce(1s, nullptr));
  EXPECT_EQ(r.seen.size(), 2u);
  loop.Remove(fds[0]);
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace palaver::host::net
