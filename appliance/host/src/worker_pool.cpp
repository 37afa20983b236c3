#include "worker_pool.hpp"

#include <pthread.h>

#include <string>

#include <spdlog/spdlog.h>

namespace palaver::host {
namespace {

thread_local HttpWorkScope* g_scope = nullptr;

}  // namespace

HttpWorkScope::HttpWorkScope(const sdk::Request& request, std::shared_ptr<std::atomic<bool>> answered, sdk::Responder respond)
    : request_(request), answered_(std::move(answered)), respond_(std::move(respond)), previous_(g_scope) {
  g_scope = this;
}

HttpWorkScope::~HttpWorkScope() { g_scope = previous_; }

HttpWorkScope* HttpWorkScope::Current() { return g_scope; }

bool HttpWorkScope::Reject() {
  if (answered_->exchange(true)) return false;
  const bool html = request_.Header("accept").value_or("").find("text/html") != std::string_view::npos;
  sdk::Response r = html ? sdk::Response::Text(503, "The server is busy. Try again in a moment.\n")
                         : sdk::Response::Json(503, R"({"error":"unavailable","error_description":)"
                                                    R"("the server is busy; try again in a moment"})");
  r.SetHeader("retry-after", "1");
  respond_(std::move(r));
  return true;
}

sdk::Handler HttpWorkScope::Wrap(sdk::Handler handler) {
  return [handler = std::move(handler)](const sdk::Request& request, sdk::Responder respond) {
    auto answered = std::make_shared<std::atomic<bool>>(false);
    // The handler's responder records that it answered (it may be called from a worker).
    sdk::Responder counted = [answered, respond](sdk::Response response) {
      answered->store(true);
      respond(std::move(response));
    };
    HttpWorkScope scope(request, answered, respond);
    handler(request, std::move(counted));
  };
}

WorkerPool::WorkerPool(int threads, size_t max_queue, sdk::NetLoop& loop, std::shared_ptr<spdlog::logger> log,
                       sdk::Metrics* metrics)
    : loop_(loop),
      log_(std::move(log)),
      max_queue_(max_queue),
      rejected_(metrics != nullptr
                    ? &metrics->GetCounter("palaver_worker_queue_rejected_total",
                                           "HTTP requests answered 503 because the worker queue was full.")
                    : &own_rejected_),
      depth_(metrics != nullptr ? &metrics->GetGauge("palaver_worker_queue_depth",
                                                     "Tasks waiting for a worker thread (not yet running).")
                                : &own_depth_) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this, i] { Run(i); });
}

WorkerPool::~WorkerPool() { Shutdown(); }

void WorkerPool::Submit(std::function<void()> task, std::function<void()> on_done) {
  HttpWorkScope* scope = HttpWorkScope::Current();
  bool log_reject = false;
  size_t depth = 0;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    depth = queue_.size();
    if (scope == nullptr || depth < max_queue_) {
      queue_.emplace_back(std::move(task), std::move(on_done));
      depth_->Set(static_cast<int64_t>(queue_.size()));
      scope = nullptr;
    } else {
      auto now = std::chrono::steady_clock::now();
      log_reject = now - last_reject_log_ >= std::chrono::seconds(10);
      if (log_reject) last_reject_log_ = now;
    }
  }
  if (scope == nullptr) {
    cv_.notify_one();
    return;
  }
  // Full, and HTTP work: answer 503 instead (outside the lock: the responder runs loop code).
  if (scope->Reject()) {
    rejected_->Inc();
    if (log_reject) {
      log_->warn("worker queue full: HTTP requests answered 503 depth={} worker_queue_size={} rejected_total={}",
                 depth, max_queue_, rejected_->Value());
    }
    return;
  }
  // The handler had answered already: this is follow-up work it relies on; queue it anyway.
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    queue_.emplace_back(std::move(task), std::move(on_done));
    depth_->Set(static_cast<int64_t>(queue_.size()));
  }
  cv_.notify_one();
}

size_t WorkerPool::Depth() {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void WorkerPool::Shutdown() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void WorkerPool::Run(int index) {
  std::string name = "palaver-work" + std::to_string(index);
  pthread_setname_np(pthread_self(), name.c_str());
  for (;;) {
    std::pair<std::function<void()>, std::function<void()>> item;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      item = std::move(queue_.front());
      queue_.pop_front();
      depth_->Set(static_cast<int64_t>(queue_.size()));
    }
    try {
      item.first();
    } catch (const std::exception& e) {
      log_->error("worker task threw err={}", e.what());
    } catch (...) {
      log_->error("worker task threw a non-standard exception");
    }
    if (item.second) loop_.Post(std::move(item.second));
  }
}

}  // namespace palaver::host
