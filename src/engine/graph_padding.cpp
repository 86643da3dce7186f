#include "engine/graph_padding.h"

#include <onnx/onnx_pb.h>

#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "text/exceptions.h"

namespace supertonic {
namespace {

std::string AttributeString(const onnx::NodeProto& node, const std::string& name, const std::string& fallback) {
  for (const auto& a : node.attribute()) {
    if (a.name() == name && a.type() == onnx::AttributeProto::STRING) return a.s();
  }
  return fallback;
}

std::optional<std::vector<int64_t>> Int64Values(const onnx::TensorProto& t) {
  if (t.data_type() != onnx::TensorProto::INT64 || t.data_location() == onnx::TensorProto::EXTERNAL) {
    return std::nullopt;
  }
  if (t.int64_data_size() > 0) return std::vector<int64_t>(t.int64_data().begin(), t.int64_data().end());
  const std::string& raw = t.raw_data();
  if (raw.size() % sizeof(int64_t) != 0) return std::nullopt;
  std::vector<int64_t> values(raw.size() / sizeof(int64_t));
  std::memcpy(values.data(), raw.data(), raw.size());  // ONNX stores raw data little-endian, as this host
  return values;
}

// The graph as a dependency structure: who produces each tensor.
class GraphIndex {
 public:
  GraphIndex(const onnx::GraphProto& graph, const std::vector<std::string>& mask_inputs)
      : graph_(graph), masks_(mask_inputs.begin(), mask_inputs.end()) {
    for (const auto& init : graph.initializer()) initializers_.emplace(init.name(), &init);
    for (const auto& input : graph.input()) inputs_.insert(input.name());
    for (int i = 0; i < graph.node_size(); ++i) {
      for (const auto& out : graph.node(i).output()) producer_[out] = i;
    }
  }

  const onnx::NodeProto* Producer(const std::string& tensor) const {
    auto it = producer_.find(tensor);
    return it == producer_.end() ? nullptr : &graph_.node(it->second);
  }

  // A constant int64 tensor (initializer or Constant node), when it is one.
  std::optional<std::vector<int64_t>> ConstantInts(const std::string& tensor) const {
    if (auto it = initializers_.find(tensor); it != initializers_.end()) return Int64Values(*it->second);
    const onnx::NodeProto* node = Producer(tensor);
    if (node == nullptr || node->op_type() != "Constant") return std::nullopt;
    for (const auto& a : node->attribute()) {
      if (a.name() == "value" && a.type() == onnx::AttributeProto::TENSOR) return Int64Values(a.t());
      if (a.name() == "value_ints") return std::vector<int64_t>(a.ints().begin(), a.ints().end());
    }
    return std::nullopt;
  }

  // What a tensor's values depend on: the data, or only the masks (and
  // constants and shapes), or nothing but constants. The other operand of a
  // Mul with a mask is the data being masked; a Mul by a constant is not masking.
  enum class Source { kData, kConstant, kMask };
  Source SourceOf(const std::string& tensor) const {
    if (auto it = sources_.find(tensor); it != sources_.end()) return it->second;
    sources_[tensor] = Source::kData;  // a cycle (invalid graph) is data
    Source result = Source::kData;
    if (masks_.count(tensor)) {
      result = Source::kMask;
    } else if (initializers_.count(tensor)) {
      result = Source::kConstant;
    } else if (inputs_.count(tensor)) {
      result = Source::kData;
    } else if (const onnx::NodeProto* node = Producer(tensor)) {
      const std::string& op = node->op_type();
      if (op == "Shape" || op == "Size" || op == "Constant") {
        result = Source::kConstant;  // values independent of any data
      } else {
        result = Source::kConstant;
        for (const auto& a : node->attribute()) {
          if (a.type() == onnx::AttributeProto::GRAPH || a.type() == onnx::AttributeProto::GRAPHS) {
            result = Source::kData;
          }
        }
        for (const auto& in : node->input()) {
          if (in.empty() || result == Source::kData) continue;
          const Source s = SourceOf(in);
          if (s == Source::kData) result = Source::kData;
          else if (s == Source::kMask) result = Source::kMask;
        }
      }
    }
    sources_[tensor] = result;
    return result;
  }

 private:
  const onnx::GraphProto& graph_;
  std::set<std::string> masks_;
  std::unordered_map<std::string, const onnx::TensorProto*> initializers_;
  std::set<std::string> inputs_;
  std::unordered_map<std::string, int> producer_;
  mutable std::unordered_map<std::string, Source> sources_;
};

int DefaultOpset(const onnx::ModelProto& model) {
  for (const auto& o : model.opset_import()) {
    if (o.domain().empty() || o.domain() == "ai.onnx") return static_cast<int>(o.version());
  }
  return 0;
}

// Writes the replacement nodes. Names carry a prefix no exporter uses.
class NodeWriter {
 public:
  NodeWriter(onnx::GraphProto& graph, int opset) : graph_(graph), opset_(opset) {}

