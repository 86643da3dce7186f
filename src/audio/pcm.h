#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace supertonic::audio {

// Float in [-1, 1] to 16-bit PCM, clipping anything outside.
int16_t ToPcm16(float sample);
void AppendPcm16(std::span<const float> samples, std::vector<int16_t>& out);

}  // namespace supertonic::audio
