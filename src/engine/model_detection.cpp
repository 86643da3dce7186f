// Which model a directory holds, from its files (DetectModelProfile). Apart
// from model_profile.cpp so that code which only needs a profile's values (the
// fuzz targets) does not need the ONNX protobuf library.
#include <onnx/onnx_pb.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <unordered_map>

#include "engine/model_config.h"
#include "engine/model_profile.h"
#include "text/exceptions.h"
#include "text/unicode_indexer.h"

namespace supertonic {

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
