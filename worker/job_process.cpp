// Implements the job process (job_process.hpp).
#include "job_process.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/errors.hpp"
#include "orchestrator/messages.hpp"
#include "row_writer.hpp"

namespace lira {
namespace {

constexpr const char* kPeer = "the worker rank";

// The rank's gang, one hop away: every collective is a request the rank runs on its own
// communicator and answers.
class ProxyGang final : public GangComm {
 public:
  ProxyGang(int fd, const child::ChildInit& init) : fd_(fd), rank_(init.gang_rank), size_(init.gang_size), name_(init.gang_name) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return name_; }
  bool device_memory() const override { return false; }
  void allreduce_sum(float* data, size_t count, const char* what) override {
    call(child::CollectiveOp::kSumFloat, data, count * sizeof(float), what);
  }
  void allreduce_sum(double* data, size_t count, const char* what) override {
    call(child::CollectiveOp::kSumDouble, data, count * sizeof(double), what);
  }
  void broadcast(void* data, size_t bytes, const char* what) override {
    call(child::CollectiveOp::kBroadcast, data, bytes, what);
  }
  bool broken() const override { return broken_; }

 private:
  void call(child::CollectiveOp op, void* data, size_t bytes, const char* what) {
    if (broken_) throw CommError(name_ + " is broken; " + what + " was not attempted");
    child::Writer w;
    w.u32(static_cast<uint32_t>(op)).str(what).bytes(data, bytes);
    child::send_frame(fd_, child::Kind::kCollective, w.take(), kPeer);
    auto reply = child::receive_frame(fd_, kPeer);
    if (!reply || reply->kind != child::Kind::kCollectiveReply) {
      broken_ = true;
      throw CommError(name_ + ": the worker rank went away during " + what);
    }
    child::Reader r(reply->payload);
    if (r.u32() == 0) {
      broken_ = true;
      throw CommError(r.str());
    }
    const auto [p, n] = r.bytes();
    if (n != bytes) throw CommError(name_ + ": " + what + " came back with another size");
    std::memcpy(data, p, n);
  }
  int fd_, rank_, size_;
  std::string name_;
  bool broken_ = false;
};

struct Injection {
  std::string kind;
  int64_t model = -1;
  bool every_attempt = false;
};

std::vector<Injection> injections() {
  std::vector<Injection> out;
  const char* env = std::getenv("LIRA_TEST_CRASH");
  if (!env) return out;
  std::istringstream in(env);
  for (std::string item; std::getline(in, item, ',');) {
    const auto at = item.find('@');
    if (at == std::string::npos) continue;
    Injection i;
    i.kind = item.substr(0, at);
    std::string model = item.substr(at + 1);
    if (!model.empty() && model.back() == '!') {
      i.every_attempt = true;
      model.pop_back();
    }
    i.model = std::stoll(model);
    out.push_back(i);
  }
  return out;
}

[[noreturn]] void crash(const std::string& kind, int64_t model) {
  std::fprintf(stderr, "LIRA_TEST_CRASH: %s during model %lld\n", kind.c_str(), static_cast<long long>(model));
  std::fflush(stderr);
  if (kind == "segv") {
    std::signal(SIGSEGV, SIG_DFL);
    std::raise(SIGSEGV);
  } else if (kind == "kill") {
    std::raise(SIGKILL);
  } else if (kind == "hang") {
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  } else if (kind == "uncaught") {
    std::thread([] { throw std::runtime_error("injected uncaught exception"); }).join();
  } else if (kind == "exit") {
    std::_Exit(3);
  }
  std::abort();
}

// The program's file name (the kernel keeps 15 characters of it), from /proc/self/exe:
// "lira", also when the binary was replaced meanwhile (" (deleted)").
std::string process_name() {
  std::error_code ec;
  std::string name = std::filesystem::read_symlink("/proc/self/exe", ec).filename().string();
  if (const auto cut = name.find(" (deleted)"); cut != std::string::npos) name.resize(cut);
  if (ec || name.empty()) name = "lira";
  return name.substr(0, 15);
}

}  // namespace

