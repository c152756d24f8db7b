// The per-candidate loop of the attack groups, for files compiled with OpenMP only.
#pragma once

#include <cstdint>
#include <vector>

#include "attacks.hpp"

namespace lira {

// Inside an OpenMP parallel region: shares the candidates of a block among the threads
// (static schedule: the same split for the same thread count) and calls fn(j, row) for
// each, row = candidate j's signals of every model, [M, A], from a per-thread tile.
template <class Fn>
void for_each_candidate(const float* block, int64_t models, int64_t count, int64_t queries, std::vector<float>& tile,
                        Fn&& fn) {
#pragma omp for schedule(static)
  for (int64_t t0 = 0; t0 < count; t0 += kTile) {
    const int64_t t1 = t0 + kTile < count ? t0 + kTile : count;
    transpose_tile(block, models, count, queries, t0, t1, tile);
    for (int64_t j = t0; j < t1; ++j) fn(j, tile.data() + (j - t0) * models * queries);
  }
}


}  // namespace lira
