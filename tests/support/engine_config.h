#pragma once
// The engine configuration the engine tests run a model directory with.
#include <filesystem>

#include "engine/engine_config.h"

namespace supertonic::testing {

// `dir` on the CPU with two intra-op threads (the CI machines' cores).
EngineConfig ConfigFor(const std::filesystem::path& dir);
// The same on another backend or precision (the backend tests).
EngineConfig ConfigFor(const std::filesystem::path& dir, Backend backend, Precision precision = Precision::kFp32);

}  // namespace supertonic::testing
