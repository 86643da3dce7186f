#include "engine/supertonic_model.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>

#include "engine/backends/graph_session.h"
#include "engine/backends/onnxruntime_backend.h"
#include "engine/backends/openvino_backend.h"
#include "text/exceptions.h"

namespace supertonic {
namespace {

struct TensorSpec {
  const char* name;
  ElementType type;
  size_t rank;
};

constexpr auto kF32 = ElementType::kFloat32;
constexpr auto kI64 = ElementType::kInt64;

struct GraphSpec {
  const char* file;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
};

const std::array<GraphSpec, 4>& Specs() {
  static const std::array<GraphSpec, 4> specs{{
      {"duration_predictor.onnx",
       {{"text_ids", kI64, 2}, {"style_dp", kF32, 3}, {"text_mask", kF32, 3}},
       {{"duration", kF32, 1}}},
      {"text_encoder.onnx",
       {{"text_ids", kI64, 2}, {"style_ttl", kF32, 3}, {"text_mask", kF32, 3}},
       {{"text_emb", kF32, 3}}},
      {"vector_estimator.onnx",
       {{"noisy_latent", kF32, 3}, {"text_emb", kF32, 3}, {"style_ttl", kF32, 3}, {"latent_mask", kF32, 3},
        {"text_mask", kF32, 3}, {"current_step", kF32, 1}, {"total_step", kF32, 1}},
       {{"denoised_latent", kF32, 3}}},
      {"vocoder.onnx", {{"latent", kF32, 3}}, {{"wav_tts", kF32, 2}}},
  }};
  return specs;
}

const char* TypeName(ElementType t) {
  switch (t) {
    case ElementType::kFloat32: return "float32";
    case ElementType::kInt64: return "int64";
    case ElementType::kOther: return "another type";
  }
  return "another type";
}

void CheckTensors(const GraphSession& session, const GraphSpec& spec, const std::filesystem::path& path, bool inputs) {
  const std::vector<TensorInfo> infos = inputs ? session.inputs() : session.outputs();
  const auto& wanted = inputs ? spec.inputs : spec.outputs;
  const char* kind = inputs ? "input" : "output";
  std::vector<std::string> names;
  for (const auto& info : infos) names.push_back(info.name);
  for (const auto& w : wanted) {
    auto it = std::find(names.begin(), names.end(), w.name);
    if (it == names.end()) {
      throw ModelError(path.string() + ": missing " + kind + " '" + w.name + "' (the graph's " + kind +
                       "s are: " + fmt::format("{}", fmt::join(names, ", ")) + ")");
    }
    const TensorInfo& info = infos[static_cast<size_t>(it - names.begin())];
    if (info.type_name == "not a tensor") {
      throw ModelError(path.string() + ": " + kind + " '" + w.name + "' is not a tensor");
    }
    if (info.type != w.type) {
      throw ModelError(path.string() + ": " + kind + " '" + w.name + "' has type " + info.type_name +
                       ", expected " + TypeName(w.type));
    }
    if (!info.dynamic_rank && info.rank != w.rank) {
      throw ModelError(path.string() + ": " + kind + " '" + w.name + "' has rank " + std::to_string(info.rank) +
                       ", expected " + std::to_string(w.rank));
    }
  }
  if (inputs && names.size() != wanted.size()) {
    throw ModelError(path.string() + ": has " + std::to_string(names.size()) + " inputs, expected " +
                     std::to_string(wanted.size()) + " (" + fmt::format("{}", fmt::join(names, ", ")) + ")");
  }
}

// bf16 applies to the two graphs that carry the compute; the duration
// predictor (whose output becomes a frame count) and the text encoder stay
// fp32, so durations equal fp32's.
Precision PrecisionOf(Graph g, Precision configured) {
  return (g == Graph::kVectorEstimator || g == Graph::kVocoder) ? configured : Precision::kFp32;
}

}  // namespace

struct RunControl::Impl {
  std::atomic<bool> cancelled{false};
  std::mutex mutex;  // guards stops and next_id
  std::vector<std::pair<std::size_t, std::function<void()>>> stops;
  std::size_t next_id = 1;
};

RunControl::RunControl() : impl_(std::make_unique<Impl>()) {}
RunControl::~RunControl() = default;
void RunControl::Cancel() {
  impl_->cancelled = true;
  std::lock_guard lock(impl_->mutex);
  for (auto& [id, stop] : impl_->stops) stop();
}
bool RunControl::cancelled() const { return impl_->cancelled.load(); }

RunControl::Tracked::Tracked(RunControl* control, std::function<void()> stop) : control_(control) {
  std::lock_guard lock(control_->impl_->mutex);
  id_ = control_->impl_->next_id++;
  control_->impl_->stops.emplace_back(id_, std::move(stop));
}

RunControl::Tracked::~Tracked() {
  std::lock_guard lock(control_->impl_->mutex);
  auto& stops = control_->impl_->stops;
  stops.erase(std::remove_if(stops.begin(), stops.end(), [&](const auto& s) { return s.first == id_; }), stops.end());
}

const char* GraphName(Graph g) {
  switch (g) {
    case Graph::kDurationPredictor: return "duration_predictor";
    case Graph::kTextEncoder: return "text_encoder";
    case Graph::kVectorEstimator: return "vector_estimator";
    case Graph::kVocoder: return "vocoder";
  }
  return "unknown";
}

struct SupertonicModel::Impl {
  std::array<std::unique_ptr<GraphSession>, 4> sessions;
  std::array<PaddingRewrite, kGraphCount> padding;
  std::string provider = "CPUExecutionProvider";
  Backend backend = Backend::kOnnxRuntime;
  Precision precision = Precision::kFp32;

