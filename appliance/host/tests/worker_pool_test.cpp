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

TEST(WorkerPool, RequestsPastTheBoundAreAnswered503WithRetryAfterBeforeTheirHandlerRuns) {
  FakeLoop loop;
  MetricsRegistry metrics;
  Gate gate;
  std::atomic<int> ran{0};
  WorkerPool pool(1, 2, loop, NullLog(), &metrics);
  // Occupies the one worker.
  pool.Submit([&] { gate.Wait(); ++ran; }, nullptr);
  WaitForDepth(pool, 0);

  // Four requests to a route whose handler submits work; the queue holds two. The handler
  // begins something its completion ends (as the sign-in limiter does): it must always end.
  int begun = 0, ended = 0;
  std::vector<sdk::Response> answers;
  auto handler = HttpAdmission::Wrap([&](const sdk::Request&, sdk::Responder respond) {
    ++begun;
    pool.Submit([&] { ++ran; }, [&, respond] {
      ++ended;
      respond(sdk::Response::Text(200, "done"));
    });
  });
  sdk::Request req;
  req.path = "/api/x";
  for (int i = 0; i < 4; ++i) handler(req, [&](sdk::Response r) { answers.push_back(std::move(r)); });

  ASSERT_EQ(answers.size(), 2u);  // the third and fourth, at once
  EXPECT_EQ(begun, 2);            // their handler never ran
  for (const auto& a : answers) {
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.Header("retry-after").value_or(""), "1");
    EXPECT_EQ(a.Header("content-type").value_or("").substr(0, 16), "application/json");
    EXPECT_NE(a.body.find("busy"), std::string::npos);
  }
  EXPECT_EQ(pool.Rejected(), 2u);
  EXPECT_EQ(pool.Depth(), 2u);
  std::string text = metrics.RenderPrometheus();
  EXPECT_NE(text.find("palaver_worker_queue_rejected_total 2"), std::string::npos) << text;
  EXPECT_NE(text.find("palaver_worker_queue_depth 2"), std::string::npos) << text;

  // Background work (outside any request) is never refused.
  pool.Submit([&] { ++ran; }, nullptr);
  EXPECT_EQ(pool.Depth(), 3u);

  gate.Open();
  pool.Shutdown();
  EXPECT_EQ(ran.load(), 4);  // the blocker, two admitted requests, the background task
  for (auto& fn : loop.posted) fn();
  ASSERT_EQ(answers.size(), 4u);
  EXPECT_EQ(answers[2].status, 200);
  EXPECT_EQ(answers[3].status, 200);
  EXPECT_EQ(ended, begun);
  EXPECT_EQ(pool.Depth(), 0u);
  EXPECT_NE(metrics.RenderPrometheus().find("palaver_worker_queue_depth 0"), std::string::npos);
}

TEST(WorkerPool, RoutesWithoutWorkAreServedAndHtmlClientsGetText) {
  FakeLoop loop;
  Gate gate;
  WorkerPool pool(1, 1, loop, NullLog());
  pool.Submit([&] { gate.Wait(); }, nullptr);
  WaitForDepth(pool, 0);
  pool.Submit([] {}, nullptr);  // the queue is full now

  sdk::Request page;
  page.headers = {{"accept", "text/html,application/xhtml+xml"}};
  std::vector<sdk::Response> answers;
  auto record = [&](sdk::Response r) { answers.push_back(std::move(r)); };
  // A route that answers on the loop (files, /healthz) is never refused.
  auto static_route = HttpAdmission::Wrap([](const sdk::Request&, sdk::Responder respond) {
    respond(sdk::Response::Text(200, "file"));
  });
  for (int i = 0; i < 3; ++i) static_route(page, record);
  // A route that submits: its first request teaches the wrapper that it uses workers.
  auto submits = HttpAdmission::Wrap([&](const sdk::Request&, sdk::Responder respond) {
    pool.Submit([] {}, [respond] { respond(sdk::Response::Text(200, "done")); });
  });
  submits(page, record);
  submits(page, record);
  ASSERT_EQ(answers.size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(answers[static_cast<size_t>(i)].status, 200);
  EXPECT_EQ(answers[3].status, 503);
  EXPECT_EQ(answers[3].Header("content-type").value_or("").substr(0, 10), "text/plain");
  EXPECT_EQ(pool.Rejected(), 1u);
  gate.Open();
  pool.Shutdown();
}

TEST(WorkerPool, WithoutARunningPoolNothingIsRefused) {
  int calls = 0;
  auto h = HttpAdmission::Wrap([&](const sdk::Request&, sdk::Responder respond) {
    ++calls;
    respond(sdk::Response::Text(200, "ok"));
  });
  int ok = 0;
  for (int i = 0; i < 3; ++i) h(sdk::Request{}, [&](sdk::Response r) { ok += r.status == 200; });
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(ok, 3);
}

}  // namespace
}  // namespace palaver::host
