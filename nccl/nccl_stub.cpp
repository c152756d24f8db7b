// The NCCL gang where this build has no NCCL (no CUDA toolkit or nccl.h at configure time).
#include "common/errors.hpp"
#include "nccl/nccl_gang.hpp"

namespace lira {

std::string nccl_version() { return ""; }

std::unique_ptr<GangComm> make_nccl_gang(GangComm&, int, std::chrono::seconds) {
  throw CommError("this build has no NCCL backend (reconfigure with the CUDA toolkit and nccl.h found; see "
                  "lira --version)");
}

}  // namespace lira
