// Implements the coordinator's side of `lira run` (see coordinator.hpp).
#include "coordinator.hpp"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/errors.hpp"
#include "common/logging.hpp"
#include "common/shell.hpp"
#include "common/results_layout.hpp"
#include "common/stop_signals.hpp"
#include "lira/build_info.hpp"

namespace lira {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> worker_names(const CoordinatorTransport& t) {
  std::vector<std::string> names;
  for (int w = 0; w < t.worker_count(); ++w) names.push_back(t.worker_name(w));
  return names;
}

}  // namespace

namespace {

RunMetadata metadata(const Config& config, const Dataset& data) {
  return {to_yaml(config), std::string(build::kVersion) + " (" + build::kGitRevision + ")", results_yaml(config),
          data.identity, config.experiment.keep_scheme};
}

ResultsLayout layout_of(const Config& config, const Dataset& data) {
  return results_layout(config, data.classes, data.text ? data.text->offsets.back() : 0);
}

}  // namespace

std::string existing_results_verdict(const Config& config, const Dataset& data) {
  const std::string& path = config.experiment.output;
  try {
    ResultsWriter::check_resume(path, layout_of(config, data), metadata(config, data));
  } catch (const Error& e) {
    return "`lira run` will refuse it: " + std::string(e.what());
  }
  const auto done = ResultsReader(path).done();
  const auto finished = std::count(done.begin(), done.end(), uint8_t{1});
  const auto models = static_cast<int64_t>(done.size());
  if (models != config.experiment.models)
    return "`lira run` will grow it from " + std::to_string(models) + " to " + std::to_string(config.experiment.models) +
           " models (keep_scheme pairs: the " + std::to_string(finished) + " models done are kept) and train the rest";
  return "`lira run` will resume it: " + std::to_string(finished) + " of " + std::to_string(done.size()) +
         " models are done (--overwrite starts over)";
}

OpenedResults open_results(const Config& config, const Plan& plan, const Dataset& data, bool overwrite) {
  const std::string& path = config.experiment.output;
  const auto layout = layout_of(config, data);
  const RunMetadata meta = metadata(config, data);
  OpenedResults opened;
  std::error_code ec;
  std::vector<uint64_t> seeds(static_cast<size_t>(plan.models()));
  for (int64_t m = 0; m < plan.models(); ++m) seeds[m] = plan.model_seed(m);
  TextRecordsView text_view;
  if (data.text) text_view = {data.text->tokens, data.text->offsets, data.text->zlib_bytes};
  if (std::filesystem::exists(path, ec) && !overwrite) {
    const int64_t file_models = ResultsWriter::models_in(path);
    if (file_models != plan.models()) {
      // Said once the file is known to be this experiment's: another experiment's file
      // (a subsets keep scheme, another config) is refused without a word about growing.
      ResultsWriter::check_resume(path, layout, meta);
      spdlog::info("growing {} from {} to {} models (experiment.keep_scheme: pairs keeps the first {}): copying it "
                   "into a new file",
                   path, file_models, plan.models(), file_models);
      opened.writer = ResultsWriter::grow(path, layout, meta, plan.blocks(), data.candidates.labels,
                                          data.candidate_index, seeds, data.text ? &text_view : nullptr);
    } else {
      opened.writer = ResultsWriter::resume(path, layout, meta);
    }
    auto& w = *opened.writer;
    const auto max_crashes = config.experiment.max_crashes;
    const auto crashed = w.account_crashes();
    if (!crashed.empty()) {
      std::string list;
      for (auto m : crashed) list += (list.empty() ? "" : ", ") + std::to_string(m);
      spdlog::warn("the last run of {} ended abnormally (a crash, a kill or a lost node) while model(s) {} were "
                   "training: counted in /models/crashes (a model in flight at more than experiment.max_crashes "
                   "= {} such ends fails)",
                   path, list, max_crashes);
    }
    const auto done = w.done();
    int64_t crash_failed = 0;
    for (int64_t m = 0; m < plan.models(); ++m) {
      if (done[m]) {
        ++opened.already_done;
        continue;
      }
      const int32_t crashes = w.crashes(m);
      if (crashes > max_crashes) {
        const std::string why = "in flight at " + std::to_string(crashes) +
                                " abnormal ends of the run; not retried (experiment.max_crashes: " +
                                std::to_string(max_crashes) + ")";
        w.record_failure(m, w.attempts(m), why);
        opened.failed_before.push_back("model " + std::to_string(m) + ": " + why);
        spdlog::error("model {} was {}: marked failed, so a model that takes the job down cannot loop. To try it "
                      "again: --set experiment.max_crashes={}",
                      m, why, crashes);
        ++crash_failed;
        continue;
      }
      opened.pending.push_back(m);
    }
    spdlog::info("resuming {}: {} of {} models are done; {} to train{}", path, opened.already_done, plan.models(),
                 opened.pending.size(),
                 crash_failed > 0 ? "; " + std::to_string(crash_failed) + " failed for good (crashes)" : "");
    return opened;
  }
  std::error_code partial_ec;
  if (std::filesystem::exists(ResultsWriter::partial_path(path), partial_ec))
    spdlog::warn("removing {}: the remains of a run that was stopped while it created its results file",
                 ResultsWriter::partial_path(path));
  if (overwrite && std::filesystem::exists(path, ec)) spdlog::warn("--overwrite: replacing {}", path);
  opened.writer = ResultsWriter::create(path, layout, meta, plan.blocks(), data.candidates.labels, data.candidate_index,
                                        seeds, overwrite ? ResultsWriter::Mode::kOverwrite : ResultsWriter::Mode::kCreateNew,
                                        data.text ? &text_view : nullptr);
  for (int64_t m = 0; m < plan.models(); ++m) opened.pending.push_back(m);
  return opened;
}

