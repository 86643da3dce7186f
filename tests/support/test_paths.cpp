#include "support/test_paths.h"

#include <array>
#include <cstdio>
#include <random>
#include <stdexcept>

namespace supertonic::testing {

std::filesystem::path SourceDir() { return SUPERTONIC_SOURCE_DIR; }
std::filesystem::path ProbeModelDir() { return SourceDir() / "models" / "probe"; }
std::filesystem::path FaithfulModelDir() { return SourceDir() / "models" / "faithful"; }
std::filesystem::path ProbeV3ModelDir() { return SourceDir() / "models" / "probe-v3"; }

std::filesystem::path SharedModelDir() {
  auto dir = SourceDir().parent_path() / "shared" / "models" / "supertonic-2";
  return std::filesystem::exists(dir / "onnx" / "unicode_indexer.json") ? dir : std::filesystem::path();
}

std::filesystem::path PythonExecutable() { return SourceDir() / "build" / "venv" / "bin" / "python"; }

std::filesystem::path MakeTempDir(const std::string& tag) {
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() / ("supertonic-" + tag + "-" + std::to_string(rd()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string RunCommand(const std::string& command) {
  std::array<char, 4096> buf{};
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = pclose(pipe);
  if (status != 0) throw std::runtime_error("command failed (" + std::to_string(status) + "): " + command);
  return out;
}

}  // namespace supertonic::testing
