// Implements LogisticRegression: standardize, then Newton steps solving the (d+1)^2
// normal equations by Gaussian elimination with partial pivoting.
#include "logistic.hpp"

#include <cmath>
#include <string>

#include "common/errors.hpp"

namespace lira {
namespace {

// Solves A x = b in place (A: n x n row-major). Returns false if A is singular.
bool solve(std::vector<double>& A, std::vector<double>& b, int64_t n) {
  for (int64_t c = 0; c < n; ++c) {
    int64_t p = c;
    for (int64_t r = c + 1; r < n; ++r)
      if (std::abs(A[r * n + c]) > std::abs(A[p * n + c])) p = r;
    if (std::abs(A[p * n + c]) < 1e-300) return false;
    if (p != c) {
      for (int64_t k = 0; k < n; ++k) std::swap(A[c * n + k], A[p * n + k]);
      std::swap(b[c], b[p]);
    }
    for (int64_t r = c + 1; r < n; ++r) {
      const double f = A[r * n + c] / A[c * n + c];
      for (int64_t k = c; k < n; ++k) A[r * n + k] -= f * A[c * n + k];
      b[r] -= f * b[c];
    }
  }
  for (int64_t c = n - 1; c >= 0; --c) {
    for (int64_t k = c + 1; k < n; ++k) b[c] -= A[c * n + k] * b[k];
    b[c] /= A[c * n + c];
  }
  return true;
}

}  // namespace

void LogisticRegression::fit(std::span<const double> x, std::span<const uint8_t> y, int64_t d, double ridge,
                             int max_iterations) {
  const int64_t rows = static_cast<int64_t>(y.size());
  if (static_cast<int64_t>(x.size()) != rows * d) throw ScoreError("logistic regression: x and y disagree in size");
  int64_t ones = 0;
  for (auto v : y) ones += v ? 1 : 0;
  if (ones == 0 || ones == rows) throw ScoreError("logistic regression: training data has a single class");
  mean_.assign(d, 0.0), scale_.assign(d, 1.0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t k = 0; k < d; ++k) mean_[k] += x[i * d + k];
  for (auto& m : mean_) m /= static_cast<double>(rows);
  std::vector<double> var(d, 0.0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t k = 0; k < d; ++k) var[k] += std::pow(x[i * d + k] - mean_[k], 2);
  for (int64_t k = 0; k < d; ++k) {
    const double sd = std::sqrt(var[k] / static_cast<double>(rows));
    scale_[k] = std::isfinite(sd) && sd > 0 ? sd : 1.0;
  }
  const int64_t p = d + 1;
  w_.assign(p, 0.0);
  std::vector<double> z(p);
  for (iterations_ = 1; iterations_ <= max_iterations; ++iterations_) {
    std::vector<double> grad(p, 0.0), hess(p * p, 0.0);
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t k = 0; k < d; ++k) z[k] = (x[i * d + k] - mean_[k]) / scale_[k];
      z[d] = 1.0;
      double eta = 0;
      for (int64_t k = 0; k < p; ++k) eta += w_[k] * z[k];
      const double mu = 1.0 / (1.0 + std::exp(-eta));
      const double r = (y[i] ? 1.0 : 0.0) - mu, wgt = mu * (1.0 - mu);
      for (int64_t a = 0; a < p; ++a) {
        grad[a] += r * z[a];
        for (int64_t b = 0; b <= a; ++b) hess[a * p + b] += wgt * z[a] * z[b];
      }
    }
    for (int64_t a = 0; a < p; ++a)
      for (int64_t b = 0; b < a; ++b) hess[b * p + a] = hess[a * p + b];
    const double lambda = ridge * static_cast<double>(rows);
    for (int64_t k = 0; k < d; ++k) {  // the intercept is not penalized
      grad[k] -= lambda * w_[k];
      hess[k * p + k] += lambda;
    }
    if (!solve(hess, grad, p)) throw ScoreError("logistic regression: singular Hessian (constant features?)");
    double step = 0;
    for (int64_t k = 0; k < p; ++k) w_[k] += grad[k], step = std::max(step, std::abs(grad[k]));
    if (step < 1e-10) break;
  }
}

double LogisticRegression::predict(std::span<const double> row) const {
  const int64_t d = static_cast<int64_t>(mean_.size());
  double eta = w_[d];
  for (int64_t k = 0; k < d; ++k) eta += w_[k] * (row[k] - mean_[k]) / scale_[k];
  return eta;
}

std::vector<double> LogisticRegression::weights() const {
  std::vector<double> w(mean_.size());
  for (size_t k = 0; k < w.size(); ++k) w[k] = w_[k] / scale_[k];
  return w;
}

double LogisticRegression::intercept() const {
  double b = w_.back();
  for (size_t k = 0; k < mean_.size(); ++k) b -= w_[k] * mean_[k] / scale_[k];
  return b;
}

}  // namespace lira
