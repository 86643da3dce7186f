#include "matmul_peak.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <random>

#include "engine/backends/onnxruntime_backend.h"
#include "engine/backends/openvino_backend.h"

namespace supertonic {
namespace {

std::string MatmulModel(int n) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("supertonic matmul_peak");
  model.add_opset_import()->set_version(17);
  onnx::GraphProto& graph = *model.mutable_graph();
  graph.set_name("matmul");
  auto add_value = [n](onnx::ValueInfoProto* v, const char* name) {
    v->set_name(name);
    auto* type = v->mutable_type()->mutable_tensor_type();
    type->set_elem_type(onnx::TensorProto::FLOAT);
    type->mutable_shape()->add_dim()->set_dim_value(n);
    type->mutable_shape()->add_dim()->set_dim_value(n);
  };
  add_value(graph.add_input(), "a");
  add_value(graph.add_output(), "y");
  onnx::TensorProto& b = *graph.add_initializer();
  b.set_name("b");
  b.set_data_type(onnx::TensorProto::FLOAT);
  b.add_dims(n);
  b.add_dims(n);
  std::vector<float> weights(static_cast<size_t>(n) * n);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (auto& w : weights) w = uniform(rng);
  b.set_raw_data(weights.data(), weights.size() * sizeof(float));
  onnx::NodeProto& node = *graph.add_node();
  node.set_op_type("MatMul");
  node.add_input("a");
  node.add_input("b");
  node.add_output("y");
  return model.SerializeAsString();
}

}  // namespace

MatmulPeak MeasureMatmulPeak(const EngineConfig& config, int n, int runs) {
  const std::string bytes = MatmulModel(n);
  const std::filesystem::path name = "matmul_peak.onnx";  // for messages only
  std::unique_ptr<GraphSession> session = config.backend == Backend::kOpenVino
                                              ? OpenOpenVinoSession(config, name, bytes, config.precision)
                                              : OpenOnnxRuntimeSession(config, name, false, bytes);
  std::vector<float> a(static_cast<size_t>(n) * n);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (auto& v : a) v = uniform(rng);
  const std::array in{View("a", a, {n, n})};
  session->Run(in, "y", nullptr);  // warm-up: first-run allocations and kernel selection
  MatmulPeak peak{n, 1e30, 0};
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    session->Run(in, "y", nullptr);
    peak.best_s = std::min(peak.best_s, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  peak.gflops = 2.0 * n * static_cast<double>(n) * n / peak.best_s / 1e9;
  return peak;
}

}  // namespace supertonic
