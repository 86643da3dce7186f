#include "support/engine_config.h"

namespace supertonic::testing {

EngineConfig ConfigFor(const std::filesystem::path& dir) {
  EngineConfig c;
  c.model_dir = dir;
  c.intra_op_threads = 2;
  return c;
}

}  // namespace supertonic::testing
