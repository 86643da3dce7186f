#include "engine/model_profile.h"

#include <onnx/onnx_pb.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <unordered_map>

#include "engine/errors.h"
#include "engine/model_config.h"
#include "engine/text_preprocessor.h"
#include "engine/unicode_indexer.h"

namespace supertonic {

bool ModelProfile::SupportsLanguage(std::string_view lang) const {
  return std::find(languages.begin(), languages.end(), lang) != languages.end();
}

std::size_t ModelProfile::ChunkLimit(std::string_view lang) const {
  auto it = chunk_chars_by_lang.find(lang);
  return it == chunk_chars_by_lang.end() ? chunk_chars : it->second;
}

bool ModelProfile::SpeedAllowed(float speed) const {
  return speed > 0.0f && speed >= min_speed && speed <= max_speed;
}

std::string ModelProfile::SpeedRange() const {
  return min_speed > 0.0f ? fmt::format("[{}, {}]", min_speed, max_speed) : fmt::format("(0, {}]", max_speed);
}

std::string ModelProfile::UnsupportedLanguageMessage(std::string_view lang) const {
  return fmt::format("unsupported language '{}'; this model ({}) speaks: {}", lang, name, fmt::join(languages, " "));
}

void ModelProfile::OverrideChunkChars(std::size_t chars) {
  if (chars == 0) return;
  chunk_chars = chars;
  for (auto& [lang, limit] : chunk_chars_by_lang) limit = std::min(limit, chars);
}

std::string ModelProfile::Describe() const {
  std::vector<std::string> by_lang;
  for (const auto& [lang, limit] : chunk_chars_by_lang) by_lang.push_back(fmt::format("{} {}", lang, limit));
  return fmt::format(
      "{}{}: {} languages ({}); chunks of {} characters{}; steps {} ({}..{}); speed {} {}; {}; runaway durations "
      "clamped above {} s per text id",
      name, detected_by.empty() ? std::string() : " (" + detected_by + ")", languages.size(),
      fmt::join(languages, " "), chunk_chars,
      by_lang.empty() ? std::string() : fmt::format(" ({})", fmt::join(by_lang, ", ")), default_steps, min_steps,
      max_steps, default_speed, SpeedRange(),
      expression_tags.empty() ? std::string("no expression tags (removed from the text)")
                              : fmt::format("expression tags {}", fmt::join(expression_tags, " ")),
      max_seconds_per_token);
}

ModelProfile SupertonicTwoProfile() { return ModelProfile{}; }

ModelProfile SupertonicThreeProfile() {
  ModelProfile p;
  p.name = "supertonic-3";
  p.version = 3;
  // The official package's list (config.py), then `na` for text of any other language.
  p.languages = {"en", "ko", "ja", "ar", "bg", "cs", "da", "de", "el", "es", "et", "fi", "fr", "hi", "hr", "hu",
                 "id", "it", "lt", "lv", "nl", "pl", "pt", "ro", "ru", "sk", "sl", "sv", "tr", "uk", "vi", "na"};
  // Repeated and skipped words are reported above ~160 characters per chunk:
  // the default stays below that (README, "Model profiles").
  p.chunk_chars = 150;
  p.chunk_chars_by_lang = {{"ja", 120}, {"ko", 120}};
  p.default_steps = 8;
  p.default_speed = 1.05f;
  p.min_speed = 0.7f;
  p.max_speed = 2.0f;
  p.expression_tags = ExpressionTags();
  p.text_embedding_rows = 8322;
  return p;
}

namespace {

namespace fs = std::filesystem;

const std::vector<ModelProfile>& KnownProfiles() {
  static const std::vector<ModelProfile> profiles{SupertonicTwoProfile(), SupertonicThreeProfile()};
  return profiles;
}

std::string KnownSizes() {
  std::vector<std::string> sizes;
  for (const ModelProfile& p : KnownProfiles()) sizes.push_back(fmt::format("{} ({})", p.text_embedding_rows, p.name));
  return fmt::format("{}", fmt::join(sizes, " or "));
}

// The rows of the text embedding: a Gather (axis 0) of a 2-D constant table
// whose indices are the `text_ids` input, directly or through ops that keep
// the values (a cast, a reshape). None when the graph embeds ids otherwise.
class TextEmbeddingFinder {
 public:
  explicit TextEmbeddingFinder(const onnx::GraphProto& graph) : graph_(graph) {
    for (const auto& init : graph.initializer()) tables_.emplace(init.name(), &init);
    for (const auto& node : graph.node()) {
      for (const auto& out : node.output()) producer_.emplace(out, &node);
      if (node.op_type() != "Constant" || node.output_size() != 1) continue;
      for (const auto& a : node.attribute()) {
        if (a.name() == "value" && a.type() == onnx::AttributeProto::TENSOR) tables_.emplace(node.output(0), &a.t());
      }
    }
  }

