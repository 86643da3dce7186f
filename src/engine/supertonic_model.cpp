#include "engine/supertonic_model.h"

#include <onnxruntime_cxx_api.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <thread>

#include "engine/errors.h"

namespace supertonic {
namespace {

Ort::Env& SharedEnv() {
  static Ort::Env env(ORT_LOGGING_LEVEL_WARNING, "supertonic");
  return env;
}

struct TensorSpec {
  const char* name;
  ONNXTensorElementDataType type;
  size_t rank;
};

constexpr auto kF32 = ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
constexpr auto kI64 = ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64;

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

const char* TypeName(ONNXTensorElementDataType t) {
  switch (t) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return "float32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return "int64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return "int32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return "float16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: return "float64";
    default: return "another type";
  }
}

void CheckTensors(Ort::Session& session, const GraphSpec& spec, const std::filesystem::path& path, bool inputs) {
  Ort::AllocatorWithDefaultOptions alloc;
  const size_t count = inputs ? session.GetInputCount() : session.GetOutputCount();
  const auto& wanted = inputs ? spec.inputs : spec.outputs;
  const char* kind = inputs ? "input" : "output";
  std::vector<std::string> names;
  for (size_t i = 0; i < count; ++i) {
    names.emplace_back(inputs ? session.GetInputNameAllocated(i, alloc).get()
                              : session.GetOutputNameAllocated(i, alloc).get());
  }
  for (const auto& w : wanted) {
    auto it = std::find(names.begin(), names.end(), w.name);
    if (it == names.end()) {
      throw ModelError(path.string() + ": missing " + kind + " '" + w.name + "' (the graph's " + kind +
                       "s are: " + fmt::format("{}", fmt::join(names, ", ")) + ")");
    }
    const size_t idx = static_cast<size_t>(it - names.begin());
    auto type_info = inputs ? session.GetInputTypeInfo(idx) : session.GetOutputTypeInfo(idx);
    if (type_info.GetONNXType() != ONNX_TYPE_TENSOR) {
      throw ModelError(path.string() + ": " + kind + " '" + w.name + "' is not a tensor");
    }
    auto info = type_info.GetTensorTypeAndShapeInfo();
    if (info.GetElementType() != w.type) {
      throw ModelError(path.string() + ": " + kind + " '" + w.name + "' has type " +
                       TypeName(info.GetElementType()) + ", expected " + TypeName(w.type));
    }
    if (info.GetDimensionsCount() != w.rank) {
      throw ModelError(path.string() + ": " + kind + " '" + w.name + "' has rank " +
                       std::to_string(info.GetDimensionsCount()) + ", expected " + std::to_string(w.rank));
    }
  }
  if (inputs && names.size() != wanted.size()) {
    throw ModelError(path.string() + ": has " + std::to_string(names.size()) + " inputs, expected " +
                     std::to_string(wanted.size()) + " (" +
                     fmt::format("{}", fmt::join(names, ", ")) + ")");
  }
}

GraphOptimizationLevel ToOrt(GraphOptimization g) {
  switch (g) {
    case GraphOptimization::kDisabled: return ORT_DISABLE_ALL;
    case GraphOptimization::kBasic: return ORT_ENABLE_BASIC;
    case GraphOptimization::kExtended: return ORT_ENABLE_EXTENDED;
    case GraphOptimization::kAll: return ORT_ENABLE_ALL;
  }
  return ORT_ENABLE_ALL;
}

// Adds the CUDA provider. Throws Ort::Exception when this ONNX Runtime build
// or machine cannot run it.
void AppendCuda(Ort::SessionOptions& opts, const EngineConfig& config) {
  const OrtApi& api = Ort::GetApi();
  OrtCUDAProviderOptionsV2* cuda = nullptr;
  Ort::ThrowOnError(api.CreateCUDAProviderOptions(&cuda));
  std::unique_ptr<OrtCUDAProviderOptionsV2, decltype(api.ReleaseCUDAProviderOptions)> guard(
      cuda, api.ReleaseCUDAProviderOptions);
  std::map<std::string, std::string> options = config.cuda_options;
  options.emplace("device_id", std::to_string(config.cuda_device_id));
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : options) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  Ort::ThrowOnError(api.UpdateCUDAProviderOptions(cuda, keys.data(), values.data(), keys.size()));
  opts.AppendExecutionProvider_CUDA_V2(*cuda);
}

