// The keep matrix [M, N] passed in blocks, so that neither the plan nor the results file
// ever holds it whole (M x N bytes: 60 MB at 1,000 models x 60,000 candidates).
#pragma once

#include <cstdint>
#include <functional>

namespace lira {

// Receives the block [m0, m0 + rows) x [n0, n0 + cols) of the keep matrix, row-major,
// 0/1 bytes.
using KeepBlockSink = std::function<void(int64_t m0, int64_t rows, int64_t n0, int64_t cols, const uint8_t* block)>;
// Calls the sink with blocks that together cover the whole matrix once.
using KeepBlocks = std::function<void(const KeepBlockSink&)>;

}  // namespace lira