  std::string Fresh(const std::string& what) { return fmt::format("supertonic_batch_pad/{}_{}", what, counter_++); }

  onnx::NodeProto* Emit(google::protobuf::RepeatedPtrField<onnx::NodeProto>& nodes, const std::string& op,
                        const std::vector<std::string>& inputs, const std::string& output) {
    onnx::NodeProto* node = nodes.Add();
    node->set_op_type(op);
    node->set_name(Fresh(op));
    for (const auto& in : inputs) node->add_input(in);
    node->add_output(output);
    return node;
  }

  std::string IntsConstant(const std::vector<int64_t>& values) {
    auto key = fmt::format("i{}", fmt::join(values, ","));
    if (auto it = constants_.find(key); it != constants_.end()) return it->second;
    onnx::TensorProto* t = graph_.add_initializer();
    t->set_name(Fresh("ints"));
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(values.size()));
    for (int64_t v : values) t->add_int64_data(v);
    return constants_[key] = t->name();
  }

  std::string FloatScalar(float value) {
    auto key = fmt::format("f{}", value);
    if (auto it = constants_.find(key); it != constants_.end()) return it->second;
    onnx::TensorProto* t = graph_.add_initializer();
    t->set_name(Fresh("float"));
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_float_data(value);
    return constants_[key] = t->name();
  }

  // x summed over its last axis, keeping it.
  void ReduceSumLast(google::protobuf::RepeatedPtrField<onnx::NodeProto>& nodes, const std::string& x,
                     const std::string& out) {
    onnx::NodeProto* node = opset_ >= 13 ? Emit(nodes, "ReduceSum", {x, IntsConstant({-1})}, out)
                                         : Emit(nodes, "ReduceSum", {x}, out);
    if (opset_ < 13) {
      auto* axes = node->add_attribute();
      axes->set_name("axes");
      axes->set_type(onnx::AttributeProto::INTS);
      axes->add_ints(-1);
    }
    auto* keep = node->add_attribute();
    keep->set_name("keepdims");
    keep->set_type(onnx::AttributeProto::INT);
    keep->set_i(1);
  }

 private:
  onnx::GraphProto& graph_;
  int opset_;
  int counter_ = 0;
  std::map<std::string, std::string> constants_;
};

// Per mask: the boolean mask and the one-hot of each item's last valid frame.
struct MaskHelpers {
  std::string as_bool;
  std::string last_frame;
};

MaskHelpers EmitMaskHelpers(NodeWriter& w, google::protobuf::RepeatedPtrField<onnx::NodeProto>& nodes,
                            const std::string& mask) {
  const int64_t kEnd = std::numeric_limits<int64_t>::max();
  MaskHelpers h;
  h.as_bool = w.Fresh("mask_bool");
  auto* cast = w.Emit(nodes, "Cast", {mask}, h.as_bool);
  auto* to = cast->add_attribute();
  to->set_name("to");
  to->set_type(onnx::AttributeProto::INT);
  to->set_i(onnx::TensorProto::BOOL);
  // mask_{t+1}, 0 past the end: the mask shifted left by one frame.
  const std::string after_first = w.Fresh("mask_after_first");
  w.Emit(nodes, "Slice", {mask, w.IntsConstant({1}), w.IntsConstant({kEnd}), w.IntsConstant({-1})}, after_first);
  const std::string last_col = w.Fresh("mask_last_column");
  w.Emit(nodes, "Slice", {mask, w.IntsConstant({-1}), w.IntsConstant({kEnd}), w.IntsConstant({-1})}, last_col);
  const std::string zero_col = w.Fresh("zero_column");
  w.Emit(nodes, "Mul", {last_col, w.FloatScalar(0.0f)}, zero_col);
  const std::string next = w.Fresh("mask_next");
  auto* concat = w.Emit(nodes, "Concat", {after_first, zero_col}, next);
  auto* axis = concat->add_attribute();
  axis->set_name("axis");
  axis->set_type(onnx::AttributeProto::INT);
  axis->set_i(-1);
  const std::string not_next = w.Fresh("not_mask_next");
  w.Emit(nodes, "Sub", {w.FloatScalar(1.0f), next}, not_next);
  h.last_frame = w.Fresh("last_valid_frame");
  w.Emit(nodes, "Mul", {mask, not_next}, h.last_frame);
  return h;
}

}  // namespace

