// Reference-compatible cases: expectations produced by the published Python
// chunk_text() on the same inputs. Cases beyond the reference (over-long
// sentences, CJK ends, ellipsis) are written out by hand.
#include "text/text_chunker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

namespace supertonic {
namespace {

using namespace std::string_literals;
using Chunks = std::vector<std::string>;

bool IsAsciiSpace(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// " ".join(s.split()) for ASCII whitespace.
std::string CollapseSpaces(const std::string& s) {
  std::string out;
  bool pending = false;
  for (char c : s) {
    if (IsAsciiSpace(c)) {
      pending = true;
      continue;
    }
    if (pending && !out.empty()) out.push_back(' ');
    pending = false;
    out.push_back(c);
  }
  return out;
}

std::string RemoveSpaces(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (!IsAsciiSpace(c)) out.push_back(c);
  }
  return out;
}

std::string Join(const Chunks& chunks, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < chunks.size(); ++i) out += (i ? sep : "") + chunks[i];
  return out;
}

// Every chunk is non-empty, within the limit, without whitespace at its ends,
// and nothing but whitespace is lost.
void ExpectWellFormed(const std::string& input, const Chunks& chunks, std::size_t max_chars) {
  for (const std::string& c : chunks) {
    ASSERT_FALSE(c.empty());
    EXPECT_LE(CountCodePoints(c), max_chars) << c;
    EXPECT_FALSE(IsAsciiSpace(c.front())) << c;
    EXPECT_FALSE(IsAsciiSpace(c.back())) << c;
  }
  EXPECT_EQ(RemoveSpaces(Join(chunks, "")), RemoveSpaces(input));
}

struct ReferenceCase {
  std::string text;
  std::size_t max_chars;
  Chunks expected;
};

TEST(TextChunkerTest, MatchesReferenceChunkText) {
  const std::vector<ReferenceCase> cases = {
      {"Mr. Smith went to Washington. He met Dr. Jones there! Did they talk? Yes.", 40, {"Mr. Smith went to Washington.", "He met Dr. Jones there! Did they talk?", "Yes."}},
      {"Mr. Smith went to Washington. He met Dr. Jones there! Did they talk? Yes.", 300, {"Mr. Smith went to Washington. He met Dr. Jones there! Did they talk? Yes."}},
      {"Para one.\n\nPara two is here.\n \n\n  Para three.\nStill three.", 300, {"Para one.", "Para two is here.", "Para three. Still three."}},
      {"First line.\nSecond line. Third.", 14, {"First line.", "Second line.", "Third."}},
      {"J. R. R. Tolkien wrote books. He was British.", 30, {"J. R. R. Tolkien wrote books.", "He was British."}},
      {"Ask Mrs. Brown. Ask Ms. Green. Ask Prof. White. Ask Sr. Lopez. Ask Jr. Smith.", 20, {"Ask Mrs. Brown.", "Ask Ms. Green.", "Ask Prof. White.", "Ask Sr. Lopez.", "Ask Jr. Smith."}},
      {"She has a Ph.D. in math. He likes cats, dogs, etc. too. Use tools, e.g. saws. Or i.e. this. It's red vs. blue.", 30, {"She has a Ph.D. in math.", "He likes cats, dogs, etc. too.", "Use tools, e.g. saws.", "Or i.e. this.", "It's red vs. blue."}},
      {"Acme Inc. was sold. Foo Ltd. too. Bar Co. also. Baz Corp. as well. Main St. is long. Fifth Ave. is busy. Sunset Blvd. ends.", 20, {"Acme Inc. was sold.", "Foo Ltd. too.", "Bar Co. also.", "Baz Corp. as well.", "Main St. is long.", "Fifth Ave. is busy.", "Sunset Blvd. ends."}},
      {"Plan xA. Next one. Plan _B. Next. Plan 1C. Next.", 12, {"Plan xA.", "Next one.", "Plan _B.", "Next.", "Plan 1C.", "Next."}},
      {"Hello world. This is fine.", 26, {"Hello world. This is fine."}},
      {"Hello world. This is fine.", 25, {"Hello world.", "This is fine."}},
      {"Hello world.   This is fine.\tAnd so is this!", 300, {"Hello world. This is fine. And so is this!"}},
      {"Stop!Go. Wait?No. Ok.", 8, {"Stop!Go.", "Wait?No.", "Ok."}},
      {"   \n\n  Lonely sentence without end  \n\n\n", 300, {"Lonely sentence without end"}},
      {"Ca\u0301fe\u0301 time. Tea time.", 12, {"Ca\u0301fe\u0301 time.", "Tea time."}},
      {"Really?! Yes!! No... Maybe.", 10, {"Really?!", "Yes!!", "No...", "Maybe."}},
      {"Dr.Who is here. Mr.X too.", 15, {"Dr.Who is here.", "Mr.X too."}},
      {"Line one\nline two. Next  one\there.", 300, {"Line one\nline two. Next  one\there."}},
      {"Line one\nline two. Next  one\there.", 20, {"Line one\nline two.", "Next  one\there."}},
  };
  for (const ReferenceCase& c : cases) {
    EXPECT_EQ(ChunkText(c.text, c.max_chars), c.expected) << c.text << " / " << c.max_chars;
  }
}

TEST(TextChunkerTest, KoreanPacksUpToItsLimit) {
  std::string text;
  for (int i = 0; i < 30; ++i) text += "안녕하세요. ";
  std::string first = "안녕하세요.";
  std::string second = "안녕하세요.";
  for (int i = 1; i < 17; ++i) first += " 안녕하세요.";
  for (int i = 1; i < 13; ++i) second += " 안녕하세요.";
  const Chunks chunks = ChunkText(text, ChunkLimitFor("ko"));
  EXPECT_EQ(chunks, (Chunks{first, second}));  // 118 and 90 code points, as the reference
  EXPECT_EQ(CountCodePoints(chunks[0]), 118u);
}

TEST(TextChunkerTest, ChunkLimits) {
  EXPECT_EQ(ChunkLimitFor("ko"), 120u);
  EXPECT_EQ(ChunkLimitFor("en"), 300u);
  EXPECT_EQ(ChunkLimitFor("es"), 300u);
  EXPECT_EQ(ChunkLimitFor("pt"), 300u);
  EXPECT_EQ(ChunkLimitFor("fr"), 300u);
  EXPECT_EQ(ChunkLimitFor(""), 300u);
}

TEST(TextChunkerTest, EmptyAndBlankInputGiveNoChunks) {
  EXPECT_TRUE(ChunkText("", 300).empty());
  EXPECT_TRUE(ChunkText("   \n\n\t \r\n ", 300).empty());
  EXPECT_TRUE(ChunkText("\u3000\u00A0", 300).empty());
}

TEST(TextChunkerTest, ExactLimitIsInclusive) {
  // "Hello world. This is fine." is 26 code points.
  EXPECT_EQ(ChunkText("Hello world. This is fine.", 26), (Chunks{"Hello world. This is fine."}));
  EXPECT_EQ(ChunkText("Hello world. This is fine.", 25), (Chunks{"Hello world.", "This is fine."}));
  // A sentence exactly at the limit stays whole.
  EXPECT_EQ(ChunkText("abcde. fghij.", 6), (Chunks{"abcde.", "fghij."}));
}

TEST(TextChunkerTest, LongSentenceSplitsAtClausePunctuation) {
  EXPECT_EQ(ChunkText("We came here, we saw the place, and then we left it quietly.", 30),
            (Chunks{"We came here,", "we saw the place,", "and then we left it quietly."}));
  EXPECT_EQ(ChunkText("First part; second part: third part here.", 20),
            (Chunks{"First part;", "second part:", "third part here."}));
}

TEST(TextChunkerTest, LongSentenceSplitsAtSpaces) {
  EXPECT_EQ(ChunkText("one two three four five six seven eight nine ten", 20),
            (Chunks{"one two three four", "five six seven eight", "nine ten"}));
}

TEST(TextChunkerTest, LongSentenceGetsChunksOfItsOwn) {
  EXPECT_EQ(ChunkText("Short one. one two three four five six seven eight nine ten. Tail.", 20),
            (Chunks{"Short one.", "one two three four", "five six seven eight", "nine ten.", "Tail."}));
}

TEST(TextChunkerTest, OnlyAnOverlongWordIsCutInside) {
  EXPECT_EQ(ChunkText("abcdefghijklmnopqrstuvwxyz", 10), (Chunks{"abcdefghij", "klmnopqrst", "uvwxyz"}));
  EXPECT_EQ(ChunkText("Go supercalifragilistic now.", 10), (Chunks{"Go", "supercalif", "ragilistic", "now."}));
}

TEST(TextChunkerTest, ExpressionTagsAreNeverCutInside) {
  // Tags hold no spaces, so only the cut inside an overlong word could split one.
  EXPECT_EQ(ChunkText("haha<laugh>haha", 7), (Chunks{"haha", "<laugh>", "haha"}));
  EXPECT_EQ(ChunkText("<laugh>hahaha", 8), (Chunks{"<laugh>h", "ahaha"}));
  EXPECT_EQ(ChunkText("ab<LAUGH>cd", 7), (Chunks{"ab", "<LAUGH>", "cd"}));  // any letter case
  EXPECT_EQ(ChunkText("a<sigh><sigh><sigh>", 12), (Chunks{"a<sigh>", "<sigh><sigh>"}));
  // A tag longer than the limit itself is cut: no chunk exceeds the limit.
  EXPECT_EQ(ChunkText("<throatclear>", 5), (Chunks{"<thro", "atcle", "ar>"}));
}

TEST(TextChunkerTest, HardCutKeepsCombiningMarksWithTheirBase) {
  const std::string e = "e\u0301";
  EXPECT_EQ(ChunkText(e + e + e + e + e + e, 5), (Chunks{e + e, e + e, e + e}));
}

TEST(TextChunkerTest, CjkSentenceEndsNeedNoSpace) {
  EXPECT_EQ(ChunkText("你好。世界！再见。", 4), (Chunks{"你好。", "世界！", "再见。"}));
  EXPECT_EQ(ChunkText("你好。世界！再见。", 7), (Chunks{"你好。世界！", "再见。"}));
  EXPECT_EQ(ChunkText("你好。世界！再见。", 300), (Chunks{"你好。世界！再见。"}));
  // Followed by whitespace they end sentences like ". " does (joined by one space).
  EXPECT_EQ(ChunkText("你好。\u3000世界？ 再见！", 300), (Chunks{"你好。 世界？ 再见！"}));
  EXPECT_EQ(ChunkText("你好。\u3000世界？ 再见！", 6), (Chunks{"你好。", "世界？", "再见！"}));
  // Closing brackets stay with their sentence.
  EXPECT_EQ(ChunkText("「你好。」他说。", 5), (Chunks{"「你好。」", "他说。"}));
  // CJK commas are clause cuts.
  EXPECT_EQ(ChunkText("一二三、四五六、七八九。", 8), (Chunks{"一二三、四五六、", "七八九。"}));
}

TEST(TextChunkerTest, EllipsisEndsASentence) {
  EXPECT_EQ(ChunkText("Wait\u2026 What now? Fine.", 12), (Chunks{"Wait\u2026", "What now?", "Fine."}));
}

TEST(TextChunkerTest, SentenceEndInsideQuotesSplitsOnlyWhenTooLong) {
  const std::string text = "He said \"Stop.\" Then he left the room quietly.";
  EXPECT_EQ(ChunkText(text, 300), (Chunks{text}));
  EXPECT_EQ(ChunkText(text, 30), (Chunks{"He said \"Stop.\"", "Then he left the room quietly."}));
}

TEST(TextChunkerTest, InvalidBytesAreKeptForThePreprocessor) {
  EXPECT_EQ(ChunkText("ab\xff cd. ef"s, 300), (Chunks{"ab\xff cd. ef"s}));
  EXPECT_EQ(ChunkText("\xff\xfe\xfd\xfc"s, 3), (Chunks{"\xff\xfe\xfd"s, "\xfc"s}));
  EXPECT_EQ(ChunkText("a\0b c\0d"s, 3), (Chunks{"a\0b"s, "c\0d"s}));
}

TEST(TextChunkerTest, ZeroLimitIsTreatedAsOne) {
  EXPECT_EQ(ChunkText("ab", 0), (Chunks{"a", "b"}));
}

TEST(TextChunkerTest, CountCodePoints) {
  EXPECT_EQ(CountCodePoints(""), 0u);
  EXPECT_EQ(CountCodePoints("abc"), 3u);
  EXPECT_EQ(CountCodePoints("안녕"), 2u);
  EXPECT_EQ(CountCodePoints("e\u0301"), 2u);
  EXPECT_EQ(CountCodePoints("\U0001F600"), 1u);
  EXPECT_EQ(CountCodePoints("\xff\xfe"s), 2u);
  EXPECT_EQ(CountCodePoints("\xe2\x82"s), 2u);          // truncated sequence: two invalid bytes
  EXPECT_EQ(CountCodePoints("a\xed\xa0\x80"s), 4u);     // surrogate: three invalid bytes
  EXPECT_EQ(CountCodePoints("\0\0"s), 2u);
}

// Random text: paragraphs, abbreviations, clauses, non-ASCII words.
std::string RandomText(std::mt19937& rng, std::size_t words, bool long_words) {
  static const std::vector<std::string> kWords = {
      "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog.", "Mr.", "Dr.", "e.g.", "A.", "etc.",
      "hello,", "world;", "note:", "Really?", "Yes!", "café", "naïve", "안녕하세요.", "\"Stop.\"", "(yes)",
      "Washington.", "a", "I", "to", "end."};
  static const std::vector<std::string> kSeparators = {" ", " ", " ", " ", "  ", "\n", "\n\n", " \n \n ", "\t"};
  std::string text;
  for (std::size_t i = 0; i < words; ++i) {
    if (long_words && rng() % 97 == 0) {
      text += std::string(20 + rng() % 400, 'x');
    } else {
      text += kWords[rng() % kWords.size()];
    }
    text += kSeparators[rng() % kSeparators.size()];
  }
  return text;
}

TEST(TextChunkerTest, NoChunkExceedsTheLimitAndNoTextIsLost) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 200; ++round) {
    const std::string text = RandomText(rng, rng() % 300, false);
    for (std::size_t max_chars : {300u, 120u, 40u, 12u}) {
      const Chunks chunks = ChunkText(text, max_chars);
      ExpectWellFormed(text, chunks, max_chars);
      // Every cut is at whitespace: joining with spaces gives the text back.
      EXPECT_EQ(CollapseSpaces(Join(chunks, " ")), CollapseSpaces(text));
    }
  }
}

