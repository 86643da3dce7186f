#include "engine/voice_style.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <iterator>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "text/exceptions.h"

namespace supertonic {
namespace {

// Values as written (double: a float conversion of an out-of-range number is undefined).
// Bounded in depth: a hostile file cannot recurse the stack away.
void FlattenInto(const nlohmann::json& node, std::vector<double>& out, std::size_t limit, int depth = 0) {
  if (node.is_array()) {
    if (depth > 8) throw std::invalid_argument("nested too deep");
    for (const auto& child : node) {
      FlattenInto(child, out, limit, depth + 1);
      if (out.size() > limit) return;  // already too many: stop early
    }
  } else if (node.is_number()) {
    out.push_back(node.get<double>());
  } else {
    throw std::invalid_argument("non-numeric entry");
  }
}

std::vector<float> ReadTensor(const nlohmann::json& j, const char* key, const std::vector<int>& dims,
                              const std::string& file) {
  const std::string where = file + ": " + key;
  if (!j.contains(key) || !j[key].is_object() || !j[key].contains("data")) {
    throw ModelError(where + " is missing (expected {\"data\": ..., \"dims\": ...})");
  }
  const auto& t = j[key];
  if (t.contains("dims")) {
    std::vector<int> got;
    if (!t["dims"].is_array()) throw ModelError(where + ".dims is not an array");
    for (const auto& d : t["dims"]) {
      if (!d.is_number_integer()) throw ModelError(where + ".dims holds a non-integer entry");
      got.push_back(d.get<int>());
    }
    if (got != dims) {
      throw ModelError(where + " has dims " + nlohmann::json(got).dump() + ", expected " +
                       nlohmann::json(dims).dump());
    }
  }
  std::size_t expected = 1;
  for (int d : dims) expected *= static_cast<std::size_t>(d);
  std::vector<double> data;
  data.reserve(expected);
  try {
    FlattenInto(t["data"], data, expected);
  } catch (const std::exception&) {
    throw ModelError(where + ".data holds a non-numeric entry or is nested too deep");
  }
  if (data.size() != expected) {
    throw ModelError(where + ".data has " +
                     (data.size() > expected ? "more than " + std::to_string(expected)
                                             : std::to_string(data.size())) +
                     " values, expected " + std::to_string(expected));
  }
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (!std::isfinite(data[i])) {
      throw ModelError(where + ".data[" + std::to_string(i) + "] is not a finite number");
    }
    if (std::fabs(data[i]) > VoiceStyle::kMaxAbsValue) {
      throw ModelError(where + ".data[" + std::to_string(i) + "] is " + nlohmann::json(data[i]).dump() +
                       ", beyond +-" + std::to_string(static_cast<int>(VoiceStyle::kMaxAbsValue)) +
                       " (not a voice style)");
    }
  }
  return std::vector<float>(data.begin(), data.end());
}

// {"dims": [1, rows, cols], "data": [[[...]]]}, each value the shortest text
// that reads back as the same float (a file half the size of one written
// with double precision).
std::string TensorJson(const std::vector<float>& data, std::size_t rows, std::size_t cols) {
  std::string out = fmt::format(R"({{"dims":[1,{},{}],"data":[[)", rows, cols);
  out.reserve(out.size() + data.size() * 12);
  for (std::size_t r = 0; r < rows; ++r) {
    out += r == 0 ? "[" : ",[";
    for (std::size_t c = 0; c < cols; ++c) {
      if (c > 0) out += ',';
      fmt::format_to(std::back_inserter(out), "{}", data[r * cols + c]);
    }
    out += ']';
  }
  return out + "]]}";
}

}  // namespace

bool IsVoiceName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

VoiceStyle VoiceStyle::FromJson(const nlohmann::json& j, std::string name, const std::string& where) {
  if (!j.is_object()) throw ModelError(where + ": not a JSON object");
  VoiceStyle v;
  v.name = std::move(name);
  try {
    v.ttl = ReadTensor(j, "style_ttl", {1, kTtlTokens, kTtlDim}, where);
    v.dp = ReadTensor(j, "style_dp", {1, kDpTokens, kDpDim}, where);
    if (const auto m = j.find("metadata"); m != j.end() && !m->is_null()) {
      if (!m->is_object()) throw ModelError(where + ": metadata is not an object");
      v.metadata = m->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      if (v.metadata.size() > kMaxMetadataBytes) {
        throw ModelError(where + ": metadata takes " + std::to_string(v.metadata.size()) + " bytes, at most " +
                         std::to_string(kMaxMetadataBytes));
      }
    }
    if (const auto u = j.find("upload"); u != j.end() && u->is_object()) {
      v.upload = u->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      if (v.upload.size() > kMaxMetadataBytes) v.upload.clear();
    }
  } catch (const nlohmann::json::exception& e) {
    throw ModelError(where + ": " + e.what());
  }
  return v;
}

VoiceStyle VoiceStyle::Load(const std::filesystem::path& json_file, std::size_t max_file_bytes) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(json_file, ec);
  if (ec) throw ModelError("missing voice style file " + json_file.string());
  if (size > max_file_bytes) {
    throw ModelError(json_file.string() + ": " + std::to_string(size) + " bytes, over the limit of " +
                     std::to_string(max_file_bytes));
  }
  std::ifstream in(json_file, std::ios::binary);
  if (!in) throw ModelError("cannot read voice style file " + json_file.string());
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > max_file_bytes) {
    throw ModelError(json_file.string() + ": over the limit of " + std::to_string(max_file_bytes) + " bytes");
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) throw ModelError(json_file.string() + ": not valid JSON");
  return FromJson(j, json_file.stem().string(), json_file.string());
}

std::string VoiceStyle::ToJson() const {
  auto object_text = [](const std::string& text) {
    const auto j = nlohmann::json::parse(text.empty() ? "{}" : text, nullptr, false);
    return j.is_object() ? j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) : std::string("{}");
  };
  std::string out = "{\"style_ttl\":" + TensorJson(ttl, kTtlTokens, kTtlDim) +
                    ",\n\"style_dp\":" + TensorJson(dp, kDpTokens, kDpDim) + ",\n\"metadata\":" + object_text(metadata);
  if (!upload.empty()) out += ",\n\"upload\":" + object_text(upload);
  return out + "}\n";
}

VoiceLibrary VoiceLibrary::Load(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir)) {
    throw ModelError("missing voice style folder " + dir.string());
  }
  VoiceLibrary lib;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      auto v = std::make_shared<VoiceStyle>(VoiceStyle::Load(entry.path()));
      lib.voices_.emplace(v->name, std::move(v));
    }
  }
  if (lib.voices_.empty()) throw ModelError("no voice style (*.json) in " + dir.string());
  return lib;
}

const VoiceStyle* VoiceLibrary::Find(const std::string& name) const {
  auto it = voices_.find(name);
  return it == voices_.end() ? nullptr : it->second.get();
}

std::shared_ptr<const VoiceStyle> VoiceLibrary::FindShared(const std::string& name) const {
  auto it = voices_.find(name);
  return it == voices_.end() ? nullptr : it->second;
}

std::vector<std::string> VoiceLibrary::names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : voices_) out.push_back(name);
  return out;
}

}  // namespace supertonic
