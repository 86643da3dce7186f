#include "engine/voice_style.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/errors.h"

namespace supertonic {
namespace {

void FlattenInto(const nlohmann::json& node, std::vector<float>& out) {
  if (node.is_array()) {
    for (const auto& child : node) FlattenInto(child, out);
  } else if (node.is_number()) {
    out.push_back(node.get<float>());
  } else {
    throw std::invalid_argument("non-numeric entry");
  }
}

std::vector<float> ReadTensor(const nlohmann::json& j, const char* key, std::vector<int> dims,
                              const std::filesystem::path& file) {
  const std::string where = file.string() + ": " + key;
  if (!j.contains(key) || !j[key].is_object() || !j[key].contains("data")) {
    throw ModelError(where + " is missing (expected {\"data\": ..., \"dims\": ...})");
  }
  const auto& t = j[key];
  if (t.contains("dims")) {
    std::vector<int> got;
    for (const auto& d : t["dims"]) got.push_back(d.get<int>());
    if (got != dims) {
      throw ModelError(where + " has dims " + nlohmann::json(got).dump() + ", expected " +
                       nlohmann::json(dims).dump());
    }
  }
  std::vector<float> data;
  try {
    FlattenInto(t["data"], data);
  } catch (const std::exception&) {
    throw ModelError(where + ".data holds a non-numeric entry");
  }
  std::size_t expected = 1;
  for (int d : dims) expected *= static_cast<std::size_t>(d);
  if (data.size() != expected) {
    throw ModelError(where + ".data has " + std::to_string(data.size()) + " values, expected " +
                     std::to_string(expected));
  }
  return data;
}

}  // namespace

VoiceStyle VoiceStyle::Load(const std::filesystem::path& json_file) {
  std::ifstream in(json_file);
  if (!in) throw ModelError("missing voice style file " + json_file.string());
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw ModelError(json_file.string() + ": not valid JSON (" + e.what() + ")");
  }
  VoiceStyle v;
  v.name = json_file.stem().string();
  v.ttl = ReadTensor(j, "style_ttl", {1, kTtlTokens, kTtlDim}, json_file);
  v.dp = ReadTensor(j, "style_dp", {1, kDpTokens, kDpDim}, json_file);
  return v;
}

VoiceLibrary VoiceLibrary::Load(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir)) {
    throw ModelError("missing voice style folder " + dir.string());
  }
  VoiceLibrary lib;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      VoiceStyle v = VoiceStyle::Load(entry.path());
      lib.voices_.emplace(v.name, std::move(v));
    }
  }
  if (lib.voices_.empty()) throw ModelError("no voice style (*.json) in " + dir.string());
  return lib;
}

const VoiceStyle* VoiceLibrary::Find(const std::string& name) const {
  auto it = voices_.find(name);
  return it == voices_.end() ? nullptr : &it->second;
}

std::vector<std::string> VoiceLibrary::names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : voices_) out.push_back(name);
  return out;
}

}  // namespace supertonic
