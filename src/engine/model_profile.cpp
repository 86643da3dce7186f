#include "engine/model_profile.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "text/reference_preprocessor.h"

namespace supertonic {

bool ModelProfile::SupportsLanguage(std::string_view lang) const {
  return std::find(languages.begin(), languages.end(), lang) != languages.end();
}

std::size_t ModelProfile::ChunkLimit(std::string_view lang) const {
  auto it = chunk_chars_by_lang.find(lang);
  return it == chunk_chars_by_lang.end() ? chunk_chars : it->second;
}

bool ModelProfile::SpeedAllowed(float speed) const {
  return speed > 0.0f && speed >= min_speed && speed <= max_speed;
}

std::string ModelProfile::SpeedRange() const {
  return min_speed > 0.0f ? fmt::format("[{}, {}]", min_speed, max_speed) : fmt::format("(0, {}]", max_speed);
}

std::string ModelProfile::UnsupportedLanguageMessage(std::string_view lang) const {
  return fmt::format("unsupported language '{}'; this model ({}) speaks: {}", lang, name, fmt::join(languages, " "));
}

void ModelProfile::OverrideChunkChars(std::size_t chars) {
  if (chars == 0) return;
  chunk_chars = chars;
  for (auto& [lang, limit] : chunk_chars_by_lang) limit = std::min(limit, chars);
}

std::string ModelProfile::Describe() const {
  std::vector<std::string> by_lang;
  for (const auto& [lang, limit] : chunk_chars_by_lang) by_lang.push_back(fmt::format("{} {}", lang, limit));
  return fmt::format(
      "{}{}: {} languages ({}); chunks of {} characters{}; steps {} ({}..{}); speed {} {}; {}; runaway durations "
      "clamped above {} s per text id",
      name, detected_by.empty() ? std::string() : " (" + detected_by + ")", languages.size(),
      fmt::join(languages, " "), chunk_chars,
      by_lang.empty() ? std::string() : fmt::format(" ({})", fmt::join(by_lang, ", ")), default_steps, min_steps,
      max_steps, default_speed, SpeedRange(),
      expression_tags.empty() ? std::string("no expression tags (removed from the text)")
                              : fmt::format("expression tags {}", fmt::join(expression_tags, " ")),
      max_seconds_per_token);
}

ModelProfile SupertonicTwoProfile() { return ModelProfile{}; }

ModelProfile SupertonicThreeProfile() {
  ModelProfile p;
  p.name = "supertonic-3";
  p.version = 3;
  // The official package's list (config.py), then `na` for text of any other language.
  p.languages = {"en", "ko", "ja", "ar", "bg", "cs", "da", "de", "el", "es", "et", "fi", "fr", "hi", "hr", "hu",
                 "id", "it", "lt", "lv", "nl", "pl", "pt", "ro", "ru", "sk", "sl", "sv", "tr", "uk", "vi", "na"};
  // Repeated and skipped words are reported above ~160 characters per chunk:
  // the default stays below that (docs/engine.md, "Model profiles").
  p.chunk_chars = 150;
  p.chunk_chars_by_lang = {{"ja", 120}, {"ko", 120}};
  p.default_steps = 8;
  p.default_speed = 1.05f;
  p.min_speed = 0.7f;
  p.max_speed = 2.0f;
  p.expression_tags = ExpressionTags();
  p.text_embedding_rows = 8322;
  return p;
}

}  // namespace supertonic