SchedulerOptions scheduler_options(const Config& config) {
  SchedulerOptions o;
  o.max_retries = config.experiment.max_retries;
  o.models_per_job = config.parallel.models_per_job;
  o.poll_interval = std::chrono::milliseconds(200);
  o.heartbeat_timeout = std::chrono::seconds(config.experiment.heartbeat_timeout);
  o.grace = std::chrono::seconds(config.experiment.grace_seconds);
  o.stop_requested = [] { return stop_signal(); };
  return o;
}

CoordinatorObserver::CoordinatorObserver(ResultsWriter& writer, CoordinatorTransport& transport, const Config& config,
                                         int64_t already_done)
    : writer_(writer),
      transport_(transport),
      config_(config),
      progress_(config.experiment.models, already_done),
      status_(config.experiment.output, config.experiment.models, worker_names(transport)),
      start_(Clock::now()),
      last_line_(Clock::now()) {
  update_progress();
  status_.write(true);
}

void CoordinatorObserver::update_progress() {
  status_.set_progress(progress_.done(), progress_.failed(), progress_.models_per_minute(), progress_.eta_seconds());
}

void CoordinatorObserver::on_worker_ready(int worker, const WorkerReady& hello) {
  spdlog::debug("{} ready on {} (pid {})", transport_.worker_name(worker), hello.host, hello.pid);
  status_.worker_ready(worker, hello.host, hello.pid);
  status_.write();
}

void CoordinatorObserver::on_job_started(int worker, int64_t model, int32_t attempt) {
  writer_.record_dispatch(model);  // durable with the next commit: crash accounting
  status_.job_started(worker, model, attempt);
  status_.write();
}

void CoordinatorObserver::on_result(int worker, const ModelResult& r) {
  writer_.stage_model(r, worker);  // committed at the next quiet moment
  ++(r.written ? written_by_workers_ : sent_);
  progress_.model_finished();
  last_line_ = Clock::now();
  spdlog::info("model {} done by {}: train acc {:.4f}, test acc {:.4f}, {:.1f} s | {}", r.model,
               transport_.worker_name(worker), r.train_accuracy, r.test_accuracy, r.train_seconds, progress_.summary());
  char word[160];
  std::snprintf(word, sizeof word, "model %lld done: test acc %.4f in %.1f s", static_cast<long long>(r.model),
                r.test_accuracy, r.train_seconds);
  status_.job_ended(worker, r.model, word);
  update_progress();
  status_.write();
}

void CoordinatorObserver::on_failure(int worker, const JobFailure& f, bool will_retry) {
  status_.job_ended(worker, f.model, "model " + std::to_string(f.model) + " failed: " + f.message);
  if (f.retire) {
    spdlog::error("{} retired: {}; it gets no more models", transport_.worker_name(worker), f.message);
    status_.worker_lost(worker, "retired: " + f.message);
  }
  if (will_retry) {
    spdlog::warn("model {} failed on {} (attempt {}), will retry: {}", f.model, transport_.worker_name(worker),
                 f.attempt + 1, f.message);
  } else if (stop_signal() == 0) {
    writer_.record_failure(f.model, f.attempt + 1, f.message);
    progress_.model_failed();
    failures_.push_back("model " + std::to_string(f.model) + ": " + f.message);
    spdlog::error("model {} failed for good after {} attempt(s) on {}{}: {}", f.model, f.attempt + 1,
                  transport_.worker_name(worker),
                  f.deterministic ? " (not retried: the config and data alone cause it, so every attempt would fail)"
                                  : "",
                  f.message);
  }
  update_progress();
  status_.write();
}

void CoordinatorObserver::note_failed(const std::string& what) {
  progress_.model_failed();
  failures_.push_back(what);
  update_progress();
}

void CoordinatorObserver::on_heartbeat(int worker, const Heartbeat&) {
  status_.heartbeat(worker);
  status_.write();
}

