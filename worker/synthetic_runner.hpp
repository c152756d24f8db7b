// model.arch: synthetic -- a benchmark workload for the orchestration (docs/performance.md).
// A job trains nothing: it sleeps model.job_seconds (times model.synthetic_slowdown on the
// slow workers), fails with probability model.synthetic_failure_rate (seeded per job and
// attempt), and returns random signals of the layout's shape, deterministic in the job's
// seed. No dataset is read, no libtorch is loaded.
#pragma once

#include <functional>
#include <memory>

#include "common/config.hpp"
#include "job_runner.hpp"

namespace lira {

// `worker_index` (0-based, over all workers) decides which workers are slow.
// `progress` (may be empty) is called about once a second while a job sleeps.
std::unique_ptr<JobRunner> make_synthetic_runner(const Config& config, int worker_index,
                                                 std::function<void()> progress = nullptr);

}  // namespace lira
