#include "worker_pool.hpp"

#include <pthread.h>

#include <string>

#include <spdlog/spdlog.h>

namespace palaver::host {
namespace {

// The running pool (the last one constructed); requests are admitted against it.
std::atomic<WorkerPool*> g_pool{nullptr};
// Set while a handler runs on this thread: Submit marks that the route uses workers.
thread_local bool* g_submitted = nullptr;

}  // namespace

sdk::Handler HttpAdmission::Wrap(sdk::Handler handler) {
  auto uses_workers = std::make_shared<std::atomic<bool>>(false);
  return [handler = std::move(handler), uses_workers](const sdk::Request& request, sdk::Responder respond) {
    WorkerPool* pool = g_pool.load();
    if (pool != nullptr && uses_workers->load(std::memory_order_relaxed) && pool->Full()) {
      pool->Refuse(request, respond);
      return;
    }
    bool submitted = false;
    struct Mark {
      bool* previous;
      explicit Mark(bool* flag) : previous(g_submitted) { g_submitted = flag; }
      ~Mark() { g_submitted = previous; }
    } mark(&submitted);
    try {
      handler(request, std::move(respond));
    } catch (...) {
      if (submitted) uses_workers->store(true, std::memory_order_relaxed);
      throw;
    }
    if (submitted) uses_workers->store(true, std::memory_order_relaxed);
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
  for (int i = 0; i < threads; ++i) {
    std::string name = "palaver-work" + std::to_string(i);
    threads_.emplace_back([this, name] {
      pthread_setname_np(pthread_self(), name.c_str());  // named from its first step ...
      Run();
    });
    // ... and from here, so that every worker carries its name once the pool is constructed.
    pthread_setname_np(threads_.back().native_handle(), name.c_str());
  }
  g_pool.store(this);
}

WorkerPool::~WorkerPool() {
  WorkerPool* self = this;
  g_pool.compare_exchange_strong(self, nullptr);
  Shutdown();
}

void WorkerPool::Submit(std::function<void()> task, std::function<void()> on_done) {
  if (g_submitted != nullptr) *g_submitted = true;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    queue_.emplace_back(std::move(task), std::move(on_done));
    depth_->Set(static_cast<int64_t>(queue_.size()));
  }
  cv_.notify_one();
}

bool WorkerPool::Full() {
  std::lock_guard lock(mu_);
  return queue_.size() >= max_queue_;
}

void WorkerPool::Refuse(const sdk::Request& request, const sdk::Responder& respond) {
  rejected_->Inc();
  bool log_now = false;
  size_t depth = 0;
  {
    std::lock_guard lock(mu_);
    depth = queue_.size();
    auto now = std::chrono::steady_clock::now();
    log_now = now - last_reject_log_ >= std::chrono::seconds(10);
    if (log_now) last_reject_log_ = now;
  }
  if (log_now) {
    log_->warn("worker queue full: HTTP requests answered 503 depth={} worker_queue_size={} rejected_total={}", depth,
               max_queue_, rejected_->Value());
  }
  const bool html = request.Header("accept").value_or("").find("text/html") != std::string_view::npos;
  sdk::Response r = html ? sdk::Response::Text(503, "The server is busy. Try again in a moment.\n")
                         : sdk::Response::Json(503, R"({"error":"unavailable","error_description":)"
                                                    R"("the server is busy; try again in a moment"})");
  r.SetHeader("retry-after", "1");
  respond(std::move(r));
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

void WorkerPool::Run() {
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
