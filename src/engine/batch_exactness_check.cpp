#include "engine/batch_exactness_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace supertonic {
namespace {

constexpr int64_t kShortTokens = 5, kLongTokens = 13;
constexpr int64_t kShortFrames = 4, kLongFrames = 10;

FloatTensor Mask(const std::vector<int64_t>& lengths, int64_t width) {
  FloatTensor m{std::vector<float>(lengths.size() * static_cast<size_t>(width), 0.0f),
                {static_cast<int64_t>(lengths.size()), 1, width}};
  for (size_t b = 0; b < lengths.size(); ++b) std::fill_n(m.data.begin() + b * width, lengths[b], 1.0f);
  return m;
}

FloatTensor Repeat(const std::vector<float>& one, std::vector<int64_t> shape, int64_t batch) {
  FloatTensor t{{}, std::move(shape)};
  t.shape[0] = batch;
  for (int64_t b = 0; b < batch; ++b) t.data.insert(t.data.end(), one.begin(), one.end());
  return t;
}

// Item 0's frames [0, frames) of a [B, C, width] tensor against an alone [1, C, frames] one.
double Deviation(const FloatTensor& batched, const FloatTensor& alone, int64_t frames) {
  const int64_t channels = alone.shape[1], width = batched.shape[2];
  double peak = 1.0, worst = 0.0;
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t t = 0; t < frames; ++t) {
      const double a = alone.data[static_cast<size_t>(c * frames + t)];
      const double b = batched.data[static_cast<size_t>(c * width + t)];
      peak = std::max(peak, std::fabs(a));
      worst = std::max(worst, std::isfinite(b) ? std::fabs(a - b) : INFINITY);
    }
  }
  return worst / peak;
}

double SampleDeviation(const float* batched, const float* alone, size_t count) {
  double peak = 1.0, worst = 0.0;
  for (size_t i = 0; i < count; ++i) {
    peak = std::max(peak, std::fabs(double{alone[i]}));
    worst = std::max(worst, std::isfinite(batched[i]) ? std::fabs(double{alone[i]} - batched[i]) : INFINITY);
  }
  return worst / peak;
}

}  // namespace

