#include "engine/backends/openvino_backend.h"

#include <openvino/openvino.hpp>
#include <openvino/runtime/exception.hpp>

#include <algorithm>
#include <mutex>
#include <optional>
#include <thread>

namespace supertonic {
namespace {

// One Core per process: it owns the loaded plugins and is thread-safe.
ov::Core& SharedCore() {
  static ov::Core core;
  return core;
}

ElementType FromOv(const ov::element::Type& t) {
  if (t == ov::element::f32) return ElementType::kFloat32;
  if (t == ov::element::i64) return ElementType::kInt64;
  return ElementType::kOther;
}

std::string TypeName(const ov::element::Type& t) {
  if (t == ov::element::f32) return "float32";
  if (t == ov::element::i64) return "int64";
  if (t == ov::element::i32) return "int32";
  if (t == ov::element::f16) return "float16";
  if (t == ov::element::f64) return "float64";
  return t.get_type_name();
}

std::vector<TensorInfo> Describe(const std::vector<ov::Output<const ov::Node>>& ports) {
  std::vector<TensorInfo> infos;
  for (const auto& port : ports) {
    TensorInfo t;
    t.name = port.get_names().empty() ? std::string() : port.get_any_name();
    t.type = FromOv(port.get_element_type());
    t.type_name = TypeName(port.get_element_type());
    const auto& shape = port.get_partial_shape();
    t.dynamic_rank = shape.rank().is_dynamic();
    t.rank = t.dynamic_rank ? 0 : static_cast<std::size_t>(shape.rank().get_length());
    infos.push_back(std::move(t));
  }
  return infos;
}

class OpenVinoSession final : public GraphSession {
 public:
  explicit OpenVinoSession(ov::CompiledModel compiled)
      : compiled_(std::move(compiled)), inputs_(Describe(compiled_.inputs())), outputs_(Describe(compiled_.outputs())) {}

  std::vector<TensorInfo> inputs() const override { return inputs_; }
  std::vector<TensorInfo> outputs() const override { return outputs_; }

  FloatTensor Run(std::span<const TensorView> inputs, const char* output, RunControl* control) const override {
    if (control != nullptr && control->cancelled()) throw Cancelled();
    ov::InferRequest request = Take();
    try {
      for (const auto& in : inputs) {
        const ov::element::Type type = in.type == ElementType::kInt64 ? ov::element::i64 : ov::element::f32;
        request.set_tensor(in.name, ov::Tensor(type, ov::Shape(in.shape.begin(), in.shape.end()),
                                               const_cast<void*>(in.data)));
      }
    } catch (const ov::Exception& e) {
      throw BackendError(e.what());
    }
    {
      // Cancel() during the call interrupts it (InferRequest::cancel); one that
      // came just before infer() started is caught by the check after it.
      std::optional<RunControl::Tracked> tracked;
      if (control != nullptr) tracked.emplace(control, [&request] { request.cancel(); });
      try {
        request.infer();
      } catch (const ov::Cancelled&) {
        throw Cancelled();  // the request is dropped, not pooled
      } catch (const std::exception& e) {
        if (control != nullptr && control->cancelled()) throw Cancelled();
        throw BackendError(e.what());
      }
    }
    if (control != nullptr && control->cancelled()) throw Cancelled();
    FloatTensor result;
    try {
      const ov::Tensor out = request.get_tensor(output);
      const ov::Shape& shape = out.get_shape();
      result.shape.assign(shape.begin(), shape.end());
      const float* p = out.data<const float>();
      result.data.assign(p, p + out.get_size());
    } catch (const ov::Exception& e) {
      throw BackendError(e.what());
    }
    Give(std::move(request));
    return result;
  }

 private:
  // Requests are not thread-safe: each call takes one of its own from the pool
  // (or a new one) and gives it back when done.
  ov::InferRequest Take() const {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        ov::InferRequest r = std::move(idle_.back());
        idle_.pop_back();
        return r;
      }
    }
    try {
      return const_cast<ov::CompiledModel&>(compiled_).create_infer_request();
    } catch (const ov::Exception& e) {
      throw BackendError(e.what());
    }
  }
  void Give(ov::InferRequest r) const {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(r));
  }

  ov::CompiledModel compiled_;  // thread-safe
  std::vector<TensorInfo> inputs_, outputs_;
  mutable std::mutex mutex_;  // guards idle_
  mutable std::vector<ov::InferRequest> idle_;
};

}  // namespace

std::unique_ptr<GraphSession> OpenOpenVinoSession(const EngineConfig& config, const std::filesystem::path& path,
                                                  const std::string& rewritten, Precision precision) {
  int threads = config.intra_op_threads;
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ov::AnyMap options{
      ov::inference_num_threads(threads),
      ov::hint::performance_mode(ov::hint::PerformanceMode::LATENCY),
      ov::hint::inference_precision(precision == Precision::kBf16 ? ov::element::bf16 : ov::element::f32),
      // Pinned threads would keep the network threads off their cores.
      ov::hint::enable_cpu_pinning(false),
  };
  if (!config.optimized_model_cache.empty()) {
    std::filesystem::create_directories(config.optimized_model_cache);
    options.emplace(ov::cache_dir((config.optimized_model_cache / "openvino").string()));
  }
  try {
    ov::Core& core = SharedCore();
    std::shared_ptr<ov::Model> model =
        rewritten.empty() ? core.read_model(path.string()) : core.read_model(rewritten, ov::Tensor());
    return std::make_unique<OpenVinoSession>(core.compile_model(model, "CPU", options));
  } catch (const ov::Exception& e) {
    throw BackendError(std::string("OpenVINO: ") + e.what());
  }
}

bool OpenVinoCompiledIn() { return true; }

std::string OpenVinoVersion() {
  const ov::Version v = ov::get_openvino_version();
  std::string build = v.buildNumber;  // "2026.4.1-22982-e213a147257-releases/2026/4"
  return build.substr(0, build.find('-'));
}

}  // namespace supertonic
