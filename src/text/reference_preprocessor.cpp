#include "text/reference_preprocessor.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "text/utf8.h"

// Each step below mirrors one line of the Python reference's
// UnicodeProcessor._preprocess_text, in the same order. The text is held as
// code points (std::u32string) so every pass is a plain linear scan.
namespace supertonic {

namespace {

// --- UTF-8 decoding + NFKD ---------------------------------------------------

// Appends the full compatibility decomposition of `cp` (not yet reordered).
void AppendDecomposition(char32_t cp, std::u32string& out) {
  if (cp < 0x80) {  // ASCII never decomposes.
    out.push_back(cp);
    return;
  }
  std::array<utf8proc_int32_t, 32> buf{};
  int boundclass = 0;
  const auto options = static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE);
  utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf.data(),
                                               static_cast<utf8proc_ssize_t>(buf.size()), options, &boundclass);
  if (n < 0 || n > static_cast<utf8proc_ssize_t>(buf.size())) {
    // Cannot happen for valid code points (the longest decomposition, U+FDFA,
    // has 18); keep the character rather than lose it.
    out.push_back(cp);
    return;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) out.push_back(static_cast<char32_t>(buf[i]));
}

int CombiningClass(char32_t cp) {
  if (cp < 0x300) return 0;
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->combining_class;
}

// Canonical ordering: every run of non-starters is stably sorted by combining
// class. (utf8proc's own reordering is quadratic on long mark runs.)
void CanonicalOrder(std::u32string& text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    if (CombiningClass(text[i]) == 0) {
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    while (j < n && CombiningClass(text[j]) != 0) ++j;
    if (j - i > 1) {
      std::stable_sort(text.begin() + static_cast<std::ptrdiff_t>(i), text.begin() + static_cast<std::ptrdiff_t>(j),
                       [](char32_t a, char32_t b) { return CombiningClass(a) < CombiningClass(b); });
    }
    i = j;
  }
}

// Decodes UTF-8, dropping (and counting) every invalid byte (text/utf8.h's
// policy: one byte each), and applies NFKD.
std::u32string DecodeNfkd(std::string_view utf8, std::size_t& invalid_bytes) {
  std::u32string out;
  out.reserve(utf8.size() + utf8.size() / 4);
  for (std::size_t pos = 0; pos < utf8.size();) {
    const utf8::Decoded d = utf8::DecodeAt(utf8, pos);
    pos += d.length;
    if (!d.valid) {
      ++invalid_bytes;
      continue;
    }
    AppendDecomposition(d.cp, out);
  }
  CanonicalOrder(out);
  return out;
}

// --- Character classes and single-character rules ---------------------------

bool IsRemovedEmoji(char32_t c) {
  return (c >= 0x1F600 && c <= 0x1F64F) || (c >= 0x1F300 && c <= 0x1F5FF) || (c >= 0x1F680 && c <= 0x1F6FF) ||
         (c >= 0x1F700 && c <= 0x1F77F) || (c >= 0x1F780 && c <= 0x1F7FF) || (c >= 0x1F800 && c <= 0x1F8FF) ||
         (c >= 0x1F900 && c <= 0x1F9FF) || (c >= 0x1FA00 && c <= 0x1FA6F) || (c >= 0x1FA70 && c <= 0x1FAFF) ||
         (c >= 0x2600 && c <= 0x26FF) || (c >= 0x2700 && c <= 0x27BF) || (c >= 0x1F1E6 && c <= 0x1F1FF);
}

// The reference's replacement table. Every key is one code point and every
// value one code point, and no value is a later key, so applying the table
// per character equals the reference's sequence of str.replace calls.
// Returns 0 when `c` has no entry.
char32_t TableReplacement(char32_t c) {
  switch (c) {
    case U'\u2013': return U'-';   // en dash
    case U'\u2011': return U'-';   // non-breaking hyphen (NFKD already made it U+2010)
    case U'\u2014': return U'-';   // em dash
    case U'_': return U' ';
    case U'\u201C': return U'"';
    case U'\u201D': return U'"';
    case U'\u2018': return U'\'';
    case U'\u2019': return U'\'';
    case U'\u00B4': return U'\'';  // acute accent (NFKD already made it " " + U+0301)
    case U'`': return U'\'';
    case U'[': return U' ';
    case U']': return U' ';
    case U'|': return U' ';
    case U'/': return U' ';
    case U'#': return U' ';
    case U'\u2192': return U' ';   // rightwards arrow
    case U'\u2190': return U' ';   // leftwards arrow
    default: return 0;
  }
}

