// The files a run keeps beside its results file, named in one place: each is the results
// path plus a suffix, so `thesis.h5` has `thesis.h5.log`, `thesis.h5.lock` and
// `thesis.h5.status.json` (and a Slurm job's `thesis.h5.slurm-JOBID.out`), whatever the
// results file's extension.
#pragma once

#include <string>

namespace lira::side_files {

inline std::string log(const std::string& results) { return results + ".log"; }                  // the run's log
inline std::string lock(const std::string& results) { return results + ".lock"; }                // common/run_lock.hpp
inline std::string status(const std::string& results) { return results + ".status.json"; }       // orchestrator/run_status.hpp

}  // namespace lira::side_files
