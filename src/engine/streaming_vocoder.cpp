#include "engine/streaming_vocoder.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

namespace supertonic {
namespace {

// Frames [start, end) of a [B, C, L] latent.
FloatTensor SliceFrames(const FloatTensor& latent, int64_t start, int64_t end) {
  const int64_t B = latent.shape[0], C = latent.shape[1], L = latent.shape[2];
  const int64_t n = end - start;
  FloatTensor out{std::vector<float>(static_cast<size_t>(B * C * n)), {B, C, n}};
  for (int64_t bc = 0; bc < B * C; ++bc) {
    std::copy_n(latent.data.begin() + bc * L + start, n, out.data.begin() + bc * n);
  }
  return out;
}

double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b, size_t from, size_t to) {
  double m = 0;
  for (size_t i = from; i < to && i < a.size() && i < b.size(); ++i) {
    m = std::max(m, static_cast<double>(std::fabs(a[i] - b[i])));
  }
  return m;
}

}  // namespace

std::vector<FrameRange> PlanVocoderChunks(int64_t latent_frames, int64_t first, int64_t next) {
  std::vector<FrameRange> plan;
  if (latent_frames <= 0) return plan;
  first = std::clamp<int64_t>(first, 1, latent_frames);
  plan.push_back({0, first});
  for (int64_t s = first; s < latent_frames;) {
    const int64_t e = next <= 0 ? latent_frames : std::min(latent_frames, s + next);
    plan.push_back({s, e});
    s = e;
  }
  return plan;
}

VocoderProbeResult StreamingVocoder::Probe(const SupertonicModel& model, int64_t latent_channels,
                                           int64_t samples_per_frame, int64_t max_context) {
  VocoderProbeResult result;
  const int64_t L = max_context + 16;
  std::mt19937 rng(1234);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  FloatTensor base{std::vector<float>(static_cast<size_t>(latent_channels * L)), {1, latent_channels, L}};
  for (auto& v : base.data) v = normal(rng);

  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<float> y0 = model.Vocode(base, nullptr).data;
  result.seconds_per_frame =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / static_cast<double>(L);
  double peak = 0;
  for (float v : y0) peak = std::max(peak, static_cast<double>(std::fabs(v)));
  // Unaffected samples are computed identically, so any influence at all
  // shows above this floor; the context then makes chunked output exact.
  const double tolerance = 1e-7 * (1.0 + peak);

  auto perturbed = [&](int64_t frame) {
    FloatTensor x = base;
    for (int64_t c = 0; c < latent_channels; ++c) x.data[static_cast<size_t>(c * L + frame)] += 1.0f;
    return model.Vocode(x, nullptr).data;
  };

  // Causal: changing a late frame leaves every earlier sample alone.
  const int64_t late = L - 4;
  const std::vector<float> y_late = perturbed(late);
  if (MaxAbsDiff(y0, y_late, 0, static_cast<size_t>(late * samples_per_frame)) > tolerance) {
    result.reason = "the vocoder is not causal (a later latent frame changes earlier samples)";
    return result;
  }
  // Context: the first output frame that frame 0 no longer reaches.
  const std::vector<float> y_first = perturbed(0);
  int64_t reach = -1;
  for (int64_t f = 0; f < L; ++f) {
    const size_t from = static_cast<size_t>(f * samples_per_frame);
    if (MaxAbsDiff(y0, y_first, from, from + static_cast<size_t>(samples_per_frame)) > tolerance) reach = f;
  }
  if (reach >= max_context) {
    result.reason = "the vocoder's receptive field exceeds " + std::to_string(max_context) + " latent frames";
    return result;
  }
  result.causal = true;
  result.context_frames = reach + 1;
  return result;
}

StreamingVocoder::StreamingVocoder(const SupertonicModel& model, int64_t samples_per_frame, int64_t context_frames)
    : model_(model), samples_per_frame_(samples_per_frame), context_frames_(context_frames) {}

void StreamingVocoder::Vocode(const FloatTensor& latent, const std::vector<FrameRange>& plan, RunControl* control,
                              const ChunkHandler& on_chunk) const {
  const int64_t B = latent.shape[0];
  for (const auto& range : plan) {
    const int64_t from = std::max<int64_t>(0, range.start - context_frames_);
    FloatTensor wav = model_.Vocode(SliceFrames(latent, from, range.end), control);
    // Keep only the new frames: drop the context's samples.
    const int64_t stride = wav.shape[1];
    const int64_t skip = (range.start - from) * samples_per_frame_;
    const int64_t keep = (range.end - range.start) * samples_per_frame_;
    if (skip == 0 && keep == stride) {
      on_chunk(range, wav);
      continue;
    }
    FloatTensor part{std::vector<float>(static_cast<size_t>(B * keep)), {B, keep}};
    for (int64_t b = 0; b < B; ++b) {
      std::copy_n(wav.data.begin() + b * stride + skip, keep, part.data.begin() + b * keep);
    }
    on_chunk(range, part);
  }
}

}  // namespace supertonic
