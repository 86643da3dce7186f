#pragma once
// Whether a padded batch changes an item's output, measured on the loaded
// graphs themselves: each graph runs on a short and a long item together and
// on the short one alone. The model directory is whatever the operator gave,
// so this holds for any graphs, rewritten (graph_padding.h) or not.
#include <cstdint>
#include <span>
#include <string>

#include "engine/supertonic_model.h"
#include "engine/voice_style.h"

namespace supertonic {

struct BatchExactness {
  bool exact = false;
  // Largest |batched - alone| over the short item's valid outputs, relative to
  // max(1, its largest |alone| value), and the graph where it was seen.
  double max_deviation = 0;
  std::string worst_graph;
  std::string reason;  // why mixed-length batches are off, when they are
};

// `ids`: text ids of any sentence (at least one); `tolerance` bounds the
// relative deviation of every graph.
BatchExactness CheckBatchExactness(const SupertonicModel& model, const VoiceStyle& voice,
                                     std::span<const int64_t> ids, int64_t latent_channels,
                                     int64_t samples_per_frame, double tolerance = 1e-4);

}  // namespace supertonic