TEST(TextChunkerTest, OverlongWordsAreCutButNothingIsLost) {
  std::mt19937 rng(777);
  for (int round = 0; round < 100; ++round) {
    const std::string text = RandomText(rng, rng() % 400, true);
    for (std::size_t max_chars : {300u, 120u, 7u}) {
      ExpectWellFormed(text, ChunkText(text, max_chars), max_chars);
    }
  }
}

TEST(TextChunkerTest, LargeInputIsFast) {
  std::mt19937 rng(99);
  const std::string text = RandomText(rng, 20000, true);  // ~150k characters
  const auto start = std::chrono::steady_clock::now();
  const Chunks chunks = ChunkText(text, 300);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ExpectWellFormed(text, chunks, 300);
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(), 500);
}

// FindBreaks / BreakKindAtEnd: where streamed text may be cut (service text
// bundling), with the same sentence rules as ChunkText.
std::vector<BreakKind> KindsOf(const std::string& text) {
  std::vector<BreakKind> kinds;
  for (const TextBreak& b : FindBreaks(text)) kinds.push_back(b.kind);
  return kinds;
}

TEST(FindBreaksTest, RanksEachRunOfWhitespaceByWhatPrecedesIt) {
  using K = BreakKind;
  EXPECT_EQ(KindsOf("One two. Three, four; five: six! Seven? Eight"),
            (std::vector<K>{K::kSpace, K::kSentence, K::kClause, K::kClause, K::kClause, K::kSentence, K::kSentence}));
  EXPECT_EQ(KindsOf("He said \"stop.\" Then (quietly!) and"),
            (std::vector<K>{K::kSpace, K::kSpace, K::kSentence, K::kSpace, K::kSentence}));
  EXPECT_EQ(KindsOf("Dr. Smith, J. Doe e.g. this etc. and 3.5 percent"),
            (std::vector<K>{K::kSpace, K::kClause, K::kSpace, K::kSpace, K::kSpace, K::kSpace, K::kSpace, K::kSpace,
                            K::kSpace}));
  EXPECT_EQ(KindsOf("Title\n\nBody"), (std::vector<K>{K::kSentence}));
  EXPECT_EQ(KindsOf("Wait\u2026 \uc548\ub155\u3002 \uc88b\uc544\uff0c \ub124"),
            (std::vector<K>{K::kSentence, K::kSentence, K::kClause}));
}

