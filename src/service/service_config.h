#pragma once
// The service's settings, read once at start from the environment (docs/configuration.md).
// A bad value fails start-up with a message naming the variable; nothing is
// guessed or silently clamped.
//
// Parsing rules, for every variable:
//  - unset, empty or whitespace-only: the default;
//  - leading/trailing whitespace is ignored (a secret mounted from a file
//    often ends in a newline);
//  - integers are plain decimal ("20", not "20.0" or "2e1");
//  - booleans: true/false, 1/0, yes/no, on/off (any case);
//  - enumerations (TTS_DEVICE, TTS_SCHEDULER, LOG_LEVEL) ignore case.
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine_config.h"

namespace supertonic::service {

// How the inference queue picks the next segment.
enum class SchedulerPolicy {
  kFair,  // round-robin over sessions, a session's first segment first
  kFifo,  // strictly in arrival order (for benchmarks and comparison)
};

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kCritical, kOff };

std::string_view ToString(SchedulerPolicy policy);
// spdlog's names: trace, debug, info, warning, error, critical, off (so
// spdlog::level::from_str(ToString(level)) gives the spdlog level).
std::string_view ToString(LogLevel level);

// One environment variable, for --help-env and docs/configuration.md.
struct EnvVarInfo {
  std::string_view name;
  std::string_view default_value;  // as it would be written in the environment; "" = unset
  std::string_view meaning;        // includes the accepted values or range
};

// One model a server loads: TTS_MODELS's `name=dir`, or TTS_MODEL_DIR alone.
struct ModelSource {
  std::string name;  // what clients ask for; empty: the detected profile's name (TTS_MODEL_DIR)
  std::string dir;
  bool operator==(const ModelSource&) const = default;
};

struct ServiceConfig {
  using Getenv = std::function<std::optional<std::string>(const std::string&)>;

  // Network
  std::string host = "0.0.0.0";
  int port = 8000;  // 0: any free port (tests)

  // Engine
  std::string model_dir = "models/supertonic-2";  // the one model when `models` is empty
  std::vector<ModelSource> models;                // TTS_MODELS, in order: the first is the default
  std::string optimized_model_cache;                  // empty: optimize the graphs at every start
  std::map<std::string, std::string> cuda_options;    // passed verbatim to the CUDA execution provider
  Device device = Device::kAuto;
  Backend backend = Backend::kOnnxRuntime;  // TTS_BACKEND
  Precision precision = Precision::kFp32;   // TTS_PRECISION
  int intra_op_threads = 0;  // 0: one per core

  // Sessions and scheduling
  int max_sessions = 100;
  int max_inflight_segments = 2;
  int max_batch = 0;          // 0: auto, ResolvedMaxBatch()
  int inference_workers = 0;  // threads running model calls concurrently; 0: auto, ResolvedInferenceWorkers()
  int batch_wait_ms = 0;
  SchedulerPolicy scheduler = SchedulerPolicy::kFair;

  // Synthesis defaults (a start_session config may override them). Steps and
  // speed unset: each model's profile default (supertonic-2: 2 steps, 1.05).
  std::string default_voice = "F1";
  std::string lang_code = "pt";
  std::optional<int> num_inference_steps;
  std::optional<double> speed;
  int sample_rate = 24000;

  // Text bundling and audio framing
  int debounce_ms = 150;
  int chunk_size_ms = 20;
  bool chunked_vocoder = true;  // stream audio while vocoding (engine streaming_vocoder.h)

  // Each segment's leading and trailing silence cut to a natural pause
  // (audio/silence_trimmer.h), before resampling and encoding.
  bool trim_silence = true;
  // Numbers, money, times, dates, units, addresses and markdown said in words
  // (TextNormalizer) unless a session or request turns it off.
  bool text_normalization = true;
  double trim_silence_threshold_db = -50.0;  // dBFS, RMS over 10 ms windows
  int trim_keep_leading_ms = 15;
  int trim_keep_trailing_ms = 200;

