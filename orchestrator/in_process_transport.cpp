// Implements InProcessHub with one mutex, a coordinator inbox and one inbox per worker.
#include "in_process_transport.hpp"

#include <string>

#include "common/errors.hpp"

namespace lira {

class InProcessHub::WorkerEnd final : public WorkerTransport {
 public:
  WorkerEnd(InProcessHub& hub, int index) : hub_(hub), index_(index) {}
  void send(const WorkerMessage& message) override {
    {
      std::lock_guard lock(hub_.mutex_);
      hub_.to_coordinator_.push_back({index_, message});
    }
    hub_.to_coordinator_cv_.notify_one();
  }
  CoordinatorMessage receive() override {
    std::unique_lock lock(hub_.mutex_);
    cv_.wait(lock, [&] { return !inbox_.empty(); });
    auto m = std::move(inbox_.front());
    inbox_.pop_front();
    return m;
  }
  void deliver(const CoordinatorMessage& m) {
    {
      std::lock_guard lock(hub_.mutex_);
      inbox_.push_back(m);
    }
    cv_.notify_one();
  }

 private:
  InProcessHub& hub_;
  int index_;
  std::condition_variable cv_;
  std::deque<CoordinatorMessage> inbox_;
};

class InProcessHub::CoordinatorEnd final : public CoordinatorTransport {
 public:
  explicit CoordinatorEnd(InProcessHub& hub) : hub_(hub) {}
  int worker_count() const override { return static_cast<int>(hub_.workers_.size()); }
  std::string worker_name(int worker) const override { return "worker thread " + std::to_string(worker); }
  std::optional<Incoming> receive(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(hub_.mutex_);
    if (!hub_.to_coordinator_cv_.wait_for(lock, timeout, [&] { return !hub_.to_coordinator_.empty(); }))
      return std::nullopt;
    auto m = std::move(hub_.to_coordinator_.front());
    hub_.to_coordinator_.pop_front();
    return m;
  }
  void send(int worker, const CoordinatorMessage& message) override {
    if (worker < 0 || worker >= worker_count()) throw Error("InProcessHub: no worker " + std::to_string(worker));
    hub_.workers_[worker]->deliver(message);
  }

 private:
  InProcessHub& hub_;
};

InProcessHub::InProcessHub(int workers) : coordinator_(std::make_unique<CoordinatorEnd>(*this)) {
  for (int i = 0; i < workers; ++i) workers_.push_back(std::make_unique<WorkerEnd>(*this, i));
}
InProcessHub::~InProcessHub() = default;

CoordinatorTransport& InProcessHub::coordinator() { return *coordinator_; }
WorkerTransport& InProcessHub::worker(int index) { return *workers_.at(index); }

}  // namespace lira
