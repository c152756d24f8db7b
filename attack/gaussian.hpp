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

// log N(x; mean, sd^2).
double log_normal_pdf(double x, double mean, double sd);

// log Phi(z), Phi the standard normal CDF; accurate for z down to about -1e150.
double log_normal_cdf(double z);

}  // namespace lira