BatchExactness CheckBatchExactness(const SupertonicModel& model, const VoiceStyle& voice,
                                     std::span<const int64_t> ids, int64_t latent_channels,
                                     int64_t samples_per_frame, double tolerance) {
  BatchExactness result;
  auto note = [&](const char* graph, double deviation) {
    if (!(deviation <= result.max_deviation)) {
      result.max_deviation = deviation;
      result.worst_graph = graph;
    }
  };
  // Item 0 is short and zero-padded, as the engine pads it; item 1 fills the batch.
  std::vector<int64_t> batch_ids(2 * kLongTokens, 0), alone_ids(kShortTokens);
  for (int64_t t = 0; t < kLongTokens; ++t) {
    const int64_t id = ids.empty() ? 0 : ids[static_cast<size_t>(t) % ids.size()];
    if (t < kShortTokens) batch_ids[t] = alone_ids[t] = id;
    batch_ids[kLongTokens + t] = ids.empty() ? 0 : ids[static_cast<size_t>(t + 3) % ids.size()];
  }
  const FloatTensor text_mask = Mask({kShortTokens, kLongTokens}, kLongTokens);
  const FloatTensor alone_text_mask = Mask({kShortTokens}, kShortTokens);
  const std::vector<int64_t> ttl_shape{1, VoiceStyle::kTtlTokens, VoiceStyle::kTtlDim};
  const std::vector<int64_t> dp_shape{1, VoiceStyle::kDpTokens, VoiceStyle::kDpDim};
  const FloatTensor ttl2 = Repeat(voice.ttl, ttl_shape, 2), ttl1 = Repeat(voice.ttl, ttl_shape, 1);
  const FloatTensor dp2 = Repeat(voice.dp, dp_shape, 2), dp1 = Repeat(voice.dp, dp_shape, 1);

  const auto durations = model.PredictDuration(batch_ids, dp2, text_mask, nullptr);
  const auto alone_duration = model.PredictDuration(alone_ids, dp1, alone_text_mask, nullptr);
  note("duration_predictor",
       std::fabs(durations[0] - alone_duration[0]) / std::max(1e-6, std::fabs(double{alone_duration[0]})));

  const FloatTensor text_emb = model.EncodeText(batch_ids, ttl2, text_mask, nullptr);
  const FloatTensor alone_emb = model.EncodeText(alone_ids, ttl1, alone_text_mask, nullptr);
  note("text_encoder", Deviation(text_emb, alone_emb, kShortTokens));

  // The vector estimator on the batch's own text embedding, so only its padding is measured.
  const int64_t emb_channels = text_emb.shape[1];
  FloatTensor emb_short{std::vector<float>(static_cast<size_t>(emb_channels * kShortTokens)),
                        {1, emb_channels, kShortTokens}};
  for (int64_t c = 0; c < emb_channels; ++c) {
    std::copy_n(text_emb.data.begin() + c * kLongTokens, kShortTokens, emb_short.data.begin() + c * kShortTokens);
  }
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  FloatTensor noisy{std::vector<float>(static_cast<size_t>(2 * latent_channels * kLongFrames), 0.0f),
                    {2, latent_channels, kLongFrames}};
  FloatTensor noisy_short{std::vector<float>(static_cast<size_t>(latent_channels * kShortFrames)),
                          {1, latent_channels, kShortFrames}};
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t c = 0; c < latent_channels; ++c) {
      for (int64_t l = 0; l < (b == 0 ? kShortFrames : kLongFrames); ++l) {
        const float v = normal(rng);
        noisy.data[static_cast<size_t>((b * latent_channels + c) * kLongFrames + l)] = v;
        if (b == 0) noisy_short.data[static_cast<size_t>(c * kShortFrames + l)] = v;
      }
    }
  }
  const FloatTensor latent_mask = Mask({kShortFrames, kLongFrames}, kLongFrames);
  const FloatTensor alone_latent_mask = Mask({kShortFrames}, kShortFrames);
  const FloatTensor latent =
      model.EstimateVector(noisy, text_emb, ttl2, latent_mask, text_mask, 0.0f, 2.0f, nullptr);
  const FloatTensor alone_latent =
      model.EstimateVector(noisy_short, emb_short, ttl1, alone_latent_mask, alone_text_mask, 0.0f, 2.0f, nullptr);
  note("vector_estimator", Deviation(latent, alone_latent, kShortFrames));

  // The vocoder on item 0's latent, alone and zero-padded beside item 1's (as
  // the vector estimator's masked output pads it).
  FloatTensor voc_in = latent;
  FloatTensor latent_short{std::vector<float>(static_cast<size_t>(latent_channels * kShortFrames)),
                           {1, latent_channels, kShortFrames}};
  for (int64_t c = 0; c < latent_channels; ++c) {
    auto row = voc_in.data.begin() + c * kLongFrames;
    std::copy_n(row, kShortFrames, latent_short.data.begin() + c * kShortFrames);
    std::fill(row + kShortFrames, row + kLongFrames, 0.0f);
  }
  const FloatTensor wav = model.Vocode(voc_in, nullptr);
  const FloatTensor alone_wav = model.Vocode(latent_short, nullptr);
  const size_t samples = std::min(alone_wav.data.size(), static_cast<size_t>(kShortFrames * samples_per_frame));
  note("vocoder", SampleDeviation(wav.data.data(), alone_wav.data.data(), samples));

  result.exact = result.max_deviation <= tolerance;
  if (!result.exact) {
    result.reason = fmt::format("{} gives a short item {:.3g} (relative) different outputs beside a longer one",
                                result.worst_graph, result.max_deviation);
  }
  return result;
}

}  // namespace supertonic
