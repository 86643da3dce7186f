#pragma once
// UTF-8 as the whole server reads it. One policy for bytes that are not UTF-8:
//
//   A well-formed sequence (no overlong forms, no surrogates
//   U+D800..U+DFFF, nothing above U+10FFFF) is one code point. Every other
//   byte -- a stray continuation byte, a lead byte whose sequence is
//   truncated (also at the end of the text), overlong, a surrogate or out of
//   range, 0xC0, 0xC1, 0xF5..0xFF -- is one invalid unit of exactly one byte,
//   and decoding resumes at the next byte.
//
// So "\xE2\x82" is two invalid units and "a\xED\xA0\x80" is 'a' and three.
// One byte per unit keeps byte offsets, counts and cuts of invalid text
// stable whatever follows, which the chunker and the streaming accumulator
// rely on. What an invalid unit becomes is the caller's choice: the reference
// preprocessor drops and counts it, the normalizer reads it as U+FFFD, the
// chunker keeps its byte. A code-point boundary is a position between two
// units; cuts never split a well-formed sequence.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace supertonic {

namespace utf8 {

inline constexpr char32_t kReplacement = U'\uFFFD';

// One unit of the text: a code point, or (valid == false) one invalid byte,
// for which cp is kReplacement.
struct Decoded {
  char32_t cp = 0;
  std::size_t length = 0;  // bytes: 1..4; 1 when invalid
  bool valid = false;
};

inline bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The unit starting at s[pos] (pos < s.size()).
Decoded DecodeAt(std::string_view s, std::size_t pos);
// The unit ending just before s[pos] (0 < pos <= s.size()).
Decoded DecodeBefore(std::string_view s, std::size_t pos);

// True when every byte belongs to a well-formed sequence (for callers that
// must refuse invalid text rather than read it).
bool IsValid(std::string_view s);

// The code points of s, an invalid unit as kReplacement.
std::u32string Decode(std::string_view s);

// Appends cp as UTF-8 (cp must be a Unicode scalar value).
void Append(std::string& out, char32_t cp);

// The largest code-point boundary <= pos, and the smallest >= pos (pos is
// clamped to s.size()).
std::size_t FloorBoundary(std::string_view s, std::size_t pos);
std::size_t CeilBoundary(std::string_view s, std::size_t pos);

// At most max_bytes of s, cut at a code-point boundary.
std::string_view Truncate(std::string_view s, std::size_t max_bytes);

// The bytes of the first `units` units of s (all of s when it has fewer).
std::size_t PrefixBytes(std::string_view s, std::size_t units);

}  // namespace utf8

// Number of units in s: code points of valid text, each invalid byte one more.
std::size_t CountCodePoints(std::string_view s);

// One unit of UTF-8 text and its bytes [begin, end); an invalid byte has cp
// kInvalidUtf8Byte (not kReplacement, which valid text may hold). What the
// chunker and the word timings walk text by.
inline constexpr char32_t kInvalidUtf8Byte = 0xFFFFFFFF;
struct Utf8Unit {
  char32_t cp;
  std::size_t begin;
  std::size_t end;
  bool valid() const { return cp != kInvalidUtf8Byte; }
};
std::vector<Utf8Unit> DecodeUtf8Units(std::string_view s);

}  // namespace supertonic
