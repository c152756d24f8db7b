// Implements ChildRunner (child_runner.hpp): start, relay, reap, restart.
#include "child_runner.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>

#include "common/errors.hpp"
#include "orchestrator/messages.hpp"

extern char** environ;

namespace lira {
namespace {

using Clock = std::chrono::steady_clock;

// A descriptor at 10 or above, close-on-exec: dup2 onto 2 or 3 in the child then always
// makes a fresh, inheritable copy (dup2 of a descriptor onto itself would keep the flag).
int high_fd(int fd) {
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  if (moved < 0) throw Error(std::string("fcntl(F_DUPFD_CLOEXEC) failed: ") + std::strerror(errno));
  ::close(fd);
  return moved;
}

std::string signal_words(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV (segmentation fault)";
    case SIGABRT: return "SIGABRT (abort: a failed check or an uncaught exception)";
    case SIGKILL: return "SIGKILL (the kernel's out-of-memory killer, or kill -9)";
    case SIGBUS: return "SIGBUS (bus error)";
    case SIGFPE: return "SIGFPE (arithmetic exception)";
    case SIGILL: return "SIGILL (illegal instruction)";
    case SIGTERM: return "SIGTERM";
    default: return "signal " + std::to_string(sig) + " (" + ::strsignal(sig) + ")";
  }
}

std::string status_words(int status) {
  if (WIFSIGNALED(status))
    return "was killed by " + signal_words(WTERMSIG(status)) + (WCOREDUMP(status) ? ", core dumped" : "");
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended (wait status " + std::to_string(status) + ")";
}

}  // namespace

ChildRunner::ChildRunner(ChildOptions options) : options_(std::move(options)) {
  // The job process asks to die with the thread that started it (PR_SET_PDEATHSIG is per
  // thread), and run() is called on a new thread per job: every start happens here.
  spawner_ = std::thread([this] {
    std::unique_lock lock(spawn_mutex_);
    for (;;) {
      spawn_cv_.wait(lock, [&] { return spawn_requested_ || spawner_exit_; });
      if (spawner_exit_) return;
      try {
        spawn();
        spawn_error_ = nullptr;
      } catch (...) {
        spawn_error_ = std::current_exception();
      }
      spawn_requested_ = false;
      spawn_cv_.notify_all();
    }
  });
  try {
    start();
  } catch (...) {
    stop_spawner();
    throw;
  }
}

void ChildRunner::stop_spawner() {
  {
    std::lock_guard lock(spawn_mutex_);
    spawner_exit_ = true;
  }
  spawn_cv_.notify_all();
  if (spawner_.joinable()) spawner_.join();
}

ChildRunner::~ChildRunner() {
  stop_spawner();
  if (pid_ == 0) return;
  try {
    child::send_frame(fd_, child::Kind::kStop, options_.label.c_str());
  } catch (const std::exception&) {
  }
  // A job process leaves at once when told; one that does not is killed.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::close(fd_);
  if (relay_.joinable()) relay_.join();
  ::close(stderr_fd_);
}

void ChildRunner::start() {
  {
    std::unique_lock lock(spawn_mutex_);
    spawn_requested_ = true;
    spawn_cv_.notify_all();
    spawn_cv_.wait(lock, [&] { return !spawn_requested_; });
    if (spawn_error_) std::rethrow_exception(spawn_error_);
  }
  handshake();
}

