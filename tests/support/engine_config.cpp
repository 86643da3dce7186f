#include "support/engine_config.h"

namespace supertonic::testing {

EngineConfig ConfigFor(const std::filesystem::path& dir) {
  EngineConfig c;
  c.model_dir = dir;
  c.intra_op_threads = 2;
  return c;
}

EngineConfig ConfigFor(const std::filesystem::path& dir, Backend backend, Precision precision) {
  EngineConfig c = ConfigFor(dir);
  c.backend = backend;
  c.precision = precision;
  return c;
}

}  // namespace supertonic::testing