  // Limits
  int max_text_chars = 20000;           // unspoken text per session, in code points
  int max_message_bytes = 65536;        // one WebSocket message
  int max_output_buffer_ms = 30000;     // unsent audio queued per connection before backpressure holds more back
  int slow_consumer_timeout_s = 15;     // held back audio and no write progress for this long ends the session
  int max_connections = 256;            // open TCP connections
  // Open TCP connections from one peer address; 0: half of max_connections
  // (ResolvedMaxConnectionsPerAddress), so no one peer can take every slot.
  int max_connections_per_address = 0;

  // Connections and lifecycle
  int idle_timeout_s = 300;     // 0: never close idle connections
  int ping_interval_s = 20;     // 0: no server pings
  int shutdown_grace_s = 30;

  // Voices beyond the models' own (service/voice_registry.h)
  std::string voices_dir;           // TTS_VOICES_DIR; empty: none, and no uploads
  bool allow_voice_upload = false;  // uploads without a token
  int max_voices = 500;             // per model, from files and uploads
  int max_voice_bytes = 2 * 1024 * 1024;
  int voices_rescan_s = 2;          // replicas sharing voices_dir see each other's writes within this; 0: never

  // Access
  std::string auth_token;  // empty: no authentication
  // Browser origins (scheme://host[:port], "null", or "*" for any) allowed
  // besides the server's own to open WebSockets and send state-changing
  // requests; requests without an Origin header are not affected.
  std::vector<std::string> allowed_origins;
  bool metrics_require_auth = false;
  bool ready_at_capacity = false;  // false: /health/ready fails while max_sessions are open

  LogLevel log_level = LogLevel::kInfo;

  // Reads every variable of Variables() through `getenv` (injectable for
  // tests), then Validate()s. Throws std::invalid_argument naming the
  // variable, e.g. "TTS_MAX_SESSIONS must be an integer in 1..100000, got 'abc'"
  // (TTS_AUTH_TOKEN's value is never quoted).
  static ServiceConfig FromEnvironment(const Getenv& getenv);
  // The process environment.
  static ServiceConfig FromEnvironment();

  // Checks every field against the ranges of Variables(); throws
  // std::invalid_argument naming the variable. For configs built in code.
  void Validate() const;

  // One line, every setting; the auth token shows only as "<set>" or "<none>".
  std::string ToString() const;

  // The models to load, in order: `models`, else model_dir under the name of
  // its detected profile.
  std::vector<ModelSource> ModelSources() const;

  // What the engine needs: model_dir (the first model's), device, the CUDA device (TTS_CUDA_OPTIONS
  // device_id) and intra_op_threads (0: the cores shared among the inference
  // workers there will be, on a GPU if expect_gpu).
  EngineConfig ToEngineConfig(bool expect_gpu) const;
  // TTS_CUDA_OPTIONS's device_id, 0 when absent.
  int CudaDeviceId() const;

  // The automatic settings (0), by where the model runs. On a CPU, batching
  // only pads (each item's cost grows with the batch's longest; measured:
  // docs/performance.md), and one call per 4 cores, each on its share of the
  // cores (on 2 cores two calls at once gained nothing over one call of two
  // threads); on a GPU, one call of up to 8 segments.
  int ResolvedMaxBatch(bool on_gpu) const;
  int ResolvedMaxConnectionsPerAddress() const;
  int ResolvedInferenceWorkers(bool on_gpu) const;

  // Every variable with its default and meaning, in a stable order.
  static std::span<const EnvVarInfo> Variables();
  // Variables() as aligned plain text (for `supertonic-tts serve --help-env`).
  static std::string EnvironmentHelp();
  // Variables() as a Markdown table (docs/configuration.md is made from it).
  static std::string EnvironmentMarkdown();
  // The names among `names` that look like ours (TTS_ prefix) but are not
  // in Variables(): probably typos, worth a warning at start-up.
  static std::vector<std::string> UnknownVariables(std::span<const std::string> names);
  // Same, for the process environment.
  static std::vector<std::string> UnknownVariables();
};

}  // namespace supertonic::service
