#include <gtest/gtest.h>

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "logging.hpp"
#include "metrics_registry.hpp"
#include "thread_host.hpp"

namespace palaver::host {
namespace {

using namespace std::chrono_literals;

bool WaitFor(const std::function<bool()>& cond) {
  for (int i = 0; i < 500 && !cond(); ++i) std::this_thread::sleep_for(10ms);
  return cond();
}

TEST(ThreadRegistry, NamesTheThreadAndStopsItThroughItsToken) {
  MetricsRegistry metrics;
  ThreadRegistry reg(metrics, GetLogger("test"));
  auto host = reg.For("mod");
  std::promise<std::string> name;
  std::atomic<bool> stopped{false};
  auto t = host->StartThread("a-very-long-thread-name", [&](std::stop_token stop) {
    char buf[32] = {0};
    pthread_getname_np(pthread_self(), buf, sizeof buf);
    name.set_value(buf);
    while (!stop.stop_requested()) std::this_thread::sleep_for(1ms);
    stopped = true;
  });
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(name.get_future().get(), "a-very-long-thr");  // 15 bytes, the kernel's limit
  EXPECT_EQ((*t)->Name(), "a-very-long-thr");
  EXPECT_EQ(reg.Running(), std::vector<std::string>{"mod/a-very-long-thr"});
  EXPECT_NE(metrics.RenderPrometheus().find("palaver_threads{owner=\"mod\"} 1"), std::string::npos);
  (*t)->RequestStop();
  (*t)->Join();
  EXPECT_TRUE(stopped);
  EXPECT_TRUE(WaitFor([&] { return reg.Running().empty(); }));
  EXPECT_NE(metrics.RenderPrometheus().find("palaver_threads{owner=\"mod\"} 0"), std::string::npos);
}

TEST(ThreadRegistry, StopOwnerJoinsWhatAModuleLeftRunningAndOnlyThat) {
  MetricsRegistry metrics;
  ThreadRegistry reg(metrics, GetLogger("test"));
  auto a = reg.For("a");
  auto b = reg.For("b");
  std::atomic<int> a_done{0}, b_done{0};
  auto body = [](std::atomic<int>& done) {
    return [&done](std::stop_token stop) {
      while (!stop.stop_requested()) std::this_thread::sleep_for(1ms);
      done++;
    };
  };
  auto a1 = a->StartThread("a1", body(a_done));
  auto a2 = a->StartThread("a2", body(a_done));
  auto b1 = b->StartThread("b1", body(b_done));
  ASSERT_TRUE(a1 && a2 && b1);
  reg.StopOwner("a");  // returns after both threads of "a" returned
  EXPECT_EQ(a_done, 2);
  EXPECT_EQ(b_done, 0);
  EXPECT_EQ(reg.Running(), std::vector<std::string>{"b/b1"});
  a1->reset();  // the handles of joined threads go quietly
  reg.StopAll();
  EXPECT_EQ(b_done, 1);
  EXPECT_FALSE(a->StartThread("late", [](std::stop_token) {}).has_value());  // stopping: refused
}

TEST(ThreadRegistry, AStopCallbackWakesABlockedThread) {
  MetricsRegistry metrics;
  ThreadRegistry reg(metrics, GetLogger("test"));
  auto host = reg.For("mod");
  auto t = host->StartThread("waiter", [](std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    cv.wait(lock, stop, [] { return false; });  // only a stop ends this
  });
  ASSERT_TRUE(t.has_value());
  auto started = std::chrono::steady_clock::now();
  t->reset();  // destroying the handle requests a stop and joins
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
}

TEST(ThreadRegistry, AnExceptionEndsTheThreadNotTheProcess) {
  MetricsRegistry metrics;
  ThreadRegistry reg(metrics, GetLogger("test"));
  auto t = reg.For("mod")->StartThread("thrower", [](std::stop_token) { throw std::runtime_error("boom"); });
  ASSERT_TRUE(t.has_value());
  (*t)->Join();
  EXPECT_TRUE(WaitFor([&] { return reg.Running().empty(); }));
}

}  // namespace
}  // namespace palaver::host
