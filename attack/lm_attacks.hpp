// The per-record scores of the Min-K% attacks, for one record's predicted tokens (NaN
// entries -- the begin-of-record slot -- are skipped). Exposed for the unit tests.
#pragma once

#include <span>

namespace lira {

// Mean of the lowest max(1, floor(k x n)) log-probabilities (Shi et al. 2024, MIMIR's min_k).
double min_k_score(std::span<const float> logprob, double k);
// The same over z_t = (log p_t - mu_t) / sigma_t (Zhang et al. 2024, Min-K%++).
double min_k_plus_plus_score(std::span<const float> logprob, std::span<const float> mu, std::span<const float> sigma,
                             double k);

}  // namespace lira
