#include "worker_pool.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "metrics_registry.hpp"

namespace palaver::host {
namespace {

// A loop that keeps what is posted; the test runs it.
class FakeLoop final : public sdk::NetLoop {
 public:
  void Post(std::function<void()> fn) override {
    std::lock_guard lock(mu);
    posted.push_back(std::move(fn));
  }
  TimerId Schedule(std::chrono::milliseconds, std::function<void()> fn) override {
    Post(std::move(fn));
    return 1;
  }
  void Cancel(TimerId) override {}
  bool IsLoopThread() const override { return true; }
  std::mutex mu;
  std::vector<std::function<void()>> posted;
};

// Holds every worker until Open().
struct Gate {
  void Wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [this] { return open; });
  }
  void Open() {
    {
      std::lock_guard lock(mu);
      open = true;
    }
    cv.notify_all();
  }
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
};

std::shared_ptr<spdlog::logger> NullLog() {
  return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

// Waits until the pool's one worker has taken the blocking task (the queue is empty again).
void WaitForDepth(WorkerPool& pool, size_t depth) {
  for (int i = 0; i < 500 && pool.Depth() != depth; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_EQ(pool.Depth(), depth);
}

TEST(WorkerPool, HttpWorkPastTheBoundIsAnswered503WithRetryAfter) {
  FakeLoop loop;
  MetricsRegistry metrics;
  Gate gate;
  std::atomic<int> ran{0};
  WorkerPool pool(1, 2, loop, NullLog(), &metrics);
  // Occupies the one worker.
  pool.Submit([&] { gate.Wait(); ++ran; }, nullptr);
  WaitForDepth(pool, 0);

  // Three requests whose handlers each submit work; the queue holds two.
  std::vector<sdk::Response> answers;
  auto handler = HttpWorkScope::Wrap([&](const sdk::Request&, sdk::Responder respond) {
    pool.Submit([&] { ++ran; }, [respond] { respond(sdk::Response::Text(200, "done")); });
  });
  sdk::Request req;
  req.path = "/api/x";
  for (int i = 0; i < 3; ++i) handler(req, [&](sdk::Response r) { answers.push_back(std::move(r)); });

  ASSERT_EQ(answers.size(), 1u);  // the third, at once
  EXPECT_EQ(answers[0].status, 503);
  EXPECT_EQ(answers[0].Header("retry-after").value_or(""), "1");
  EXPECT_EQ(answers[0].Header("content-type").value_or("").substr(0, 16), "application/json");
  EXPECT_NE(answers[0].body.find("busy"), std::string::npos);
  EXPECT_EQ(pool.Rejected(), 1u);
  EXPECT_EQ(pool.Depth(), 2u);
  std::string text = metrics.RenderPrometheus();
  EXPECT_NE(text.find("palaver_worker_queue_rejected_total 1"), std::string::npos) << text;
  EXPECT_NE(text.find("palaver_worker_queue_depth 2"), std::string::npos) << text;

  // Background work (outside any request) is never refused.
  pool.Submit([&] { ++ran; }, nullptr);
  EXPECT_EQ(pool.Depth(), 3u);

  gate.Open();
  pool.Shutdown();
  EXPECT_EQ(ran.load(), 4);  // the blocker, two queued requests, the background task
  for (auto& fn : loop.posted) fn();
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_EQ(answers[1].status, 200);
  EXPECT_EQ(answers[2].status, 200);
  EXPECT_EQ(pool.Depth(), 0u);
  EXPECT_NE(metrics.RenderPrometheus().find("palaver_worker_queue_depth 0"), std::string::npos);
}

TEST(WorkerPool, HtmlClientsGetTextAndAnsweredRequestsKeepTheirWork) {
  FakeLoop loop;
  Gate gate;
  std::atomic<int> ran{0};
  WorkerPool pool(1, 1, loop, NullLog());
  pool.Submit([&] { gate.Wait(); }, nullptr);
  WaitForDepth(pool, 0);
  pool.Submit([&] { ++ran; }, nullptr);  // the queue is full now

  sdk::Request page;
  page.headers = {{"accept", "text/html,application/xhtml+xml"}};
  std::vector<sdk::Response> answers;
  auto submits = HttpWorkScope::Wrap([&](const sdk::Request&, sdk::Responder respond) {
    pool.Submit([&] { ++ran; }, [respond] { respond(sdk::Response::Text(200, "done")); });
  });
  submits(page, [&](sdk::Response r) { answers.push_back(std::move(r)); });
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].status, 503);
  EXPECT_EQ(answers[0].Header("content-type").value_or("").substr(0, 10), "text/plain");

  // A handler that answered first and then submits follow-up work: the work is queued, not
  // dropped, and no second answer is made.
  auto answers_then_submits = HttpWorkScope::Wrap([&](const sdk::Request&, sdk::Responder respond) {
    respond(sdk::Response::Text(200, "accepted"));
    pool.Submit([&] { ++ran; }, nullptr);
  });
  answers_then_submits(page, [&](sdk::Response r) { answers.push_back(std::move(r)); });
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[1].status, 200);
  EXPECT_EQ(pool.Rejected(), 1u);
  EXPECT_EQ(pool.Depth(), 2u);
  gate.Open();
  pool.Shutdown();
  EXPECT_EQ(ran.load(), 2);
}

TEST(WorkerPool, ScopesEndWithTheHandler) {
  EXPECT_EQ(HttpWorkScope::Current(), nullptr);
  HttpWorkScope* inside = nullptr;
  auto h = HttpWorkScope::Wrap([&](const sdk::Request&, sdk::Responder) { inside = HttpWorkScope::Current(); });
  h(sdk::Request{}, [](sdk::Response) {});
  EXPECT_NE(inside, nullptr);
  EXPECT_EQ(HttpWorkScope::Current(), nullptr);
}

}  // namespace
}  // namespace palaver::host