void CoordinatorObserver::on_worker_lost(int worker, int64_t model, bool will_retry) {
  const auto silent = config_.experiment.heartbeat_timeout;
  spdlog::error("{} has been silent for {} s: declared lost{}", transport_.worker_name(worker), silent,
                model >= 0 ? "; its model " + std::to_string(model) +
                                 (will_retry ? " goes to another worker" : " has no retries left and fails")
                           : "");
  status_.worker_lost(worker, "silent for " + std::to_string(silent) + " s");
  if (model >= 0 && !will_retry) {
    writer_.record_failure(model, static_cast<int32_t>(config_.experiment.max_retries + 1), "worker lost");
    progress_.model_failed();
    failures_.push_back("model " + std::to_string(model) + ": its worker stopped answering");
  }
  update_progress();
  status_.write(true);
}

void CoordinatorObserver::on_stop_requested(int signal) {
  spdlog::warn("{} received: no new models; running ones may finish within {} s (experiment.grace_seconds), then "
               "the run stops and can be resumed by running the same command again",
               signal_name(signal), config_.experiment.grace_seconds);
  status_.set_state("stopping");
  status_.write(true);
}

void CoordinatorObserver::commit() {
  writer_.commit();
  last_commit_ = Clock::now();
}

// Results are committed (two fsyncs) when the coordinator has nothing else to do, but not
// more often than every kCommitInterval, and at every tick (every 200 ms) whatever comes:
// a kill -9 loses at most the last ~0.2 s of results, which a resumed run trains again.
void CoordinatorObserver::on_quiet() {
  if (writer_.uncommitted() && Clock::now() - last_commit_ >= kCommitInterval) commit();
}

void CoordinatorObserver::on_tick() {
  if (writer_.uncommitted()) commit();
  status_.write();
  if (Clock::now() - last_line_ < std::chrono::seconds(60)) return;
  last_line_ = Clock::now();
  spdlog::info("still running: {}", progress_.summary());
}

int CoordinatorObserver::finish(const ScheduleSummary& summary, bool& must_abort) {
  // Given up at a requested stop: not a crash, so the next run does not count it as one.
  for (auto m : summary.abandoned) writer_.record_abandoned(m);
  writer_.close();
  const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  status_.set_schedule_seconds(seconds);
  const auto& path = config_.experiment.output;
  must_abort = !summary.abandoned.empty() || !summary.lost_workers.empty();
  int code = 0;
  if (summary.stop_signal != 0) {
    std::string abandoned;
    for (auto m : summary.abandoned) abandoned += (abandoned.empty() ? "" : ", ") + std::to_string(m);
    spdlog::warn("stopped by {} after {}: {}/{} models done{}; everything finished is in {}. Run the same command "
                 "again to resume.",
                 signal_name(summary.stop_signal), format_duration(seconds), progress_.done(),
                 config_.experiment.models, abandoned.empty() ? "" : " (model(s) " + abandoned + " were still training and are trained again on resume)", path);
    status_.set_state("interrupted");
    code = static_cast<int>(ExitCode::kInterrupted);
  } else {
    spdlog::info("run finished in {}: {}/{} models done, {} failed; results in {}", format_duration(seconds),
                 progress_.done(), config_.experiment.models, failures_.size(), path);
    std::string per_worker;
    for (size_t w = 0; w < summary.jobs_per_worker.size(); ++w)
      per_worker += (w ? ", " : "") + std::to_string(summary.jobs_per_worker[w]);
    spdlog::info("jobs per worker: {}", per_worker);
    spdlog::info("result rows: {} written into the file by their workers, {} sent to the coordinator "
                 "(parallel.result_writes: {})",
                 written_by_workers_, sent_, config_.parallel.result_writes);
    for (const auto& f : failures_) spdlog::error("failed {}", f);
    status_.set_state(failures_.empty() ? "finished" : "finished with failures");
    if (!failures_.empty()) code = static_cast<int>(ExitCode::kModelsFailed);
    if (!summary.lost_workers.empty()) {
      spdlog::error("{} worker(s) stopped answering or retired during the run; every finished model is in {}",
                    summary.lost_workers.size(), path);
      code = static_cast<int>(ExitCode::kWorkersLost);
    }
    if (code == 0) spdlog::info("next: lira score {}", shell_word(path));
  }
  for (int w = 0; w < transport_.worker_count(); ++w) status_.worker_stopped(w);
  update_progress();
  status_.write(true);
  return code;
}

int run_coordinator(const Config& config, const Plan& plan, OpenedResults& opened, CoordinatorTransport& transport,
                    bool& must_abort) {
  CoordinatorObserver observer(*opened.writer, transport, config, opened.already_done);
  for (const auto& f : opened.failed_before) observer.note_failed(f);
  auto options = scheduler_options(config);
  // Each job's keep row is read from the results file: the coordinator holds no M x N matrix.
  options.keep_row = [&writer = *opened.writer](int64_t model, std::vector<uint8_t>& row) {
    writer.read_keep_row(model, row);
  };
  // Workers write their results' rows into the file themselves (O(1) bytes per model here).
  if (config.parallel.result_writes == "worker") options.direct = opened.writer->direct_rows();
  const auto summary = run_schedule(plan, opened.pending, transport, observer, options);
  return observer.finish(summary, must_abort);
}

}  // namespace lira
