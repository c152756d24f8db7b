// Implements Progress: the rate counts only models finished by this process.
#include "progress.hpp"

#include <cmath>
#include <cstdio>
#include <limits>

#include "common/logging.hpp"

namespace lira {

Progress::Progress(int64_t total, int64_t already_done, Clock::time_point start)
    : total_(total), already_done_(already_done), start_(start) {}

double Progress::models_per_minute(Clock::time_point now) const {
  const double minutes = std::chrono::duration<double>(now - start_).count() / 60.0;
  return minutes > 0 ? static_cast<double>(done_now_) / minutes : 0.0;
}

double Progress::eta_seconds(Clock::time_point now) const {
  const double rate = models_per_minute(now);
  const int64_t left = total_ - done() - failed_;
  if (left <= 0) return 0.0;
  if (rate <= 0) return std::numeric_limits<double>::quiet_NaN();
  return 60.0 * static_cast<double>(left) / rate;
}

std::string Progress::summary(Clock::time_point now) const {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%lld/%lld models done", static_cast<long long>(done()),
                static_cast<long long>(total_));
  std::string s = buf;
  if (failed_ > 0) s += " (" + std::to_string(failed_) + " failed)";
  std::snprintf(buf, sizeof buf, ", %.2f models/min, ETA %s", models_per_minute(now),
                format_duration(eta_seconds(now)).c_str());
  return s + buf;
}

}  // namespace lira