void ChildRunner::spawn() {
  int sv[2], err[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
    throw Error(std::string("cannot create the channel to ") + options_.label + ": " + std::strerror(errno));
  const int theirs = high_fd(sv[1]), their_err = high_fd(err[1]);
  fd_ = sv[0];
  stderr_fd_ = err[0];

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, theirs, 3);
  posix_spawn_file_actions_adddup2(&actions, their_err, 2);
  // argv[0]: the real path (ps and pkill -f show what runs, not /proc/self/exe).
  std::error_code ec;
  const auto real = std::filesystem::read_symlink(options_.executable, ec);
  std::vector<std::string> args{ec ? options_.executable : real.string()};
  args.insert(args.end(), options_.args.begin(), options_.args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int rc = ::posix_spawn(&pid_, options_.executable.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(theirs);
  ::close(their_err);
  if (rc != 0) {
    pid_ = 0;
    ::close(fd_);
    ::close(stderr_fd_);
    throw Error("cannot start " + options_.label + " (" + options_.executable + "): " + std::strerror(rc));
  }
  ++starts_;
  {
    std::lock_guard lock(line_mutex_);
    last_line_.clear();
  }
  relay_ = std::thread([this, fd = stderr_fd_] {
    std::string pending;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      pending.append(buf, static_cast<size_t>(n));
      for (size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
        const std::string line = pending.substr(0, nl + 1);
        (void)!::write(STDERR_FILENO, line.data(), line.size());  // whole lines: no interleaving
        if (nl > 0) {
          std::lock_guard lock(line_mutex_);
          last_line_ = pending.substr(0, nl);
        }
      }
    }
    if (!pending.empty()) {
      (void)!::write(STDERR_FILENO, pending.data(), pending.size());
      std::lock_guard lock(line_mutex_);
      last_line_ = pending;
    }
  });

}

void ChildRunner::handshake() {
  child::send_frame(fd_, child::Kind::kInit, child::encode(options_.init), options_.label.c_str());
  for (;;) {
    // Set-up (libtorch, the dataset, a CUDA context, an NCCL gang's rendezvous with its
    // peers) has no progress beats and is legitimately slow on a loaded node, so it gets
    // at least setup_floor however short stall_seconds is; longer is a process that never
    // comes up.
    const auto limit = std::max(options_.stall, options_.setup_floor);
    if (!child::readable(fd_, std::chrono::duration_cast<std::chrono::milliseconds>(limit))) {
      const auto cause = reap(true);
      throw Error(options_.label + " did not finish setting up within " + std::to_string(limit.count()) +
                  " s (experiment.stall_seconds, at least " + std::to_string(options_.setup_floor.count()) +
                  " s for set-up); it " + cause);
    }
    auto frame = child::receive_frame(fd_, options_.label.c_str());
    if (!frame) {
      const auto cause = reap(false);
      throw Error(options_.label + " could not start: it " + cause);
    }
    if (frame->kind == child::Kind::kReady) return;
    if (frame->kind == child::Kind::kCollective) {
      serve_collective(*frame);
      continue;
    }
    if (frame->kind == child::Kind::kInitFailed) {
      child::Reader r(frame->payload);
      const auto code = static_cast<ExitCode>(r.i64());
      const std::string message = r.str();
      reap(false);
      throw Error(message, code);
    }
    if (frame->kind != child::Kind::kProgress) throw CommError(options_.label + " sent an unexpected message at start");
  }
}

std::string ChildRunner::last_line() {
  std::lock_guard lock(line_mutex_);
  return last_line_;
}

std::string ChildRunner::reap(bool kill_first) {
  if (kill_first) ::kill(pid_, SIGKILL);
  int status = 0;
  // It closed the channel: it is ending. One that lingers past 10 s is killed.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) break;
    if (Clock::now() > deadline) ::kill(pid_, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::close(fd_);
  fd_ = -1;
  if (relay_.joinable()) relay_.join();
  ::close(stderr_fd_);
  stderr_fd_ = -1;
  pid_ = 0;
  std::string words = kill_first && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? "was killed (SIGKILL, by this rank)"
                                                                                    : status_words(status);
  const auto line = last_line();
  if (!line.empty()) words += "; its last line: \"" + line + "\"";
  return words;
}

void ChildRunner::serve_collective(const child::Frame& frame) {
  child::Reader r(frame.payload);
  const auto op = static_cast<child::CollectiveOp>(r.u32());
  const std::string what = r.str();
  const auto [data, size] = r.bytes();
  std::vector<std::byte> buffer(data, data + size);
  child::Writer reply;
  try {
    if (!options_.gang) throw CommError(options_.label + " asked for a collective, but this rank has no gang");
    switch (op) {
      case child::CollectiveOp::kSumFloat:
        options_.gang->allreduce_sum(reinterpret_cast<float*>(buffer.data()), size / sizeof(float), what.c_str());
        break;
      case child::CollectiveOp::kSumDouble:
        options_.gang->allreduce_sum(reinterpret_cast<double*>(buffer.data()), size / sizeof(double), what.c_str());
        break;
      case child::CollectiveOp::kBroadcast:
        options_.gang->broadcast(buffer.data(), size, what.c_str());
        break;
      default:
        throw CommError(options_.label + " asked for an unknown collective");
    }
    reply.u32(1).bytes(buffer.data(), buffer.size());
  } catch (const std::exception& e) {
    reply = child::Writer();
    reply.u32(0).str(e.what());
  }
  child::send_frame(fd_, child::Kind::kCollectiveReply, reply.take(), options_.label.c_str());
}

ModelResult ChildRunner::run(const JobAssignment& job) {
  auto replies = exchange(CoordinatorMessage{job}, {job.model}, 1);
  if (auto* failure = std::get_if<JobFailure>(&replies.at(0))) {
    if (failure->deterministic) throw ConfigError(failure->message);  // keeps the flag across the worker loop
    throw TrainError(failure->message);
  }
  return std::get<ModelResult>(std::move(replies.at(0)));
}

std::vector<WorkerMessage> ChildRunner::run_pack(const std::vector<JobAssignment>& jobs) {
  std::vector<int64_t> models;
  for (const auto& j : jobs) models.push_back(j.model);
  return exchange(CoordinatorMessage{JobPack{jobs}}, models, jobs.size());
}

std::vector<WorkerMessage> ChildRunner::exchange(const CoordinatorMessage& work, const std::vector<int64_t>& models,
                                                 size_t replies) {
  if (pid_ == 0) {
    spdlog::info("starting {} again, for model {}", options_.label, models.at(0));
    start();
  }
  std::string model = models.size() == 1 ? "model " : "the pack of models ";
  for (size_t i = 0; i < models.size(); ++i) model += (i ? ", " : "") + std::to_string(models[i]);
  const bool in_gang = options_.init.gang_size > 1;
  try {
    child::send_frame(fd_, child::Kind::kJob, encode(work), options_.label.c_str());
  } catch (const CommError&) {
    // It died while idle; the reason is what matters.
    const auto cause = reap(false);
    if (in_gang) broken_ = true;
    throw TrainError(options_.label + " ended before " + model + " could start: it " + cause);
  }
  std::vector<WorkerMessage> out;
  auto last_progress = Clock::now();
  while (out.size() < replies) {
    if (!child::readable(fd_, std::chrono::milliseconds(500))) {
      if (Clock::now() - last_progress < options_.stall) continue;
      const auto cause = reap(true);
      if (in_gang) broken_ = true;
      throw TrainError(options_.label + " made no progress on " + model + " for " +
                       std::to_string(options_.stall.count()) +
                       " s (experiment.stall_seconds: no training step, no evaluation batch): it " + cause);
    }
    std::optional<child::Frame> frame;
    try {
      frame = child::receive_frame(fd_, options_.label.c_str());
    } catch (const CommError&) {
      frame.reset();  // cut short: it died while writing
    }
    if (!frame) {
      const auto cause = reap(false);
      if (in_gang) broken_ = true;
      throw TrainError(options_.label + " died during " + model + ": it " + cause);
    }
    last_progress = Clock::now();
    switch (frame->kind) {
      case child::Kind::kProgress:
        break;
      case child::Kind::kCollective:
        serve_collective(*frame);
        break;
      case child::Kind::kResult:
        out.push_back(decode_worker_message(frame->payload.data(), frame->payload.size()));
        if (!std::holds_alternative<ModelResult>(out.back()))
          throw CommError(options_.label + " sent a malformed result during " + model);
        break;
      case child::Kind::kFailure: {
        out.push_back(decode_worker_message(frame->payload.data(), frame->payload.size()));
        const auto* failure = std::get_if<JobFailure>(&out.back());
        if (!failure) throw CommError(options_.label + " sent a malformed failure during " + model);
        if (failure->retire) broken_ = true;
        break;
      }
      default:
        throw CommError(options_.label + " sent an unexpected message during " + model);
    }
  }
  return out;
}

}  // namespace lira
