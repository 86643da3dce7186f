#include "engine/model_config.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "text/exceptions.h"

namespace supertonic {

bool ModelConfig::SupportsLanguage(const std::string& lang) const {
  return std::find(languages.begin(), languages.end(), lang) != languages.end();
}

namespace {

int ReadPositiveInt(const nlohmann::json& parent, const char* key, const std::string& where,
                    const std::filesystem::path& file) {
  if (!parent.contains(key) || !parent[key].is_number_integer() || parent[key].get<int>() <= 0) {
    throw ModelError(file.string() + ": field " + where + "." + key + " must be a positive integer");
  }
  return parent[key].get<int>();
}

}  // namespace

ModelConfig ModelConfig::Load(const std::filesystem::path& tts_json) {
  std::ifstream in(tts_json);
  if (!in) throw ModelError("missing model file " + tts_json.string());
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw ModelError(tts_json.string() + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object() || !j.contains("ae") || !j.contains("ttl") || !j["ae"].is_object() ||
      !j["ttl"].is_object()) {
    throw ModelError(tts_json.string() + ": expected objects \"ae\" and \"ttl\"");
  }
  ModelConfig c;
  c.sample_rate = ReadPositiveInt(j["ae"], "sample_rate", "ae", tts_json);
  c.base_chunk_size = ReadPositiveInt(j["ae"], "base_chunk_size", "ae", tts_json);
  c.chunk_compress_factor = ReadPositiveInt(j["ttl"], "chunk_compress_factor", "ttl", tts_json);
  c.latent_dim = ReadPositiveInt(j["ttl"], "latent_dim", "ttl", tts_json);
  for (const char* key : {"languages", "langs"}) {
    if (j.contains(key) && j[key].is_array() && !j[key].empty()) {
      std::vector<std::string> listed;
      for (const auto& l : j[key]) {
        if (l.is_string() && !l.get<std::string>().empty()) listed.push_back(l.get<std::string>());
      }
      if (listed.empty()) continue;
      c.languages = std::move(listed);
      c.languages_from_file = true;
    }
  }
  return c;
}

}  // namespace supertonic
