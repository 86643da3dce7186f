#pragma once
// Splits long input into pieces the model can take in one pass.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "text/utf8.h"  // CountCodePoints, Utf8Unit: what the chunker's callers count and walk by

namespace supertonic {

// Supertonic 2's published limits: 300 characters, 120 for Korean. A model's
// own limits: ModelProfile::ChunkLimit (Synthesizer::profile()).
std::size_t ChunkLimitFor(std::string_view lang);

// Splits at paragraphs (blank lines), then sentence ends (. ! ? and their
// CJK/ellipsis forms, not after abbreviations such as Mr. Dr. e.g. or a single
// capital initial), packing whole sentences greedily up to max_chars code
// points; a sentence that is still too long is split at clause punctuation,
// then at spaces; only a single word longer than max_chars is cut inside,
// and never inside an expression tag (<laugh>, ...) unless the tag alone is
// longer than max_chars.
// Empty or whitespace-only input gives no chunks.
// Details: sentences packed together are joined by one space (as the reference
// does); a sentence is otherwise kept verbatim. CJK ends (。！？) and CJK commas
// also allow a cut with no space after them, but only inside a sentence that
// is too long; the pieces of such a sentence are chunks of their own. Invalid
// UTF-8 bytes are kept (one code point each) for the preprocessor to count.
// max_chars 0 is treated as 1.
std::vector<std::string> ChunkText(std::string_view text, std::size_t max_chars);

// Where text that is still streaming in may be cut, ranked by what precedes
// the cut. Uses ChunkText's rules: a sentence end is one of . ! ? and their
// CJK/ellipsis forms, optionally followed by closing quotes or brackets, and
// not a "." that ends an abbreviation (Mr. Dr. e.g. ...) or a single capital
// initial; a clause end is , ; : or a CJK form; a blank line ends a sentence.
enum class BreakKind { kSpace, kClause, kSentence };

struct TextBreak {
  std::size_t begin = 0;         // byte range [begin, end) of a run of whitespace
  std::size_t end = 0;
  std::size_t chars_before = 0;  // code points before the run
  std::size_t chars = 0;         // code points in the run
  BreakKind kind = BreakKind::kSpace;
};

// Every run of whitespace in `text`, in order, including one at either end;
// a run at the very start has nothing before it and is kSpace.
std::vector<TextBreak> FindBreaks(std::string_view text);

// How a cut right after `text` would rank if whitespace followed it (trailing
// whitespace in `text` is ignored); kSpace for empty or whitespace-only text.
BreakKind BreakKindAtEnd(std::string_view text);

}  // namespace supertonic