// re.sub(r"[♥☆♡©\\]", "", text)
bool IsRemovedSymbol(char32_t c) {
  return c == U'\u2665' || c == U'\u2606' || c == U'\u2661' || c == U'\u00A9' || c == U'\\';
}

// The class of the reference's final-punctuation check.
bool IsFinalPunctuation(char32_t c) {
  switch (c) {
    case U'.': case U'!': case U'?': case U';': case U':': case U',':
    case U'\'': case U'"': case U')': case U']': case U'}':
    case U'\u2026':  // … (NFKD turns it into "...", kept for fidelity)
    case U'\u3002':  // 。
    case U'\u300D':  // 」
    case U'\u300F':  // 』
    case U'\u3011':  // 】
    case U'\u3009':  // 〉
    case U'\u300B':  // 》
    case U'\u203A':  // ›
    case U'\u00BB':  // »
      return true;
    default:
      return false;
  }
}

// --- Multi-character passes ---------------------------------------------------

// Python's str.replace(from, to): non-overlapping, left to right, one pass.
void ReplaceAll(std::u32string& text, std::u32string_view from, std::u32string_view to) {
  if (from.empty() || text.size() < from.size()) return;
  std::size_t pos = text.find(from);
  if (pos == std::u32string::npos) return;
  std::u32string out;
  out.reserve(text.size() + (to.size() > from.size() ? text.size() / 2 : 0));
  std::size_t last = 0;
  while (pos != std::u32string::npos) {
    out.append(text, last, pos - last);
    out.append(to);
    last = pos + from.size();
    pos = text.find(from, last);
  }
  out.append(text, last, std::u32string::npos);
  text.swap(out);
}

// while c+c in text: text = text.replace(c+c, c)  ==  every run of c becomes one c.
void CollapseRuns(std::u32string& text, char32_t c) {
  std::size_t w = 0;
  for (std::size_t r = 0; r < text.size(); ++r) {
    if (text[r] == c && w > 0 && text[w - 1] == c) continue;
    text[w++] = text[r];
  }
  text.resize(w);
}

// re.sub(r"\s+", " ", text).strip()
void CollapseWhitespace(std::u32string& text) {
  std::size_t w = 0;
  bool pending_space = false;
  for (char32_t c : text) {
    if (IsPythonWhitespace(c)) {
      pending_space = true;
      continue;
    }
    if (pending_space && w > 0) text[w++] = U' ';
    pending_space = false;
    text[w++] = c;
  }
  text.resize(w);
}

// --- Expression tags ----------------------------------------------------------

char32_t AsciiLower(char32_t c) { return c >= U'A' && c <= U'Z' ? c + (U'a' - U'A') : c; }

bool Kept(const std::vector<std::string>& kept, std::string_view tag) {
  return std::find(kept.begin(), kept.end(), tag) != kept.end();
}

// Lower-cases the tags in `kept` and removes the other known ones. A removed
// tag between two words leaves a space, so they do not merge; followed by a
// space, punctuation or the end it takes the spaces before it along, so that
// "funny <laugh>." and "funny <laugh> , ok" read as "funny." and "funny, ok".
void HandleExpressionTags(std::u32string& text, const std::vector<std::string>& kept) {
  std::u32string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t len = text[i] == U'<' ? ExpressionTagAt(text, i) : 0;
    if (len == 0) {
      out.push_back(text[i++]);
      continue;
    }
    std::string tag;
    for (std::size_t k = i; k < i + len; ++k) tag.push_back(static_cast<char>(AsciiLower(text[k])));
    i += len;
    if (Kept(kept, tag)) {
      out.append(tag.begin(), tag.end());
      continue;
    }
    const bool space_before = !out.empty() && IsPythonWhitespace(out.back());
    const bool word_after = i < text.size() && !IsPythonWhitespace(text[i]) && !IsFinalPunctuation(text[i]) &&
                            text[i] != U',';
    if (!word_after) {
      while (!out.empty() && IsPythonWhitespace(out.back())) out.pop_back();
    } else if (!out.empty() && !space_before) {
      out.push_back(U' ');
    }
  }
  text.swap(out);
}

