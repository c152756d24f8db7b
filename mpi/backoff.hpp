// Sleeping between polls of non-blocking MPI calls: a blocking MPI wait spins a full core
// in Open MPI (docs/performance.md), which starves data loading on GPU nodes
// and oversubscribed machines.
#pragma once

#include <algorithm>
#include <chrono>
#include <thread>

namespace lira::mpi {

// Sleeps between polls: `fast_polls` short ones first (a reply often follows within a
// millisecond or two: the coordinator answers a result with the next job at once), then
// doubling up to `cap_us`, so a long wait costs a few hundred wake-ups a second at most.
class Backoff {
 public:
  explicit Backoff(int cap_us, int fast_polls = 0) : cap_us_(cap_us), fast_polls_(fast_polls) {}
  void wait() {
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us_));
    if (fast_polls_ > 0) {
      --fast_polls_;
    } else {
      delay_us_ = std::min(delay_us_ * 2, cap_us_);
    }
  }

 private:
  int delay_us_ = 20;
  int cap_us_;
  int fast_polls_;
};

}  // namespace lira::mpi