TEST(FindBreaksTest, ReportsByteRangesAndCodePointCounts) {
  const std::string text = "  \u00e9t\u00e9 \t fin. ";
  const std::vector<TextBreak> breaks = FindBreaks(text);
  ASSERT_EQ(breaks.size(), 3u);
  EXPECT_EQ(breaks[0].begin, 0u);  // a leading run: nothing before it
  EXPECT_EQ(breaks[0].end, 2u);
  EXPECT_EQ(breaks[0].kind, BreakKind::kSpace);
  EXPECT_EQ(breaks[1].begin, 7u);  // after "  été" (2 + 5 bytes)
  EXPECT_EQ(breaks[1].end, 10u);
  EXPECT_EQ(breaks[1].chars_before, 5u);
  EXPECT_EQ(breaks[1].chars, 3u);
  EXPECT_EQ(breaks[2].begin, text.size() - 1);  // a trailing run
  EXPECT_EQ(breaks[2].end, text.size());
  EXPECT_EQ(breaks[2].kind, BreakKind::kSentence);
  EXPECT_TRUE(FindBreaks("").empty());
  EXPECT_TRUE(FindBreaks("word").empty());
}

TEST(FindBreaksTest, BreakKindAtEnd) {
  EXPECT_EQ(BreakKindAtEnd("Hello."), BreakKind::kSentence);
  EXPECT_EQ(BreakKindAtEnd("Hello?\" \n"), BreakKind::kSentence);
  EXPECT_EQ(BreakKindAtEnd("Hello,"), BreakKind::kClause);
  EXPECT_EQ(BreakKindAtEnd("Hello"), BreakKind::kSpace);
  EXPECT_EQ(BreakKindAtEnd("I met Dr."), BreakKind::kSpace);
  EXPECT_EQ(BreakKindAtEnd("Ask J."), BreakKind::kSpace);
  EXPECT_EQ(BreakKindAtEnd(""), BreakKind::kSpace);
  EXPECT_EQ(BreakKindAtEnd("   "), BreakKind::kSpace);
  EXPECT_EQ(BreakKindAtEnd("\""), BreakKind::kSpace);
}

}  // namespace
}  // namespace supertonic
