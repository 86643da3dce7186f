// The OpenVINO backend's stand-in for builds without it (-DSUPERTONIC_OPENVINO=OFF,
// e.g. the sanitizer builds): it says so when asked to open a graph.
#include "engine/backends/openvino_backend.h"

namespace supertonic {

std::unique_ptr<GraphSession> OpenOpenVinoSession(const EngineConfig&, const std::filesystem::path& path,
                                                  const std::string&, Precision) {
  throw BackendError("cannot open " + path.string() +
                     " with OpenVINO: this build has none (configured with -DSUPERTONIC_OPENVINO=OFF)");
}

bool OpenVinoCompiledIn() { return false; }
std::string OpenVinoVersion() { return {}; }

}  // namespace supertonic
