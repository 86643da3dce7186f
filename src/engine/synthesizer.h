#pragma once
// The Supertonic pipeline: text -> ids -> duration -> text embedding ->
// N flow-matching steps -> vocoder, for a batch whose items may differ in
// voice, language, speed and length.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine_config.h"
#include "engine/model_config.h"
#include "engine/supertonic_model.h"
#include "engine/unicode_indexer.h"
#include "engine/voice_style.h"

namespace supertonic {

struct SynthesisItem {
  std::string text;   // one chunk: at most ChunkLimitFor(lang) characters is what the model was trained on
  std::string lang;
  std::string voice;
  float speed = 1.05f;
  uint64_t seed = 0;  // noise seed; an item's noise depends only on its seed and length
  // Optional initial noise [latent_channels, L_item] (row-major), replacing
  // the seeded noise, so another implementation can be compared exactly.
  std::shared_ptr<const std::vector<float>> noise;
};

struct ItemAudio {
  std::vector<float> samples;   // at ModelConfig::sample_rate, trimmed to the predicted duration
  double duration_s = 0;        // predicted duration after the speed factor
  std::size_t num_tokens = 0;   // text ids fed to the model, tags included
  std::size_t unknown_chars = 0;
  int64_t latent_frames = 0;
};

struct StageTimes {
  double duration_predictor_s = 0, text_encoder_s = 0, vector_estimator_s = 0, vocoder_s = 0;
};

struct BatchAudio {
  std::vector<ItemAudio> items;
  StageTimes times;
};

class Synthesizer {
 public:
  static constexpr int kMaxSteps = 64;
  static constexpr int64_t kMaxTokens = 1000;        // the graphs' rotary buffers end near here
  static constexpr int64_t kMaxLatentFrames = 1000;

  explicit Synthesizer(const EngineConfig& config);
  ~Synthesizer();

  const ModelConfig& model_config() const { return model_config_; }
  const VoiceLibrary& voices() const { return voices_; }
  const UnicodeIndexer& indexer() const { return indexer_; }
  const std::string& execution_provider() const { return model_->execution_provider(); }

  // Preprocessing and indexing alone (what `supertonic-tts ids` prints).
  EncodedText Encode(const std::string& text, const std::string& lang) const;

  // Throws InvalidRequest for an unknown voice or language, steps outside
  // 1..kMaxSteps, a speed outside (0, 10], or text over kMaxTokens ids;
  // Cancelled when `control` was cancelled.
  BatchAudio SynthesizeBatch(const std::vector<SynthesisItem>& items, int steps, RunControl* control = nullptr) const;

  // Any length of text: chunks it, synthesizes the chunks as one batch and
  // joins them with `pause_s` of silence, as the reference does.
  std::vector<float> SynthesizeText(const std::string& text, const std::string& lang, const std::string& voice,
                                    int steps, float speed, uint64_t seed = 0, double pause_s = 0.3) const;

  // Exposed for tests: how many latent frames a waveform of `samples` needs.
  int64_t LatentFramesFor(int64_t samples) const;

 private:
  ModelConfig model_config_;
  UnicodeIndexer indexer_;
  VoiceLibrary voices_;
  std::unique_ptr<SupertonicModel> model_;
};

}  // namespace supertonic
