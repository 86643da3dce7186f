#pragma once
// What a model directory's files do not say about the model it holds: which
// Supertonic it is, its languages, chunk limits, step and speed ranges and
// which text tags it reads. Decided from the files themselves (never from the
// directory's name) by DetectModelProfile.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace supertonic {

class UnicodeIndexer;
struct ModelConfig;

struct ModelProfile {
  std::string name = "supertonic-2";  // "supertonic-2" | "supertonic-3": the public model name
  int version = 2;
  std::vector<std::string> languages{"en", "ko", "es", "pt", "fr"};
  std::size_t chunk_chars = 300;                          // default chunk limit in code points
  std::map<std::string, std::size_t, std::less<>> chunk_chars_by_lang{{"ko", 120}};
  int default_steps = 2, min_steps = 1, max_steps = 64;
  // A speed is allowed when it is > 0 and within [min_speed, max_speed]
  // (Supertonic 2: (0, 10]; Supertonic 3: [0.7, 2.0], as the official package checks).
  float default_speed = 1.05f, min_speed = 0.0f, max_speed = 10.0f;
  // Tags the model reads inside the text (v3's <laugh>, ...): kept by the text
  // frontend. The known expression tags a model does not read are removed
  // (ExpressionTags() in text/reference_preprocessor.h), so that it never spells them out.
  std::vector<std::string> expression_tags;
  // The duration predictor's output above this many seconds per text id (before
  // the speed factor) is a runaway: clamped to it. Supertonic 2 speaks about
  // 0.07 s per character.
  double max_seconds_per_token = 0.4;
  // The graphs' text embedding size and the largest id the indexer may use.
  int64_t text_embedding_rows = 163;
  std::string detected_by;  // how the decision was made, for the log and `ids`

  bool SupportsLanguage(std::string_view lang) const;
  std::size_t ChunkLimit(std::string_view lang) const;
  bool SpeedAllowed(float speed) const;
  std::string SpeedRange() const;  // "(0, 10]" or "[0.7, 2]", for error messages
  // "unsupported language 'xx'; this model (supertonic-3) speaks: en ko ..."
  std::string UnsupportedLanguageMessage(std::string_view lang) const;
  // A configured chunk length replaces the default one; a language's own
  // (smaller) limit stays unless the configured one is smaller still.
  void OverrideChunkChars(std::size_t chars);
  std::string Describe() const;  // one line: name, detected_by, languages, limits, steps, speed, tags
};

ModelProfile SupertonicTwoProfile();
ModelProfile SupertonicThreeProfile();

// Reads the model directory and returns the matching profile: the text
// encoder's embedding (a Gather of a 2-D table by `text_ids`: 163 rows is
// Supertonic 2, 8322 Supertonic 3) or, for graphs without one, the indexer's
// largest id. Languages listed in onnx/tts.json replace the profile's. Logs the
// decision with its evidence. Throws ModelError naming the file and what was
// found when the files fit no known model.
ModelProfile DetectModelProfile(const std::filesystem::path& model_dir);
// The same, with the indexer and tts.json the caller has already loaded.
ModelProfile DetectModelProfile(const std::filesystem::path& model_dir, const UnicodeIndexer& indexer,
                                const ModelConfig& config);

}  // namespace supertonic
