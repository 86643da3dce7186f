#include "text/text_chunker.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "text/language_rules.h"
#include "text/reference_preprocessor.h"

// The common case reproduces the reference chunk_text():
//   paragraphs = re.split(r"\n\s*\n+", text.strip()), each stripped
//   sentences  = re.split(<abbreviation lookbehinds>(?<=[.!?])\s+, paragraph)
//   sentences are packed greedily, joined by one space, while the chunk stays
//   within max_len code points.
// Beyond the reference, a sentence longer than max_len is cut further (at
// sentence ends the reference misses, then clause punctuation, then spaces,
// then inside a word), so that no chunk ever exceeds max_len.
namespace supertonic {

namespace {

constexpr char32_t kInvalidByte = kInvalidUtf8Byte;  // one byte of invalid UTF-8, kept as is
using Unit = Utf8Unit;

struct Range {  // [begin, end) in units
  std::size_t begin;
  std::size_t end;
  std::size_t size() const { return end - begin; }
};

// A place where a long piece may be cut: units [begin, end) (whitespace, or
// nothing for a cut between two characters) are dropped.
struct Gap {
  std::size_t begin;
  std::size_t end;
};


bool IsSpace(char32_t cp) { return cp != kInvalidByte && IsPythonWhitespace(cp); }

// Python's \w: str.isalnum() or "_" (letters and numbers by category).
bool IsPythonWordChar(char32_t cp) {
  if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
  return cp != kInvalidByte && IsLetterOrNumber(cp);
}

// Sentence ends followed by whitespace: the reference's [.!?] plus the
// ellipsis and the full-width forms.
bool IsSentenceEnd(char32_t cp) {
  return cp == U'.' || cp == U'!' || cp == U'?' || cp == U'\u2026' || cp == U'\u3002' || cp == U'\uFF01' ||
         cp == U'\uFF1F' || cp == U'\uFF61';
}

// CJK sentence ends, which need no space after them.
bool IsCjkSentenceEnd(char32_t cp) {
  return cp == U'\u3002' || cp == U'\uFF01' || cp == U'\uFF1F' || cp == U'\uFF61';
}

bool IsClausePunctuation(char32_t cp) {
  return cp == U',' || cp == U';' || cp == U':' || cp == U'\u3001' || cp == U'\uFF0C' || cp == U'\uFF1B' ||
         cp == U'\uFF1A';
}

bool IsCjkClausePunctuation(char32_t cp) {
  return cp == U'\u3001' || cp == U'\uFF0C' || cp == U'\uFF1B' || cp == U'\uFF1A';
}

// Closing quotes and brackets that may follow a sentence or clause end.
bool IsCloser(char32_t cp) {
  switch (cp) {
    case U')': case U']': case U'}': case U'"': case U'\'':
    case U'\u2019': case U'\u201D': case U'\u00BB': case U'\u203A':
    case U'\u300D': case U'\u300F': case U'\u3011': case U'\u3009': case U'\u300B':
    case U'\uFF09': case U'\uFF3D': case U'\uFF5D': case U'\uFF02': case U'\uFF07':
      return true;
    default:
      return false;
  }
}

// Does the text units[begin..last] (inclusive) end with `s` (code points)?
bool EndsWith(const std::vector<Unit>& units, std::size_t begin, std::size_t last, std::u32string_view s) {
  if (last + 1 - begin < s.size()) return false;
  const std::size_t first = last + 1 - s.size();
  for (std::size_t k = 0; k < s.size(); ++k) {
    if (units[first + k].cp != s[k]) return false;
  }
  return true;
}

std::vector<std::u32string> CodePointsOfEach(const auto& list) {
  std::vector<std::u32string> out;
  for (std::string_view a : list) out.push_back(utf8::Decode(a));
  return out;
}

// The reference's negative lookbehinds: a "." that ends one of these does
// not end a sentence. `dot` is the index of the "."; text starts at `begin`.
bool IsAbbreviationAt(const std::vector<Unit>& units, std::size_t begin, std::size_t dot) {
  static const std::vector<std::u32string> reference = CodePointsOfEach(std::array<std::string_view, 19>{
      "Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Sr.", "Jr.", "Ph.D.", "etc.", "e.g.", "i.e.", "vs.", "Inc.", "Ltd.",
      "Co.", "Corp.", "St.", "Ave.", "Blvd."});
  // The normalizer's tables ("Sra.", "pág.", "p. ex."), as whole words.
  static const std::vector<std::u32string> tables = CodePointsOfEach(AbbreviationsEndingInPeriod());
  for (const std::u32string& a : reference) {
    if (EndsWith(units, begin, dot, a)) return true;
  }
  for (const std::u32string& a : tables) {
    if (EndsWith(units, begin, dot, a) && (dot + 1 - begin == a.size() || !IsPythonWordChar(units[dot - a.size()].cp))) {
      return true;
    }
  }
  // (?<!\b[A-Z]\.): a single capital letter that starts a word.
  if (dot > begin) {
    const char32_t letter = units[dot - 1].cp;
    if (letter >= U'A' && letter <= U'Z') {
      if (dot - 1 == begin || !IsPythonWordChar(units[dot - 2].cp)) return true;
    }
  }
  return false;
}

// How a cut before units[end] ranks, judged by units[0..end); units[end - 1]
// is not whitespace.
BreakKind KindBefore(const std::vector<Unit>& units, std::size_t end) {
  std::size_t p = end - 1;  // skip closers back to the punctuation
  while (p > 0 && IsCloser(units[p].cp)) --p;
  const char32_t punct = units[p].cp;
  if (IsSentenceEnd(punct) && !(punct == U'.' && IsAbbreviationAt(units, 0, p))) return BreakKind::kSentence;
  if (IsClausePunctuation(punct)) return BreakKind::kClause;
  return BreakKind::kSpace;
}

class Chunker {
 public:
  Chunker(std::string_view text, std::size_t max_chars)
      : text_(text), units_(DecodeUtf8Units(text)), max_(std::max<std::size_t>(max_chars, 1)) {
    code_points_.reserve(units_.size());
    for (const Unit& u : units_) code_points_.push_back(u.cp);
  }

