#pragma once
// Text normalization exactly as the published Supertonic 2 reference does it,
// so the model sees the distribution it was trained on.
#include <cstddef>
#include <string>
#include <string_view>

namespace supertonic {

struct PreprocessedText {
  std::string text;                 // "<lang>normalized text</lang>", NFKD, UTF-8
  std::size_t invalid_bytes = 0;    // bytes of invalid UTF-8 that were dropped
};

// NFKD, emoji removal, the reference replacement table, punctuation spacing,
// duplicate quotes, whitespace collapse, final period, <lang> tags.
// Never throws on any byte sequence: invalid UTF-8 is dropped and counted.
PreprocessedText PreprocessText(std::string_view text, std::string_view lang);

// Python's str.isspace() (what the reference's \s and strip() match):
// \t \n \v \f \r, U+001C-U+001F, space, U+0085, U+00A0, U+1680, U+2000-U+200A,
// U+2028, U+2029, U+202F, U+205F, U+3000. Shared with the chunker.
bool IsPythonWhitespace(char32_t cp);

}  // namespace supertonic
