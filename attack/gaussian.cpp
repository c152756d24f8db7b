// Implements the Gaussian helpers.
#include "gaussian.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace lira {

Moments moments(std::span<const double> values) {
  Moments m;
  m.count = static_cast<int64_t>(values.size());
  if (values.empty()) {
    m.mean = m.sd = std::numeric_limits<double>::quiet_NaN();
    return m;
  }
  double sum = 0;
  for (double v : values) sum += v;
  m.mean = sum / static_cast<double>(values.size());
  double ss = 0;
  for (double v : values) ss += (v - m.mean) * (v - m.mean);
  m.sd = std::sqrt(ss / static_cast<double>(values.size()));
  return m;
}

double RunningMoments::sd() const {
  return count ? std::sqrt(m2 / static_cast<double>(count)) : std::numeric_limits<double>::quiet_NaN();
}

namespace {

// Lomuto partition without branches on the data ("Lomuto's comeback", Orson Peters): a
// comparison outcome only moves an index, so random data costs no branch mispredictions,
// which dominate a branchy selection of ~100 values. Returns the number of values < pivot.
size_t partition_below(double* a, size_t n, double pivot) {
  size_t j = 0;
  for (size_t i = 0; i < n; ++i) {
    const double x = a[i];
    const bool smaller = x < pivot;
    a[i] = a[j];
    a[j] = x;
    j += smaller;
  }
  return j;
}

// Moves the k-th smallest value to a[k], smaller ones before it, larger or equal after.
void select_kth(double* a, size_t n, size_t k) {
  while (n > 16) {
    // Median of three as the pivot value.
    const double x = a[0], y = a[n / 2], z = a[n - 1];
    const double pivot = std::max(std::min(x, y), std::min(std::max(x, y), z));
    const size_t below = partition_below(a, n, pivot);
    if (k < below) {
      n = below;
      continue;
    }
    // [below, n) holds values >= pivot; move those equal to the pivot to its front.
    const size_t equal = below + [&] {
      size_t j = 0;
      double* b = a + below;
      const size_t m = n - below;
      for (size_t i = 0; i < m; ++i) {
        const double v = b[i];
        const bool eq = !(pivot < v);
        b[i] = b[j];
        b[j] = v;
        j += eq;
      }
      return j;
    }();
    if (k < equal) return;  // a[k] == pivot
    a += equal, n -= equal, k -= equal;
  }
  std::sort(a, a + n);  // insertion-sort sized: cheap and exact
  (void)k;
}

}  // namespace

double median(std::span<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  const size_t mid = v.size() / 2;
  select_kth(v.data(), v.size(), mid);
  const double upper = v[mid];
  if (v.size() % 2 == 1) return upper;
  double lower = v[0];
  for (size_t i = 1; i < mid; ++i) lower = std::max(lower, v[i]);
  return (lower + upper) / 2.0;
}

double log_normal_pdf(double x, double mean, double sd) {
  const double z = (x - mean) / sd;
  return -0.5 * z * z - std::log(sd) - 0.5 * std::log(2.0 * std::numbers::pi);
}

double log_normal_cdf(double z) {
  if (std::isnan(z)) return z;
  if (z > 0) return std::log1p(-0.5 * std::erfc(z / std::numbers::sqrt2));
  if (z > -20) return std::log(0.5 * std::erfc(-z / std::numbers::sqrt2));
  // Lower tail: Phi(z) = phi(z)/(-z) * (1 - 1/z^2 + 3/z^4 - 15/z^6 + 105/z^8 - 945/z^10 ...);
  // at z <= -20 the first omitted term is below 3e-12 relative.
  const double u = 1.0 / (z * z);
  const double series = 1.0 + u * (-1.0 + u * (3.0 + u * (-15.0 + u * (105.0 + u * -945.0))));
  const double z2 = z * z;
  return -0.5 * z2 - std::log(-z) - 0.5 * std::log(2.0 * std::numbers::pi) + std::log(series);
}

}  // namespace lira
