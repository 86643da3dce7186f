// The libFuzzer entry point of one fuzz target: SUPERTONIC_FUZZ_ENTRY names
// its function (tests/fuzz/CMakeLists.txt sets it per executable).
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return supertonic::fuzz::SUPERTONIC_FUZZ_ENTRY(data, size);
}