  std::vector<std::string> Run() {
    for (const Range& paragraph : Paragraphs()) ChunkParagraph(paragraph);
    return std::move(chunks_);
  }

 private:
  bool SpaceAt(std::size_t i) const { return IsSpace(units_[i].cp); }

  Range Strip(Range r) const {
    while (r.begin < r.end && SpaceAt(r.begin)) ++r.begin;
    while (r.end > r.begin && SpaceAt(r.end - 1)) --r.end;
    return r;
  }

  std::string_view Bytes(Range r) const {
    if (r.begin >= r.end) return {};
    return text_.substr(units_[r.begin].begin, units_[r.end - 1].end - units_[r.begin].begin);
  }

  // re.split(r"\n\s*\n+", text.strip()): a paragraph break is any run of
  // whitespace that holds at least two "\n". Pieces are stripped; empty ones go.
  std::vector<Range> Paragraphs() const {
    std::vector<Range> out;
    const Range all = Strip({0, units_.size()});
    std::size_t start = all.begin;
    std::size_t i = all.begin;
    while (i < all.end) {
      if (!SpaceAt(i)) {
        ++i;
        continue;
      }
      std::size_t j = i;
      int newlines = 0;
      while (j < all.end && SpaceAt(j)) newlines += units_[j++].cp == U'\n' ? 1 : 0;
      if (newlines >= 2) {
        if (Range p = Strip({start, i}); p.size() > 0) out.push_back(p);
        start = j;
      }
      i = j;
    }
    if (Range p = Strip({start, all.end}); p.size() > 0) out.push_back(p);
    return out;
  }

  bool IsAbbreviation(std::size_t paragraph_begin, std::size_t dot) const {
    return IsAbbreviationAt(units_, paragraph_begin, dot);
  }

