#include "engine/model_profile.h"

#include <fmt/format.h>

#include <algorithm>

namespace supertonic {

bool ModelProfile::SupportsLanguage(std::string_view lang) const {
  return std::find(languages.begin(), languages.end(), lang) != languages.end();
}

std::size_t ModelProfile::ChunkLimit(std::string_view lang) const {
  auto it = chunk_chars_by_lang.find(lang);
  return it == chunk_chars_by_lang.end() ? chunk_chars : it->second;
}

std::string ModelProfile::Describe() const {
  return fmt::format("{} ({} languages: {}; chunks of {} characters; steps {} ({}..{}); speed {} ({}..{}]; {}{})",
                     name, languages.size(), fmt::join(languages, " "), chunk_chars, default_steps, min_steps,
                     max_steps, default_speed, min_speed, max_speed,
                     expression_tags.empty() ? std::string("no expression tags")
                                             : fmt::format("tags {}", fmt::join(expression_tags, " ")),
                     detected_by.empty() ? std::string() : "; " + detected_by);
}

ModelProfile SupertonicTwoProfile() { return ModelProfile{}; }

ModelProfile SupertonicThreeProfile() {
  // Placeholder until detection lands (issue 16): the official package's values.
  ModelProfile p;
  p.name = "supertonic-3";
  p.version = 3;
  return p;
}

ModelProfile DetectModelProfile(const std::filesystem::path& model_dir) {
  ModelProfile p = SupertonicTwoProfile();
  p.detected_by = "assumed (no detection yet)";
  return p;
}

}  // namespace supertonic