// Where the words end: before the trailing kept tags and the spaces between them.
std::size_t EndOfWords(const std::u32string& text, const std::vector<std::string>& kept) {
  std::size_t end = text.size();
  while (end > 0) {
    if (text[end - 1] == U' ') {
      --end;
      continue;
    }
    const std::u32string_view before(text.data(), end);
    auto ends_with = [&](const std::string& tag) {
      return before.size() >= tag.size() &&
             std::equal(tag.begin(), tag.end(), before.end() - static_cast<std::ptrdiff_t>(tag.size()));
    };
    auto tag = std::find_if(kept.begin(), kept.end(), ends_with);
    if (tag == kept.end()) break;
    end -= tag->size();
  }
  return end;
}

}  // namespace

bool IsLetterOrNumber(char32_t cp) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

bool IsPythonWhitespace(char32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
  if (cp < 0x85) return false;
  switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

namespace {

// `tags`: null for the reference's behaviour, else the expression tags the model reads.
PreprocessedText Preprocess(std::string_view input, std::string_view lang, const std::vector<std::string>* tags) {
  PreprocessedText result;

  // text = normalize("NFKD", text)
  std::u32string text = DecodeNfkd(input, result.invalid_bytes);
  if (tags != nullptr) HandleExpressionTags(text, *tags);

  // Emoji removal, the replacement table, then the special-symbol removal.
  {
    std::size_t w = 0;
    for (std::size_t r = 0; r < text.size(); ++r) {
      char32_t c = text[r];
      if (IsRemovedEmoji(c)) continue;
      if (char32_t rep = TableReplacement(c)) c = rep;
      if (IsRemovedSymbol(c)) continue;
      text[w++] = c;
    }
    text.resize(w);
  }

  // Known expressions, in order.
  ReplaceAll(text, U"@", U" at ");
  ReplaceAll(text, U"e.g.,", U"for example, ");
  ReplaceAll(text, U"i.e.,", U"that is, ");

  // Spacing before punctuation: one pass each, in the reference's order.
  ReplaceAll(text, U" ,", U",");
  ReplaceAll(text, U" .", U".");
  ReplaceAll(text, U" !", U"!");
  ReplaceAll(text, U" ?", U"?");
  ReplaceAll(text, U" ;", U";");
  ReplaceAll(text, U" :", U":");
  ReplaceAll(text, U" '", U"'");

  // Duplicate quotes.
  CollapseRuns(text, U'"');
  CollapseRuns(text, U'\'');
  CollapseRuns(text, U'`');

  CollapseWhitespace(text);

  const std::size_t words_end = tags != nullptr ? EndOfWords(text, *tags) : text.size();
  if (words_end == text.size()) {
    if (text.empty() || !IsFinalPunctuation(text.back())) text.push_back(U'.');
  } else if (words_end > 0 && !IsFinalPunctuation(text[words_end - 1])) {
    text.insert(text.begin() + static_cast<std::ptrdiff_t>(words_end), U'.');
  }

  std::string& out = result.text;
  out.reserve(text.size() + 2 * lang.size() + 5);
  out.push_back('<');
  out.append(lang);
  out.push_back('>');
  for (char32_t c : text) utf8::Append(out, c);
  out.append("</");
  out.append(lang);
  out.push_back('>');
  return result;
}

}  // namespace

PreprocessedText PreprocessText(std::string_view input, std::string_view lang) {
  return Preprocess(input, lang, nullptr);
}

PreprocessedText PreprocessText(std::string_view input, std::string_view lang,
                                const std::vector<std::string>& kept_tags) {
  return Preprocess(input, lang, &kept_tags);
}

const std::vector<std::string>& ExpressionTags() {
  static const std::vector<std::string> tags{"<laugh>",       "<breath>", "<surprise>", "<sigh>",  "<scream>",
                                             "<throatclear>", "<sad>",    "<angry>",    "<cough>", "<yawn>"};
  return tags;
}

std::size_t ExpressionTagAt(std::u32string_view text, std::size_t pos) {
  if (pos >= text.size() || text[pos] != U'<') return 0;
  for (const std::string& tag : ExpressionTags()) {
    if (text.size() - pos < tag.size()) continue;
    std::size_t k = 1;
    while (k < tag.size() && AsciiLower(text[pos + k]) == static_cast<char32_t>(tag[k])) ++k;
    if (k == tag.size()) return tag.size();
  }
  return 0;
}

}  // namespace supertonic
