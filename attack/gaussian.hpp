// Gaussian helpers for LiRA, in float64: moments with ddof = 0, log density, and a log
// CDF that stays accurate far into the lower tail (offline LiRA's log Pr[Z < s] of
// strong members is a large negative number, not -inf).
#pragma once

#include <cstdint>
#include <span>

namespace lira {

struct Moments {
  double mean = 0;
  double sd = 0;  // population standard deviation (ddof = 0)
  int64_t count = 0;
};

// Two-pass mean and standard deviation; count == 0 gives NaN mean and sd.
Moments moments(std::span<const double> values);

// Count, mean and sum of squared deviations, updated one value at a time (Welford) and
// merged across threads or blocks (Chan et al.), without the cancellation of sum-of-squares.
struct RunningMoments {
  int64_t count = 0;
  double mean = 0, m2 = 0;
  void add(double x) {
    ++count;
    const double d = x - mean;
    mean += d / static_cast<double>(count);
    m2 += d * (x - mean);
  }
  void merge(const RunningMoments& o) {
    if (o.count == 0) return;
    if (count == 0) {
      *this = o;
      return;
    }
    const double n = static_cast<double>(count + o.count);
    const double d = o.mean - mean;
    mean += d * static_cast<double>(o.count) / n;
    m2 += o.m2 + d * d * static_cast<double>(count) * static_cast<double>(o.count) / n;
    count += o.count;
  }
  double sd() const;  // population (ddof = 0); NaN when empty
};

// Median of the values (reorders them); NaN when empty. numpy's: the mean of the two
// middle values for an even count.
double median(std::span<double> values);

// log N(x; mean, sd^2).
double log_normal_pdf(double x, double mean, double sd);

// log Phi(z), Phi the standard normal CDF; accurate for z down to about -1e150.
double log_normal_cdf(double z);

}  // namespace lira