Ort::Value MakeTensor(const Ort::MemoryInfo& mem, const float* data, size_t count, const std::vector<int64_t>& shape) {
  return Ort::Value::CreateTensor<float>(mem, const_cast<float*>(data), count, shape.data(), shape.size());
}

}  // namespace

struct RunControl::Impl {
  Ort::RunOptions options;
  std::atomic<bool> cancelled{false};
};

RunControl::RunControl() : impl_(std::make_unique<Impl>()) {}
RunControl::~RunControl() = default;
void RunControl::Cancel() {
  impl_->cancelled = true;
  impl_->options.SetTerminate();
}
bool RunControl::cancelled() const { return impl_->cancelled.load(); }
void* RunControl::native() const { return &impl_->options; }

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
  std::array<std::unique_ptr<Ort::Session>, 4> sessions;
  std::array<PaddingRewrite, kGraphCount> padding;
  std::string provider = "CPUExecutionProvider";
  Ort::MemoryInfo mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);

  Ort::SessionOptions MakeOptions(const EngineConfig& config, bool with_cuda) const {
    Ort::SessionOptions opts;
    int threads = config.intra_op_threads;
    if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    opts.SetIntraOpNumThreads(threads);
    opts.SetInterOpNumThreads(config.inter_op_threads);
    opts.SetExecutionMode(ORT_SEQUENTIAL);
    opts.SetGraphOptimizationLevel(ToOrt(config.graph_optimization));
    opts.AddConfigEntry("session.intra_op.allow_spinning", config.allow_spinning ? "1" : "0");
    opts.AddConfigEntry("session.inter_op.allow_spinning", config.allow_spinning ? "1" : "0");
    if (with_cuda) AppendCuda(opts, config);
    return opts;
  }

  // `rewritten`: the model's bytes after the batch-padding rewrite, or empty
  // to load the file as it is.
  std::unique_ptr<Ort::Session> Open(const EngineConfig& config, const std::filesystem::path& path,
                                     bool with_cuda, const std::string& rewritten) const {
    Ort::SessionOptions opts = MakeOptions(config, with_cuda);
    std::filesystem::path source = path;
    if (!config.optimized_model_cache.empty()) {
      // The optimized graph depends on the provider, the optimization level and the rewrite.
      const std::string tag = std::string(with_cuda ? "cuda" : "cpu") + "-" + ToString(config.graph_optimization) +
                              (rewritten.empty() ? "" : "-batchpad");
      auto cached = config.optimized_model_cache / (path.stem().string() + "." + tag + ".ort.onnx");
      if (std::filesystem::exists(cached) &&
          std::filesystem::last_write_time(cached) >= std::filesystem::last_write_time(path)) {
        source = cached;
        opts.SetGraphOptimizationLevel(ORT_DISABLE_ALL);
      } else {
        std::filesystem::create_directories(config.optimized_model_cache);
        opts.SetOptimizedModelFilePath(cached.c_str());
      }
    }
    if (!rewritten.empty() && source == path) {
      return std::make_unique<Ort::Session>(SharedEnv(), rewritten.data(), rewritten.size(), opts);
    }
    return std::make_unique<Ort::Session>(SharedEnv(), source.c_str(), opts);
  }
};