  // re.split on (?<=[.!?])\s+ with the abbreviation lookbehinds.
  std::vector<Range> Sentences(Range paragraph) const {
    std::vector<Range> out;
    std::size_t start = paragraph.begin;
    std::size_t i = paragraph.begin;
    while (i < paragraph.end) {
      if (!SpaceAt(i)) {
        ++i;
        continue;
      }
      std::size_t j = i;
      while (j < paragraph.end && SpaceAt(j)) ++j;
      // The paragraph is stripped, so the run has a character before it.
      const char32_t prev = units_[i - 1].cp;
      if (IsSentenceEnd(prev) && !(prev == U'.' && IsAbbreviation(paragraph.begin, i - 1))) {
        out.push_back({start, i});
        start = j;
      }
      i = j;
    }
    out.push_back({start, paragraph.end});
    return out;
  }

  void ChunkParagraph(Range paragraph) {
    std::vector<Range> current;  // sentences of the chunk being built
    std::size_t current_len = 0;
    auto flush = [&] {
      if (current.empty()) return;
      std::string chunk;
      for (std::size_t k = 0; k < current.size(); ++k) {
        if (k > 0) chunk.push_back(' ');
        chunk.append(Bytes(current[k]));
      }
      chunks_.push_back(std::move(chunk));
      current.clear();
      current_len = 0;
    };
    for (const Range& sentence : Sentences(paragraph)) {
      const std::size_t len = sentence.size();
      if (len > max_) {  // beyond the reference: cut it, in chunks of its own
        flush();
        std::vector<Range> pieces;
        SplitLong(sentence, 0, pieces);
        for (const Range& piece : pieces) chunks_.emplace_back(Bytes(piece));
        continue;
      }
      if (!current.empty() && current_len + 1 + len <= max_) {
        current.push_back(sentence);
        current_len += 1 + len;
        continue;
      }
      flush();
      current.push_back(sentence);
      current_len = len;
    }
    flush();
  }

  // Level 0: sentence ends the reference does not split at (a CJK end with no
  // space after it, or an end followed by closing quotes/brackets).
  // Level 1: clause punctuation followed by whitespace (or a CJK one alone).
  // Level 2: any whitespace.
  std::vector<Gap> FindGaps(Range r, int level) const {
    std::vector<Gap> gaps;
    std::size_t i = r.begin;
    while (i < r.end) {
      if (SpaceAt(i)) {
        std::size_t j = i;
        while (j < r.end && SpaceAt(j)) ++j;
        if (i > r.begin && j < r.end) {
          bool cut = level == 2;
          if (!cut) {
            std::size_t p = i - 1;  // skip closers back to the punctuation
            while (p > r.begin && IsCloser(units_[p].cp)) --p;
            const char32_t punct = units_[p].cp;
            cut = level == 0 ? (p + 1 < i && IsSentenceEnd(punct)) : IsClausePunctuation(punct);
          }
          if (cut) gaps.push_back({i, j});
        }
        i = j;
        continue;
      }
      const char32_t cp = units_[i].cp;
      if ((level == 0 && IsCjkSentenceEnd(cp)) || (level == 1 && IsCjkClausePunctuation(cp))) {
        std::size_t j = i + 1;
        while (j < r.end && IsCloser(units_[j].cp)) ++j;
        if (j < r.end && !SpaceAt(j) && CanCutBefore(j)) gaps.push_back({j, j});
        i = j;
        continue;
      }
      ++i;
    }
    return gaps;
  }

  // Appends pieces of `r`, each at most max_ code points.
  void SplitLong(Range r, int level, std::vector<Range>& out) const {
    if (r.size() <= max_) {
      out.push_back(r);
      return;
    }
    if (level > 2) {
      HardCut(r, out);
      return;
    }
    const std::vector<Gap> gaps = FindGaps(r, level);
    if (gaps.empty()) {
      SplitLong(r, level + 1, out);
      return;
    }
    // Segments between the gaps, packed greedily; the text between two
    // packed segments is kept verbatim.
    bool open = false;
    Range group{0, 0};
    auto segment_at = [&](std::size_t k) {
      const std::size_t begin = k == 0 ? r.begin : gaps[k - 1].end;
      const std::size_t end = k == gaps.size() ? r.end : gaps[k].begin;
      return Range{begin, end};
    };
    for (std::size_t k = 0; k <= gaps.size(); ++k) {
      const Range seg = segment_at(k);
      if (seg.size() > max_) {
        if (open) out.push_back(group);
        open = false;
        SplitLong(seg, level + 1, out);
        continue;
      }
      if (open && seg.end - group.begin <= max_) {
        group.end = seg.end;
        continue;
      }
      if (open) out.push_back(group);
      group = seg;
      open = true;
    }
    if (open) out.push_back(group);
  }

