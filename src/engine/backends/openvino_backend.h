#pragma once
// OpenVINO behind GraphSession: the CPU backend that reaches bf16 (AVX512-BF16,
// AMX) and compiles the ONNX graphs directly, with dynamic shapes. OpenVINO's
// headers stay in openvino_backend.cpp; without SUPERTONIC_OPENVINO the
// functions below exist and say so.
#include <filesystem>
#include <memory>
#include <string>

#include "engine/backends/graph_session.h"
#include "engine/engine_config.h"

namespace supertonic {

// Compiles `path` (or `rewritten`, the model's bytes after the batch-padding
// rewrite, when not empty) for the CPU with config's threads (0: one per core),
// the latency hint and `precision` as the inference precision. Throws
// BackendError when OpenVINO cannot read or compile it (or is not compiled in).
std::unique_ptr<GraphSession> OpenOpenVinoSession(const EngineConfig& config, const std::filesystem::path& path,
                                                  const std::string& rewritten, Precision precision);

}  // namespace supertonic