std::string PaddingRewrite::Summary() const {
  if (edge_pads == 0) return "no edge pads";
  if (rewritten == 0 && unmatched.empty() && left_only == edge_pads) {
    return fmt::format("{} edge pads, all at the start only (causal): nothing to rewrite", edge_pads);
  }
  std::string s = fmt::format("{} of {} edge pads rewritten", rewritten, edge_pads);
  if (left_only > 0) s += fmt::format(", {} pad only the start", left_only);
  if (!unmatched.empty()) s += fmt::format(", {} not batch-exact ({})", unmatched.size(), fmt::join(unmatched, "; "));
  return s;
}

PaddingRewrite RewriteBatchPadding(const std::filesystem::path& model_file,
                                   const std::vector<std::string>& mask_inputs) {
  PaddingRewrite report;
  onnx::ModelProto model;
  {
    std::ifstream in(model_file, std::ios::binary);
    if (!in || !model.ParseFromIstream(&in)) {
      // ONNX Runtime, which loads it next, says what is wrong with it.
      report.unmatched.push_back("not readable as an ONNX model");
      return report;
    }
  }
  onnx::GraphProto& graph = *model.mutable_graph();
  const int opset = DefaultOpset(model);
  bool external_data = false;
  for (const auto& init : graph.initializer()) {
    if (init.data_location() == onnx::TensorProto::EXTERNAL) external_data = true;
  }

  google::protobuf::RepeatedPtrField<onnx::NodeProto> rewritten_nodes;
  {
    const GraphIndex index(graph, mask_inputs);
    NodeWriter writer(graph, opset);
    std::map<std::string, MaskHelpers> helpers;  // by mask tensor
    for (const auto& node : graph.node()) {
      if (node.op_type() != "Pad") {
        *rewritten_nodes.Add() = node;
        continue;
      }
      const std::string mode = AttributeString(node, "mode", "constant");
      if (mode == "constant" || node.input_size() < 1) {
        *rewritten_nodes.Add() = node;
        continue;
      }
      ++report.edge_pads;
      const std::string label = node.name().empty() ? node.output(0) : node.name();
      // Only the end of the tensor differs between an item alone and padded.
      std::optional<std::vector<int64_t>> pads;
      // [begin..., end...], for every axis or for the `axes` input's.
      if (node.input_size() > 1) pads = index.ConstantInts(node.input(1));
      bool pads_end = true;
      if (pads && !pads->empty() && pads->size() % 2 == 0) {
        pads_end = false;
        for (size_t i = pads->size() / 2; i < pads->size(); ++i) pads_end = pads_end || (*pads)[i] != 0;
      }
      if (!pads_end) {
        ++report.left_only;
        *rewritten_nodes.Add() = node;
        continue;
      }
      const onnx::NodeProto* producer = index.Producer(node.input(0));
      std::string data, mask;
      if (producer != nullptr && producer->op_type() == "Mul" && producer->input_size() == 2) {
        using Source = GraphIndex::Source;
        const Source first = index.SourceOf(producer->input(0)), second = index.SourceOf(producer->input(1));
        if (first == Source::kMask && second == Source::kData) mask = producer->input(0);
        if (first == Source::kData && second == Source::kMask) mask = producer->input(1);
      }
      std::string why;
      if (mode != "edge") {
        why = "mode " + mode;
      } else if (mask.empty()) {
        why = "its input is not x * mask";
      } else if (opset < 10) {
        why = fmt::format("opset {} (needs 10 or later)", opset);
      } else if (external_data) {
        why = "the model keeps its weights in external files";
      }
      if (!why.empty()) {
        report.unmatched.push_back(label + ": " + why);
        *rewritten_nodes.Add() = node;
        continue;
      }
      auto [it, fresh] = helpers.try_emplace(mask);
      if (fresh) it->second = EmitMaskHelpers(writer, rewritten_nodes, mask);
      const std::string& masked = node.input(0);  // x * mask: zero past each item's end
      const std::string at_last = writer.Fresh("at_last_frame");
      writer.Emit(rewritten_nodes, "Mul", {masked, it->second.last_frame}, at_last);
      const std::string edge = writer.Fresh("item_edge");
      writer.ReduceSumLast(rewritten_nodes, at_last, edge);
      const std::string filled = writer.Fresh("filled_with_item_edge");
      writer.Emit(rewritten_nodes, "Where", {it->second.as_bool, masked, edge}, filled);
      onnx::NodeProto* pad = rewritten_nodes.Add();
      *pad = node;
      pad->set_input(0, filled);
      ++report.rewritten;
    }
  }
  if (report.rewritten > 0) {
    graph.mutable_node()->Swap(&rewritten_nodes);
    if (!model.SerializeToString(&report.model_bytes)) {
      throw ModelError("cannot serialize the rewritten " + model_file.string());
    }
  }
  return report;
}

}  // namespace supertonic
