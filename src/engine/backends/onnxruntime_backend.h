#pragma once
// ONNX Runtime behind GraphSession: the default backend and the reference for
// exactness, on the CPU or the CUDA execution provider.
#include <filesystem>
#include <memory>
#include <string>

#include "engine/backends/graph_session.h"
#include "engine/engine_config.h"

namespace supertonic {

// Opens `path` (or `rewritten`, the model's bytes after the batch-padding
// rewrite, when not empty). Throws BackendError when ONNX Runtime cannot load
// it, or, with `with_cuda`, cannot initialize the CUDA provider.
std::unique_ptr<GraphSession> OpenOnnxRuntimeSession(const EngineConfig& config, const std::filesystem::path& path,
                                                     bool with_cuda, const std::string& rewritten);

// Creates ONNX Runtime's process-wide environment (its logger), which the CUDA
// provider options need before any session.
void InitOnnxRuntime();

}  // namespace supertonic
