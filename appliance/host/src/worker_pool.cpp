#include "worker_pool.hpp"

#include <pthread.h>

#include <string>

#include <spdlog/spdlog.h>

namespace palaver::host {

WorkerPool::WorkerPool(int threads, sdk::NetLoop& loop, std::shared_ptr<spdlog::logger> log)
    : loop_(loop), log_(std::move(log)) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this, i] { Run(i); });
}

WorkerPool::~WorkerPool() { Shutdown(); }

void WorkerPool::Submit(std::function<void()> task, std::function<void()> on_done) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    queue_.emplace_back(std::move(task), std::move(on_done));
  }
  cv_.notify_one();
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
