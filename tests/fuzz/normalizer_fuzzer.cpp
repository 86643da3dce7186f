// Fuzz target: TextNormalizer (numbers, money, times, dates, units, phones,
// addresses, abbreviations, markdown) for the written tables and two
// ICU-derived languages, then PreprocessText on what it says.
//
// Input: byte 0 picks the language, the rest is the text (any bytes).
//
// Invariants:
//  - never crashes, throws or hangs, for any bytes;
//  - at most TextNormalizer::kMaxExpansion bytes out per byte in;
//  - valid UTF-8 in, valid UTF-8 out;
//  - PreprocessText of the output is "<lang>...</lang>" with valid UTF-8 inside.
#include <array>
#include <string>

#include "engine/text_normalizer.h"
#include "engine/text_preprocessor.h"
#include "fuzz/fuzz_support.h"

namespace supertonic::fuzz {

namespace {

constexpr std::array<std::string_view, 7> kLanguages = {"en", "ko", "es", "pt", "fr", "de", "ja"};

}  // namespace

int FuzzNormalizer(const uint8_t* data, std::size_t size) {
  static const TextNormalizer normalizer;
  ByteReader in(data, size);
  const std::string_view lang = kLanguages[in.Byte() % kLanguages.size()];
  const std::string_view text = in.Rest();
  const std::string spoken = normalizer.Normalize(text, lang);
  FUZZ_CHECK(spoken.size() <= TextNormalizer::kMaxExpansion * text.size(),
             std::to_string(spoken.size()) + " bytes said for " + std::to_string(text.size()) + ": " + Escape(text) +
                 " -> " + Escape(spoken));
  if (IsValidUtf8(text)) {
    FUZZ_CHECK(IsValidUtf8(spoken), "invalid UTF-8 out of valid UTF-8: " + Escape(text) + " -> " + Escape(spoken));
  }
  const PreprocessedText pre = PreprocessText(spoken, lang);
  const std::string open = "<" + std::string(lang) + ">", close = "</" + std::string(lang) + ">";
  FUZZ_CHECK(pre.text.starts_with(open) && pre.text.ends_with(close), "not <lang>...</lang>: " + Escape(pre.text));
  FUZZ_CHECK(IsValidUtf8(pre.text), "preprocessed output is not valid UTF-8: " + Escape(pre.text));
  return 0;
}

}  // namespace supertonic::fuzz
