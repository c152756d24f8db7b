// Implements RunStatus.
#include "run_status.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

namespace lira {

double RunStatus::now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

RunStatus::RunStatus(std::string results_path, int64_t models, std::vector<std::string> worker_names)
    : path_(path_for(results_path)), models_(models), started_(now()) {
  for (auto& n : worker_names) {
    Worker w;
    w.name = std::move(n);
    workers_.push_back(std::move(w));
  }
}

void RunStatus::set_state(const std::string& state) { state_ = state, dirty_ = true; }

void RunStatus::set_progress(int64_t done, int64_t failed, double models_per_minute, double eta_seconds) {
  done_ = done, failed_ = failed, rate_ = models_per_minute, eta_ = std::isfinite(eta_seconds) ? eta_seconds : -1;
  dirty_ = true;
}

void RunStatus::worker_ready(int w, const std::string& host, int64_t pid) {
  auto& x = workers_.at(w);
  x.host = host, x.pid = pid, x.state = "idle", x.since = x.last_heard = now();
  dirty_ = true;
}

void RunStatus::job_started(int w, int64_t model, int32_t attempt) {
  auto& x = workers_.at(w);
  if (x.running.empty()) x.since = now();
  x.running.push_back(model);
  x.state = "busy", x.model = x.running.front(), x.last_heard = now();
  if (attempt > 0) x.last_word = "retrying model " + std::to_string(model);
  dirty_ = true;
}

void RunStatus::heartbeat(int w) { workers_.at(w).last_heard = now(), dirty_ = true; }

void RunStatus::job_ended(int w, int64_t model, const std::string& last_word) {
  auto& x = workers_.at(w);
  std::erase(x.running, model);
  x.jobs += 1, x.last_word = last_word, x.last_heard = now();
  if (x.running.empty()) {
    x.state = "idle", x.model = -1, x.since = x.last_heard;
  } else {
    x.model = x.running.front();
  }
  dirty_ = true;
}

void RunStatus::worker_lost(int w, const std::string& last_word) {
  auto& x = workers_.at(w);
  x.state = "lost", x.last_word = last_word;
  dirty_ = true;
}

void RunStatus::worker_stopped(int w) {
  auto& x = workers_.at(w);
  if (x.state != "lost") x.state = "stopped", x.model = -1, x.running.clear();
  dirty_ = true;
}

bool RunStatus::write(bool force) {
  const auto t = std::chrono::steady_clock::now();
  if (!dirty_ || (!force && t - last_write_ < std::chrono::seconds(1))) return true;
  nlohmann::json j;
  char host[128] = {};
  gethostname(host, sizeof host - 1);
  j["state"] = state_;
  j["coordinator"] = {{"host", host}, {"pid", getpid()}};
  j["started"] = started_;
  j["updated"] = now();
  j["models"] = models_;
  j["done"] = done_;
  j["failed"] = failed_;
  j["models_per_minute"] = rate_;
  j["eta_seconds"] = eta_;
  if (schedule_seconds_ >= 0) j["schedule_seconds"] = schedule_seconds_;  // first job to last result
  j["workers"] = nlohmann::json::array();
  for (const auto& w : workers_)
    j["workers"].push_back({{"name", w.name}, {"host", w.host}, {"pid", w.pid}, {"state", w.state},
                            {"model", w.model}, {"models", w.running}, {"jobs", w.jobs}, {"since", w.since}, {"last_heard", w.last_heard},
                            {"last_word", w.last_word}});
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!(out << j.dump(2) << "\n") || !out.flush()) return false;
  }
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) return false;
  dirty_ = false;
  last_write_ = t;
  return true;
}

}  // namespace lira
