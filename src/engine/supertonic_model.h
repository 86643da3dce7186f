#pragma once
// The four ONNX graphs of a Supertonic model, one Run method each. The runtime
// that executes them (EngineConfig::backend: ONNX Runtime or OpenVINO) stays
// behind graph_session.h and the pimpl, so nothing above the engine includes it.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/engine_config.h"
#include "engine/graph_padding.h"

namespace supertonic {

// A dense float tensor in row-major order.
struct FloatTensor {
  std::vector<float> data;
  std::vector<int64_t> shape;
};

// Lets another thread stop a running model call (barge-in): Cancel() makes the
// graph run in progress, and every later one under this control, throw Cancelled.
// Every backend checks it before each graph call and interrupts the call in
// flight (ONNX Runtime's terminate flag, OpenVINO's InferRequest::cancel).
class RunControl {
 public:
  RunControl();
  ~RunControl();
  RunControl(const RunControl&) = delete;
  RunControl& operator=(const RunControl&) = delete;
  void Cancel();
  bool cancelled() const;
  class Tracked;  // graph_session.h: how a backend hears Cancel() during a call

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("synthesis cancelled") {}
};

// Whether this ONNX Runtime build has the CUDA execution provider (not
// whether a GPU is there: loading a model with it tells that).
bool CudaProviderCompiledIn();

enum class Graph { kDurationPredictor, kTextEncoder, kVectorEstimator, kVocoder };
inline constexpr std::size_t kGraphCount = 4;
const char* GraphName(Graph g);  // "duration_predictor", ...

class SupertonicModel {
 public:
  // Loads onnx/{duration_predictor,text_encoder,vector_estimator,vocoder}.onnx
  // from config.model_dir and checks every input and output against the
  // Supertonic interface. Throws ModelError naming the file and tensor.
  explicit SupertonicModel(const EngineConfig& config);
  ~SupertonicModel();

  // "CPUExecutionProvider" or "CUDAExecutionProvider" (onnxruntime), or
  // "OpenVINO CPU fp32" / "OpenVINO CPU bf16": what actually runs.
  const std::string& execution_provider() const;
  Backend backend() const;
  Precision precision() const;

  // What the batch-padding rewrite (graph_padding.h) did to each graph at load
  // (model_bytes dropped); all zero when EngineConfig::rewrite_batch_padding is off.
  const PaddingRewrite& padding(Graph g) const;

  // Shapes: ids [B,T], mask [B,1,T], style_dp [B,8,16], style_ttl [B,50,256].
  std::vector<float> PredictDuration(const std::vector<int64_t>& text_ids, const FloatTensor& style_dp,
                                     const FloatTensor& text_mask, RunControl* control) const;
  FloatTensor EncodeText(const std::vector<int64_t>& text_ids, const FloatTensor& style_ttl,
                         const FloatTensor& text_mask, RunControl* control) const;
  FloatTensor EstimateVector(const FloatTensor& noisy_latent, const FloatTensor& text_emb,
                             const FloatTensor& style_ttl, const FloatTensor& latent_mask,
                             const FloatTensor& text_mask, float current_step, float total_step,
                             RunControl* control) const;
  FloatTensor Vocode(const FloatTensor& latent, RunControl* control) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The ONNX Runtime version in use, e.g. "1.31.1".
std::string OnnxRuntimeVersion();

// Whether this build has the OpenVINO backend (CMake option SUPERTONIC_OPENVINO),
// and its version ("2026.4.1"; empty without it).
bool OpenVinoCompiledIn();
std::string OpenVinoVersion();

}  // namespace supertonic
