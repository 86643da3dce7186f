#pragma once
// Text normalization exactly as the published Supertonic 2 reference does it,
// so the model sees the distribution it was trained on.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace supertonic {

struct PreprocessedText {
  std::string text;                 // "<lang>normalized text</lang>", NFKD, UTF-8
  std::size_t invalid_bytes = 0;    // bytes of invalid UTF-8 that were dropped
};

// NFKD, emoji removal, the reference replacement table, punctuation spacing,
// duplicate quotes, whitespace collapse, final period, <lang> tags.
// Never throws on any byte sequence: invalid UTF-8 is dropped and counted.
// Exactly the Supertonic 2 reference: expression tags are text like any other.
PreprocessedText PreprocessText(std::string_view text, std::string_view lang);

// The same for a model that reads the expression tags `kept_tags` (those of
// ExpressionTags() it reads: ModelProfile::expression_tags). They (after NFKD,
// in any letter case) are kept, lower-cased, and the final period goes after
// the last word, before trailing tags ("So funny <laugh>" -> "So funny.
// <laugh>"; a text of tags alone gets none). The known tags it does not read
// are removed (a space is left only between two words). Supertonic 2 text
// without tags comes out exactly as from the reference.
PreprocessedText PreprocessText(std::string_view text, std::string_view lang,
                                const std::vector<std::string>& kept_tags);

// The expression tags Supertonic 3 reads inside the text: <laugh> <breath>
// <surprise> <sigh> <scream> <throatclear> <sad> <angry> <cough> <yawn>.
const std::vector<std::string>& ExpressionTags();

// The length in code points of the expression tag starting at text[pos]
// (any letter case), or 0 when none does.
std::size_t ExpressionTagAt(std::u32string_view text, std::size_t pos);

// Python's str.isspace() (what the reference's \s and strip() match):
// \t \n \v \f \r, U+001C-U+001F, space, U+0085, U+00A0, U+1680, U+2000-U+200A,
// U+2028, U+2029, U+202F, U+205F, U+3000. Shared with the chunker.
bool IsPythonWhitespace(char32_t cp);

// Python's str.isalnum() for one code point: a letter (L*) or a number (N*)
// by Unicode category. Shared with the chunker and the word timings.
bool IsLetterOrNumber(char32_t cp);

}  // namespace supertonic
