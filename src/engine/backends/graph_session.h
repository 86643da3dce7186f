#pragma once
// The backend seam: one loaded graph, run with named inputs. SupertonicModel
// holds four of these and knows nothing of the runtime behind them; each
// backend (onnxruntime_backend.h, openvino_backend.h) opens them and keeps its
// runtime's headers in its own .cpp. Run is called from several threads at
// once and must be safe for that.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/supertonic_model.h"

namespace supertonic {

// A runtime failed to open or run a graph (its message says why). The engine
// tells it apart from ModelError (wrong interface) to fall back, e.g. from the
// padding-rewritten graph to the graph as published, or from CUDA to the CPU.
class BackendError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class ElementType { kFloat32, kInt64, kOther };

struct TensorInfo {
  std::string name;
  ElementType type = ElementType::kOther;
  std::string type_name;  // "float32", "int64", "float16"...: for error messages
  std::size_t rank = 0;   // 0 with dynamic_rank
  bool dynamic_rank = false;
};

// An input the caller owns for the duration of Run.
struct TensorView {
  const char* name;
  ElementType type;
  const void* data;
  std::size_t count;
  std::vector<int64_t> shape;
};

inline TensorView View(const char* name, const std::vector<float>& data, std::vector<int64_t> shape) {
  return {name, ElementType::kFloat32, data.data(), data.size(), std::move(shape)};
}
inline TensorView View(const char* name, const std::vector<int64_t>& data, std::vector<int64_t> shape) {
  return {name, ElementType::kInt64, data.data(), data.size(), std::move(shape)};
}

class GraphSession {
 public:
  virtual ~GraphSession() = default;
  virtual std::vector<TensorInfo> inputs() const = 0;
  virtual std::vector<TensorInfo> outputs() const = 0;
  // Runs the graph and returns the float output `output`. Throws Cancelled
  // when `control` was (or gets) cancelled, BackendError when the runtime fails.
  virtual FloatTensor Run(std::span<const TensorView> inputs, const char* output, RunControl* control) const = 0;
};

// While a Tracked object lives, RunControl::Cancel() calls its `stop` (which
// interrupts the runtime call in flight); afterwards it no longer does.
class RunControl::Tracked {
 public:
  Tracked(RunControl* control, std::function<void()> stop);
  ~Tracked();
  Tracked(const Tracked&) = delete;
  Tracked& operator=(const Tracked&) = delete;

 private:
  RunControl* control_;
  std::size_t id_ = 0;
};

}  // namespace supertonic
