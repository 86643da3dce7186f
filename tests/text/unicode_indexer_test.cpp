#include "text/unicode_indexer.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/test_paths.h"
#include "text/exceptions.h"
#include "text/reference_preprocessor.h"

namespace supertonic {
namespace {

using namespace std::string_literals;

// A small table: a-z -> 1..26, space -> 0, "." -> 27, "<" -> 28, ">" -> 29,
// "/" -> 30, U+0301 -> 31, U+1100 -> 32, and U+00E9 also -> 1 (a duplicate).
std::vector<int32_t> SyntheticTable() {
  std::vector<int32_t> table(0x10000, -1);
  for (char32_t c = U'a'; c <= U'z'; ++c) table[c] = static_cast<int32_t>(c - U'a' + 1);
  table[U' '] = 0;
  table[U'.'] = 27;
  table[U'<'] = 28;
  table[U'>'] = 29;
  table[U'/'] = 30;
  table[0x0301] = 31;
  table[0x1100] = 32;
  table[0x00E9] = 1;
  return table;
}

std::filesystem::path WriteFile(const std::string& name, const std::string& content) {
  const auto dir = testing::MakeTempDir("indexer");
  const auto path = dir / name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

std::string JsonList(std::size_t size, const std::string& fill, const std::string& special = "") {
  std::string json = "[";
  for (std::size_t i = 0; i < size; ++i) {
    if (i) json += ",";
    json += (i == 5 && !special.empty()) ? special : fill;
  }
  return json + "]";
}

// Expects Load() to throw ModelError whose message names the file.
void ExpectLoadError(const std::filesystem::path& path, const std::string& fragment) {
  try {
    UnicodeIndexer::Load(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const ModelError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

TEST(UnicodeIndexerTest, EncodesEveryCodePoint) {
  const UnicodeIndexer indexer(SyntheticTable());
  const EncodedText out = indexer.Encode("<en>hi there.</en>");
  EXPECT_EQ(out.ids, (std::vector<int64_t>{28, 5, 14, 29, 8, 9, 0, 20, 8, 5, 18, 5, 27, 28, 30, 5, 14, 29}));
  EXPECT_EQ(out.unknown_chars, 0u);
}

TEST(UnicodeIndexerTest, MultiByteCodePoints) {
  const UnicodeIndexer indexer(SyntheticTable());
  EXPECT_EQ(indexer.Encode("e\u0301\u1100\u00E9").ids, (std::vector<int64_t>{5, 31, 32, 1}));
}

TEST(UnicodeIndexerTest, UnknownCharactersAreDroppedAndCounted) {
  const UnicodeIndexer indexer(SyntheticTable());
  // "A" and "!" map to -1, U+4E00 too, and U+1F600 is beyond the BMP.
  const EncodedText out = indexer.Encode("aA!\u4E00b\U0001F600c");
  EXPECT_EQ(out.ids, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(out.unknown_chars, 4u);
  // Control characters the preprocessor keeps are dropped here.
  const EncodedText ctrl = indexer.Encode("a\0b\x07"s);
  EXPECT_EQ(ctrl.ids, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(ctrl.unknown_chars, 2u);
}

TEST(UnicodeIndexerTest, InvalidUtf8NeverReachesTheModel) {
  const UnicodeIndexer indexer(SyntheticTable());
  const EncodedText out = indexer.Encode("a\xff\xed\xa0\x80" "b\xe2\x82"s);
  EXPECT_EQ(out.ids, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(out.unknown_chars, 6u);  // one per invalid byte
}

TEST(UnicodeIndexerTest, NeverEmitsANegativeId) {
  std::vector<int32_t> table(0x10000, -1);
  table['x'] = 3;
  table['y'] = -7;  // any negative value means unknown
  const UnicodeIndexer indexer(std::move(table));
  std::string all;
  for (int b = 1; b < 256; ++b) all.push_back(static_cast<char>(b));
  all += "\u00E9\uFFFF\U0010FFFF";
  const EncodedText out = indexer.Encode(all);
  EXPECT_EQ(out.ids, (std::vector<int64_t>{3}));
  for (int64_t id : out.ids) EXPECT_GE(id, 0);
  EXPECT_EQ(out.unknown_chars, 127u + 128u + 3u - 1u);
}

TEST(UnicodeIndexerTest, SmallTablesTreatTheRestAsUnknown) {
  const UnicodeIndexer indexer(std::vector<int32_t>{4, 5});
  const EncodedText out = indexer.Encode("\x01\x00\x02"s);
  EXPECT_EQ(out.ids, (std::vector<int64_t>{5, 4}));
  EXPECT_EQ(out.unknown_chars, 1u);
  EXPECT_EQ(indexer.vocabulary_size(), 6);
}

TEST(UnicodeIndexerTest, VocabularySizeAndReverseLookup) {
  const UnicodeIndexer indexer(SyntheticTable());
  EXPECT_EQ(indexer.vocabulary_size(), 33);
  EXPECT_EQ(indexer.CodePointOf(0), U' ');
  EXPECT_EQ(indexer.CodePointOf(1), U'a');  // lowest of 'a' and U+00E9
  EXPECT_EQ(indexer.CodePointOf(32), 0x1100);
  EXPECT_EQ(indexer.CodePointOf(33), -1);
  EXPECT_EQ(indexer.CodePointOf(-1), -1);
  EXPECT_EQ(UnicodeIndexer(std::vector<int32_t>(10, -1)).vocabulary_size(), 0);
}

TEST(UnicodeIndexerTest, LoadsAWellFormedFile) {
  const auto path = WriteFile("ok.json", JsonList(65536, "-1", "7"));
  const UnicodeIndexer indexer = UnicodeIndexer::Load(path);
  EXPECT_EQ(indexer.vocabulary_size(), 8);
  EXPECT_EQ(indexer.CodePointOf(7), 5);
  EXPECT_EQ(indexer.Encode("\x05\x06"s).ids, (std::vector<int64_t>{7}));
  std::filesystem::remove_all(path.parent_path());
}

TEST(UnicodeIndexerTest, RejectsMissingOrMalformedFiles) {
  ExpectLoadError("/nonexistent/dir/unicode_indexer.json", "cannot open");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"not json at all", "not valid JSON"},
      {"{\"a\": 1}", "expected a JSON list"},
      {"42", "expected a JSON list"},
      {JsonList(65535, "0"), "65536 entries, found 65535"},
      {JsonList(65537, "0"), "65536 entries, found 65537"},
      {"[]", "found 0"},
      {JsonList(65536, "0", "1.5"), "entry 5"},
      {JsonList(65536, "0", "\"7\""), "entry 5"},
      {JsonList(65536, "0", "null"), "entry 5"},
      {JsonList(65536, "0", "[1]"), "entry 5"},
      {JsonList(65536, "0", "4294967296"), "entry 5"},
  };
  for (const auto& [content, fragment] : bad) {
    const auto path = WriteFile("unicode_indexer.json", content);
    ExpectLoadError(path, fragment);
    std::filesystem::remove_all(path.parent_path());
  }
}

// The published indexer, when the shared model directory is present.
std::filesystem::path RealIndexerPath() {
  if (const char* env = std::getenv("SUPERTONIC_UNICODE_INDEXER")) return env;
  const auto dir = testing::SharedModelDir();
  return dir.empty() ? std::filesystem::path() : dir / "onnx" / "unicode_indexer.json";
}

TEST(UnicodeIndexerTest, RealIndexerMatchesTheReference) {
  const auto path = RealIndexerPath();
  if (path.empty() || !std::filesystem::exists(path)) GTEST_SKIP() << "no shared unicode_indexer.json";
  const UnicodeIndexer indexer = UnicodeIndexer::Load(path);
  EXPECT_EQ(indexer.vocabulary_size(), 162);
  EXPECT_EQ(indexer.CodePointOf(0), 0x20);
  EXPECT_EQ(indexer.CodePointOf(161), 0x20AC);

  // Ids from the Python reference: indexer[ord(c)] over _preprocess_text(text, lang).
  struct Case {
    const char* text;
    const char* lang;
    std::vector<int64_t> ids;
  };
  const std::vector<Case> cases = {
      {"Hello, world", "en", {27, 60, 69, 28, 37, 60, 67, 67, 70, 11, 0, 78, 70, 73, 67, 59, 13, 27, 14, 60, 69, 28}},
      {"안녕하세요", "ko", {27, 66, 70, 28, 106, 114, 138, 97, 120, 154, 113, 114, 104, 119, 106, 126, 13, 27, 14, 66, 70, 28}},
      {"¿Dónde está?", "es", {27, 60, 74, 28, 87, 33, 70, 90, 69, 59, 60, 0, 60, 74, 75, 56, 90, 29, 27, 14, 60, 74, 28}},
      {"Olá, como você está", "pt", {27, 71, 75, 28, 44, 67, 56, 90, 11, 0, 58, 70, 68, 70, 0, 77, 70, 58, 60, 91, 0, 60, 74, 75,
                                     56, 90, 13, 27, 14, 71, 75, 28}},
      {"Ça va? « oui »", "fr", {27, 61, 73, 28, 32, 94, 56, 0, 77, 56, 29, 0, 85, 0, 70, 76, 64, 0, 86, 27, 14, 61, 73, 28}},
  };
  for (const Case& c : cases) {
    const EncodedText out = indexer.Encode(PreprocessText(c.text, c.lang).text);
    EXPECT_EQ(out.ids, c.ids) << c.text;
    EXPECT_EQ(out.unknown_chars, 0u) << c.text;
  }
  // Control characters and CJK are not in the published table.
  const EncodedText unknown = indexer.Encode("a\x07\u4E00"s);
  EXPECT_EQ(unknown.ids.size(), 1u);
  EXPECT_EQ(unknown.unknown_chars, 2u);
}

}  // namespace
}  // namespace supertonic
