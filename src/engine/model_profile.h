#pragma once
// What a model directory's files do not say about the model it holds: which
// Supertonic it is, its languages, chunk limits, step and speed ranges and
// which text tags it reads. Decided from the files themselves (never from the
// directory's name) by DetectModelProfile.
#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace supertonic {

struct ModelProfile {
  std::string name = "supertonic-2";  // "supertonic-2" | "supertonic-3": the public model name
  int version = 2;
  std::vector<std::string> languages{"en", "ko", "es", "pt", "fr"};
  std::size_t chunk_chars = 300;                          // default chunk limit in code points
  std::map<std::string, std::size_t, std::less<>> chunk_chars_by_lang{{"ko", 120}};
  int default_steps = 2, min_steps = 1, max_steps = 64;
  float default_speed = 1.05f, min_speed = 0.0f, max_speed = 10.0f;  // speed must be > min, <= max
  // Tags the model reads inside the text (v3's <laugh>, ...): kept by the text
  // frontend; every other <tag> is removed so the model never spells it out.
  std::vector<std::string> expression_tags;
  std::string detected_by;  // how the decision was made, for the log and `ids`

  bool SupportsLanguage(std::string_view lang) const;
  std::size_t ChunkLimit(std::string_view lang) const;
  std::string Describe() const;  // one line: name, languages, limits, steps, speed, tags, detected_by
};

ModelProfile SupertonicTwoProfile();
ModelProfile SupertonicThreeProfile();

// Reads the model directory (its text encoder's embedding rows, its indexer)
// and returns the matching profile. Throws ModelError when the files fit none.
ModelProfile DetectModelProfile(const std::filesystem::path& model_dir);

}  // namespace supertonic
