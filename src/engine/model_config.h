#pragma once
// What the engine needs from a model directory's onnx/tts.json.
#include <filesystem>
#include <string>
#include <vector>

namespace supertonic {

struct ModelConfig {
  int sample_rate = 44100;
  int base_chunk_size = 512;        // waveform samples per latent sub-frame
  int chunk_compress_factor = 6;    // sub-frames packed into one latent frame
  int latent_dim = 24;
  // Supertonic 2's published languages until the Synthesizer sets the model
  // profile's (model_profile.h); a config that lists its own replaces both.
  std::vector<std::string> languages{"en", "ko", "es", "pt", "fr"};
  bool languages_from_file = false;  // tts.json listed them

  int samples_per_latent_frame() const { return base_chunk_size * chunk_compress_factor; }
  int latent_channels() const { return latent_dim * chunk_compress_factor; }
  bool SupportsLanguage(const std::string& lang) const;

  // Throws ModelError naming the file and field on anything unusable.
  static ModelConfig Load(const std::filesystem::path& tts_json);
};

}  // namespace supertonic
