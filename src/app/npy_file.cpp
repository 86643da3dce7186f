#include "app/npy_file.h"

#include <cstring>
#include <fstream>
#include <regex>
#include <stdexcept>

namespace supertonic::app {

NpyArray ReadNpyFloat32(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  char magic[8];
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw std::runtime_error(path.string() + " is not a .npy file");
  const int major = static_cast<unsigned char>(magic[6]);
  uint32_t header_len = 0;
  if (major == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    header_len = b[0] | (b[1] << 8);
  } else {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
  }
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  if (!in) throw std::runtime_error(path.string() + ": truncated header");
  if (header.find("'descr': '<f4'") == std::string::npos) {
    throw std::runtime_error(path.string() + ": expected dtype float32 ('<f4')");
  }
  if (header.find("'fortran_order': False") == std::string::npos) {
    throw std::runtime_error(path.string() + ": expected C order");
  }
  std::smatch m;
  if (!std::regex_search(header, m, std::regex(R"('shape':\s*\(([^)]*)\))"))) {
    throw std::runtime_error(path.string() + ": no shape in header");
  }
  NpyArray out;
  size_t count = 1;
  const std::string dims = m[1];
  const std::regex number(R"(\d+)");
  std::sregex_iterator it(dims.begin(), dims.end(), number), end;
  for (; it != end; ++it) {
    out.shape.push_back(std::stoll(it->str()));
    count *= static_cast<size_t>(out.shape.back());
  }
  out.data.resize(count);
  in.read(reinterpret_cast<char*>(out.data.data()), static_cast<std::streamsize>(count * sizeof(float)));
  if (!in) throw std::runtime_error(path.string() + ": truncated data");
  return out;
}

}  // namespace supertonic::app
