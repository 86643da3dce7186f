#pragma once
// How the engine runs: where the model is and how ONNX Runtime executes it.
#include <filesystem>
#include <map>
#include <string>

#include "engine/backends/cpu_features.h"

namespace supertonic {

enum class Device { kCpu, kCuda, kAuto };
enum class GraphOptimization { kDisabled, kBasic, kExtended, kAll };
// What runs the four graphs: ONNX Runtime (the default and the reference for
// exactness, CPU or CUDA) or OpenVINO (CPU only; reaches bf16 where the CPU has it).
enum class Backend { kOnnxRuntime, kOpenVino };
// The arithmetic of the heavy graphs (vector estimator, vocoder). fp32 results
// are the reference; bf16 needs TTS_BACKEND=openvino and a CPU with AVX512-BF16
// or AMX-BF16 (the duration predictor and text encoder stay fp32 either way).
enum class Precision { kFp32, kBf16 };

struct EngineConfig {
  std::filesystem::path model_dir;
  // kAuto tries CUDA and falls back to the CPU, logging why; kCuda fails loudly.
  Device device = Device::kCpu;
  int intra_op_threads = 0;       // 0: one per hardware core
  int inter_op_threads = 1;
  bool allow_spinning = false;    // spinning threads would steal the network threads' CPU
  GraphOptimization graph_optimization = GraphOptimization::kAll;
  Backend backend = Backend::kOnnxRuntime;
  Precision precision = Precision::kFp32;
  int cuda_device_id = 0;
  // Passed verbatim to ONNX Runtime's CUDA provider (e.g. cudnn_conv_algo_search,
  // arena_extend_strategy, do_copy_in_default_stream).
  std::map<std::string, std::string> cuda_options;
  // When set, each graph's optimized form is written here once and loaded
  // from here afterwards (faster start-up).
  std::filesystem::path optimized_model_cache;
  // Rewrites, at load, each edge Pad whose input is `x * mask` so that it
  // replicates each item's last valid frame (graph_padding.h): without it a
  // padded batch changes the published graphs' output. Off only to measure that.
  bool rewrite_batch_padding = true;
  // SynthesizeText says numbers, money, dates... in words first (TextNormalizer).
  bool normalize_text = true;

  // Chunk length in code points for long text, replacing the model profile's
  // default (model_profile.h: 300 for Supertonic 2, 150 for Supertonic 3); a
  // language's own smaller limit (ko, ja) stays. 0: the profile's.
  int max_chunk_chars = 0;

  // Streaming vocoder (see streaming_vocoder.h). On by default when the graph
  // proves causal at load time.
  bool chunked_vocoder = true;
  int vocoder_first_chunk_frames = 0;  // 0: adaptive (enough audio to cover vocoding the rest)
  int vocoder_min_first_chunk_frames = 4;
  int vocoder_chunk_frames = 0;        // after the first chunk; 0: the whole rest in one run

  // Throws std::invalid_argument naming the setting.
  void Validate() const;
  // Whether this machine can run the backend and precision: bf16 needs a CPU
  // with AVX512-BF16 or AMX-BF16. Throws std::invalid_argument naming the
  // setting and what the CPU has. `cpu` is injectable for tests.
  void CheckCpuSupport(const CpuFeatures& cpu) const;
  std::string ToString() const;

  static Device ParseDevice(const std::string& s);                // cpu | cuda | auto
  static GraphOptimization ParseGraphOptimization(const std::string& s);  // disabled|basic|extended|all
  static Backend ParseBackend(const std::string& s);                  // onnxruntime | openvino
  static Precision ParsePrecision(const std::string& s);              // fp32 | bf16
};

std::string ToString(Device d);
std::string ToString(GraphOptimization g);
std::string ToString(Backend b);    // "onnxruntime", "openvino"
std::string ToString(Precision p);  // "fp32", "bf16"

}  // namespace supertonic
