#pragma once
// Batch-exact padding for graphs that pad the way the published Supertonic
// graphs do (docs/engine.md, batching): each
// convolution's input is `x * mask`, then `Pad(mode="edge")` over the whole
// tensor. The edge copied is the tensor's last frame, so in a padded batch a
// shorter item sees zeros past its end where, alone, it sees copies of its own
// last frame: its outputs change with its batch mates.
//
// The rewrite feeds each such Pad `Where(mask, x * mask, edge)` instead, where
// `edge = ReduceSum(x * mask * last, time)` is the item's last valid frame
// (`last = mask_t * (1 - mask_{t+1})`, one-hot). With a full mask (one item, or
// the longest of a batch) the Pad sees exactly what it saw before; a shorter
// item's padded frames now hold its own last frame, as they would alone.
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace supertonic {

struct PaddingRewrite {
  int edge_pads = 0;   // Pad nodes in a mode that copies frames (edge, reflect, wrap)
  int rewritten = 0;   // of them, fed the item's last valid frame
  int left_only = 0;   // of them, padding only the start (causal): the same for every item
  // Pads that may copy a batch mate's padding and could not be rewritten
  // ("node name: why"): mixed-length batches of this graph are not exact.
  std::vector<std::string> unmatched;
  std::string model_bytes;  // the rewritten model, serialized; empty when nothing was rewritten

  bool exact() const { return unmatched.empty(); }
  std::string Summary() const;  // e.g. "6 of 6 edge pads rewritten"
};

// Reads an ONNX model and rewrites its pads. `mask_inputs` names the graph
// inputs that are sequence masks ([B,1,T], 1 on valid frames). A file that is
// not a readable ONNX model comes back unrewritten and not exact. Throws
// ModelError only when the rewritten model cannot be serialized.
PaddingRewrite RewriteBatchPadding(const std::filesystem::path& model_file,
                                   const std::vector<std::string>& mask_inputs);

}  // namespace supertonic
