#pragma once
// WAV files through libsndfile.
#include <filesystem>
#include <span>
#include <vector>

namespace supertonic::audio {

enum class WavFormat { kPcm16, kFloat32 };

// Mono. Throws std::runtime_error naming the path on failure.
void WriteWav(const std::filesystem::path& path, std::span<const float> samples, int sample_rate,
              WavFormat format = WavFormat::kPcm16);

struct WavData {
  std::vector<float> samples;  // mono (channels averaged)
  int sample_rate = 0;
};
WavData ReadWav(const std::filesystem::path& path);

}  // namespace supertonic::audio
