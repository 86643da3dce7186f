// Which pads the batch-padding rewrite touches, on small hand-built graphs:
// only an edge Pad of `x * mask` that pads the end, whatever the mask was
// derived from; anything else that could copy a batch mate's padding is
// reported, so the engine keeps mixed-length batches off.
#include "engine/graph_padding.h"

#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <fstream>
#include <map>
#include <optional>

#include "support/test_paths.h"

namespace supertonic {
namespace {

class GraphBuilder {
 public:
  GraphBuilder() {
    model_.set_ir_version(8);  // the newest this libonnx (1.12) checks; the rewrite does not depend on it
    auto* opset = model_.add_opset_import();
    opset->set_domain("");
    opset->set_version(17);
    graph_ = model_.mutable_graph();
    graph_->set_name("padding_test");
    Input("x", {"B", "C", "T"});
    Input("text_mask", {"B", "1", "T"});
  }

  void Input(const std::string& name, const std::vector<std::string>& dims) {
    auto* in = graph_->add_input();
    in->set_name(name);
    auto* tensor = in->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(onnx::TensorProto::FLOAT);
    for (const auto& d : dims) {
      auto* dim = tensor->mutable_shape()->add_dim();
      if (d == "1") dim->set_dim_value(1);
      else dim->set_dim_param(d);
    }
  }

  std::string Ints(const std::vector<int64_t>& values) {
    auto* t = graph_->add_initializer();
    t->set_name("ints_" + std::to_string(graph_->initializer_size()));
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(values.size()));
    for (int64_t v : values) t->add_int64_data(v);
    return t->name();
  }

  std::string Node(const std::string& op, const std::vector<std::string>& inputs, const std::string& mode = "",
                   std::optional<int64_t> axis = std::nullopt) {
    auto* n = graph_->add_node();
    n->set_op_type(op);
    n->set_name(op + "_" + std::to_string(graph_->node_size()));
    for (const auto& i : inputs) n->add_input(i);
    n->add_output(n->name() + "_out");
    if (!mode.empty()) {
      auto* a = n->add_attribute();
      a->set_name("mode");
      a->set_type(onnx::AttributeProto::STRING);
      a->set_s(mode);
    }
    if (axis) {
      auto* a = n->add_attribute();
      a->set_name("axis");
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(*axis);
    }
    return n->output(0);
  }

  std::filesystem::path Save(const std::string& output) {
    auto* out = graph_->add_output();
    out->set_name(output);
    auto* tensor = out->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(onnx::TensorProto::FLOAT);
    for (const char* d : {"B", "C", "T2"}) tensor->mutable_shape()->add_dim()->set_dim_param(d);
    onnx::checker::check_model(model_);
    dir_ = testing::MakeTempDir("graph_padding");
    const auto path = dir_ / "model.onnx";
    std::ofstream f(path, std::ios::binary);
    model_.SerializeToOstream(&f);
    return path;
  }

