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
//  - PreprocessText of the output is "<lang>...</lang>" with valid UTF-8 inside;
//  - TimeWords over that gives every written word once, in order, with times
//    that never go back and stay inside the audio.
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "text/reference_preprocessor.h"
#include "text/text_normalizer.h"
#include "text/unicode_indexer.h"
#include "text/word_timing.h"

namespace supertonic::fuzz {

namespace {

constexpr std::array<std::string_view, 7> kNormalizerLanguages = {"en", "ko", "es", "pt", "fr", "de", "ja"};

// An indexer that knows the Latin, Hangul syllable and Hiragana blocks partly, so that some
// characters are dropped, as a real model's indexer drops what it does not read.
const UnicodeIndexer& Indexer() {
  static const UnicodeIndexer indexer = [] {
    std::vector<int32_t> table(0x10000, -1);
    for (std::size_t cp = 0x20; cp < 0x250; ++cp) table[cp] = static_cast<int32_t>(cp % 160);
    for (std::size_t cp = 0x3040; cp < 0x30A0; ++cp) table[cp] = 100;
    for (std::size_t cp = 0xAC00; cp < 0xB000; ++cp) table[cp] = 120;
    return UnicodeIndexer(std::move(table));
  }();
  return indexer;
}

}  // namespace

int FuzzNormalizer(const uint8_t* data, std::size_t size) {
  static const TextNormalizer normalizer;
  ByteReader in(data, size);
  const std::string_view lang = kNormalizerLanguages[in.Byte() % kNormalizerLanguages.size()];
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

  const TokenTimeline timeline{1.7, 0.07, 0.07 * 1.7 * static_cast<double>(Indexer().Encode(pre.text).ids.size()) * 0.9};
  const auto words = TimeWords(text, pre.text, Indexer(), timeline, [&](std::string_view w) {
    return normalizer.Normalize(w, lang).size();
  });
  // The words are the text's, in order, and nothing between them is lost: what
  // lies between two words is whitespace (ASCII or not), never an ASCII character.
  auto only_spaces = [&](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      FUZZ_CHECK(c >= 0x80 || c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F),
                 "text lost between timed words: " + Escape(text.substr(from, to - from)) + " in " + Escape(text));
    }
  };
  std::size_t pos = 0;
  for (const auto& w : words) {
    const std::size_t at = text.find(w.word, pos);
    FUZZ_CHECK(!w.word.empty() && at != std::string_view::npos, "a word not from the text, in order: " + Escape(w.word));
    only_spaces(pos, at);
    pos = at + w.word.size();
  }
  only_spaces(pos, text.size());
  double last = 0;
  for (const auto& w : words) {
    FUZZ_CHECK(std::isfinite(w.start_s) && std::isfinite(w.end_s) && w.start_s >= last && w.end_s >= w.start_s &&
                   w.end_s <= timeline.audio_s + 1e-9,
               "word times out of order or outside the audio for " + Escape(text));
    last = w.end_s;
  }
  return 0;
}

}  // namespace supertonic::fuzz
