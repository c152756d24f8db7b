// libFuzzer target: decoding coordinator/worker messages from arbitrary bytes. Any input
// must decode or throw CommError -- a corrupt message may never read out of bounds.
#include <cstddef>
#include <cstdint>

#include "common/errors.hpp"
#include "orchestrator/messages.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  try {
    const auto m = lira::decode_worker_message(bytes, size);
    const auto again = lira::encode(m);  // what decodes must encode back to the same bytes
    if (again.size() != size) __builtin_trap();
  } catch (const lira::CommError&) {
  }
  try {
    lira::decode_coordinator_message(bytes, size);
  } catch (const lira::CommError&) {
  }
  return 0;
}