  // A cut between units k-1 and k should not split a user-perceived character.
  bool CanCutBefore(std::size_t k) const {
    const char32_t a = units_[k - 1].cp;
    const char32_t b = units_[k].cp;
    if (a == kInvalidByte || b == kInvalidByte) return true;
    utf8proc_int32_t state = 0;
    return utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(a), static_cast<utf8proc_int32_t>(b),
                                            &state);
  }

  // A cut before `cut` moved out of an expression tag (<laugh>, ...) that
  // spans it: before the tag, or after it when the piece starts with it. Only
  // a tag longer than the limit itself is cut inside.
  std::size_t OutsideExpressionTag(std::size_t start, std::size_t cut) const {
    static const std::size_t longest = [] {
      std::size_t n = 0;
      for (const std::string& tag : ExpressionTags()) n = std::max(n, tag.size());
      return n;
    }();
    const std::size_t lowest = cut > start + longest ? cut - longest : start;
    for (std::size_t b = cut; b-- > lowest;) {
      if (code_points_[b] != U'<') continue;
      const std::size_t len = ExpressionTagAt(code_points_, b);
      if (len == 0 || b + len <= cut) return cut;
      if (b > start) return b;
      return len <= max_ ? b + len : cut;
    }
    return cut;
  }

  // A single word longer than max_: cut every max_ code points, moved back
  // to a character boundary when that is possible, never inside an expression tag.
  void HardCut(Range r, std::vector<Range>& out) const {
    std::size_t start = r.begin;
    while (r.end - start > max_) {
      std::size_t cut = start + max_;
      while (cut > start + 1 && !CanCutBefore(cut)) --cut;
      if (!CanCutBefore(cut)) cut = start + max_;
      cut = OutsideExpressionTag(start, cut);
      out.push_back({start, cut});
      start = cut;
    }
    out.push_back({start, r.end});
  }

  std::string_view text_;
  std::vector<Unit> units_;
  std::u32string code_points_;  // units_' code points, for matching expression tags
  std::size_t max_;
  std::vector<std::string> chunks_;
};

}  // namespace

std::size_t ChunkLimitFor(std::string_view lang) { return lang == "ko" ? 120 : 300; }  // SupertonicTwoProfile()'s

std::vector<std::string> ChunkText(std::string_view text, std::size_t max_chars) {
  return Chunker(text, max_chars).Run();
}

std::vector<TextBreak> FindBreaks(std::string_view text) {
  const std::vector<Unit> units = DecodeUtf8Units(text);
  std::vector<TextBreak> breaks;
  std::size_t i = 0;
  while (i < units.size()) {
    if (!IsSpace(units[i].cp)) {
      ++i;
      continue;
    }
    std::size_t j = i;
    int newlines = 0;
    while (j < units.size() && IsSpace(units[j].cp)) newlines += units[j++].cp == U'\n' ? 1 : 0;
    TextBreak b;
    b.begin = units[i].begin;
    b.end = units[j - 1].end;
    b.chars_before = i;
    b.chars = j - i;
    if (i > 0) b.kind = newlines >= 2 ? BreakKind::kSentence : KindBefore(units, i);
    breaks.push_back(b);
    i = j;
  }
  return breaks;
}

BreakKind BreakKindAtEnd(std::string_view text) {
  const std::vector<Unit> units = DecodeUtf8Units(text);
  std::size_t end = units.size();
  while (end > 0 && IsSpace(units[end - 1].cp)) --end;
  return end == 0 ? BreakKind::kSpace : KindBefore(units, end);
}

}  // namespace supertonic
