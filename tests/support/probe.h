#pragma once
// Decodes probe-model audio back to text with tools/probe_decode.py, the same
// documented command any independent checker uses.
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace supertonic::testing {

struct DecodedChar {
  std::string ch;
  double start_s = 0;
  double duration_s = 0;
};

struct DecodedAudio {
  std::string text;  // NFC
  std::vector<DecodedChar> chars;
};

DecodedAudio DecodeProbeAudio(std::span<const float> samples, int sample_rate);

}  // namespace supertonic::testing
