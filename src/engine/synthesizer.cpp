#include "engine/synthesizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "text/exceptions.h"
#include "text/reference_preprocessor.h"
#include "text/text_chunker.h"

namespace supertonic {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct PreparedItem {
  EncodedText encoded;
  const VoiceStyle* voice = nullptr;
};

// A duration far above what the model says per text id is a runaway (reported
// for Supertonic 3): clamped, so that one item cannot hold the device for
// seconds of babble or silence.
void ClampRunawayDurations(const ModelProfile& profile, const std::vector<SynthesisItem>& items,
                           const std::vector<PreparedItem>& prepared, std::vector<float>& durations, BatchAudio& out) {
  for (size_t i = 0; i < items.size() && i < durations.size(); ++i) {
    const std::size_t ids = prepared[i].encoded.ids.size();
    const double bound = profile.max_seconds_per_token * static_cast<double>(ids);
    if (!(durations[i] > bound)) continue;  // NaN is not a runaway: it gives no audio below
    spdlog::warn("runaway duration clamped: item {} ({} characters of text, {} ids) predicted {:.2f} s ({:.3f} s "
                 "per id), bound {:.2f} s ({} s per id, {})",
                 i, CountCodePoints(items[i].text), ids, durations[i],
                 durations[i] / static_cast<double>(std::max<std::size_t>(ids, 1)), bound,
                 profile.max_seconds_per_token, profile.name);
    durations[i] = static_cast<float>(bound);
    out.items[i].duration_clamped = true;
  }
}

}  // namespace

Synthesizer::Synthesizer(const EngineConfig& config)
    : model_config_(ModelConfig::Load(config.model_dir / "onnx" / "tts.json")),
      indexer_(UnicodeIndexer::Load(config.model_dir / "onnx" / "unicode_indexer.json")),
      profile_(DetectModelProfile(config.model_dir, indexer_, model_config_)),
      voices_(VoiceLibrary::Load(config.model_dir / "voice_styles")),
      model_(std::make_unique<SupertonicModel>(config)),
      config_(config) {
  // What the service offers comes from here: the profile's list, or tts.json's.
  model_config_.languages = profile_.languages;
  if (config.max_chunk_chars > 0) {
    profile_.OverrideChunkChars(static_cast<std::size_t>(config.max_chunk_chars));
    spdlog::info("model: chunks of {} characters (configured; the {} profile's default replaced)",
                 profile_.chunk_chars, profile_.name);
  }
  CheckBatching();
  if (!config.chunked_vocoder) {
    vocoder_probe_.reason = "disabled by configuration";
    return;
  }
  vocoder_probe_ = StreamingVocoder::Probe(*model_, model_config_.latent_channels(),
                                           model_config_.samples_per_latent_frame());
  if (vocoder_probe_.causal) {
    streaming_ = std::make_unique<StreamingVocoder>(*model_, model_config_.samples_per_latent_frame(),
                                                    vocoder_probe_.context_frames);
    spdlog::info("streaming vocoder on: causal, {} latent frames of left context, {:.2f} ms per frame",
                 vocoder_probe_.context_frames, vocoder_probe_.seconds_per_frame * 1000);
  } else {
    spdlog::warn("streaming vocoder off: {}; vocoding each segment in one run", vocoder_probe_.reason);
  }
}

void Synthesizer::CheckBatching() {
  std::vector<std::string> rewrites;
  for (size_t g = 0; g < kGraphCount; ++g) {
    const PaddingRewrite& padding = model_->padding(static_cast<Graph>(g));
    if (padding.edge_pads > 0) rewrites.push_back(fmt::format("{}: {}", GraphName(static_cast<Graph>(g)), padding.Summary()));
  }
  const std::string pads = !config_.rewrite_batch_padding ? "padding rewrite off by configuration"
                           : rewrites.empty()            ? "no edge pads to rewrite"
                                                         : fmt::format("{}", fmt::join(rewrites, "; "));
  const auto names = voices_.names();
  const VoiceStyle* voice = names.empty() ? nullptr : voices_.Find(names.front());
  VoiceStyle silent;
  silent.ttl.assign(VoiceStyle::kTtlTokens * VoiceStyle::kTtlDim, 0.0f);
  silent.dp.assign(VoiceStyle::kDpTokens * VoiceStyle::kDpDim, 0.0f);
  const EncodedText sample = Encode("Batch probe: the quick brown fox.", "en");
  try {
    batch_exactness_ = CheckBatchExactness(*model_, voice ? *voice : silent, sample.ids, model_config_.latent_channels(),
                                       model_config_.samples_per_latent_frame());
  } catch (const std::exception& e) {
    // A model that cannot run these inputs is not this probe's to judge:
    // batching stays off, and the first real synthesis reports the failure.
    batch_exactness_ = BatchExactness{};
    batch_exactness_.reason = std::string("the graphs failed on the batch check's inputs: ") + e.what();
  }
  if (batch_exactness_.exact) {
    spdlog::info("batching: mixed-length batches exact (largest deviation {:.2g}{}); {}", batch_exactness_.max_deviation,
                 batch_exactness_.worst_graph.empty() ? "" : ", " + batch_exactness_.worst_graph, pads);
  } else {
    spdlog::warn("batching: mixed-length batches off: {}; {}", batch_exactness_.reason, pads);
  }
}

