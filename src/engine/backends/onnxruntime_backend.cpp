#include "engine/backends/onnxruntime_backend.h"

#include <onnxruntime_cxx_api.h>

#include <algorithm>
#include <map>
#include <optional>
#include <thread>

namespace supertonic {
namespace {

Ort::Env& SharedEnv() {
  static Ort::Env env(ORT_LOGGING_LEVEL_WARNING, "supertonic");
  return env;
}

ElementType FromOrt(ONNXTensorElementDataType t) {
  switch (t) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return ElementType::kFloat32;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return ElementType::kInt64;
    default: return ElementType::kOther;
  }
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

Ort::SessionOptions MakeOptions(const EngineConfig& config, bool with_cuda) {
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

std::unique_ptr<Ort::Session> Open(const EngineConfig& config, const std::filesystem::path& path, bool with_cuda,
                                   const std::string& rewritten) {
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

class OnnxRuntimeSession final : public GraphSession {
 public:
  explicit OnnxRuntimeSession(std::unique_ptr<Ort::Session> session) : session_(std::move(session)) {}

  std::vector<TensorInfo> inputs() const override { return Describe(true); }
  std::vector<TensorInfo> outputs() const override { return Describe(false); }

  FloatTensor Run(std::span<const TensorView> inputs, const char* output, RunControl* control) const override {
    std::vector<const char*> names;
    std::vector<Ort::Value> values;
    for (const auto& in : inputs) {
      names.push_back(in.name);
      if (in.type == ElementType::kInt64) {
        values.push_back(Ort::Value::CreateTensor<int64_t>(
            mem_, static_cast<int64_t*>(const_cast<void*>(in.data)), in.count, in.shape.data(), in.shape.size()));
      } else {
        values.push_back(Ort::Value::CreateTensor<float>(mem_, static_cast<float*>(const_cast<void*>(in.data)),
                                                         in.count, in.shape.data(), in.shape.size()));
      }
    }
    // One RunOptions per call: Cancel() sets its terminate flag, during the
    // call or before it starts (Run then stops at once).
    Ort::RunOptions options;
    std::optional<RunControl::Tracked> tracked;
    if (control != nullptr) {
      tracked.emplace(control, [&options] { options.SetTerminate(); });
      if (control->cancelled()) throw Cancelled();
    }
    std::vector<Ort::Value> out;
    try {
      out = session_->Run(options, names.data(), values.data(), values.size(), &output, 1);
    } catch (const Ort::Exception& e) {
      if (control != nullptr && control->cancelled()) throw Cancelled();
      throw BackendError(e.what());
    }
    auto info = out[0].GetTensorTypeAndShapeInfo();
    FloatTensor t;
    t.shape = info.GetShape();
    const float* p = out[0].GetTensorData<float>();
    t.data.assign(p, p + info.GetElementCount());
    return t;
  }

 private:
  std::vector<TensorInfo> Describe(bool inputs) const {
    Ort::AllocatorWithDefaultOptions alloc;
    const size_t count = inputs ? session_->GetInputCount() : session_->GetOutputCount();
    std::vector<TensorInfo> infos;
    for (size_t i = 0; i < count; ++i) {
      TensorInfo t;
      t.name = inputs ? session_->GetInputNameAllocated(i, alloc).get() : session_->GetOutputNameAllocated(i, alloc).get();
      auto type_info = inputs ? session_->GetInputTypeInfo(i) : session_->GetOutputTypeInfo(i);
      if (type_info.GetONNXType() != ONNX_TYPE_TENSOR) {
        t.type_name = "not a tensor";
      } else {
        auto shape = type_info.GetTensorTypeAndShapeInfo();
        t.type = FromOrt(shape.GetElementType());
        t.type_name = TypeName(shape.GetElementType());
        t.rank = shape.GetDimensionsCount();
      }
      infos.push_back(std::move(t));
    }
    return infos;
  }

  std::unique_ptr<Ort::Session> session_;
  Ort::MemoryInfo mem_ = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
};

}  // namespace

void InitOnnxRuntime() { SharedEnv(); }

std::unique_ptr<GraphSession> OpenOnnxRuntimeSession(const EngineConfig& config, const std::filesystem::path& path,
                                                     bool with_cuda, const std::string& rewritten) {
  try {
    return std::make_unique<OnnxRuntimeSession>(Open(config, path, with_cuda, rewritten));
  } catch (const Ort::Exception& e) {
    throw BackendError(e.what());
  }
}

bool CudaProviderCompiledIn() {
  for (const auto& provider : Ort::GetAvailableProviders()) {
    if (provider == "CUDAExecutionProvider") return true;
  }
  return false;
}

std::string OnnxRuntimeVersion() { return Ort::GetVersionString(); }

}  // namespace supertonic
