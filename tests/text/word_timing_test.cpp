#include "text/word_timing.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "text/text_chunker.h"
#include "text/unicode_indexer.h"

namespace supertonic {
namespace {

// Every code point below U+0400 is an id, except '~' (unknown: dropped, no time).
UnicodeIndexer Indexer() {
  std::vector<int32_t> table(0x400);
  for (std::size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(i % 160);
  table['~'] = -1;
  return UnicodeIndexer(std::move(table));
}

constexpr TokenTimeline kTenthPerId{1.0, 0.1, 100.0};  // one frame of 0.1 s per id

std::size_t Length(std::string_view word) { return CountCodePoints(word); }

void ExpectWord(const WordTime& w, const std::string& word, double start, double end) {
  EXPECT_EQ(w.word, word);
  EXPECT_NEAR(w.start_s, start, 1e-9) << word;
  EXPECT_NEAR(w.end_s, end, 1e-9) << word;
}

TEST(WordTimingTest, UnchangedWordsTakeTheirOwnIdsAfterTheLanguageTag) {
  const auto words = TimeWords("Hello world.", "<en>Hello world.</en>", Indexer(), kTenthPerId, Length);
  ASSERT_EQ(words.size(), 2u);
  ExpectWord(words[0], "Hello", 0.4, 0.9);    // ids 4..8; <en> is ids 0..3
  ExpectWord(words[1], "world.", 1.0, 1.6);   // ids 10..15, the period included
}

TEST(WordTimingTest, ARewrittenWordLastsAsLongAsTheWordsItBecame) {
  const auto words =
      TimeWords("It costs $5 today.", "<en>It costs five dollars today.</en>", Indexer(), kTenthPerId, Length);
  ASSERT_EQ(words.size(), 4u);
  ExpectWord(words[1], "costs", 0.7, 1.2);
  ExpectWord(words[2], "$5", 1.3, 2.5);  // "five dollars"
  ExpectWord(words[3], "today.", 2.6, 3.2);
}

TEST(WordTimingTest, SeveralRewrittenWordsShareTheirRunByWhatEachSaysAlone) {
  // What each written word says alone decides where the run is cut; cuts fall on word starts.
  auto said_alone = [](std::string_view w) -> std::size_t {
    if (w == "Dec") return 8;      // December
    if (w == "3") return 5;        // third
    if (w == "2026") return 17;    // twenty twenty-six
    return CountCodePoints(w);
  };
  const auto words = TimeWords("On Dec 3 2026 ok", "<en>On December third twenty twenty-six ok.</en>", Indexer(),
                               kTenthPerId, said_alone);
  ASSERT_EQ(words.size(), 5u);
  ExpectWord(words[0], "On", 0.4, 0.6);
  ExpectWord(words[1], "Dec", 0.7, 1.5);    // December: ids 7..14
  ExpectWord(words[2], "3", 1.6, 2.1);      // third: 16..20
  ExpectWord(words[3], "2026", 2.2, 3.9);   // twenty twenty-six: 22..38
  ExpectWord(words[4], "ok", 4.0, 4.3);     // "ok." 40..42
}

TEST(WordTimingTest, WordsTheModelDoesNotSayLastNoTime) {
  const auto words = TimeWords("## Title - **bold** end", "<en>Title bold end.</en>", Indexer(), kTenthPerId, Length);
  ASSERT_EQ(words.size(), 5u);
  ExpectWord(words[0], "##", 0.4, 0.4);
  ExpectWord(words[1], "Title", 0.4, 0.9);
  ExpectWord(words[2], "-", 0.9, 0.9);
  ExpectWord(words[3], "**bold**", 1.0, 1.4);
  ExpectWord(words[4], "end", 1.5, 1.9);
}

TEST(WordTimingTest, CaseAccentsAndCompatibilityFormsStillMatch) {
  // The model reads NFKD ("a" + U+0301); the client wrote NFC, in another case.
  const auto words = TimeWords("OLÁ ﬁne", "<pt>ola\u0301 fine.</pt>", Indexer(), kTenthPerId, Length);
  ASSERT_EQ(words.size(), 2u);
  ExpectWord(words[0], "OLÁ", 0.4, 0.8);
  ExpectWord(words[1], "ﬁne", 0.9, 1.4);
}

TEST(WordTimingTest, CharactersTheIndexerDropsTakeNoTime) {
  const auto words = TimeWords("a~b c", "<en>a~b c.</en>", Indexer(), kTenthPerId, Length);
  ASSERT_EQ(words.size(), 2u);
  ExpectWord(words[0], "a~b", 0.4, 0.6);  // a = id 4, b = id 5
  ExpectWord(words[1], "c", 0.7, 0.9);
}

TEST(WordTimingTest, NoWordEndsAfterTheAudioAndTimesNeverGoBack) {
  const TokenTimeline short_audio{1.0, 0.1, 1.0};
  const auto words = TimeWords("one two three four", "<en>one two three four.</en>", Indexer(), short_audio, Length);
  ASSERT_EQ(words.size(), 4u);
  double last = 0;
  for (const auto& w : words) {
    EXPECT_GE(w.start_s, last);
    EXPECT_GE(w.end_s, w.start_s);
    EXPECT_LE(w.end_s, 1.0);
    last = w.end_s;
  }
  EXPECT_DOUBLE_EQ(words.back().start_s, 1.0);
}

TEST(WordTimingTest, AnIdStartsAtTheFirstLatentFrameOfItsShare) {
  // 7 ids over 10 frames of 0.07 s: id k starts at frame ceil(k * 10 / 7).
  const TokenTimeline seven_in_ten{10.0 / 7.0, 0.07, 0.7};
  const auto words = TimeWords("ab", "<>ab</>", Indexer(), seven_in_ten, Length);  // ids 0-1 "<>", 2-3 "ab"
  ASSERT_EQ(words.size(), 1u);
  ExpectWord(words[0], "ab", 3 * 0.07, 6 * 0.07);  // ceil(20/7) = 3, ceil(40/7) = 6
}

TEST(WordTimingTest, EveryWrittenWordComesBackOnceWhateverTheModelRead) {
  EXPECT_TRUE(TimeWords("", "<en>.</en>", Indexer(), kTenthPerId, Length).empty());
  EXPECT_TRUE(TimeWords(" \t\n", "<en>.</en>", Indexer(), kTenthPerId, Length).empty());
  // Nothing in common: the words share the model's words in order.
  const auto words = TimeWords("x\xff y z", "<en>alpha beta.</en>", Indexer(), kTenthPerId, nullptr);
  ASSERT_EQ(words.size(), 3u);
  EXPECT_EQ(words[0].word, "x\xff");
  EXPECT_NEAR(words[0].start_s, 0.4, 1e-9);
  EXPECT_NEAR(words[2].end_s, 1.5, 1e-9);  // "beta." ends at id 15
  // No model text at all.
  const auto unsaid = TimeWords("a b", "", Indexer(), kTenthPerId, Length);
  ASSERT_EQ(unsaid.size(), 2u);
  EXPECT_EQ(unsaid[1].end_s, 0.0);
}

}  // namespace
}  // namespace supertonic
