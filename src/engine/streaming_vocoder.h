#pragma once
// Chunked causal vocoding: the Supertonic vocoder's convolutions only look
// back, so the audio of latent frames [s, e) depends only on frames
// [s - context, e). Vocoding a short prefix first, then the rest with enough
// left context, streams a segment's first audio early with the same samples a
// full run gives. Whether a graph really is causal, and how much context it
// needs, is measured on the graph itself at load time.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "engine/supertonic_model.h"

namespace supertonic {

struct VocoderProbeResult {
  bool causal = false;
  int64_t context_frames = 0;        // left context that makes chunked output exact
  double seconds_per_frame = 0;      // measured vocoder cost per latent frame (batch 1)
  std::string reason;                // why chunking is off, when it is
};

// [start, end) in latent frames.
struct FrameRange {
  int64_t start = 0, end = 0;
  bool operator==(const FrameRange&) const = default;
};

// A first chunk of `first` frames, then chunks of `next` frames (0: the whole rest).
std::vector<FrameRange> PlanVocoderChunks(int64_t latent_frames, int64_t first, int64_t next);

class StreamingVocoder {
 public:
  // Runs the vocoder a few times on random latents to check causality and
  // find the context the graph needs (up to max_context frames).
  static VocoderProbeResult Probe(const SupertonicModel& model, int64_t latent_channels, int64_t samples_per_frame,
                                  int64_t max_context = 48);

  StreamingVocoder(const SupertonicModel& model, int64_t samples_per_frame, int64_t context_frames);

  // Vocodes `latent` [B, C, L] chunk by chunk. For each chunk, on_chunk gets the
  // waveform [B, (end - start) * samples_per_frame] of frames [start, end).
  using ChunkHandler = std::function<void(const FrameRange& range, const FloatTensor& wav)>;
  void Vocode(const FloatTensor& latent, const std::vector<FrameRange>& plan, RunControl* control,
              const ChunkHandler& on_chunk) const;

 private:
  const SupertonicModel& model_;
  int64_t samples_per_frame_;
  int64_t context_frames_;
};

}  // namespace supertonic
