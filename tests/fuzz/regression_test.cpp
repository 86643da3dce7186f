// The fuzz targets as plain GoogleTest cases in the normal build: every file of
// tests/fuzz/corpus/<target>/ (seeds) and tests/fuzz/regressions/<target>/
// (inputs that once crashed or broke an invariant) goes through the target's
// checks. A violated invariant aborts with its message (see fuzz_support.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.h"

namespace supertonic::fuzz {
namespace {

namespace fs = std::filesystem;
using Target = int (*)(const uint8_t*, std::size_t);

std::vector<fs::path> InputsOf(const std::string& target, const std::string& kind) {
  std::vector<fs::path> files;
  const fs::path dir = fs::path(SUPERTONIC_SOURCE_DIR) / "tests" / "fuzz" / kind / target;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().filename().string().front() != '.') files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::size_t RunAll(const std::string& target, const std::string& kind, Target fn) {
  std::size_t n = 0;
  for (const fs::path& file : InputsOf(target, kind)) {
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    SCOPED_TRACE(file.string());
    fn(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    ++n;
  }
  return n;
}

TEST(FuzzRegression, Protocol) {
  EXPECT_GT(RunAll("protocol", "corpus", FuzzProtocol), 0u) << "no seed corpus";
  RunAll("protocol", "regressions", FuzzProtocol);
}

TEST(FuzzRegression, Text) {
  EXPECT_GT(RunAll("text", "corpus", FuzzText), 0u) << "no seed corpus";
  RunAll("text", "regressions", FuzzText);
}

TEST(FuzzRegression, Accumulator) {
  EXPECT_GT(RunAll("accumulator", "corpus", FuzzAccumulator), 0u) << "no seed corpus";
  RunAll("accumulator", "regressions", FuzzAccumulator);
}

TEST(FuzzRegression, Normalizer) {
  EXPECT_GT(RunAll("normalizer", "corpus", FuzzNormalizer), 0u) << "no seed corpus";
  RunAll("normalizer", "regressions", FuzzNormalizer);
}

TEST(FuzzRegression, Utf8) {
  EXPECT_GT(RunAll("utf8", "corpus", FuzzUtf8), 0u) << "no seed corpus";
  RunAll("utf8", "regressions", FuzzUtf8);
}

TEST(FuzzRegression, SpeechRequest) {
  EXPECT_GT(RunAll("speech_request", "corpus", FuzzSpeechRequest), 0u) << "no seed corpus";
  RunAll("speech_request", "regressions", FuzzSpeechRequest);
}

}  // namespace
}  // namespace supertonic::fuzz
