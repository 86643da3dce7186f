// Expected strings come from the published Python reference
// (UnicodeProcessor._preprocess_text, Python 3.11, Unicode 14) run on the same
// inputs; non-ASCII characters of the expected outputs are spelled as escapes
// so decompositions are visible.
#include "text/reference_preprocessor.h"

#include <gtest/gtest.h>


#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace supertonic {
namespace {

using namespace std::string_literals;

struct PreprocessCase {
  std::string input;
  std::string lang;
  std::string expected;
};

std::string Escaped(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F) {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  return out;
}

void ExpectAll(const std::vector<PreprocessCase>& cases) {
  for (const PreprocessCase& c : cases) {
    const PreprocessedText got = PreprocessText(c.input, c.lang);
    EXPECT_EQ(got.text, c.expected) << "input: " << Escaped(c.input) << "\n got: " << Escaped(got.text)
                                    << "\nwant: " << Escaped(c.expected);
    EXPECT_EQ(got.invalid_bytes, 0u) << "input: " << Escaped(c.input);
  }
}

// all five service languages (Hangul decomposes into conjoining jamo)
TEST(TextPreprocessorTest, Languages) {
  ExpectAll({
      {"Hello, world"s, "en", "<en>Hello, world.</en>"s},
      {"안녕하세요"s, "ko", "<ko>\u110B\u1161\u11AB\u1102\u1167\u11BC\u1112\u1161\u1109\u1166\u110B\u116D.</ko>"s},
      {"¿Dónde está?"s, "es", "<es>\u00BFDo\u0301nde esta\u0301?</es>"s},
      {"Olá, como você está"s, "pt", "<pt>Ola\u0301, como voce\u0302 esta\u0301.</pt>"s},
      {"Ça va? « oui »"s, "fr", "<fr>C\u0327a va? \u00AB oui \u00BB</fr>"s},
      {"Ça va\u202F? «\u00A0oui\u00A0»"s, "fr", "<fr>C\u0327a va? \u00AB oui \u00BB</fr>"s},
      {"감사합니다!"s, "ko", "<ko>\u1100\u1161\u11B7\u1109\u1161\u1112\u1161\u11B8\u1102\u1175\u1103\u1161!</ko>"s},
  });
}

// NFKD runs first: ligatures, full-width forms, canonical reordering, ´ -> space + U+0301
TEST(TextPreprocessorTest, Nfkd) {
  ExpectAll({
      {"ﬁne ﬂow"s, "en", "<en>fine flow.</en>"s},
      {"①②③"s, "en", "<en>123.</en>"s},
      {"½ cup"s, "en", "<en>1\u20442 cup.</en>"s},
      {"Ｈｅｌｌｏ！"s, "en", "<en>Hello!</en>"s},
      {"x² + y³"s, "en", "<en>x2 + y3.</en>"s},
      {"㍿"s, "en", "<en>\u682A\u5F0F\u4F1A\u793E.</en>"s},
      {"Å"s, "en", "<en>A\u030A.</en>"s},
      {"café"s, "en", "<en>cafe\u0301.</en>"s},
      {"q\u0307\u0323"s, "en", "<en>q\u0323\u0307.</en>"s},
      {"ṩ"s, "en", "<en>s\u0323\u0307.</en>"s},
      {"ℌ𝐀𝟏"s, "en", "<en>HA1.</en>"s},
      {"´"s, "en", "<en>\u0301.</en>"s},
      {"it´s"s, "en", "<en>it \u0301s.</en>"s},
      {"`"s, "en", "<en>'</en>"s},
      {"🈁"s, "en", "<en>\u30B3\u30B3.</en>"s},
      {"…"s, "en", "<en>...</en>"s},
      {"Wait…"s, "en", "<en>Wait...</en>"s},
      {"ｶﾀｶﾅ"s, "en", "<en>\u30AB\u30BF\u30AB\u30CA.</en>"s},
  });
}

// the replacement table (U+2011 is already U+2010 after NFKD, so it stays)
TEST(TextPreprocessorTest, ReplacementTable) {
  ExpectAll({
      {"a–b"s, "en", "<en>a-b.</en>"s},
      {"a‑b"s, "en", "<en>a\u2010b.</en>"s},
      {"a‐b"s, "en", "<en>a\u2010b.</en>"s},
      {"a—b"s, "en", "<en>a-b.</en>"s},
      {"snake_case_name"s, "en", "<en>snake case name.</en>"s},
      {"“quoted”"s, "en", "<en>\"quoted\"</en>"s},
      {"‘single’"s, "en", "<en>'single'</en>"s},
      {"back`tick`"s, "en", "<en>back'tick'</en>"s},
      {"[note] here"s, "en", "<en>note here.</en>"s},
      {"a|b"s, "en", "<en>a b.</en>"s},
      {"a/b"s, "en", "<en>a b.</en>"s},
      {"#tag"s, "en", "<en>tag.</en>"s},
      {"a→b"s, "en", "<en>a b.</en>"s},
      {"a←b"s, "en", "<en>a b.</en>"s},
      {"＿x"s, "en", "<en>x.</en>"s},
  });
}

// the emoji class: every range edge, flags, skin tones; ZWJ and VS16 are not in it
TEST(TextPreprocessorTest, Emoji) {
  ExpectAll({
      {"Hi 😀 there"s, "en", "<en>Hi there.</en>"s},
      {"🙏🌀🗿🚀\U0001F6FF🜀\U0001F77F🞀\U0001F7FF🠀\U0001F8FF🤀🧿🨀\U0001FA6F🩰\U0001FAFF☀⛿✀➿🇦🇿ok"s, "en", "<en>ok.</en>"s},
      {"Flag 🇰🇷!"s, "en", "<en>Flag!</en>"s},
      {"Family 👨\u200D👩\u200D👧"s, "en", "<en>Family \u200D\u200D.</en>"s},
      {"Love ❤\uFE0F"s, "en", "<en>Love \uFE0F.</en>"s},
      {"👍🏽"s, "en", "<en>.</en>"s},
      {"◿⟀\U0001F1E5🬀 edge"s, "en", "<en>\u25FF\u27C0\U0001F1E5\U0001FB00 edge.</en>"s},
      {"⭐ star"s, "en", "<en>\u2B50 star.</en>"s},
      {"✅ done"s, "en", "<en>done.</en>"s},
      {"😀"s, "en", "<en>.</en>"s},
      {"a😀b"s, "en", "<en>ab.</en>"s},
  });
}

// removal of ♥ ☆ ♡ © and backslash
TEST(TextPreprocessorTest, Symbols) {
  ExpectAll({
      {"I ♥ you"s, "en", "<en>I you.</en>"s},
      {"© 2024 ACME"s, "en", "<en>2024 ACME.</en>"s},
      {"C:\\path\\to"s, "en", "<en>C:pathto.</en>"s},
      {"☆♡ stars"s, "en", "<en>stars.</en>"s},
      {"®™ marks"s, "en", "<en>\u00AETM marks.</en>"s},
  });
}

// @, e.g., and i.e. expansions
TEST(TextPreprocessorTest, Expressions) {
  ExpectAll({
      {"mail me@example.com"s, "en", "<en>mail me at example.com.</en>"s},
      {"Fruit, e.g., apples"s, "en", "<en>Fruit, for example, apples.</en>"s},
      {"That is, i.e., this"s, "en", "<en>That is, that is, this.</en>"s},
      {"e.g. without comma"s, "en", "<en>e.g. without comma.</en>"s},
      {"＠home"s, "en", "<en>at home.</en>"s},
      {"@, then"s, "en", "<en>at, then.</en>"s},
      {"E.g., capital"s, "en", "<en>E.g., capital.</en>"s},
      {"e.g.,e.g.,"s, "en", "<en>for example, for example,</en>"s},
  });
}

// one-pass removal of a single space before , . ! ? ; : '
TEST(TextPreprocessorTest, PunctuationSpacing) {
  ExpectAll({
      {"a , b"s, "en", "<en>a, b.</en>"s},
      {"a . b"s, "en", "<en>a. b.</en>"s},
      {"a ! b"s, "en", "<en>a! b.</en>"s},
      {"a ? b"s, "en", "<en>a? b.</en>"s},
      {"a ; b"s, "en", "<en>a; b.</en>"s},
      {"a : b"s, "en", "<en>a: b.</en>"s},
      {"a ' b"s, "en", "<en>a' b.</en>"s},
      {"a  , b"s, "en", "<en>a , b.</en>"s},
      {"x , . ! ? ; : ' end"s, "en", "<en>x,.!?;:' end.</en>"s},
      {"a\t, b"s, "en", "<en>a , b.</en>"s},
      {"a \u00A0, b"s, "en", "<en>a , b.</en>"s},
      {"wait , . ,"s, "en", "<en>wait,.,</en>"s},
      {"It ' s"s, "en", "<en>It' s.</en>"s},
  });
}

// runs of quotes collapse to one
TEST(TextPreprocessorTest, DuplicateQuotes) {
  ExpectAll({
      {"say \"\"hi\"\""s, "en", "<en>say \"hi\"</en>"s},
      {"\"\"\"x\"\"\""s, "en", "<en>\"x\"</en>"s},
      {"''''y''"s, "en", "<en>'y'</en>"s},
      {"``z``"s, "en", "<en>'z'</en>"s},
      {"\"\" \"\""s, "en", "<en>\" \"</en>"s},
      {"''' \"\"\"\""s, "en", "<en>' \"</en>"s},
      {"““double””"s, "en", "<en>\"double\"</en>"s},
      {"it''s"s, "en", "<en>it's.</en>"s},
  });
}

// Python's \s (str.isspace) collapse and strip
TEST(TextPreprocessorTest, Whitespace) {
  ExpectAll({
      {"a\tb\nc\r\nd"s, "en", "<en>a b c d.</en>"s},
      {"  lead and trail  "s, "en", "<en>lead and trail.</en>"s},
      {"a\u00A0b"s, "en", "<en>a b.</en>"s},
      {"a\u3000b"s, "en", "<en>a b.</en>"s},
      {"a\u2028b\u2029c"s, "en", "<en>a b c.</en>"s},
      {"a\u0085b"s, "en", "<en>a b.</en>"s},
      {"a\x1c" "b\x1d" "c\x1e" "d\x1f" "e"s, "en", "<en>a b c d e.</en>"s},
      {"a\x0b" "b\x0c" "c"s, "en", "<en>a b c.</en>"s},
      {"a\u200Bb"s, "en", "<en>a\u200Bb.</en>"s},
      {"a\u1680b"s, "en", "<en>a b.</en>"s},
      {"a\u180Eb"s, "en", "<en>a\u180Eb.</en>"s},
      {"a\uFEFFb"s, "en", "<en>a\uFEFFb.</en>"s},
      {"many     spaces\n\n\nhere"s, "en", "<en>many spaces here.</en>"s},
      {"a\u2003b\u202Fc\u205Fd"s, "en", "<en>a b c d.</en>"s},
  });
}

// the final-punctuation class and the added period
TEST(TextPreprocessorTest, FinalPunctuation) {
  ExpectAll({
      {"x."s, "en", "<en>x.</en>"s},
      {"x!"s, "en", "<en>x!</en>"s},
      {"x?"s, "en", "<en>x?</en>"s},
      {"x;"s, "en", "<en>x;</en>"s},
      {"x:"s, "en", "<en>x:</en>"s},
      {"x,"s, "en", "<en>x,</en>"s},
      {"x'"s, "en", "<en>x'</en>"s},
      {"x\""s, "en", "<en>x\"</en>"s},
      {"x)"s, "en", "<en>x)</en>"s},
      {"x]"s, "en", "<en>x.</en>"s},
      {"x}"s, "en", "<en>x}</en>"s},
      {"x…"s, "en", "<en>x...</en>"s},
      {"x。"s, "en", "<en>x\u3002</en>"s},
      {"x」"s, "en", "<en>x\u300D</en>"s},
      {"x』"s, "en", "<en>x\u300F</en>"s},
      {"x】"s, "en", "<en>x\u3011</en>"s},
      {"x〉"s, "en", "<en>x\u3009</en>"s},
      {"x〉"s, "en", "<en>x\u3009</en>"s},
      {"x》"s, "en", "<en>x\u300B</en>"s},
      {"x›"s, "en", "<en>x\u203A</en>"s},
      {"x»"s, "en", "<en>x\u00BB</en>"s},
      {"x("s, "en", "<en>x(.</en>"s},
      {"x-"s, "en", "<en>x-.</en>"s},
      {"x！"s, "en", "<en>x!</en>"s},
      {"x’"s, "en", "<en>x'</en>"s},
      {"x”"s, "en", "<en>x\"</en>"s},
      {"x 😀"s, "en", "<en>x.</en>"s},
      {"x . "s, "en", "<en>x.</en>"s},
      {"x«"s, "en", "<en>x\u00AB.</en>"s},
  });
}

// nothing left gives a lone period
TEST(TextPreprocessorTest, EmptyInput) {
  ExpectAll({
      {""s, "en", "<en>.</en>"s},
      {"   \n\t"s, "en", "<en>.</en>"s},
      {"😀😁"s, "en", "<en>.</en>"s},
      {"♥"s, "en", "<en>.</en>"s},
  });
}

// control characters that are not \s are kept (the indexer drops them)
TEST(TextPreprocessorTest, ControlCharacters) {
  ExpectAll({
      {"a\x00" "b\x07" "c"s, "en", "<en>a\x00" "b\x07" "c.</en>"s},
      {"\x1b[0m"s, "en", "<en>\x1b 0m.</en>"s},
      {"bell\x07"s, "en", "<en>bell\x07.</en>"s},
  });
}

// Invalid UTF-8 is dropped byte by byte and counted, never thrown on; the
// expectation is the reference run on bytes.decode("utf-8", "ignore").
TEST(TextPreprocessorTest, InvalidUtf8IsDroppedAndCounted) {
  struct InvalidCase {
    std::string input;
    std::string expected;
    std::size_t invalid;
  };
  const std::vector<InvalidCase> cases = {
      {"ab\xff" "cd"s, "<en>abcd.</en>", 1},
      {"\xc3"s, "<en>.</en>", 1},                            // truncated 2-byte sequence
      {"x\xe2\x82"s, "<en>x.</en>", 2},                      // truncated 3-byte sequence
      {"\xed\xa0\x80x"s, "<en>x.</en>", 3},                  // lone high surrogate U+D800
      {"\xed\xbf\xbf"s, "<en>.</en>", 3},                    // lone low surrogate U+DFFF
      {"\xc0\xaf"s, "<en>.</en>", 2},                        // overlong "/"
      {"\xf4\x90\x80\x80"s, "<en>.</en>", 4},                // beyond U+10FFFF
      {"\x80\x80ok"s, "<en>ok.</en>", 2},                    // stray continuation bytes
      {"\xf0\x9f\x98ok"s, "<en>ok.</en>", 3},                // truncated emoji
      {"\xf5\xf8\xfe\xff"s, "<en>.</en>", 4},                // bytes that never occur in UTF-8
      {"caf\xc3\xa9\xe9"s, "<en>cafe\u0301.</en>", 1},       // Latin-1 byte after valid UTF-8
      {"\xe2\x80\x9chi\xe2\x80"s, "<en>\"hi.</en>", 2},
  };
  for (const auto& c : cases) {
    const PreprocessedText got = PreprocessText(c.input, "en");
    EXPECT_EQ(got.text, c.expected) << Escaped(c.input);
    EXPECT_EQ(got.invalid_bytes, c.invalid) << Escaped(c.input);
  }
}

TEST(TextPreprocessorTest, NeverThrowsOnAnyByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  PreprocessedText got;
  ASSERT_NO_THROW(got = PreprocessText(all, "en"));
  // 0x80-0xFF are all invalid on their own.
  EXPECT_EQ(got.invalid_bytes, 128u);
  EXPECT_EQ(got.text.substr(0, 4), "<en>");
  // Every pair and triple of high bytes, to shake the decoder.
  for (int a = 0x80; a < 0x100; ++a) {
    for (int b = 0x80; b < 0x100; ++b) {
      const std::string s = {static_cast<char>(a), static_cast<char>(b), static_cast<char>(0xBF), 'z'};
      ASSERT_NO_THROW(got = PreprocessText(s, "en"));
      ASSERT_EQ(got.text.substr(got.text.size() - 7), "z.</en>");
    }
  }
}

// --- Expression tags: kept by Supertonic 3, removed for Supertonic 2 ----------

// What ModelProfile::expression_tags holds for each model.
const std::vector<std::string> kSupertonicTwoTags;
const std::vector<std::string>& SupertonicThreeTags() { return ExpressionTags(); }

std::string ForProfile(const std::string& text, const std::vector<std::string>& tags, const std::string& lang = "en") {
  return PreprocessText(text, lang, tags).text;
}

TEST(TextPreprocessorTags, SupertonicThreeKeepsThemLowerCased) {
  const std::vector<std::string>& v3 = SupertonicThreeTags();
  EXPECT_EQ(ForProfile("Oh <laugh> that is good.", v3), "<en>Oh <laugh> that is good.</en>");
  EXPECT_EQ(ForProfile("Oh <LAUGH> that <Sigh> is good.", v3), "<en>Oh <laugh> that <sigh> is good.</en>");
  EXPECT_EQ(ForProfile("Hi<breath>there", v3), "<en>Hi<breath>there.</en>");
  // Full-width brackets and letters become tags after NFKD, as the model would read them.
  EXPECT_EQ(ForProfile("Ｈｉ ＜ＣＯＵＧＨ＞ ok", v3), "<en>Hi <cough> ok.</en>");
  for (const std::string& tag : ExpressionTags()) {
    EXPECT_EQ(ForProfile("a " + tag + " b", v3), "<en>a " + tag + " b.</en>") << tag;
  }
  // Only the known ten: anything else is text, as in the reference.
  EXPECT_EQ(ForProfile("a <giggle> b", v3), "<en>a <giggle> b.</en>");
  EXPECT_EQ(ForProfile("a < laugh > b", v3), "<en>a < laugh > b.</en>");
}

// The final period closes the words, before trailing tags: "So funny. <laugh>".
TEST(TextPreprocessorTags, FinalPeriodGoesBeforeTrailingTags) {
  const std::vector<std::string>& v3 = SupertonicThreeTags();
  EXPECT_EQ(ForProfile("So funny <laugh>", v3), "<en>So funny. <laugh></en>");
  EXPECT_EQ(ForProfile("So funny <laugh> <breath> ", v3), "<en>So funny. <laugh> <breath></en>");
  EXPECT_EQ(ForProfile("So funny! <laugh>", v3), "<en>So funny! <laugh></en>");
  EXPECT_EQ(ForProfile("So funny<laugh>", v3), "<en>So funny.<laugh></en>");
  EXPECT_EQ(ForProfile("So funny <laugh>.", v3), "<en>So funny <laugh>.</en>");
  EXPECT_EQ(ForProfile("<laugh> so funny", v3), "<en><laugh> so funny.</en>");
  EXPECT_EQ(ForProfile("<laugh>", v3), "<en><laugh></en>");  // nothing to end
  EXPECT_EQ(ForProfile("", v3), "<en>.</en>");               // as the reference
}

TEST(TextPreprocessorTags, SupertonicTwoRemovesThemWithoutLeavingGaps) {
  const std::vector<std::string>& v2 = kSupertonicTwoTags;
  EXPECT_EQ(ForProfile("Oh <laugh> that is good.", v2), "<en>Oh that is good.</en>");
  EXPECT_EQ(ForProfile("So funny <LAUGH>", v2), "<en>So funny.</en>");
  EXPECT_EQ(ForProfile("So funny <laugh>.", v2), "<en>So funny.</en>");
  EXPECT_EQ(ForProfile("Well <sigh> , maybe", v2), "<en>Well, maybe.</en>");
  EXPECT_EQ(ForProfile("Hi<breath>there", v2), "<en>Hi there.</en>");
  EXPECT_EQ(ForProfile("<cough><cough> Excuse me", v2), "<en>Excuse me.</en>");
  EXPECT_EQ(ForProfile("<yawn>", v2), "<en>.</en>");
  EXPECT_EQ(ForProfile("a <giggle> b", v2), "<en>a <giggle> b.</en>");  // not a known tag: text
}

TEST(TextPreprocessorTags, TextWithoutTagsIsTheReferencesForBothProfiles) {
  for (const std::string& text : {"Hello, world"s, "He said \u201cyes\u201d \u2014 then left\u2026"s, "x < y > z"s,
                                  "  Hi   there !  "s, "\u00BFD\u00F3nde est\u00E1?"s, "\xFF\xFE" "bad bytes"s}) {
    const PreprocessedText reference = PreprocessText(text, "es");
    for (const std::vector<std::string>* tags : {&kSupertonicTwoTags, &SupertonicThreeTags()}) {
      const PreprocessedText got = PreprocessText(text, "es", *tags);
      EXPECT_EQ(got.text, reference.text) << tags->size() << " tags: " << Escaped(text);
      EXPECT_EQ(got.invalid_bytes, reference.invalid_bytes) << tags->size() << " tags";
    }
  }
}

TEST(TextPreprocessorTags, TheReferenceFormReadsTagsAsText) {
  EXPECT_EQ(PreprocessText("So funny <laugh>", "en").text, "<en>So funny <laugh>.</en>");
}

TEST(TextPreprocessorTags, ExpressionTagAtMatchesAnyCase) {
  EXPECT_EQ(ExpressionTagAt(U"a <LaUgH> b", 2), 7u);
  EXPECT_EQ(ExpressionTagAt(U"a <laugh> b", 1), 0u);
  EXPECT_EQ(ExpressionTagAt(U"<laug", 0), 0u);
  EXPECT_EQ(ExpressionTagAt(U"<throatclear>", 0), 13u);
  EXPECT_EQ(ExpressionTagAt(U"<laugh", 0), 0u);
  EXPECT_EQ(ExpressionTagAt(U"", 0), 0u);
}

TEST(TextPreprocessorTest, LanguageIsOnlyWrappedNotValidated) {
  EXPECT_EQ(PreprocessText("hi", "xx").text, "<xx>hi.</xx>");
  EXPECT_EQ(PreprocessText("", "ko").text, "<ko>.</ko>");
}

TEST(TextPreprocessorTest, TenThousandEmojiLeaveNothing) {
  std::string emoji;
  std::string mixed;
  for (int i = 0; i < 10000; ++i) emoji += "\U0001F600";
  for (int i = 0; i < 5000; ++i) mixed += "a\U0001F680";
  EXPECT_EQ(PreprocessText(emoji, "en").text, "<en>.</en>");
  EXPECT_EQ(PreprocessText(mixed, "en").text, "<en>" + std::string(5000, 'a') + ".</en>");
}

TEST(TextPreprocessorTest, TenThousandCharactersAreFast) {
  std::string ascii;
  std::string ascii_expected;
  for (int i = 0; i < 625; ++i) {  // 16 characters each
    ascii += "Hello , world ! ";
    ascii_expected += "Hello, world! ";
  }
  ascii_expected.pop_back();
  std::string french;
  std::string french_expected;
  for (int i = 0; i < 500; ++i) {  // 20 code points each
    french += "\u00C7a va \u2014 tr\u00E8s bien ! ";
    french_expected += "C\u0327a va - tre\u0300s bien! ";
  }
  french_expected.pop_back();

  auto timed = [](const std::string& text, const char* lang, PreprocessedText& out) {
    const auto start = std::chrono::steady_clock::now();
    out = PreprocessText(text, lang);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    return std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
  };
  PreprocessedText a;
  PreprocessedText f;
  EXPECT_LT(timed(ascii, "en", a), 50'000);
  EXPECT_LT(timed(french, "fr", f), 50'000);
  EXPECT_EQ(a.text, "<en>" + ascii_expected + "</en>");
  EXPECT_EQ(f.text, "<fr>" + french_expected + "</fr>");
}

TEST(TextPreprocessorTest, LongCombiningRunsStayLinear) {
  // Canonical reordering of 20000 alternating marks (classes 230 and 220).
  std::string marks = "a";
  std::string expected = "<en>a";
  for (int i = 0; i < 10000; ++i) marks += "\u0301\u0323";
  for (int i = 0; i < 10000; ++i) expected += "\u0323";
  for (int i = 0; i < 10000; ++i) expected += "\u0301";
  expected += ".</en>";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(PreprocessText(marks, "en").text, expected);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(), 200);
}

TEST(TextPreprocessorTest, PythonWhitespace) {
  for (char32_t c : {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x2005,
                     0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000}) {
    EXPECT_TRUE(IsPythonWhitespace(c)) << std::hex << static_cast<unsigned>(c);
  }
  for (char32_t c : {0x00, 0x08, 0x0E, 0x1B, 0x21, 0x7F, 0x84, 0x9F, 0x180E, 0x200B, 0x200D, 0x2060, 0xFEFF, 0x1F600}) {
    EXPECT_FALSE(IsPythonWhitespace(c)) << std::hex << static_cast<unsigned>(c);
  }
}

}  // namespace
}  // namespace supertonic