  std::optional<int64_t> Rows() const {
    for (const auto& node : graph_.node()) {
      if (node.op_type() != "Gather" || node.input_size() < 2 || Axis(node) != 0) continue;
      auto table = tables_.find(node.input(0));
      if (table == tables_.end() || table->second->dims_size() != 2) continue;
      if (FromTextIds(node.input(1), 0)) return table->second->dims(0);
    }
    return std::nullopt;
  }

 private:
  static int64_t Axis(const onnx::NodeProto& node) {
    for (const auto& a : node.attribute()) {
      if (a.name() == "axis") return a.i();
    }
    return 0;
  }

  bool FromTextIds(const std::string& tensor, int depth) const {
    if (tensor == "text_ids") return true;
    auto it = producer_.find(tensor);
    if (depth > 8 || it == producer_.end() || it->second->input_size() < 1) return false;
    static const std::vector<std::string> value_keeping{"Cast", "Identity", "Reshape", "Unsqueeze", "Squeeze",
                                                        "Flatten"};
    const onnx::NodeProto& node = *it->second;
    if (std::find(value_keeping.begin(), value_keeping.end(), node.op_type()) == value_keeping.end()) return false;
    return FromTextIds(node.input(0), depth + 1);
  }

  const onnx::GraphProto& graph_;
  std::unordered_map<std::string, const onnx::TensorProto*> tables_;
  std::unordered_map<std::string, const onnx::NodeProto*> producer_;
};

std::optional<int64_t> TextEmbeddingRows(const fs::path& text_encoder) {
  if (!fs::is_regular_file(text_encoder)) throw ModelError("missing model file " + text_encoder.string());
  onnx::ModelProto model;
  std::ifstream in(text_encoder, std::ios::binary);
  if (!in || !model.ParseFromIstream(&in)) {
    throw ModelError("cannot load " + text_encoder.string() + ": not a readable ONNX model");
  }
  return TextEmbeddingFinder(model.graph()).Rows();
}

ModelProfile FromEmbedding(const fs::path& text_encoder, int64_t rows, const fs::path& indexer_path,
                           int64_t largest_id) {
  for (const ModelProfile& known : KnownProfiles()) {
    if (known.text_embedding_rows != rows) continue;
    if (largest_id >= rows) {
      throw ModelError(fmt::format("{}: its largest id {} is past the {}-row text embedding of {}: the indexer and "
                                   "the graphs come from different models",
                                   indexer_path.string(), largest_id, rows, text_encoder.string()));
    }
    ModelProfile p = known;
    p.detected_by = fmt::format("text encoder embedding: {} rows", rows);
    return p;
  }
  throw ModelError(fmt::format("{}: its text embedding has {} rows, a known Supertonic's has {}",
                               text_encoder.string(), rows, KnownSizes()));
}

ModelProfile FromIndexer(const fs::path& indexer_path, int64_t largest_id) {
  if (largest_id < 0) throw ModelError(indexer_path.string() + ": maps no character to an id");
  for (const ModelProfile& known : KnownProfiles()) {  // smallest vocabulary first
    if (largest_id >= known.text_embedding_rows) continue;
    ModelProfile p = known;
    p.detected_by = fmt::format("no embedding table in the text encoder; the unicode indexer's largest id: {}",
                                largest_id);
    return p;
  }
  throw ModelError(fmt::format("{}: its largest id is {}, past every known Supertonic's vocabulary of {}",
                               indexer_path.string(), largest_id, KnownSizes()));
}

}  // namespace

ModelProfile DetectModelProfile(const fs::path& model_dir, const UnicodeIndexer& indexer, const ModelConfig& config) {
  const fs::path text_encoder = model_dir / "onnx" / "text_encoder.onnx";
  const fs::path indexer_path = model_dir / "onnx" / "unicode_indexer.json";
  const int64_t largest_id = indexer.vocabulary_size() - 1;
  const std::optional<int64_t> rows = TextEmbeddingRows(text_encoder);
  ModelProfile p = rows ? FromEmbedding(text_encoder, *rows, indexer_path, largest_id)
                        : FromIndexer(indexer_path, largest_id);
  if (config.languages_from_file && config.languages != p.languages) {
    spdlog::info("model: languages from tts.json ({}) replace the {} profile's {}", fmt::join(config.languages, " "),
                 p.name, p.languages.size());
    p.languages = config.languages;
    p.detected_by += "; languages from tts.json";
  }
  spdlog::info("model: {}", p.Describe());
  return p;
}

ModelProfile DetectModelProfile(const fs::path& model_dir) {
  const ModelConfig config = ModelConfig::Load(model_dir / "onnx" / "tts.json");
  const UnicodeIndexer indexer = UnicodeIndexer::Load(model_dir / "onnx" / "unicode_indexer.json");
  return DetectModelProfile(model_dir, indexer, config);
}

}  // namespace supertonic
