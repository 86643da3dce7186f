#pragma once
// Maps code points to the model's text ids through unicode_indexer.json.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

namespace supertonic {

struct EncodedText {
  std::vector<int64_t> ids;
  // Dropped: not in the indexer (-1), beyond U+FFFF, or an invalid UTF-8 byte
  // (one per byte). The ids never contain a negative value.
  std::size_t unknown_chars = 0;
};

class UnicodeIndexer {
 public:
  // Throws ModelError naming the file when it is missing or malformed
  // (not JSON, not a list, not 65536 entries, an entry not a 32-bit integer).
  static UnicodeIndexer Load(const std::filesystem::path& json_path);
  // table[code point] = id, negative = unknown. Any size is accepted (tests use
  // small tables); code points past its end or beyond U+FFFF are unknown.
  explicit UnicodeIndexer(std::vector<int32_t> table);

  EncodedText Encode(std::string_view utf8) const;
  // Whether `cp` becomes an id (Encode drops the others).
  bool Knows(char32_t cp) const { return cp <= 0xFFFF && cp < table_.size() && table_[cp] >= 0; }
  // Largest id in the table plus one: the size the embedding must have.
  int64_t vocabulary_size() const { return vocabulary_size_; }
  // First code point mapping to `id`, or -1 (for tools that print ids back).
  int32_t CodePointOf(int64_t id) const;

 private:
  std::vector<int32_t> table_;
  int64_t vocabulary_size_ = 0;
};

}  // namespace supertonic
