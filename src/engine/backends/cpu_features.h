#pragma once
// What the CPU can do that the backends care about (reduced precision above
// all), read from CPUID with the operating system's register-state support.
// Tests inject their own CpuFeatures instead of needing another machine.
#include <string>

namespace supertonic {

struct CpuFeatures {
  bool avx2 = false;
  bool avx512f = false;
  bool avx512_vnni = false;
  bool avx512_bf16 = false;  // VDPBF16PS: bf16 dot products on AVX-512
  bool avx_vnni = false;
  bool amx_tile = false;
  bool amx_bf16 = false;     // bf16 tile matrix multiply (Sapphire Rapids and later)
  bool amx_int8 = false;

  // bf16 compute at full speed: AVX512_BF16 or AMX-BF16.
  bool bf16() const { return avx512_bf16 || amx_bf16; }
  // e.g. "AVX2 AVX-512F AVX512-VNNI AVX512-BF16 (no AMX)"; "none of AVX2, AVX-512, AMX" when bare.
  std::string ToString() const;
};

// This machine's CPU: CPUID leaves 7.0 and 7.1, masked by what XGETBV says the
// OS saves (YMM, ZMM and AMX tile state). All false on non-x86 builds.
CpuFeatures DetectCpuFeatures();

}  // namespace supertonic
