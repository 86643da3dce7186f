#pragma once
// Reads float32 arrays saved with numpy.save (little-endian, C order).
#include <cstdint>
#include <filesystem>
#include <vector>

namespace supertonic::app {

struct NpyArray {
  std::vector<float> data;
  std::vector<int64_t> shape;
};

// Throws std::runtime_error naming the file when it is not a C-order float32 .npy.
NpyArray ReadNpyFloat32(const std::filesystem::path& path);

}  // namespace supertonic::app