std::vector<FrameRange> Synthesizer::VocoderPlan(int64_t latent_frames, int64_t batch, int concurrent_calls) const {
  if (!streaming_) return {{0, latent_frames}};
  int64_t first = config_.vocoder_first_chunk_frames;
  if (first <= 0) {
    // Enough audio in the first chunk to play while the rest is vocoded, with a margin.
    const double margin = 1.5;
    const double frame_s =
        static_cast<double>(model_config_.samples_per_latent_frame()) / model_config_.sample_rate;
    const double cost = margin * vocoder_probe_.seconds_per_frame * static_cast<double>(std::max<int64_t>(1, batch)) *
                        static_cast<double>(std::max(1, concurrent_calls));
    first = static_cast<int64_t>(std::ceil(cost * static_cast<double>(latent_frames) / (frame_s + cost)));
    first = std::max<int64_t>(first, config_.vocoder_min_first_chunk_frames);
  }
  return PlanVocoderChunks(latent_frames, first, config_.vocoder_chunk_frames);
}

Synthesizer::~Synthesizer() = default;

EncodedText Synthesizer::Encode(const std::string& text, const std::string& lang) const {
  PreprocessedText pre = PreprocessText(text, lang, profile_.expression_tags);
  EncodedText enc = indexer_.Encode(pre.text);
  enc.unknown_chars += pre.invalid_bytes;
  return enc;
}

TokenTimeline Synthesizer::TokenTimelineOf(int64_t latent_frames, std::size_t num_tokens, double duration_s) const {
  TokenTimeline t;
  t.audio_s = std::max(0.0, duration_s);
  t.seconds_per_frame = static_cast<double>(model_config_.samples_per_latent_frame()) / model_config_.sample_rate;
  if (num_tokens > 0 && latent_frames > 0) {
    t.frames_per_token = static_cast<double>(latent_frames) / static_cast<double>(num_tokens);
  }
  return t;
}

std::vector<WordTime> Synthesizer::TimeWords(std::string_view written, std::string_view spoken, const std::string& lang,
                                             const TokenTimeline& timeline) const {
  const PreprocessedText model_text = PreprocessText(spoken, lang, profile_.expression_tags);
  // Rewritten words weigh what each says alone.
  auto spoken_length = [&](std::string_view word) { return CountCodePoints(normalizer_.Normalize(word, lang)); };
  return supertonic::TimeWords(written, model_text.text, indexer_, timeline, spoken_length);
}

int64_t Synthesizer::LatentFramesFor(int64_t samples) const {
  const int64_t frame = model_config_.samples_per_latent_frame();
  return (samples + frame - 1) / frame;
}

