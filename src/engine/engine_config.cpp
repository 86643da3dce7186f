#include "engine/engine_config.h"

#include <sstream>
#include <stdexcept>

namespace supertonic {

std::string ToString(Device d) {
  switch (d) {
    case Device::kCpu: return "cpu";
    case Device::kCuda: return "cuda";
    case Device::kAuto: return "auto";
  }
  return "?";
}

std::string ToString(GraphOptimization g) {
  switch (g) {
    case GraphOptimization::kDisabled: return "disabled";
    case GraphOptimization::kBasic: return "basic";
    case GraphOptimization::kExtended: return "extended";
    case GraphOptimization::kAll: return "all";
  }
  return "?";
}

std::string ToString(Backend b) {
  switch (b) {
    case Backend::kOnnxRuntime: return "onnxruntime";
    case Backend::kOpenVino: return "openvino";
  }
  return "?";
}

std::string ToString(Precision p) {
  switch (p) {
    case Precision::kFp32: return "fp32";
    case Precision::kBf16: return "bf16";
  }
  return "?";
}

Backend EngineConfig::ParseBackend(const std::string& s) {
  if (s == "onnxruntime" || s == "ort") return Backend::kOnnxRuntime;
  if (s == "openvino" || s == "ov") return Backend::kOpenVino;
  throw std::invalid_argument("backend (TTS_BACKEND, --backend) must be onnxruntime or openvino, got '" + s + "'");
}

Precision EngineConfig::ParsePrecision(const std::string& s) {
  if (s == "fp32" || s == "f32") return Precision::kFp32;
  if (s == "bf16") return Precision::kBf16;
  throw std::invalid_argument("precision (TTS_PRECISION, --precision) must be fp32 or bf16, got '" + s + "'");
}

Device EngineConfig::ParseDevice(const std::string& s) {
  if (s == "cpu") return Device::kCpu;
  if (s == "cuda" || s == "gpu") return Device::kCuda;
  if (s == "auto") return Device::kAuto;
  throw std::invalid_argument("device must be cpu, cuda or auto, got '" + s + "'");
}

GraphOptimization EngineConfig::ParseGraphOptimization(const std::string& s) {
  if (s == "disabled" || s == "none") return GraphOptimization::kDisabled;
  if (s == "basic") return GraphOptimization::kBasic;
  if (s == "extended") return GraphOptimization::kExtended;
  if (s == "all") return GraphOptimization::kAll;
  throw std::invalid_argument("graph optimization must be disabled, basic, extended or all, got '" + s + "'");
}

void EngineConfig::Validate() const {
  if (model_dir.empty()) throw std::invalid_argument("model_dir is not set");
  if (intra_op_threads < 0 || intra_op_threads > 256) {
    throw std::invalid_argument("intra_op_threads must be 0..256, got " + std::to_string(intra_op_threads));
  }
  if (inter_op_threads < 1 || inter_op_threads > 256) {
    throw std::invalid_argument("inter_op_threads must be 1..256, got " + std::to_string(inter_op_threads));
  }
  if (vocoder_first_chunk_frames < 0 || vocoder_chunk_frames < 0 || vocoder_min_first_chunk_frames < 1) {
    throw std::invalid_argument("vocoder chunk sizes must be >= 0 (the minimum first chunk >= 1)");
  }
  if (max_chunk_chars < 0 || max_chunk_chars > 500) {
    throw std::invalid_argument("max_chunk_chars must be 0 (the model profile's) or 1..500, got " +
                                std::to_string(max_chunk_chars));
  }
  if (cuda_device_id < 0) {
    throw std::invalid_argument("cuda_device_id must be >= 0, got " + std::to_string(cuda_device_id));
  }
  if (backend == Backend::kOpenVino && device == Device::kCuda) {
    throw std::invalid_argument(
        "backend openvino (TTS_BACKEND, --backend) runs on the CPU only, but the device (TTS_DEVICE, --device) is "
        "cuda: use the onnxruntime backend for CUDA, or the device cpu (or auto)");
  }
  if (precision == Precision::kBf16 && backend != Backend::kOpenVino) {
    throw std::invalid_argument(
        "precision bf16 (TTS_PRECISION, --precision) needs the backend openvino (TTS_BACKEND=openvino, --backend "
        "openvino); the onnxruntime backend runs fp32");
  }
}

void EngineConfig::CheckCpuSupport(const CpuFeatures& cpu) const {
  if (precision == Precision::kBf16 && !cpu.bf16()) {
    throw std::invalid_argument("precision bf16 (TTS_PRECISION, --precision) needs a CPU with AVX512-BF16 or "
                                "AMX-BF16; this CPU has " + cpu.ToString() + ": use fp32");
  }
}

std::string EngineConfig::ToString() const {
  std::ostringstream os;
  os << "EngineConfig(model_dir=" << model_dir.string() << ", device=" << supertonic::ToString(device)
     << ", intra_op_threads=" << intra_op_threads << ", inter_op_threads=" << inter_op_threads
     << ", allow_spinning=" << (allow_spinning ? "true" : "false")
     << ", graph_optimization=" << supertonic::ToString(graph_optimization)
     << ", backend=" << supertonic::ToString(backend) << ", precision=" << supertonic::ToString(precision)
     << ", cuda_device_id=" << cuda_device_id;
  for (const auto& [k, v] : cuda_options) os << ", cuda." << k << "=" << v;
  if (!optimized_model_cache.empty()) os << ", optimized_model_cache=" << optimized_model_cache.string();
  os << ", chunked_vocoder=" << (chunked_vocoder ? "true" : "false");
  if (!rewrite_batch_padding) os << ", rewrite_batch_padding=false";
  if (!normalize_text) os << ", normalize_text=false";
  if (max_chunk_chars > 0) os << ", max_chunk_chars=" << max_chunk_chars;
  os << ")";
  return os.str();
}

}  // namespace supertonic
