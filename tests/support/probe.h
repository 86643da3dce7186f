#pragma once
// Decodes probe-model audio back to text with tools/probe_decode.py, the same
// documented command any independent checker uses.
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "support/test_paths.h"

namespace supertonic::testing {

// How long the probe model speaks each text id, at speed 1 (tools/models/probe.py).
inline constexpr double kProbeCharSeconds = 0.15;

struct DecodedChar {
  std::string ch;
  double start_s = 0;
  double duration_s = 0;
};

struct DecodedAudio {
  std::string text;  // NFC
  std::vector<DecodedChar> chars;
};

// `model_dir`: the probe model that spoke (its indexer maps the tones back to
// characters): models/probe by default, models/probe-v3 for the v3 one.
DecodedAudio DecodeProbeAudio(std::span<const float> samples, int sample_rate,
                              const std::filesystem::path& model_dir = ProbeModelDir());

}  // namespace supertonic::testing
