// Fuzz target: the text frontend: PreprocessText (the reference form and for
// the Supertonic 2 and 3 profiles: expression tags removed or kept),
// UnicodeIndexer::Encode (with a synthetic table) and ChunkText.
//
// Input: byte 0 picks the language, byte 1 the chunk limit, the rest is the text
// (any bytes: the service passes client text through after JSON decoding, and
// the engine's own entry points take arbitrary std::string_view).
//
// Invariants:
//  - PreprocessText: output is "<lang>...</lang>" with valid UTF-8 inside,
//    non-empty, no leading/trailing whitespace, every whitespace a single
//    U+0020; invalid_bytes is zero exactly when the input is valid UTF-8 and
//    never more than the input's size;
//  - Encode of the preprocessed text: every id in [0, vocabulary_size), and
//    ids + unknown_chars == the text's code points (valid UTF-8 in);
//    Encode of the raw bytes: ids in range, ids + unknown <= bytes;
//  - ChunkText: no chunk over the limit (code points; limit 0 acts as 1), no
//    empty or whitespace-only chunk, and the chunks hold exactly the input's
//    non-whitespace characters, in order (nothing lost, duplicated or moved).
#include <array>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "text/reference_preprocessor.h"
#include "text/text_chunker.h"
#include "text/unicode_indexer.h"

namespace supertonic::fuzz {

namespace {

constexpr std::array<std::string_view, 6> kLanguages = {"en", "ko", "es", "pt", "fr", "na"};

const UnicodeIndexer& SyntheticIndexer() {
  // Covers the BMP's first 0x3100 code points (Latin, Greek, Cyrillic,
  // punctuation, CJK symbols); every 11th is unknown; ids wrap at 97 so
  // several characters share one, as in the real table.
  static const UnicodeIndexer indexer = [] {
    std::vector<int32_t> table(0x3100);
    for (std::size_t cp = 0; cp < table.size(); ++cp) table[cp] = cp % 11 == 5 ? -1 : static_cast<int32_t>(cp % 97);
    return UnicodeIndexer(std::move(table));
  }();
  return indexer;
}

void CheckPreprocess(std::string_view text, std::string_view lang, const std::vector<std::string>* kept_tags) {
  const PreprocessedText out = kept_tags ? PreprocessText(text, lang, *kept_tags) : PreprocessText(text, lang);
  const std::string open = "<" + std::string(lang) + ">", close = "</" + std::string(lang) + ">";
  const std::string& s = out.text;
  FUZZ_CHECK(s.size() > open.size() + close.size() && s.starts_with(open) && s.ends_with(close),
             "output is not <lang>non-empty</lang>: " + Escape(s) + "  input: " + Escape(text));
  const std::string_view inner = std::string_view(s).substr(open.size(), s.size() - open.size() - close.size());
  FUZZ_CHECK(IsValidUtf8(inner), "output is not valid UTF-8: " + Escape(inner) + "  input: " + Escape(text));
  const std::vector<uint32_t> cps = Decode(inner);
  for (std::size_t k = 0; k < cps.size(); ++k) {
    if (!IsSpace(cps[k])) continue;
    FUZZ_CHECK(cps[k] == ' ' && k > 0 && k + 1 < cps.size() && cps[k - 1] != ' ',
               "whitespace not collapsed/trimmed: " + Escape(inner) + "  input: " + Escape(text));
  }
  FUZZ_CHECK(out.invalid_bytes <= text.size(), "more invalid bytes than bytes");
  FUZZ_CHECK((out.invalid_bytes == 0) == IsValidUtf8(text),
             "invalid_bytes " + std::to_string(out.invalid_bytes) + " disagrees with strict UTF-8 validation of " +
                 Escape(text));

  const UnicodeIndexer& indexer = SyntheticIndexer();
  const EncodedText encoded = indexer.Encode(s);
  for (int64_t id : encoded.ids) {
    FUZZ_CHECK(id >= 0 && id < indexer.vocabulary_size(), "id out of range: " + std::to_string(id));
  }
  FUZZ_CHECK(encoded.ids.size() + encoded.unknown_chars == CountCodePoints(s),
             "ids + unknown != code points for " + Escape(s));
}

void CheckEncodeRaw(std::string_view text) {
  const UnicodeIndexer& indexer = SyntheticIndexer();
  const EncodedText encoded = indexer.Encode(text);
  for (int64_t id : encoded.ids) {
    FUZZ_CHECK(id >= 0 && id < indexer.vocabulary_size(), "id out of range: " + std::to_string(id));
  }
  FUZZ_CHECK(encoded.ids.size() + encoded.unknown_chars <= text.size(), "more ids than bytes for " + Escape(text));
  if (IsValidUtf8(text)) {
    FUZZ_CHECK(encoded.ids.size() + encoded.unknown_chars == CountCodePoints(text),
               "ids + unknown != code points for " + Escape(text));
  }
}

void CheckChunks(std::string_view text, std::size_t max_chars) {
  const std::vector<std::string> chunks = ChunkText(text, max_chars);
  const std::size_t limit = max_chars == 0 ? 1 : max_chars;
  std::vector<uint32_t> joined;
  for (const std::string& chunk : chunks) {
    FUZZ_CHECK(CountCodePoints(chunk) <= limit, "chunk of " + std::to_string(CountCodePoints(chunk)) +
                                                    " code points over the limit " + std::to_string(limit) + ": " +
                                                    Escape(chunk) + "  input: " + Escape(text));
    const std::vector<uint32_t> kept = NonSpace(chunk);
    FUZZ_CHECK(!kept.empty(), "empty or whitespace-only chunk in the chunks of " + Escape(text));
    joined.insert(joined.end(), kept.begin(), kept.end());
  }
  FUZZ_CHECK(joined == NonSpace(text),
             "chunks do not hold exactly the input's characters (limit " + std::to_string(limit) +
                 ", " + std::to_string(chunks.size()) + " chunks)  input: " + Escape(text));
}

}  // namespace

int FuzzText(const uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  const std::string_view lang = kLanguages[in.Byte() % kLanguages.size()];
  const uint8_t limit_byte = in.Byte();
  // Mostly small limits (every cutting path is reached with short inputs), sometimes the real ones.
  const std::size_t max_chars = limit_byte >= 250 ? (limit_byte % 2 ? 300 : 120) : limit_byte % 64;
  const std::string_view text = in.Rest();
  // The tags Supertonic 2 and 3 keep (ModelProfile::expression_tags).
  static const std::vector<std::string> v2;
  const std::vector<std::string>& v3 = ExpressionTags();
  CheckPreprocess(text, lang, nullptr);
  CheckPreprocess(text, lang, &v2);
  CheckPreprocess(text, lang, &v3);
  CheckEncodeRaw(text);
  CheckChunks(text, max_chars);
  return 0;
}

}  // namespace supertonic::fuzz
