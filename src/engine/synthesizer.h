#pragma once
// The Supertonic pipeline: text -> ids -> duration -> text embedding ->
// N flow-matching steps -> vocoder, for a batch whose items may differ in
// voice, language, speed and length.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/batch_exactness_check.h"
#include "engine/engine_config.h"
#include "engine/model_config.h"
#include "engine/model_profile.h"
#include "engine/streaming_vocoder.h"
#include "engine/supertonic_model.h"
#include "engine/voice_style.h"
#include "text/text_normalizer.h"
#include "text/unicode_indexer.h"
#include "text/word_timing.h"

namespace supertonic {

struct SynthesisItem {
  std::string text;   // one chunk: at most profile().ChunkLimit(lang) characters is what the model was trained on
  std::string lang;   // one of profile().languages
  std::string voice;  // a voice of the model's VoiceLibrary, unless `style` is given (then a name for logs)
  float speed = 1.05f;  // within the profile's range (ModelProfile::SpeedAllowed)
  uint64_t seed = 0;  // noise seed; an item's noise depends only on its seed and length
  // Optional initial noise [latent_channels, L_item] (row-major), replacing
  // the seeded noise, so another implementation can be compared exactly.
  std::shared_ptr<const std::vector<float>> noise;
  // The voice's style tensors, when they do not come from the model's own
  // voices (a voice file, an upload, a blend): held by the item, so nothing
  // can change or free them while it is synthesized.
  std::shared_ptr<const VoiceStyle> style = nullptr;
};

struct ItemAudio {
  std::vector<float> samples;   // at ModelConfig::sample_rate, trimmed to the predicted duration
  double duration_s = 0;        // predicted duration after the speed factor
  std::size_t num_tokens = 0;   // text ids fed to the model, tags included
  std::size_t unknown_chars = 0;
  int64_t latent_frames = 0;
  // The duration predictor ran away (more than the profile's
  // max_seconds_per_token per text id): its duration was clamped to that bound.
  bool duration_clamped = false;
};

struct StageTimes {
  double duration_predictor_s = 0, text_encoder_s = 0, vector_estimator_s = 0, vocoder_s = 0;
};

struct BatchAudio {
  std::vector<ItemAudio> items;
  StageTimes times;
};

// An item's audio as it is vocoded: consecutive pieces, the last one with
// final = true (possibly empty).
struct AudioPiece {
  std::size_t item = 0;
  std::span<const float> samples;
  bool final = false;
  double duration_s = 0;  // the item's predicted duration
  int64_t latent_frames = 0;  // the item's, as ItemAudio (for TokenTimelineOf)
  std::size_t num_tokens = 0;
};
// Called on the synthesizing thread.
using AudioSink = std::function<void(const AudioPiece& piece)>;

class Synthesizer {
 public:
  static constexpr int kMaxSteps = 64;
  static constexpr int64_t kMaxTokens = 1000;        // the graphs' rotary buffers end near here
  static constexpr int64_t kMaxLatentFrames = 1000;

  explicit Synthesizer(const EngineConfig& config);
  ~Synthesizer();

  const ModelConfig& model_config() const { return model_config_; }
  const ModelProfile& profile() const { return profile_; }
  const VoiceLibrary& voices() const { return voices_; }
  const UnicodeIndexer& indexer() const { return indexer_; }
  const std::string& execution_provider() const { return model_->execution_provider(); }

  // Preprocessing (for this model's profile: its expression tags) and
  // indexing alone (what `supertonic-tts ids` prints).
  EncodedText Encode(const std::string& text, const std::string& lang) const;

  // Throws InvalidRequest for an unknown voice, a language the model does not
  // speak (the message lists the ones it does), steps or a speed outside the
  // profile's ranges, or text over kMaxTokens ids; Cancelled when `control`
  // was cancelled. A runaway predicted duration is clamped (ItemAudio::duration_clamped).
  //
  // With a sink, each item's audio goes to the sink as it is produced (in
  // chunks when the streaming vocoder is on) and ItemAudio::samples stay empty.
  // `concurrent_calls`: how many model calls share the CPU with this one, so
  // that the first audio chunk covers vocoding the rest at that slower pace.
  BatchAudio SynthesizeBatch(const std::vector<SynthesisItem>& items, int steps, RunControl* control = nullptr,
                             const AudioSink& sink = {}, int concurrent_calls = 1) const;

  // Whether items of different lengths may share a batch: measured at load on
  // the graphs as loaded (padding rewritten unless configured off). When not,
  // SynthesizeText runs its chunks one at a time and the service does not batch.
  const BatchExactness& batch_exactness() const { return batch_exactness_; }
  bool mixed_length_batches_exact() const { return batch_exactness_.exact; }
  const SupertonicModel& model() const { return *model_; }

  // Whether audio streams in chunks, and why not when it does not.
  const VocoderProbeResult& vocoder_probe() const { return vocoder_probe_; }
  bool streaming_vocoder() const { return streaming_ != nullptr; }
  // The chunks a batch of `latent_frames` would be vocoded in.
  std::vector<FrameRange> VocoderPlan(int64_t latent_frames, int64_t batch, int concurrent_calls = 1) const;

  // Any length of text: chunks it at the profile's limit for `lang`,
  // normalizes each chunk (unless EngineConfig::normalize_text is off),
  // synthesizes the chunks as one batch and joins them with `pause_s` of
  // silence, as the reference does.
  // `style`, when given, is the voice (SynthesisItem::style).
  std::vector<float> SynthesizeText(const std::string& text, const std::string& lang, const std::string& voice,
                                    int steps, float speed, uint64_t seed = 0, double pause_s = 0.3,
                                    std::shared_ptr<const VoiceStyle> style = nullptr) const;

  // Where an item's ids sit in its audio (ItemAudio's or AudioPiece's figures).
  TokenTimeline TokenTimelineOf(int64_t latent_frames, std::size_t num_tokens, double duration_s) const;
  // When each word of `written` is heard in the item the model made of
  // `spoken` (`written` normalized, or `written` itself) in `lang`.
  std::vector<WordTime> TimeWords(std::string_view written, std::string_view spoken, const std::string& lang,
                                  const TokenTimeline& timeline) const;

  // Exposed for tests: how many latent frames a waveform of `samples` needs.
  int64_t LatentFramesFor(int64_t samples) const;

 private:
  void CheckBatching();

  ModelConfig model_config_;
  UnicodeIndexer indexer_;
  ModelProfile profile_;  // detected from the files above and the text encoder
  VoiceLibrary voices_;
  std::unique_ptr<SupertonicModel> model_;
  EngineConfig config_;
  BatchExactness batch_exactness_;
  VocoderProbeResult vocoder_probe_;
  std::unique_ptr<StreamingVocoder> streaming_;
  TextNormalizer normalizer_;
};

}  // namespace supertonic