  ~GraphBuilder() {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

 private:
  onnx::ModelProto model_;
  onnx::GraphProto* graph_;
  std::filesystem::path dir_;
};

const std::vector<std::string> kMasks = {"text_mask", "latent_mask"};

onnx::ModelProto Parse(const PaddingRewrite& r) {
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(r.model_bytes));
  return m;
}

TEST(GraphPadding, RewritesAnEdgePadOfTheMaskedInput) {
  GraphBuilder g;
  const auto masked = g.Node("Mul", {"x", "text_mask"});
  const auto padded = g.Node("Pad", {masked, g.Ints({0, 0, 2, 0, 0, 2})}, "edge");
  const PaddingRewrite r = RewriteBatchPadding(g.Save(padded), kMasks);
  EXPECT_EQ(r.edge_pads, 1);
  EXPECT_EQ(r.rewritten, 1);
  EXPECT_TRUE(r.exact()) << r.Summary();
  const onnx::ModelProto m = Parse(r);
  onnx::checker::check_model(m);  // valid, topologically ordered
  // The Pad now reads Where(mask, x * mask, the item's last frame).
  const onnx::NodeProto* pad = nullptr;
  std::map<std::string, const onnx::NodeProto*> producers;
  for (const auto& n : m.graph().node()) {
    for (const auto& o : n.output()) producers[o] = &n;
    if (n.op_type() == "Pad") pad = &n;
  }
  ASSERT_NE(pad, nullptr);
  const onnx::NodeProto* where = producers.at(pad->input(0));
  ASSERT_EQ(where->op_type(), "Where");
  EXPECT_EQ(where->input(1), masked);
  EXPECT_EQ(producers.at(where->input(2))->op_type(), "ReduceSum");
}

TEST(GraphPadding, FollowsMasksDerivedFromTheMaskInputs) {
  GraphBuilder g;
  // A prepended frame of ones, its batch size taken from the data's shape (as
  // the duration predictor's sentence token does).
  const auto shape = g.Node("Shape", {"x"});
  const auto batch = g.Node("Slice", {shape, g.Ints({0}), g.Ints({1})});
  const auto ones_shape = g.Node("Concat", {batch, g.Ints({1, 1})}, "", 0);
  const auto ones = g.Node("ConstantOfShape", {ones_shape});
  const auto mask = g.Node("Concat", {ones, "text_mask"}, "", 2);
  const auto masked = g.Node("Mul", {mask, "x"});
  const auto padded = g.Node("Pad", {masked, g.Ints({0, 0, 2, 0, 0, 2})}, "edge");
  const PaddingRewrite r = RewriteBatchPadding(g.Save(padded), kMasks);
  EXPECT_EQ(r.rewritten, 1) << r.Summary();
}

TEST(GraphPadding, ReportsEdgePadsItCannotRewrite) {
  GraphBuilder g;
  const auto unmasked = g.Node("Pad", {"x", g.Ints({0, 0, 2, 0, 0, 2})}, "edge");
  const auto reflected = g.Node("Pad", {g.Node("Mul", {unmasked, "text_mask"}), g.Ints({0, 0, 2, 0, 0, 2})}, "reflect");
  const auto squared = g.Node("Pad", {g.Node("Mul", {reflected, reflected}), g.Ints({0, 0, 1, 0, 0, 1})}, "edge");
  const PaddingRewrite r = RewriteBatchPadding(g.Save(squared), kMasks);
  EXPECT_EQ(r.edge_pads, 3);
  EXPECT_EQ(r.rewritten, 0);
  EXPECT_FALSE(r.exact());
  ASSERT_EQ(r.unmatched.size(), 3u);
  EXPECT_NE(r.unmatched[0].find("not x * mask"), std::string::npos) << r.unmatched[0];
  EXPECT_NE(r.unmatched[1].find("mode reflect"), std::string::npos) << r.unmatched[1];
  EXPECT_NE(r.unmatched[2].find("not x * mask"), std::string::npos) << r.unmatched[2];
  EXPECT_TRUE(r.model_bytes.empty());
}

TEST(GraphPadding, AScaleIsNotAMask) {
  GraphBuilder g;
  const auto scaled = g.Node("Mul", {"x", g.Ints({2})});
  const auto padded = g.Node("Pad", {scaled, g.Ints({0, 0, 2, 0, 0, 2})}, "edge");
  const PaddingRewrite r = RewriteBatchPadding(g.Save(padded), kMasks);
  EXPECT_EQ(r.rewritten, 0);
  ASSERT_EQ(r.unmatched.size(), 1u) << r.Summary();
}

TEST(GraphPadding, LeavesStartOnlyAndConstantPadsAlone) {
  GraphBuilder g;
  const auto causal = g.Node("Pad", {"x", g.Ints({0, 0, 6, 0, 0, 0})}, "edge");
  const auto zeros = g.Node("Pad", {causal, g.Ints({0, 0, 1, 0, 0, 1})}, "constant");
  const PaddingRewrite r = RewriteBatchPadding(g.Save(zeros), kMasks);
  EXPECT_EQ(r.edge_pads, 1);
  EXPECT_EQ(r.left_only, 1);
  EXPECT_EQ(r.rewritten, 0);
  EXPECT_TRUE(r.exact()) << r.Summary();
  EXPECT_TRUE(r.model_bytes.empty());
}

TEST(GraphPadding, AnUnreadableFileIsNotExactAndDoesNotThrow) {
  const auto dir = testing::MakeTempDir("graph_padding");
  std::ofstream(dir / "broken.onnx") << "not a protobuf at all \xff\xfe";
  const PaddingRewrite r = RewriteBatchPadding(dir / "broken.onnx", kMasks);
  EXPECT_FALSE(r.exact());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace supertonic