  // `rewritten`: the model's bytes after the batch-padding rewrite, or empty
  // to load the file as it is.
  std::unique_ptr<GraphSession> Open(const EngineConfig& config, Graph g, const std::filesystem::path& path,
                                     bool with_cuda, const std::string& rewritten) const {
    if (config.backend == Backend::kOpenVino) {
      return OpenOpenVinoSession(config, path, rewritten, PrecisionOf(g, config.precision));
    }
    return OpenOnnxRuntimeSession(config, path, with_cuda, rewritten);
  }

  const GraphSession& session(Graph g) const { return *sessions[static_cast<size_t>(g)]; }
};

namespace {

void LogBackend(const EngineConfig& config, const CpuFeatures& cpu) {
  const std::string runtime = config.backend == Backend::kOpenVino
                                  ? "OpenVINO " + OpenVinoVersion()
                                  : "ONNX Runtime " + OnnxRuntimeVersion();
  spdlog::info("engine backend: {} ({}), precision {}{}; CPU: {} (bf16 {})", ToString(config.backend), runtime,
               ToString(config.precision),
               config.precision == Precision::kBf16 ? " (vector estimator and vocoder)" : "", cpu.ToString(),
               cpu.bf16() ? "supported" : "not supported");
}

}  // namespace

SupertonicModel::SupertonicModel(const EngineConfig& config) : impl_(std::make_unique<Impl>()) {
  config.Validate();
  const CpuFeatures cpu = DetectCpuFeatures();
  config.CheckCpuSupport(cpu);
  if (config.backend == Backend::kOpenVino && !OpenVinoCompiledIn()) {
    throw std::invalid_argument(
        "backend openvino (TTS_BACKEND, --backend): this build has no OpenVINO (configured with "
        "-DSUPERTONIC_OPENVINO=OFF); use onnxruntime, or rebuild with it on");
  }
  LogBackend(config, cpu);
  impl_->backend = config.backend;
  impl_->precision = config.precision;
  // The environment registers ONNX Runtime's logger; the CUDA provider options
  // below need it to exist first.
  InitOnnxRuntime();
  const auto onnx_dir = config.model_dir / "onnx";
  for (const auto& spec : Specs()) {
    if (!std::filesystem::is_regular_file(onnx_dir / spec.file)) {
      throw ModelError("missing model file " + (onnx_dir / spec.file).string());
    }
  }
  auto open_all = [&](bool with_cuda) {
    for (size_t i = 0; i < Specs().size(); ++i) {
      const auto path = onnx_dir / Specs()[i].file;
      const Graph graph = static_cast<Graph>(i);
      PaddingRewrite& padding = impl_->padding[i];
      // One graph's rewritten bytes at a time: they are as large as its weights.
      if (config.rewrite_batch_padding) padding = RewriteBatchPadding(path, {"text_mask", "latent_mask"});
      auto& session = impl_->sessions[i];
      session.reset();
      std::string rewrite_error;
      if (!padding.model_bytes.empty()) {
        try {
          session = impl_->Open(config, graph, path, with_cuda, padding.model_bytes);
        } catch (const BackendError& e) {
          rewrite_error = e.what();
        }
      }
      if (!session) {
        try {
          session = impl_->Open(config, graph, path, with_cuda, {});
        } catch (const BackendError& e) {
          if (with_cuda) throw;
          throw ModelError("cannot load " + path.string() + ": " + e.what());
        }
      }
      if (!rewrite_error.empty()) {
        // The graph as published runs; only mixed-length batches lose exactness.
        spdlog::warn("{}: the batch-padding rewrite did not load ({}); running the graph as it is", path.string(),
                     rewrite_error);
        padding.unmatched.push_back("the rewritten graph did not load: " + rewrite_error);
        padding.rewritten = 0;
      }
      std::string().swap(padding.model_bytes);  // frees it (assigning an empty string would keep the buffer)
      CheckTensors(*session, Specs()[i], path, true);
      CheckTensors(*session, Specs()[i], path, false);
    }
  };
  bool use_cuda = config.backend == Backend::kOnnxRuntime && config.device != Device::kCpu;
  if (config.backend == Backend::kOpenVino && config.device == Device::kAuto) {
    spdlog::info("device auto with the openvino backend: running on the CPU");
  }
  if (use_cuda) {
    try {
      open_all(true);
    } catch (const BackendError& e) {
      if (config.device == Device::kCuda) {
        throw ModelError(std::string("cannot initialize the CUDA execution provider: ") + e.what() +
                         " (set the device to cpu, or auto to fall back to the CPU)");
      }
      spdlog::warn("CUDA execution provider unavailable ({}); running on the CPU", e.what());
      use_cuda = false;
    }
  }
  if (!use_cuda) open_all(false);
  if (config.backend == Backend::kOpenVino) {
    impl_->provider = "OpenVINO CPU " + ToString(config.precision);
  } else {
    impl_->provider = use_cuda ? "CUDAExecutionProvider" : "CPUExecutionProvider";
  }
}

const PaddingRewrite& SupertonicModel::padding(Graph g) const { return impl_->padding[static_cast<size_t>(g)]; }

SupertonicModel::~SupertonicModel() = default;

const std::string& SupertonicModel::execution_provider() const { return impl_->provider; }
Backend SupertonicModel::backend() const { return impl_->backend; }
Precision SupertonicModel::precision() const { return impl_->precision; }

std::vector<float> SupertonicModel::PredictDuration(const std::vector<int64_t>& text_ids, const FloatTensor& style_dp,
                                                    const FloatTensor& text_mask, RunControl* control) const {
  const std::array in{View("text_ids", text_ids, {text_mask.shape[0], text_mask.shape[2]}),
                      View("style_dp", style_dp.data, style_dp.shape),
                      View("text_mask", text_mask.data, text_mask.shape)};
  return impl_->session(Graph::kDurationPredictor).Run(in, "duration", control).data;
}

FloatTensor SupertonicModel::EncodeText(const std::vector<int64_t>& text_ids, const FloatTensor& style_ttl,
                                        const FloatTensor& text_mask, RunControl* control) const {
  const std::array in{View("text_ids", text_ids, {text_mask.shape[0], text_mask.shape[2]}),
                      View("style_ttl", style_ttl.data, style_ttl.shape),
                      View("text_mask", text_mask.data, text_mask.shape)};
  return impl_->session(Graph::kTextEncoder).Run(in, "text_emb", control);
}

FloatTensor SupertonicModel::EstimateVector(const FloatTensor& noisy_latent, const FloatTensor& text_emb,
                                            const FloatTensor& style_ttl, const FloatTensor& latent_mask,
                                            const FloatTensor& text_mask, float current_step, float total_step,
                                            RunControl* control) const {
  const int64_t batch = noisy_latent.shape[0];
  const std::vector<float> current(static_cast<size_t>(batch), current_step);
  const std::vector<float> total(static_cast<size_t>(batch), total_step);
  const std::array in{View("noisy_latent", noisy_latent.data, noisy_latent.shape),
                      View("text_emb", text_emb.data, text_emb.shape),
                      View("style_ttl", style_ttl.data, style_ttl.shape),
                      View("latent_mask", latent_mask.data, latent_mask.shape),
                      View("text_mask", text_mask.data, text_mask.shape),
                      View("current_step", current, {batch}),
                      View("total_step", total, {batch})};
  return impl_->session(Graph::kVectorEstimator).Run(in, "denoised_latent", control);
}

FloatTensor SupertonicModel::Vocode(const FloatTensor& latent, RunControl* control) const {
  const std::array in{View("latent", latent.data, latent.shape)};
  return impl_->session(Graph::kVocoder).Run(in, "wav_tts", control);
}

}  // namespace supertonic
