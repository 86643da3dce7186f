#include "engine/backends/cpu_features.h"

#include <vector>

#include <fmt/format.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace supertonic {

std::string CpuFeatures::ToString() const {
  std::vector<std::string> names;
  if (avx2) names.push_back("AVX2");
  if (avx_vnni) names.push_back("AVX-VNNI");
  if (avx512f) names.push_back("AVX-512F");
  if (avx512_vnni) names.push_back("AVX512-VNNI");
  if (avx512_bf16) names.push_back("AVX512-BF16");
  if (amx_tile) names.push_back("AMX-TILE");
  if (amx_bf16) names.push_back("AMX-BF16");
  if (amx_int8) names.push_back("AMX-INT8");
  if (names.empty()) return "none of AVX2, AVX-512, AMX";
  std::string s = fmt::format("{}", fmt::join(names, " "));
  if (!amx_tile) s += " (no AMX)";
  return s;
}

CpuFeatures DetectCpuFeatures() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1;
  if (!osxsave) return f;
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const unsigned long long xcr0 = (static_cast<unsigned long long>(xcr0_hi) << 32) | xcr0_lo;
  const bool ymm = (xcr0 & 0x6) == 0x6;            // SSE and AVX state
  const bool zmm = ymm && (xcr0 & 0xe0) == 0xe0;   // opmask, ZMM_Hi256, Hi16_ZMM
  const bool tiles = (xcr0 & 0x60000) == 0x60000;  // XTILECFG, XTILEDATA
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const unsigned max_sub = a;
  f.avx2 = ymm && ((b >> 5) & 1);
  f.avx512f = zmm && ((b >> 16) & 1);
  f.avx512_vnni = f.avx512f && ((c >> 11) & 1);
  f.amx_bf16 = tiles && ((d >> 22) & 1);
  f.amx_tile = tiles && ((d >> 24) & 1);
  f.amx_int8 = tiles && ((d >> 25) & 1);
  if (max_sub >= 1) {
    __cpuid_count(7, 1, a, b, c, d);
    f.avx_vnni = ymm && ((a >> 4) & 1);
    f.avx512_bf16 = f.avx512f && ((a >> 5) & 1);
  }
#endif
  return f;
}

}  // namespace supertonic
