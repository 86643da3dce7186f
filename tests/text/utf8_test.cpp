#include "text/utf8.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace supertonic {
namespace {

using namespace std::string_literals;

// Each unit as (code point or -1 for an invalid byte, length).
std::vector<std::pair<long, std::size_t>> Units(std::string_view s) {
  std::vector<std::pair<long, std::size_t>> out;
  for (const Utf8Unit& u : DecodeUtf8Units(s)) out.emplace_back(u.valid() ? long(u.cp) : -1L, u.end - u.begin);
  return out;
}

using U = std::vector<std::pair<long, std::size_t>>;

TEST(Utf8, DecodesValidSequencesOfEveryLength) {
  EXPECT_EQ(Units("a\u00e9\u20ac\U0001F600"), (U{{'a', 1}, {0xE9, 2}, {0x20AC, 3}, {0x1F600, 4}}));
  EXPECT_EQ(Units("\x7f\xdf\xbf\xef\xbf\xbf\xf4\x8f\xbf\xbf"s), (U{{0x7F, 1}, {0x7FF, 2}, {0xFFFF, 3}, {0x10FFFF, 4}}));
  EXPECT_EQ(Units("\0"s), (U{{0, 1}}));
  EXPECT_TRUE(utf8::IsValid("h\u00e9llo \U0001F600"));
  EXPECT_TRUE(utf8::IsValid(""));
  EXPECT_EQ(utf8::Decode("\u00e9\U0001F600"), U"\u00e9\U0001F600");
}

TEST(Utf8, OverlongFormsAreOneInvalidByteEach) {
  EXPECT_EQ(Units("\xc0\xaf"s), (U{{-1, 1}, {-1, 1}}));
  EXPECT_EQ(Units("\xe0\x80\xaf"s), (U{{-1, 1}, {-1, 1}, {-1, 1}}));
  EXPECT_EQ(Units("\xf0\x80\x80\xaf"s), (U{{-1, 1}, {-1, 1}, {-1, 1}, {-1, 1}}));
  EXPECT_FALSE(utf8::IsValid("\xc1\xbf"s));
}

TEST(Utf8, SurrogatesAndOutOfRangeAreInvalid) {
  EXPECT_EQ(Units("a\xed\xa0\x80"s), (U{{'a', 1}, {-1, 1}, {-1, 1}, {-1, 1}}));
  EXPECT_FALSE(utf8::IsValid("\xed\xbf\xbf"s));
  EXPECT_EQ(Units("\xf4\x90\x80\x80"s), (U{{-1, 1}, {-1, 1}, {-1, 1}, {-1, 1}}));
  EXPECT_EQ(Units("\xf5\xfe\xff"s), (U{{-1, 1}, {-1, 1}, {-1, 1}}));
  EXPECT_EQ(CountCodePoints("a\xed\xa0\x80"s), 4u);
}

TEST(Utf8, TruncatedSequenceAtTheEndIsOneUnitPerByte) {
  EXPECT_EQ(Units("ok\xf0\x9f\x98"s), (U{{'o', 1}, {'k', 1}, {-1, 1}, {-1, 1}, {-1, 1}}));
  EXPECT_EQ(CountCodePoints("\xe2\x82"s), 2u);
  // A truncated sequence followed by a valid character: the character survives.
  EXPECT_EQ(Units("\xe2\x82x"s), (U{{-1, 1}, {-1, 1}, {'x', 1}}));
  EXPECT_EQ(utf8::Decode("\xe2\x82x"s), U"\uFFFD\uFFFDx");
}

TEST(Utf8, StrayContinuationBytes) {
  EXPECT_EQ(Units("\x80\xbf\xc3\xa9\x80"s), (U{{-1, 1}, {-1, 1}, {0xE9, 2}, {-1, 1}}));
  EXPECT_FALSE(utf8::IsValid("\xc3\xa9\x80"s));
  // Read backwards the same way as forwards.
  const std::string s = "\xc3\xa9\x80"s;
  EXPECT_FALSE(utf8::DecodeBefore(s, 3).valid);
  EXPECT_EQ(utf8::DecodeBefore(s, 2).cp, U'\u00e9');
  EXPECT_EQ(utf8::DecodeBefore(s, 2).length, 2u);
}

TEST(Utf8, BoundaryCutsNeverSplitACharacter) {
  const std::string s = "a\u00e9\U0001F600b";  // bytes: a | C3 A9 | F0 9F 98 80 | b
  EXPECT_EQ(utf8::FloorBoundary(s, 0), 0u);
  EXPECT_EQ(utf8::FloorBoundary(s, 2), 1u);
  EXPECT_EQ(utf8::FloorBoundary(s, 3), 3u);
  EXPECT_EQ(utf8::FloorBoundary(s, 5), 3u);
  EXPECT_EQ(utf8::FloorBoundary(s, 6), 3u);
  EXPECT_EQ(utf8::FloorBoundary(s, 7), 7u);
  EXPECT_EQ(utf8::FloorBoundary(s, 100), s.size());
  EXPECT_EQ(utf8::CeilBoundary(s, 2), 3u);
  EXPECT_EQ(utf8::CeilBoundary(s, 4), 7u);
  EXPECT_EQ(utf8::Truncate(s, 6), "a\u00e9");
  EXPECT_EQ(utf8::Truncate(s, 7), "a\u00e9\U0001F600");
  EXPECT_EQ(utf8::PrefixBytes(s, 2), 3u);
  EXPECT_EQ(utf8::PrefixBytes(s, 9), s.size());
  // Stray continuation bytes are units of their own: a cut may fall between them.
  const std::string stray = "x\x80\x80\x80\x80"s;
  EXPECT_EQ(utf8::FloorBoundary(stray, 3), 3u);
  EXPECT_EQ(utf8::Truncate(stray, 2), "x\x80"s);
}

TEST(Utf8, AppendEncodesEveryLength) {
  std::string out;
  for (char32_t cp : {U'a', U'\u00e9', U'\u20ac', U'\U0001F600', U'\U0010FFFF'}) utf8::Append(out, cp);
  EXPECT_EQ(out, "a\u00e9\u20ac\U0001F600\U0010FFFF");
}

}  // namespace
}  // namespace supertonic