SupertonicModel::SupertonicModel(const EngineConfig& config) : impl_(std::make_unique<Impl>()) {
  config.Validate();
  // The environment registers ONNX Runtime's logger; the CUDA provider options
  // below need it to exist first.
  SharedEnv();
  const auto onnx_dir = config.model_dir / "onnx";
  for (const auto& spec : Specs()) {
    if (!std::filesystem::is_regular_file(onnx_dir / spec.file)) {
      throw ModelError("missing model file " + (onnx_dir / spec.file).string());
    }
  }
  auto open_all = [&](bool with_cuda) {
    for (size_t i = 0; i < Specs().size(); ++i) {
      const auto path = onnx_dir / Specs()[i].file;
      PaddingRewrite& padding = impl_->padding[i];
      // One graph's rewritten bytes at a time: they are as large as its weights.
      if (config.rewrite_batch_padding) padding = RewriteBatchPadding(path, {"text_mask", "latent_mask"});
      auto& session = impl_->sessions[i];
      session.reset();
      std::string rewrite_error;
      if (!padding.model_bytes.empty()) {
        try {
          session = impl_->Open(config, path, with_cuda, padding.model_bytes);
        } catch (const Ort::Exception& e) {
          rewrite_error = e.what();
        }
      }
      if (!session) {
        try {
          session = impl_->Open(config, path, with_cuda, {});
        } catch (const Ort::Exception& e) {
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
      CheckTensors(*impl_->sessions[i], Specs()[i], path, true);
      CheckTensors(*impl_->sessions[i], Specs()[i], path, false);
    }
  };
  bool use_cuda = config.device != Device::kCpu;
  if (use_cuda) {
    try {
      open_all(true);
    } catch (const Ort::Exception& e) {
      if (config.device == Device::kCuda) {
        throw ModelError(std::string("cannot initialize the CUDA execution provider: ") + e.what() +
                         " (set the device to cpu, or auto to fall back to the CPU)");
      }
      spdlog::warn("CUDA execution provider unavailable ({}); running on the CPU", e.what());
      use_cuda = false;
    }
  }
  if (!use_cuda) open_all(false);
  impl_->provider = use_cuda ? "CUDAExecutionProvider" : "CPUExecutionProvider";
}

const PaddingRewrite& SupertonicModel::padding(Graph g) const { return impl_->padding[static_cast<size_t>(g)]; }

SupertonicModel::~SupertonicModel() = default;

bool CudaProviderCompiledIn() {
  for (const auto& provider : Ort::GetAvailableProviders()) {
    if (provider == "CUDAExecutionProvider") return true;
  }
  return false;
}

const std::string& SupertonicModel::execution_provider() const { return impl_->provider; }

namespace {

Ort::RunOptions& OptionsOf(RunControl* control) {
  static Ort::RunOptions defaults;
  if (control == nullptr) return defaults;
  if (control->cancelled()) throw Cancelled();
  return *static_cast<Ort::RunOptions*>(control->native());
}

std::vector<Ort::Value> RunGraph(Ort::Session& session, RunControl* control, const std::vector<const char*>& names,
                                 std::vector<Ort::Value>& inputs, const char* output) {
  Ort::RunOptions& options = OptionsOf(control);
  try {
    return session.Run(options, names.data(), inputs.data(), inputs.size(), &output, 1);
  } catch (const Ort::Exception&) {
    if (control != nullptr && control->cancelled()) throw Cancelled();
    throw;
  }
}

FloatTensor ToFloatTensor(Ort::Value& v) {
  auto info = v.GetTensorTypeAndShapeInfo();
  FloatTensor t;
  t.shape = info.GetShape();
  const float* p = v.GetTensorData<float>();
  t.data.assign(p, p + info.GetElementCount());
  return t;
}

}  // namespace

std::vector<float> SupertonicModel::PredictDuration(const std::vector<int64_t>& text_ids, const FloatTensor& style_dp,
                                                    const FloatTensor& text_mask, RunControl* control) const {
  const auto& mem = impl_->mem;
  std::vector<int64_t> ids_shape{text_mask.shape[0], text_mask.shape[2]};
  std::vector<Ort::Value> in;
  in.push_back(Ort::Value::CreateTensor<int64_t>(mem, const_cast<int64_t*>(text_ids.data()), text_ids.size(),
                                                 ids_shape.data(), ids_shape.size()));
  in.push_back(MakeTensor(mem, style_dp.data.data(), style_dp.data.size(), style_dp.shape));
  in.push_back(MakeTensor(mem, text_mask.data.data(), text_mask.data.size(), text_mask.shape));
  auto out = RunGraph(*impl_->sessions[0], control, {"text_ids", "style_dp", "text_mask"}, in, "duration");
  return ToFloatTensor(out[0]).data;
}

FloatTensor SupertonicModel::EncodeText(const std::vector<int64_t>& text_ids, const FloatTensor& style_ttl,
                                        const FloatTensor& text_mask, RunControl* control) const {
  const auto& mem = impl_->mem;
  std::vector<int64_t> ids_shape{text_mask.shape[0], text_mask.shape[2]};
  std::vector<Ort::Value> in;
  in.push_back(Ort::Value::CreateTensor<int64_t>(mem, const_cast<int64_t*>(text_ids.data()), text_ids.size(),
                                                 ids_shape.data(), ids_shape.size()));
  in.push_back(MakeTensor(mem, style_ttl.data.data(), style_ttl.data.size(), style_ttl.shape));
  in.push_back(MakeTensor(mem, text_mask.data.data(), text_mask.data.size(), text_mask.shape));
  auto out = RunGraph(*impl_->sessions[1], control, {"text_ids", "style_ttl", "text_mask"}, in, "text_emb");
  return ToFloatTensor(out[0]);
}

FloatTensor SupertonicModel::EstimateVector(const FloatTensor& noisy_latent, const FloatTensor& text_emb,
                                            const FloatTensor& style_ttl, const FloatTensor& latent_mask,
                                            const FloatTensor& text_mask, float current_step, float total_step,
                                            RunControl* control) const {
  const auto& mem = impl_->mem;
  const int64_t batch = noisy_latent.shape[0];
  std::vector<float> current(static_cast<size_t>(batch), current_step);
  std::vector<float> total(static_cast<size_t>(batch), total_step);
  std::vector<int64_t> step_shape{batch};
  std::vector<Ort::Value> in;
  in.push_back(MakeTensor(mem, noisy_latent.data.data(), noisy_latent.data.size(), noisy_latent.shape));
  in.push_back(MakeTensor(mem, text_emb.data.data(), text_emb.data.size(), text_emb.shape));
  in.push_back(MakeTensor(mem, style_ttl.data.data(), style_ttl.data.size(), style_ttl.shape));
  in.push_back(MakeTensor(mem, latent_mask.data.data(), latent_mask.data.size(), latent_mask.shape));
  in.push_back(MakeTensor(mem, text_mask.data.data(), text_mask.data.size(), text_mask.shape));
  in.push_back(MakeTensor(mem, current.data(), current.size(), step_shape));
  in.push_back(MakeTensor(mem, total.data(), total.size(), step_shape));
  auto out = RunGraph(*impl_->sessions[2], control,
                      {"noisy_latent", "text_emb", "style_ttl", "latent_mask", "text_mask", "current_step",
                       "total_step"},
                      in, "denoised_latent");
  return ToFloatTensor(out[0]);
}

FloatTensor SupertonicModel::Vocode(const FloatTensor& latent, RunControl* control) const {
  std::vector<Ort::Value> in;
  in.push_back(MakeTensor(impl_->mem, latent.data.data(), latent.data.size(), latent.shape));
  auto out = RunGraph(*impl_->sessions[3], control, {"latent"}, in, "wav_tts");
  return ToFloatTensor(out[0]);
}

std::string OnnxRuntimeVersion() { return Ort::GetVersionString(); }

}  // namespace supertonic
