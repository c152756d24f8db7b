// Include first in tests that use libtorch: libtorch 2.x (c10/util/logging) defines
// glog-style CHECK macros that would replace doctest's -- a failed check would abort the
// process instead of failing the test, and a passed one would not be counted.
#pragma once

#include <torch/torch.h>

#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LT
#undef CHECK_LE
#undef CHECK_GT
#undef CHECK_GE
#include <doctest/doctest.h>
