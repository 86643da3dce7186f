#include "audio/pcm.h"

#include <cmath>

namespace supertonic::audio {

int16_t ToPcm16(float sample) {
  if (!(sample == sample)) return 0;  // NaN
  const float scaled = std::nearbyint(sample * 32767.0f);
  if (scaled >= 32767.0f) return 32767;
  if (scaled <= -32768.0f) return -32768;
  return static_cast<int16_t>(scaled);
}

void AppendPcm16(std::span<const float> samples, std::vector<int16_t>& out) {
  out.reserve(out.size() + samples.size());
  for (float s : samples) out.push_back(ToPcm16(s));
}

}  // namespace supertonic::audio
