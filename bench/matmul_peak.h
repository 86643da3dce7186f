#pragma once
// The matmul ceiling of a backend on this machine: an n x n x n fp32 MatMul
// graph (one input times one constant weight, as the model's layers are)
// built in memory and run through the configured backend and precision. The
// benchmark sets the engine's achieved GFLOPS against it.
#include "engine/engine_config.h"

namespace supertonic {

struct MatmulPeak {
  int n = 0;
  double best_s = 0;   // fastest of the runs
  double gflops = 0;   // 2 n^3 / best_s / 1e9
};

// Uses config.backend, config.precision and config.intra_op_threads (model_dir
// is not needed). Throws BackendError when the backend cannot run it.
MatmulPeak MeasureMatmulPeak(const EngineConfig& config, int n = 2048, int runs = 8);

}  // namespace supertonic