int run_job_process(int fd, const RunnerFactory& make_runner) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Named as its program (`lira`), not as the /proc/self/exe it was started through, so
  // that ps, top and pkill show and find it as lira's.
  const auto name = process_name();
  ::prctl(PR_SET_NAME, name.c_str());
  if (::getppid() == 1) return 1;  // the rank died before we could ask to die with it
  for (int sig : {SIGTERM, SIGINT, SIGUSR1}) std::signal(sig, SIG_IGN);

  auto first = child::receive_frame(fd, kPeer);
  if (!first || first->kind != child::Kind::kInit) return 1;
  const auto init = child::decode_init(first->payload);
  const auto planted = injections();

  // Progress beats: at most one message a second, from the training thread (the only one
  // that writes to the channel while a job runs).
  const std::vector<JobAssignment>* current = nullptr;  // the job, or the pack's jobs
  bool checked = false;
  auto last_beat = std::chrono::steady_clock::now();
  auto progress = [&] {
    if (current && !checked) {
      checked = true;
      for (const auto& i : planted)
        for (const auto& job : *current)
          if (i.model == job.model && (i.every_attempt || job.attempt == 0)) crash(i.kind, i.model);
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_beat < std::chrono::seconds(1)) return;
    last_beat = now;
    child::send_frame(fd, child::Kind::kProgress, kPeer);
  };

  std::unique_ptr<ProxyGang> gang;
  if (init.gang_size > 1) gang = std::make_unique<ProxyGang>(fd, init);
  std::unique_ptr<JobRunner> runner;
  try {
    runner = make_runner(init, gang.get(), progress);
  } catch (const std::exception& e) {
    const auto* le = dynamic_cast<const Error*>(&e);
    const auto code = le ? static_cast<int64_t>(le->exit_code()) : static_cast<int64_t>(ExitCode::kInternal);
    child::Writer w;
    w.i64(code).str(e.what());
    child::send_frame(fd, child::Kind::kInitFailed, w.take(), kPeer);
    return static_cast<int>(code);
  }
  child::send_frame(fd, child::Kind::kReady, kPeer);
  RowWriter rows;  // parallel.result_writes: worker

  for (;;) {
    auto frame = child::receive_frame(fd, kPeer);
    if (!frame || frame->kind == child::Kind::kStop) return 0;
    if (frame->kind != child::Kind::kJob) throw CommError("job process: unexpected message from the worker rank");
    auto message = decode_coordinator_message(frame->payload.data(), frame->payload.size());
    std::vector<JobAssignment> jobs;
    if (auto* one = std::get_if<JobAssignment>(&message)) {
      jobs.push_back(std::move(*one));
    } else if (auto* pack = std::get_if<JobPack>(&message)) {
      jobs = std::move(pack->jobs);
    } else {
      throw CommError("job process: unexpected message from the worker rank");
    }
    current = &jobs;
    checked = false;
    progress();  // the job has begun: a beat (and, in tests, a planted crash)
    std::vector<WorkerMessage> replies;
    try {
      if (jobs.size() == 1) {
        ModelResult result = runner->run(jobs.front());
        result.model = jobs.front().model;
        result.attempt = jobs.front().attempt;
        replies.emplace_back(std::move(result));
      } else {
        replies = runner->run_pack(jobs);
      }
    } catch (const std::exception& e) {
      replies.clear();
      for (const auto& job : jobs)
        replies.emplace_back(JobFailure{job.model, job.attempt, e.what(), runner->broken() || (gang && gang->broken()),
                                        jobs.size() == 1 && is_config_error(e)});
    }
    current = nullptr;
    // The rows into the results file from here, where they were made (the rank writes
    // what this process could not, and warns about it), so only scalars cross the pipe.
    // A gang member's results carry no signals (its leader evaluates): nothing to write.
    if (init.gang_rank == 0) write_rows(rows, jobs.front().direct, replies, /*warn=*/false);
    for (const auto& reply : replies)
      child::send_frame(fd, std::holds_alternative<ModelResult>(reply) ? child::Kind::kResult : child::Kind::kFailure,
                        encode(reply), kPeer);
  }
}

}  // namespace lira
