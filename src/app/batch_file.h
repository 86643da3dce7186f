#pragma once
// `supertonic-tts synth --batch ITEMS.jsonl`: one JSON object per non-blank
// line, each an item of a single batched model call:
//   {"text": "...", "output": "a.wav", "voice": "F1", "lang": "en",
//    "speed": 1.05, "seed": 7, "noise": "a.npy"}
// text and output are required; voice, lang, speed and seed default to the
// command's options; noise (a float32 .npy of shape [1, 144, L]) replaces the
// seeded initial noise. Relative paths are relative to the file's directory,
// so a batch file and its outputs can move together.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace supertonic::app {

// One batch holds at most this many items: every stage runs them as one
// model call, whose tensors grow with the batch times its longest item.
inline constexpr std::size_t kMaxBatchItems = 256;

struct BatchItem {
  int line = 0;  // 1-based line of the file, for messages about this item
  std::string text;
  std::string voice;
  std::string lang;
  float speed = 1.05f;
  uint64_t seed = 0;
  std::filesystem::path noise;  // empty: seeded noise
  std::filesystem::path output;
};

// What an item gets for a key it leaves out.
struct BatchDefaults {
  std::string voice;
  std::string lang;
  float speed = 1.05f;
  uint64_t seed = 0;
};

// A problem with the batch file; the message names the file and line.
class BatchFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "<source> line <line>: <message>", for problems found after parsing (an
// unknown voice, a noise file of the wrong shape).
BatchFileError BatchLineError(const std::string& source, int line, const std::string& message);

// `content`: the file's text; `source`: its name in messages; `base_dir`:
// what relative noise and output paths are relative to. Throws
// BatchFileError for bad JSON, a line that is not an object, an unknown key,
// a missing or mistyped field, two items with the same output, no items or
// more than kMaxBatchItems.
std::vector<BatchItem> ParseBatchItems(std::string_view content, const std::string& source,
                                       const std::filesystem::path& base_dir, const BatchDefaults& defaults);

// Reads and parses a batch file (paths relative to its directory).
std::vector<BatchItem> ReadBatchFile(const std::filesystem::path& path, const BatchDefaults& defaults);

}  // namespace supertonic::app
