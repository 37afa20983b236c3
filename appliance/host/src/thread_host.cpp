#include "thread_host.hpp"

#include <pthread.h>
#include <signal.h>

#include <thread>

#include <spdlog/spdlog.h>

namespace palaver::host {

struct ThreadRegistry::Entry {
  std::string owner;
  std::string name;
  sdk::Gauge* gauge = nullptr;
  std::mutex join_mu;  // one joiner at a time; later ones find the thread joined
  std::jthread thread;
  std::atomic<bool> running{true};

  ~Entry() {
    // The last reference dropped on the thread itself (its handle destroyed by its own body):
    // it cannot join itself; it ends on its own.
    if (thread.joinable() && thread.get_id() == std::this_thread::get_id()) thread.detach();
  }

  void StopAndJoin() {
    thread.request_stop();
    std::lock_guard lock(join_mu);
    if (thread.joinable() && thread.get_id() != std::this_thread::get_id()) thread.join();
  }
};

namespace {

class ThreadHandle final : public sdk::Thread {
 public:
  explicit ThreadHandle(std::shared_ptr<ThreadRegistry::Entry> e) : e_(std::move(e)) {}
  ~ThreadHandle() override { e_->StopAndJoin(); }
  void RequestStop() override { e_->thread.request_stop(); }
  void Join() override {
    std::lock_guard lock(e_->join_mu);
    if (e_->thread.joinable() && e_->thread.get_id() != std::this_thread::get_id()) e_->thread.join();
  }
  const std::string& Name() const override { return e_->name; }

 private:
  std::shared_ptr<ThreadRegistry::Entry> e_;
};

class OwnerView final : public sdk::ThreadHost {
 public:
  OwnerView(ThreadRegistry& reg, std::string owner) : reg_(reg), owner_(std::move(owner)) {}
  Result<std::unique_ptr<sdk::Thread>> StartThread(std::string name,
                                                   std::function<void(std::stop_token)> body) override {
    return reg_.Start(owner_, std::move(name), std::move(body));
  }

 private:
  ThreadRegistry& reg_;
  std::string owner_;
};

}  // namespace

ThreadRegistry::ThreadRegistry(MetricsRegistry& metrics, std::shared_ptr<spdlog::logger> log)
    : metrics_(metrics), log_(std::move(log)) {}

ThreadRegistry::~ThreadRegistry() { StopAll(); }

std::unique_ptr<sdk::ThreadHost> ThreadRegistry::For(const std::string& owner) {
  return std::make_unique<OwnerView>(*this, owner);
}

Result<std::unique_ptr<sdk::Thread>> ThreadRegistry::Start(const std::string& owner, std::string name,
                                                           std::function<void(std::stop_token)> body) {
  if (name.size() > 15) name.resize(15);  // the kernel's limit (TASK_COMM_LEN - 1)
  auto e = std::make_shared<Entry>();
  e->owner = owner;
  e->name = name;
  e->gauge = &metrics_.GetGauge("palaver_threads", "Threads started through the host, by owner (module or host).",
                                {{"owner", owner}});
  std::lock_guard lock(mu_);
  if (closed_) return Fail(ErrorCode::kFailedPrecondition, "the host is stopping: no new threads");
  std::erase_if(entries_, [](const std::shared_ptr<Entry>& x) { return !x->running.load(); });
  e->gauge->Add(1);
  std::weak_ptr<Entry> weak = e;
  auto log = log_;
  try {
    e->thread = std::jthread([weak, log, name, owner, body = std::move(body)](std::stop_token stop) {
      sigset_t all;
      sigfillset(&all);
      pthread_sigmask(SIG_BLOCK, &all, nullptr);
      pthread_setname_np(pthread_self(), name.c_str());  // named from its first step ...
      try {
        body(stop);
      } catch (const std::exception& ex) {
        log->error("thread threw owner={} thread={} err={}", owner, name, ex.what());
      } catch (...) {
        log->error("thread threw owner={} thread={}", owner, name);
      }
      if (auto self = weak.lock()) {
        self->running = false;
        self->gauge->Add(-1);
      }
    });
  } catch (const std::system_error& err) {
    e->gauge->Add(-1);
    return Fail(ErrorCode::kUnavailable, "cannot start thread " + name + ": " + err.what());
  }
  // ... and from here, so that it carries its name by the time Start returns too.
  pthread_setname_np(e->thread.native_handle(), name.c_str());
  entries_.push_back(e);
  return std::unique_ptr<sdk::Thread>(std::make_unique<ThreadHandle>(e));
}

void ThreadRegistry::StopWhere(const std::function<bool(const Entry&)>& which) {
  std::vector<std::shared_ptr<Entry>> stop;
  {
    std::lock_guard lock(mu_);
    for (auto& e : entries_) {
      if (which(*e)) stop.push_back(e);
    }
  }
  for (auto& e : stop) e->thread.request_stop();
  for (auto& e : stop) {
    if (e->running.load()) log_->info("stopping thread owner={} thread={}", e->owner, e->name);
    e->StopAndJoin();
  }
  std::lock_guard lock(mu_);
  std::erase_if(entries_, [](const std::shared_ptr<Entry>& x) { return !x->running.load(); });
}

void ThreadRegistry::StopOwner(const std::string& owner) {
  StopWhere([&](const Entry& e) { return e.owner == owner; });
}

void ThreadRegistry::StopAll() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  StopWhere([](const Entry&) { return true; });
}

std::vector<std::string> ThreadRegistry::Running() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& e : entries_) {
    if (e->running.load()) out.push_back(e->owner + "/" + e->name);
  }
  return out;
}

}  // namespace palaver::host
