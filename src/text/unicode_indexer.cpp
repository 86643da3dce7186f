#include "text/unicode_indexer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <limits>
#include <string>
#include <utility>

#include "text/exceptions.h"
#include "text/utf8.h"

namespace supertonic {

namespace {

// The reference indexes with numpy uint16 code points: the table covers the BMP.
constexpr std::size_t kTableSize = 0x10000;

[[noreturn]] void Fail(const std::filesystem::path& path, const std::string& what) {
  throw ModelError("unicode indexer " + path.string() + ": " + what);
}

}  // namespace

UnicodeIndexer UnicodeIndexer::Load(const std::filesystem::path& json_path) {
  std::ifstream in(json_path, std::ios::binary);
  if (!in) Fail(json_path, "cannot open the file (missing or unreadable)");

  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    Fail(json_path, std::string("not valid JSON: ") + e.what());
  }
  if (!doc.is_array()) Fail(json_path, std::string("expected a JSON list, found ") + doc.type_name());
  if (doc.size() != kTableSize) {
    Fail(json_path, "expected a list of " + std::to_string(kTableSize) + " entries, found " +
                        std::to_string(doc.size()));
  }

  std::vector<int32_t> table;
  table.reserve(kTableSize);
  for (std::size_t i = 0; i < doc.size(); ++i) {
    const auto& v = doc[i];
    bool ok = false;
    int64_t value = 0;
    if (v.is_number_unsigned()) {
      const auto u = v.get<uint64_t>();
      ok = u <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max());
      value = static_cast<int64_t>(u);
    } else if (v.is_number_integer()) {
      value = v.get<int64_t>();
      ok = value >= std::numeric_limits<int32_t>::min() && value <= std::numeric_limits<int32_t>::max();
    }
    if (!ok) {
      Fail(json_path, "entry " + std::to_string(i) + " is not a 32-bit integer (" + v.dump() + ")");
    }
    table.push_back(static_cast<int32_t>(value));
  }
  return UnicodeIndexer(std::move(table));
}

UnicodeIndexer::UnicodeIndexer(std::vector<int32_t> table) : table_(std::move(table)) {
  int32_t max_id = -1;
  for (int32_t id : table_) max_id = std::max(max_id, id);
  vocabulary_size_ = static_cast<int64_t>(max_id) + 1;
}

EncodedText UnicodeIndexer::Encode(std::string_view utf8) const {
  EncodedText out;
  out.ids.reserve(utf8.size());
  for (std::size_t pos = 0; pos < utf8.size();) {
    const utf8::Decoded d = utf8::DecodeAt(utf8, pos);
    pos += d.length;
    const auto index = static_cast<std::size_t>(d.cp);
    if (!d.valid || index > 0xFFFF || index >= table_.size() || table_[index] < 0) {
      ++out.unknown_chars;
      continue;
    }
    out.ids.push_back(table_[index]);
  }
  return out;
}

int32_t UnicodeIndexer::CodePointOf(int64_t id) const {
  if (id < 0) return -1;
  const std::size_t limit = std::min(table_.size(), kTableSize);
  for (std::size_t cp = 0; cp < limit; ++cp) {
    if (table_[cp] == id) return static_cast<int32_t>(cp);
  }
  return -1;
}

}  // namespace supertonic