BatchAudio Synthesizer::SynthesizeBatch(const std::vector<SynthesisItem>& items, int steps, RunControl* control,
                                        const AudioSink& sink, int concurrent_calls) const {
  if (items.empty()) return {};
  const int max_steps = std::min(profile_.max_steps, kMaxSteps);
  if (steps < profile_.min_steps || steps > max_steps) {
    throw InvalidRequest(fmt::format("steps must be {}..{}, got {}", profile_.min_steps, max_steps, steps));
  }
  const int64_t batch = static_cast<int64_t>(items.size());
  std::vector<PreparedItem> prepared(items.size());
  int64_t max_tokens = 0;
  for (size_t b = 0; b < items.size(); ++b) {
    const auto& item = items[b];
    if (!profile_.SupportsLanguage(item.lang)) throw InvalidRequest(profile_.UnsupportedLanguageMessage(item.lang));
    prepared[b].voice = item.style ? item.style.get() : voices_.Find(item.voice);
    if (prepared[b].voice == nullptr) throw InvalidRequest("unknown voice '" + item.voice + "'");
    if (prepared[b].voice->ttl.size() != VoiceStyle::kTtlValues || prepared[b].voice->dp.size() != VoiceStyle::kDpValues) {
      throw InvalidRequest("voice '" + item.voice + "' has style tensors of the wrong size");
    }
    if (!profile_.SpeedAllowed(item.speed)) {
      throw InvalidRequest(fmt::format("speed must be in {} for {}, got {}", profile_.SpeedRange(), profile_.name,
                                       item.speed));
    }
    prepared[b].encoded = Encode(item.text, item.lang);
    const int64_t n = static_cast<int64_t>(prepared[b].encoded.ids.size());
    if (n > kMaxTokens) {
      throw InvalidRequest("text too long for one model pass: " + std::to_string(n) + " ids, at most " +
                           std::to_string(kMaxTokens));
    }
    max_tokens = std::max(max_tokens, n);
  }

  // Text tensors, zero-padded to the longest item.
  const int64_t T = max_tokens;
  std::vector<int64_t> text_ids(static_cast<size_t>(batch * T), 0);
  FloatTensor text_mask{std::vector<float>(static_cast<size_t>(batch * T), 0.0f), {batch, 1, T}};
  FloatTensor style_ttl{{}, {batch, VoiceStyle::kTtlTokens, VoiceStyle::kTtlDim}};
  FloatTensor style_dp{{}, {batch, VoiceStyle::kDpTokens, VoiceStyle::kDpDim}};
  for (int64_t b = 0; b < batch; ++b) {
    const auto& ids = prepared[static_cast<size_t>(b)].encoded.ids;
    std::copy(ids.begin(), ids.end(), text_ids.begin() + b * T);
    std::fill_n(text_mask.data.begin() + b * T, ids.size(), 1.0f);
    const VoiceStyle& v = *prepared[static_cast<size_t>(b)].voice;
    style_ttl.data.insert(style_ttl.data.end(), v.ttl.begin(), v.ttl.end());
    style_dp.data.insert(style_dp.data.end(), v.dp.begin(), v.dp.end());
  }

  BatchAudio out;
  out.items.resize(static_cast<size_t>(batch));
  auto t0 = Clock::now();
  std::vector<float> durations = model_->PredictDuration(text_ids, style_dp, text_mask, control);
  out.times.duration_predictor_s = SecondsSince(t0);
  ClampRunawayDurations(profile_, items, prepared, durations, out);

  t0 = Clock::now();
  FloatTensor text_emb = model_->EncodeText(text_ids, style_ttl, text_mask, control);
  out.times.text_encoder_s = SecondsSince(t0);

  // Latent length and mask: wav_len = duration * sample_rate, one latent frame
  // per samples_per_latent_frame samples, rounded up.
  const int64_t channels = model_config_.latent_channels();
  const int64_t max_wav = kMaxLatentFrames * model_config_.samples_per_latent_frame();
  std::vector<int64_t> wav_len(static_cast<size_t>(batch)), item_frames(static_cast<size_t>(batch));
  int64_t L = 1;
  for (int64_t b = 0; b < batch; ++b) {
    const size_t i = static_cast<size_t>(b);
    // float32 arithmetic, as the reference implementation does it, so lengths match it to the sample.
    const float seconds = durations[i] / items[i].speed;
    const float samples = seconds * static_cast<float>(model_config_.sample_rate);
    wav_len[i] = (std::isfinite(samples) && samples > 0)
                     ? std::min<int64_t>(static_cast<int64_t>(samples), max_wav)
                     : 0;
    item_frames[i] = std::max<int64_t>(1, LatentFramesFor(wav_len[i]));
    L = std::max(L, item_frames[i]);
    out.items[i].duration_s = static_cast<double>(wav_len[i]) / model_config_.sample_rate;
    out.items[i].latent_frames = item_frames[i];
  }
  FloatTensor latent_mask{std::vector<float>(static_cast<size_t>(batch * L), 0.0f), {batch, 1, L}};
  FloatTensor xt{std::vector<float>(static_cast<size_t>(batch * channels * L), 0.0f), {batch, channels, L}};
  for (int64_t b = 0; b < batch; ++b) {
    const size_t i = static_cast<size_t>(b);
    const int64_t Lb = item_frames[i];
    std::fill_n(latent_mask.data.begin() + b * L, Lb, 1.0f);
    const auto& given = items[i].noise;
    if (given && static_cast<int64_t>(given->size()) != channels * Lb) {
      throw InvalidRequest("initial noise has " + std::to_string(given->size()) + " values, expected " +
                           std::to_string(channels) + " x " + std::to_string(Lb));
    }
    // Per-item noise of the item's own length, so an item sounds the same alone or in any batch.
    std::mt19937_64 rng(items[i].seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int64_t c = 0; c < channels; ++c) {
      float* row = xt.data.data() + (b * channels + c) * L;
      for (int64_t l = 0; l < Lb; ++l) row[l] = given ? (*given)[static_cast<size_t>(c * Lb + l)] : normal(rng);
    }
  }

  t0 = Clock::now();
  for (int step = 0; step < steps; ++step) {
    xt = model_->EstimateVector(xt, text_emb, style_ttl, latent_mask, text_mask, static_cast<float>(step),
                                static_cast<float>(steps), control);
  }
  out.times.vector_estimator_s = SecondsSince(t0);

  t0 = Clock::now();
  for (int64_t b = 0; b < batch; ++b) {
    const size_t i = static_cast<size_t>(b);
    out.items[i].num_tokens = prepared[i].encoded.ids.size();
    out.items[i].unknown_chars = prepared[i].encoded.unknown_chars;
  }
  const int64_t frame = model_config_.samples_per_latent_frame();
  std::vector<bool> done(static_cast<size_t>(batch), false);
  // Hands each item the samples of [range) it owns, trimmed to its length.
  auto deliver = [&](const FrameRange& range, const FloatTensor& wav) {
    const int64_t stride = wav.shape.size() == 2 ? wav.shape[1] : 0;
    for (int64_t b = 0; b < batch; ++b) {
      const size_t i = static_cast<size_t>(b);
      if (done[i]) continue;
      const int64_t begin = range.start * frame;
      const int64_t end = std::min(wav_len[i], begin + stride);
      const bool final = range.end * frame >= wav_len[i];
      std::span<const float> piece;
      if (end > begin) piece = std::span<const float>(wav.data.data() + b * stride, static_cast<size_t>(end - begin));
      if (sink) {
        sink(AudioPiece{i, piece, final, out.items[i].duration_s, out.items[i].latent_frames, out.items[i].num_tokens});
      } else {
        out.items[i].samples.insert(out.items[i].samples.end(), piece.begin(), piece.end());
      }
      done[i] = final;
    }
  };
  if (streaming_ && sink) {
    streaming_->Vocode(xt, VocoderPlan(L, batch, concurrent_calls), control, deliver);
  } else {
    deliver({0, L}, model_->Vocode(xt, control));
  }
  out.times.vocoder_s = SecondsSince(t0);
  return out;
}

std::vector<float> Synthesizer::SynthesizeText(const std::string& text, const std::string& lang,
                                               const std::string& voice, int steps, float speed, uint64_t seed,
                                               double pause_s, std::shared_ptr<const VoiceStyle> style) const {
  std::vector<SynthesisItem> items;
  for (auto& chunk : ChunkText(text, profile_.ChunkLimit(lang))) {
    if (config_.normalize_text) chunk = normalizer_.Normalize(chunk, lang);
    items.push_back({std::move(chunk), lang, voice, speed, seed + items.size(), nullptr, style});
  }
  if (items.empty()) return {};
  BatchAudio audio;
  if (mixed_length_batches_exact()) {
    audio = SynthesizeBatch(items, steps);
  } else {
    for (const auto& item : items) audio.items.push_back(std::move(SynthesizeBatch({item}, steps).items[0]));
  }
  const size_t pause = static_cast<size_t>(pause_s * model_config_.sample_rate);
  std::vector<float> joined;
  for (size_t i = 0; i < audio.items.size(); ++i) {
    if (i > 0) joined.insert(joined.end(), pause, 0.0f);
    joined.insert(joined.end(), audio.items[i].samples.begin(), audio.items[i].samples.end());
  }
  return joined;
}

}  // namespace supertonic
