#include "service/service_config.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "service/protocol.h"

extern char** environ;

namespace supertonic::service {

namespace {

// The variables, their defaults (which must match the member initializers of
// ServiceConfig; a test checks) and their meanings.
constexpr std::array<EnvVarInfo, 48> kVariables = {{
    {"TTS_HOST", "0.0.0.0", "address to listen on"},
    {"TTS_PORT", "8000", "TCP port of the HTTP and WebSocket server, 0..65535 (0: any free port)"},
    {"TTS_MODEL_DIR", "models/supertonic-2",
     "model directory (onnx/, voice_styles/) when TTS_MODELS is unset; served under its detected profile's name "
     "(supertonic-2 or supertonic-3)"},
    {"TTS_MODELS", "",
     "several models in one server: name=dir[,name=dir...] in order, the first being the default (names: letters, "
     "digits, '.', '_', '-'; each directory must exist); start_session's config.model and the OpenAI `model` pick "
     "one by name. When set, TTS_MODEL_DIR is ignored"},
    {"TTS_DEVICE", "auto", "cpu, cuda, or auto (CUDA when it is available, else CPU)"},
    {"TTS_BACKEND", "onnxruntime",
     "what runs the model's graphs: onnxruntime (the reference for exactness; CPU or CUDA) or openvino (CPU only; "
     "faster on the CPU, and bf16 with TTS_PRECISION)"},
    {"TTS_PRECISION", "fp32",
     "arithmetic of the vector estimator and the vocoder: fp32 (the reference) or bf16 (TTS_BACKEND=openvino on a "
     "CPU with AVX512-BF16 or AMX-BF16, checked at start; faster, same durations, waveform SNR >= 25 dB "
     "against fp32: docs/engine.md, Backends)"},
    {"TTS_OPTIMIZED_MODEL_CACHE", "",
     "a directory for ONNX Runtime's optimized graphs: the first start writes them, later ones load them (faster start)"},
    {"TTS_CUDA_OPTIONS", "",
     "CUDA execution provider options, key=value[,key=value...], e.g. cudnn_conv_algo_search=HEURISTIC (docs/performance.md, Engine tuning)"},
    {"TTS_INTRA_OP_THREADS", "0",
     "ONNX Runtime intra-op threads of each model call, 0..256 (0: the cores shared among TTS_INFERENCE_WORKERS)"},
    {"TTS_MAX_SESSIONS", "100", "max concurrent sessions, 1..100000; more are refused with `capacity`"},
    {"TTS_MAX_INFLIGHT_SEGMENTS", "2", "segments per session queued or running at once, 1..64"},
    {"TTS_MAX_BATCH", "0", "max segments in one model call (dynamic batching), 0..64 (0: 1 on CPU, 8 on GPU)"},
    {"TTS_INFERENCE_WORKERS", "0",
     "model calls run at once, 0..16 (0: on a CPU one per 4 cores, at least 1; on a GPU 1): the model's small "
     "operators scale poorly over many threads, so a large CPU does more with several calls of a few threads each"},
    {"TTS_BATCH_WAIT_MS", "0", "how long a batch may wait for more segments, 0..1000 ms"},
    {"TTS_SCHEDULER", "fair",
     "fair (the segment whose listener runs out of audio first goes first, round-robin among equals) or fifo "
     "(arrival order)"},
    {"TTS_DEFAULT_VOICE", "F1",
     "voice when start_session names none (F1-F5, M1-M5, or a voice file of TTS_VOICES_DIR); every model must have it"},
    {"TTS_VOICES_DIR", "",
     "a folder of voice-style JSON files (*.json, named by file stem) besides each model's voice_styles/: "
     "TTS_VOICES_DIR/{model}/*.json per served model (the TTS_MODELS names, else the profile's, e.g. "
     "supertonic-2), and with one model *.json in the folder itself too; uploads (POST /v1/voices) are written "
     "there. Created when missing"},
    {"TTS_ALLOW_VOICE_UPLOAD", "false",
     "whether POST/DELETE /v1/voices may change voices on a server without TTS_AUTH_TOKEN (with a token they are "
     "allowed, and need it)"},
    {"TTS_MAX_VOICES", "500", "voices from files and uploads per model, 0..100000; more files are skipped, more "
     "uploads refused"},
    {"TTS_MAX_VOICE_BYTES", "2097152",
     "largest voice-style file, 262144..67108864 bytes (a published one is ~420 KB; the server writes ~170 KB); "
     "an upload's body may be 64 KiB more"},
    {"TTS_VOICES_RESCAN_S", "2",
     "how often each server re-reads TTS_VOICES_DIR for voices other replicas (or an operator) added, replaced or "
     "removed, 0..3600 s (0: never; changes then show after a restart). Replicas sharing the folder agree within "
     "this interval"},
    {"TTS_LANG_CODE", "pt",
     "language when start_session names none; every model must speak it (supertonic-2: en ko es pt fr)"},
    {"TTS_NUM_INFERENCE_STEPS", "",
     "flow-matching steps when start_session names none, 1..32 and within each model's range; unset: each model's "
     "default (supertonic-2: 2, supertonic-3: 8)"},
    {"TTS_SPEED", "",
     "speaking rate when start_session names none, 0.5..2.0 and within each model's range; unset: each model's "
     "default (1.05)"},
    {"TTS_SAMPLE_RATE", "24000",
     "output sample rate when start_session names none: 8000 16000 22050 24000 44100 48000"},
    {"TTS_DEBOUNCE_MS", "150", "text bundling: cut a segment after a sentence end and this much quiet, 0..5000 ms"},
    {"TTS_CHUNK_SIZE_MS", "20",
     "audio frame length, 5..1000 ms; a frame holds floor(rate * ms / 1000) samples (441 at 22050 Hz, 20 ms)"},
    {"TTS_CHUNKED_VOCODER", "true", "stream a segment's audio while it is vocoded: a short first chunk, then the rest with left context "
     "(exact; turned off automatically when the vocoder graph is not causal)"},
    {"TTS_TRIM_SILENCE", "true",
     "cut each segment's leading and trailing silence down to a natural pause before it is sent (every model; "
     "pauses inside a segment are kept); false: the model's audio as it is"},
    {"TTS_TEXT_NORMALIZATION", "true",
     "say numbers, money, times, dates, ordinals, units, phone numbers, web and e-mail addresses and LLM markdown "
     "in the words of the session's language before the model reads them (config.normalize per session, "
     "'normalize' per OpenAI request); false: the text as written"},
    {"TTS_TRIM_SILENCE_THRESHOLD_DB", "-50",
     "silence trimming: audio whose RMS over 10 ms is at or below this level is silence, -100..-20 dBFS"},
    {"TTS_TRIM_KEEP_LEADING_MS", "15",
     "silence trimming: pause kept before a segment's first speech (protects soft onsets), 0..1000 ms"},
    {"TTS_TRIM_KEEP_TRAILING_MS", "200",
     "silence trimming: pause kept after a segment's last speech, 0..5000 ms"},
    {"TTS_MAX_TEXT_CHARS", "20000",
     "max text of a session not yet spoken (pending, cut into segments, or being sent), in characters, "
     "1..1000000; more gets `text_too_long` (an OpenAI request's whole input: 400)"},
    {"TTS_MAX_MESSAGE_BYTES", "65536", "max size of one client message, 1024..16777216 bytes"},
    {"TTS_MAX_OUTPUT_BUFFER_MS", "30000",
     "unsent audio a connection may queue; beyond it the server holds further audio back until the client reads "
     "(backpressure), 1000..3600000 ms"},
    {"TTS_SLOW_CONSUMER_TIMEOUT_S", "15",
     "a session whose audio is held back (backpressure) and whose client reads nothing for this long is ended "
     "with `slow_consumer`, 1..3600 s"},
    {"TTS_MAX_CONNECTIONS", "256",
     "max open TCP connections (HTTP and WebSocket), 1..100000; past them a new one is answered only if it asks for "
     "/health/* or /metrics, else 503, and closed. Each "
     "may buffer up to max(4 x TTS_MAX_MESSAGE_BYTES, 1 MiB) of an unfinished message"},
    {"TTS_MAX_CONNECTIONS_PER_ADDRESS", "0",
     "open TCP connections from one client address, 0..100000 (0: half of TTS_MAX_CONNECTIONS, so that no one "
     "client can take every slot); more get 429. Behind a load balancer every connection comes from its address: "
     "set it to TTS_MAX_CONNECTIONS there"},
    {"TTS_IDLE_TIMEOUT_S", "300",
     "close a connection with no session and no message for this long, 0..86400 s (0: never)"},
    {"TTS_PING_INTERVAL_S", "20", "WebSocket ping interval, 0..3600 s (0: no pings)"},
    {"TTS_SHUTDOWN_GRACE_S", "30", "on SIGTERM, how long open sessions may finish, 0..3600 s"},
    {"TTS_AUTH_TOKEN", "",
     "when set, clients must present this token (`Authorization: Bearer <token>` or `?token=`) on /ws/tts and "
     "/v1/*; set but blank refuses to start"},
    {"TTS_ALLOWED_ORIGINS", "",
     "browser origins (scheme://host[:port], comma-separated; * for any) that may open /ws/tts and send POST or "
     "DELETE requests besides the server's own; a request with another Origin gets 403, one without Origin "
     "(a non-browser client) is not affected"},
    {"TTS_METRICS_REQUIRE_AUTH", "false", "whether /metrics needs the token too"},
    {"TTS_READY_AT_CAPACITY", "false",
     "whether /health/ready stays ready while TTS_MAX_SESSIONS sessions are open (false: not ready)"},
    {"LOG_LEVEL", "INFO", "TRACE, DEBUG, INFO, WARN (WARNING), ERROR, CRITICAL or OFF"},
}};

struct IntVariable {
  std::string_view name;
  int ServiceConfig::*field;
  int min;
  int max;
};

constexpr std::array<IntVariable, 23> kIntVariables = {{
    {"TTS_PORT", &ServiceConfig::port, 0, 65535},
    {"TTS_INTRA_OP_THREADS", &ServiceConfig::intra_op_threads, 0, 256},
    {"TTS_MAX_SESSIONS", &ServiceConfig::max_sessions, 1, 100000},
    {"TTS_MAX_INFLIGHT_SEGMENTS", &ServiceConfig::max_inflight_segments, 1, 64},
    {"TTS_MAX_BATCH", &ServiceConfig::max_batch, 0, 64},
    {"TTS_INFERENCE_WORKERS", &ServiceConfig::inference_workers, 0, 16},
    {"TTS_BATCH_WAIT_MS", &ServiceConfig::batch_wait_ms, 0, 1000},
    {"TTS_DEBOUNCE_MS", &ServiceConfig::debounce_ms, 0, 5000},
    {"TTS_CHUNK_SIZE_MS", &ServiceConfig::chunk_size_ms, 5, 1000},
    {"TTS_TRIM_KEEP_LEADING_MS", &ServiceConfig::trim_keep_leading_ms, 0, 1000},
    {"TTS_TRIM_KEEP_TRAILING_MS", &ServiceConfig::trim_keep_trailing_ms, 0, 5000},
    {"TTS_MAX_TEXT_CHARS", &ServiceConfig::max_text_chars, 1, 1000000},
    {"TTS_MAX_MESSAGE_BYTES", &ServiceConfig::max_message_bytes, 1024, 16 * 1024 * 1024},
    {"TTS_MAX_OUTPUT_BUFFER_MS", &ServiceConfig::max_output_buffer_ms, 1000, 3600000},
    {"TTS_SLOW_CONSUMER_TIMEOUT_S", &ServiceConfig::slow_consumer_timeout_s, 1, 3600},
    {"TTS_MAX_CONNECTIONS", &ServiceConfig::max_connections, 1, 100000},
    {"TTS_MAX_CONNECTIONS_PER_ADDRESS", &ServiceConfig::max_connections_per_address, 0, 100000},
    {"TTS_IDLE_TIMEOUT_S", &ServiceConfig::idle_timeout_s, 0, 86400},
    {"TTS_PING_INTERVAL_S", &ServiceConfig::ping_interval_s, 0, 3600},
    {"TTS_SHUTDOWN_GRACE_S", &ServiceConfig::shutdown_grace_s, 0, 3600},
    {"TTS_MAX_VOICES", &ServiceConfig::max_voices, 0, 100000},
    {"TTS_MAX_VOICE_BYTES", &ServiceConfig::max_voice_bytes, 262144, 64 * 1024 * 1024},
    {"TTS_VOICES_RESCAN_S", &ServiceConfig::voices_rescan_s, 0, 3600},
}};

struct BoolVariable {
  std::string_view name;
  bool ServiceConfig::*field;
};

constexpr std::array<BoolVariable, 6> kBoolVariables = {{
    {"TTS_CHUNKED_VOCODER", &ServiceConfig::chunked_vocoder},
    {"TTS_TRIM_SILENCE", &ServiceConfig::trim_silence},
    {"TTS_TEXT_NORMALIZATION", &ServiceConfig::text_normalization},
    {"TTS_METRICS_REQUIRE_AUTH", &ServiceConfig::metrics_require_auth},
    {"TTS_READY_AT_CAPACITY", &ServiceConfig::ready_at_capacity},
    {"TTS_ALLOW_VOICE_UPLOAD", &ServiceConfig::allow_voice_upload},
}};

constexpr double kMinTrimThresholdDb = -100.0;
constexpr double kMaxTrimThresholdDb = -20.0;
constexpr std::string_view kTrimThresholdRequirement = "a number in -100..-20 (dBFS)";

constexpr std::size_t kQuotedValueMaxChars = 80;

int Cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return std::string(s);
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string QuoteValue(std::string_view value) {
  std::string out = "'";
  for (char c : value.substr(0, kQuotedValueMaxChars)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7F) ? '?' : c;
  }
  if (value.size() > kQuotedValueMaxChars) out += "...";
  return out + "'";
}

[[noreturn]] void Fail(std::string_view name, std::string_view requirement, std::string_view got) {
  throw std::invalid_argument(std::string(name) + " must be " + std::string(requirement) + ", got " +
                              QuoteValue(got));
}

std::string IntRequirement(int min, int max) {
  return "an integer in " + std::to_string(min) + ".." + std::to_string(max);
}

bool ParseInt(std::string_view s, int& out) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), out);
  return error == std::errc() && end == s.data() + s.size();
}

bool ParseDouble(std::string_view s, double& out) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), out, std::chars_format::fixed);
  return error == std::errc() && end == s.data() + s.size() && std::isfinite(out);
}

std::optional<bool> ParseBool(const std::string& s) {
  const std::string v = Lower(s);
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  return std::nullopt;
}

std::string SupportedRatesText() {
  std::string out;
  for (int rate : kSupportedSampleRates) {
    if (!out.empty()) out += ", ";
    out += std::to_string(rate);
  }
  return out;
}

bool IsVoiceName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

bool IsModelName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

bool IsLanguageCode(std::string_view s) {
  if (s.empty() || s.size() > 16 || !std::islower(static_cast<unsigned char>(s.front()))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_' ||
           c == '-';
  });
}

bool HasSpaceOrControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7F;
  });
}

std::optional<LogLevel> ParseLogLevel(const std::string& s) {
  const std::string v = Lower(s);
  if (v == "trace") return LogLevel::kTrace;
  if (v == "debug") return LogLevel::kDebug;
  if (v == "info") return LogLevel::kInfo;
  if (v == "warn" || v == "warning") return LogLevel::kWarn;
  if (v == "error") return LogLevel::kError;
  if (v == "critical") return LogLevel::kCritical;
  if (v == "off") return LogLevel::kOff;
  return std::nullopt;
}

// A variable's value, trimmed; nullopt when unset or blank.
class Environment {
 public:
  explicit Environment(const ServiceConfig::Getenv& getenv) : getenv_(getenv) {}

  std::optional<std::string> Get(std::string_view name) const {
    std::optional<std::string> raw = getenv_(std::string(name));
    if (!raw) return std::nullopt;
    std::string value = Trim(*raw);
    if (value.empty()) return std::nullopt;
    return value;
  }

 private:
  const ServiceConfig::Getenv& getenv_;
};

std::string Format(double value) {
  std::ostringstream os;
  os << value;
  return os.str();
}

// "name=dir,name=dir": the order is kept (the first is the default model). A
// directory cannot contain a comma; whitespace around names and paths is dropped.
std::vector<ModelSource> ParseModels(const std::string& value) {
  std::vector<ModelSource> models;
  std::string_view rest = value;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string item = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (item.empty() && rest.empty()) break;  // a trailing comma
    const auto eq = item.find('=');
    if (eq == std::string::npos || Trim(item.substr(0, eq)).empty() || Trim(item.substr(eq + 1)).empty()) {
      Fail("TTS_MODELS",
           "name=directory pairs separated by commas (e.g. supertonic-2=/models/v2,supertonic-3=/models/v3)", value);
    }
    models.push_back({Trim(item.substr(0, eq)), Trim(item.substr(eq + 1))});
  }
  if (models.empty()) Fail("TTS_MODELS", "at least one name=directory pair", value);
  return models;
}

// Names and their uniqueness; directories are checked where they are read.
void ValidateModels(const std::vector<ModelSource>& models) {
  for (std::size_t i = 0; i < models.size(); ++i) {
    const ModelSource& m = models[i];
    if (!IsModelName(m.name)) {
      Fail("TTS_MODELS", "model names of letters, digits, '.', '_' or '-' (at most 64)", m.name);
    }
    if (m.dir.empty()) Fail("TTS_MODELS", "a directory for model " + QuoteValue(m.name), m.dir);
    for (std::size_t j = 0; j < i; ++j) {
      if (models[j].name == m.name) {
        throw std::invalid_argument("TTS_MODELS names model " + QuoteValue(m.name) +
                                    " twice; each model needs its own name");
      }
    }
  }
}

}  // namespace

std::string_view ToString(SchedulerPolicy policy) {
  switch (policy) {
    case SchedulerPolicy::kFair: return "fair";
    case SchedulerPolicy::kFifo: return "fifo";
  }
  return "?";
}

std::string_view ToString(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return "trace";
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warning";
    case LogLevel::kError: return "error";
    case LogLevel::kCritical: return "critical";
    case LogLevel::kOff: return "off";
  }
  return "?";
}

ServiceConfig ServiceConfig::FromEnvironment(const Getenv& getenv) {
  const Environment env(getenv);
  ServiceConfig c;

  if (auto v = env.Get("TTS_HOST")) c.host = *v;
  if (auto v = env.Get("TTS_MODEL_DIR")) c.model_dir = *v;
  if (auto v = env.Get("TTS_MODELS")) {
    c.models = ParseModels(*v);
    ValidateModels(c.models);
    for (const ModelSource& m : c.models) {
      std::error_code ec;
      if (!std::filesystem::is_directory(m.dir, ec)) {
        throw std::invalid_argument("TTS_MODELS names model " + QuoteValue(m.name) + " in " + QuoteValue(m.dir) +
                                    ", which is not a directory" +
                                    (std::filesystem::exists(m.dir, ec) ? "" : " (it does not exist)") +
                                    "; download it (supertonic-tts download --model NAME --dest DIR) or fix the path");
      }
    }
  }
  if (auto v = env.Get("TTS_OPTIMIZED_MODEL_CACHE")) c.optimized_model_cache = *v;
  if (auto v = env.Get("TTS_CUDA_OPTIONS")) {
    std::string_view rest = *v;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const std::string item = Trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      const auto eq = item.find('=');
      if (item.empty() && rest.empty()) break;
      if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) {
        Fail("TTS_CUDA_OPTIONS", "key=value pairs separated by commas", *v);
      }
      c.cuda_options[Trim(item.substr(0, eq))] = Trim(item.substr(eq + 1));
    }
  }
  if (auto v = env.Get("TTS_DEVICE")) {
    const std::string d = Lower(*v);
    if (d == "cpu" || d == "cuda" || d == "gpu" || d == "auto") {
      c.device = EngineConfig::ParseDevice(d);
    } else {
      Fail("TTS_DEVICE", "cpu, cuda or auto", *v);
    }
  }
  if (auto v = env.Get("TTS_BACKEND")) {
    const std::string b = Lower(*v);
    if (b != "onnxruntime" && b != "openvino") Fail("TTS_BACKEND", "onnxruntime or openvino", *v);
    c.backend = EngineConfig::ParseBackend(b);
  }
  if (auto v = env.Get("TTS_PRECISION")) {
    const std::string p = Lower(*v);
    if (p != "fp32" && p != "bf16") Fail("TTS_PRECISION", "fp32 or bf16", *v);
    c.precision = EngineConfig::ParsePrecision(p);
  }
  for (const auto& var : kIntVariables) {
    if (auto v = env.Get(var.name)) {
      int value = 0;
      if (!ParseInt(*v, value)) Fail(var.name, IntRequirement(var.min, var.max), *v);
      c.*var.field = value;
    }
  }
  for (const auto& var : kBoolVariables) {
    if (auto v = env.Get(var.name)) {
      const auto value = ParseBool(*v);
      if (!value) Fail(var.name, "true or false (also 1/0, yes/no, on/off)", *v);
      c.*var.field = *value;
    }
  }
  if (auto v = env.Get("TTS_SCHEDULER")) {
    const std::string s = Lower(*v);
    if (s == "fair") {
      c.scheduler = SchedulerPolicy::kFair;
    } else if (s == "fifo") {
      c.scheduler = SchedulerPolicy::kFifo;
    } else {
      Fail("TTS_SCHEDULER", "fair or fifo", *v);
    }
  }
  if (auto v = env.Get("TTS_SAMPLE_RATE")) {
    int value = 0;
    if (!ParseInt(*v, value) || !IsSupportedSampleRate(value)) {
      Fail("TTS_SAMPLE_RATE", "one of " + SupportedRatesText(), *v);
    }
    c.sample_rate = value;
  }
  if (auto v = env.Get("TTS_DEFAULT_VOICE")) c.default_voice = *v;
  if (auto v = env.Get("TTS_VOICES_DIR")) c.voices_dir = *v;
  if (auto v = env.Get("TTS_LANG_CODE")) c.lang_code = Lower(*v);
  if (auto v = env.Get("TTS_NUM_INFERENCE_STEPS")) {
    int value = 0;
    if (!ParseInt(*v, value)) {
      Fail("TTS_NUM_INFERENCE_STEPS", IntRequirement(kMinInferenceSteps, kMaxInferenceSteps), *v);
    }
    c.num_inference_steps = value;
  }
  if (auto v = env.Get("TTS_SPEED")) {
    double value = 0;
    if (!ParseDouble(*v, value)) Fail("TTS_SPEED", "a number in 0.5..2.0", *v);
    c.speed = value;
  }
  if (auto v = env.Get("TTS_TRIM_SILENCE_THRESHOLD_DB")) {
    double value = 0;
    if (!ParseDouble(*v, value)) Fail("TTS_TRIM_SILENCE_THRESHOLD_DB", kTrimThresholdRequirement, *v);
    c.trim_silence_threshold_db = value;
  }
  // A secret that mounted empty must not quietly start an open server.
  if (auto raw = getenv("TTS_AUTH_TOKEN"); raw && Trim(*raw).empty()) {
    throw std::invalid_argument(
        "TTS_AUTH_TOKEN is set but blank; set a token, or unset the variable to run without authentication");
  }
  if (auto v = env.Get("TTS_AUTH_TOKEN")) {
    if (HasSpaceOrControl(*v)) {
      throw std::invalid_argument(
          "TTS_AUTH_TOKEN must not contain whitespace or control characters (value not shown)");
    }
    c.auth_token = *v;
  }
  if (auto v = env.Get("TTS_ALLOWED_ORIGINS")) {
    std::string_view rest = *v;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      std::string item = Trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      while (!item.empty() && item.back() == '/') item.pop_back();
      if (!item.empty()) c.allowed_origins.push_back(Lower(item));
    }
  }
  if (auto v = env.Get("LOG_LEVEL")) {
    const auto level = ParseLogLevel(*v);
    if (!level) Fail("LOG_LEVEL", "one of TRACE, DEBUG, INFO, WARN, WARNING, ERROR, CRITICAL, OFF", *v);
    c.log_level = *level;
  }

  c.Validate();
  return c;
}

ServiceConfig ServiceConfig::FromEnvironment() {
  return FromEnvironment([](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  });
}

void ServiceConfig::Validate() const {
  if (host.empty() || HasSpaceOrControl(host)) Fail("TTS_HOST", "a host name or IP address", host);
  if (model_dir.empty() && models.empty()) Fail("TTS_MODEL_DIR", "a directory", model_dir);
  ValidateModels(models);
  for (const auto& var : kIntVariables) {
    const int value = this->*var.field;
    if (value < var.min || value > var.max) Fail(var.name, IntRequirement(var.min, var.max), std::to_string(value));
  }
  if (!IsSupportedSampleRate(sample_rate)) {
    Fail("TTS_SAMPLE_RATE", "one of " + SupportedRatesText(), std::to_string(sample_rate));
  }
  // Every frame must hold at least one sample at every rate a session may ask for.
  for (int rate : kSupportedSampleRates) {
    if (static_cast<int64_t>(rate) * chunk_size_ms / 1000 < 1) {
      Fail("TTS_CHUNK_SIZE_MS", "long enough for one sample at " + std::to_string(rate) + " Hz",
           std::to_string(chunk_size_ms));
    }
  }
  if (num_inference_steps && !IsValidInferenceSteps(*num_inference_steps)) {
    Fail("TTS_NUM_INFERENCE_STEPS", IntRequirement(kMinInferenceSteps, kMaxInferenceSteps),
         std::to_string(*num_inference_steps));
  }
  if (speed && !IsValidSpeed(*speed)) Fail("TTS_SPEED", "a number in 0.5..2.0", Format(*speed));
  if (!(trim_silence_threshold_db >= kMinTrimThresholdDb && trim_silence_threshold_db <= kMaxTrimThresholdDb)) {
    Fail("TTS_TRIM_SILENCE_THRESHOLD_DB", kTrimThresholdRequirement, Format(trim_silence_threshold_db));
  }
  if (!IsVoiceName(default_voice)) {
    Fail("TTS_DEFAULT_VOICE", "a voice name (letters, digits, '_' or '-', at most 64)", default_voice);
  }
  if (!IsLanguageCode(lang_code)) Fail("TTS_LANG_CODE", "a language code such as en, ko, es, pt or fr", lang_code);
  if (HasSpaceOrControl(auth_token)) {
    throw std::invalid_argument(
        "TTS_AUTH_TOKEN must not contain whitespace or control characters (value not shown)");
  }
  for (const std::string& origin : allowed_origins) {
    const auto scheme_end = origin.find("://");
    const bool is_origin = scheme_end != std::string::npos && scheme_end > 0 && scheme_end + 3 < origin.size() &&
                           origin.find('/', scheme_end + 3) == std::string::npos;
    if (!(origin == "*" || origin == "null" || is_origin) || HasSpaceOrControl(origin)) {
      Fail("TTS_ALLOWED_ORIGINS", "origins such as https://app.example.com or http://localhost:3000, or *", origin);
    }
  }
  CudaDeviceId();  // throws for a device_id that is not an index
  // Whether the CPU has bf16 is checked when the engine loads (EngineConfig::CheckCpuSupport).
  if (backend == Backend::kOpenVino && device == Device::kCuda) {
    throw std::invalid_argument("TTS_BACKEND openvino runs on the CPU only, but TTS_DEVICE is cuda: set "
                                "TTS_BACKEND=onnxruntime for CUDA, or TTS_DEVICE=cpu (or auto)");
  }
  if (precision == Precision::kBf16 && backend != Backend::kOpenVino) {
    throw std::invalid_argument("TTS_PRECISION bf16 needs TTS_BACKEND=openvino (the onnxruntime backend runs fp32)");
  }
}

std::string ServiceConfig::ToString() const {
  std::ostringstream os;
  std::string cuda;
  for (const auto& [key, value] : cuda_options) cuda += (cuda.empty() ? "" : ",") + key + "=" + value;
  std::string model_list;
  for (const auto& m : models) model_list += (model_list.empty() ? "" : ",") + m.name + "=" + m.dir;
  os << "ServiceConfig(host=" << host << ", port=" << port << ", model_dir=" << model_dir
     << ", models=" << (model_list.empty() ? "<model_dir>" : model_list)
     << ", optimized_model_cache=" << (optimized_model_cache.empty() ? "<none>" : optimized_model_cache)
     << ", device=" << supertonic::ToString(device) << ", backend=" << supertonic::ToString(backend)
     << ", precision=" << supertonic::ToString(precision) << ", cuda_options=" << (cuda.empty() ? "<none>" : cuda)
     << ", intra_op_threads=" << intra_op_threads
     << ", max_sessions=" << max_sessions << ", max_inflight_segments=" << max_inflight_segments
     << ", max_batch=" << max_batch << ", inference_workers=" << inference_workers << ", batch_wait_ms=" << batch_wait_ms
     << ", scheduler=" << service::ToString(scheduler) << ", default_voice=" << default_voice
     << ", voices_dir=" << (voices_dir.empty() ? "<none>" : voices_dir)
     << ", allow_voice_upload=" << (allow_voice_upload ? "true" : "false") << ", max_voices=" << max_voices
     << ", max_voice_bytes=" << max_voice_bytes << ", voices_rescan_s=" << voices_rescan_s
     << ", lang_code=" << lang_code
     << ", num_inference_steps=" << (num_inference_steps ? std::to_string(*num_inference_steps) : "<model default>")
     << ", speed=" << (speed ? Format(*speed) : "<model default>") << ", sample_rate=" << sample_rate
     << ", debounce_ms=" << debounce_ms
     << ", chunk_size_ms=" << chunk_size_ms << ", chunked_vocoder=" << (chunked_vocoder ? "true" : "false")
     << ", trim_silence=" << (trim_silence ? "true" : "false")
     << ", text_normalization=" << (text_normalization ? "true" : "false")
     << ", trim_silence_threshold_db=" << Format(trim_silence_threshold_db)
     << ", trim_keep_leading_ms=" << trim_keep_leading_ms << ", trim_keep_trailing_ms=" << trim_keep_trailing_ms
     << ", max_text_chars=" << max_text_chars << ", max_message_bytes=" << max_message_bytes
     << ", max_output_buffer_ms=" << max_output_buffer_ms
     << ", slow_consumer_timeout_s=" << slow_consumer_timeout_s << ", idle_timeout_s=" << idle_timeout_s
     << ", ping_interval_s=" << ping_interval_s << ", shutdown_grace_s=" << shutdown_grace_s
     << ", auth_token=" << (auth_token.empty() ? "<none>" : "<set>")
     << ", allowed_origins=" << (allowed_origins.empty() ? std::string("<own>") : [&] {
          std::string list;
          for (const auto& o : allowed_origins) list += (list.empty() ? "" : ",") + o;
          return list;
        }())
     << ", metrics_require_auth=" << (metrics_require_auth ? "true" : "false")
     << ", ready_at_capacity=" << (ready_at_capacity ? "true" : "false")
     << ", log_level=" << service::ToString(log_level) << ")";
  return os.str();
}

std::vector<ModelSource> ServiceConfig::ModelSources() const {
  if (!models.empty()) return models;
  return {{"", model_dir}};
}

EngineConfig ServiceConfig::ToEngineConfig(bool expect_gpu) const {
  EngineConfig e;
  e.model_dir = ModelSources().front().dir;
  e.device = device;
  e.backend = backend;
  e.precision = precision;
  e.intra_op_threads = intra_op_threads;
  e.optimized_model_cache = optimized_model_cache;
  e.cuda_options = cuda_options;
  // One source for the device: the provider's device_id option, which the GPU monitor reads too.
  if (auto it = e.cuda_options.find("device_id"); it != e.cuda_options.end()) {
    e.cuda_device_id = CudaDeviceId();
    e.cuda_options.erase(it);
  }
  const int workers = ResolvedInferenceWorkers(expect_gpu);
  if (intra_op_threads == 0 && workers > 1) e.intra_op_threads = std::max(1, Cores() / workers);
  e.chunked_vocoder = chunked_vocoder;
  return e;
}

int ServiceConfig::CudaDeviceId() const {
  auto it = cuda_options.find("device_id");
  if (it == cuda_options.end()) return 0;
  int id = 0;
  if (!ParseInt(it->second, id) || id < 0) Fail("TTS_CUDA_OPTIONS", "device_id=<a GPU index >= 0>", it->second);
  return id;
}

int ServiceConfig::ResolvedMaxBatch(bool on_gpu) const {
  if (max_batch > 0) return max_batch;
  return on_gpu ? 8 : 1;
}

int ServiceConfig::ResolvedMaxConnectionsPerAddress() const {
  if (max_connections_per_address > 0) return std::min(max_connections_per_address, max_connections);
  return std::max(1, (max_connections + 1) / 2);
}

int ServiceConfig::ResolvedInferenceWorkers(bool on_gpu) const {
  if (inference_workers > 0) return inference_workers;
  return on_gpu ? 1 : std::max(1, Cores() / 4);
}

std::span<const EnvVarInfo> ServiceConfig::Variables() { return kVariables; }

std::string ServiceConfig::EnvironmentHelp() {
  std::size_t name_width = 0, default_width = 0;
  for (const auto& v : kVariables) {
    name_width = std::max(name_width, v.name.size());
    default_width = std::max(default_width, v.default_value.empty() ? 7 : v.default_value.size());
  }
  std::ostringstream os;
  os << "Environment variables (unset or empty: the default):\n";
  for (const auto& v : kVariables) {
    const std::string_view def = v.default_value.empty() ? "(unset)" : v.default_value;
    os << "  " << v.name << std::string(name_width - v.name.size() + 2, ' ') << def
       << std::string(default_width - def.size() + 2, ' ') << v.meaning << "\n";
  }
  return os.str();
}

std::string ServiceConfig::EnvironmentMarkdown() {
  std::ostringstream os;
  os << "| variable | default | meaning |\n|---|---|---|\n";
  for (const auto& v : kVariables) {
    os << "| `" << v.name << "` | " << (v.default_value.empty() ? "(unset)" : "`" + std::string(v.default_value) + "`")
       << " | " << v.meaning << " |\n";
  }
  return os.str();
}

std::vector<std::string> ServiceConfig::UnknownVariables(std::span<const std::string> names) {
  std::vector<std::string> unknown;
  for (const auto& name : names) {
    if (name.rfind("TTS_", 0) != 0) continue;
    const bool known = std::any_of(kVariables.begin(), kVariables.end(),
                                   [&](const EnvVarInfo& v) { return v.name == name; });
    if (!known) unknown.push_back(name);
  }
  std::sort(unknown.begin(), unknown.end());
  return unknown;
}

std::vector<std::string> ServiceConfig::UnknownVariables() {
  std::vector<std::string> names;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view kv(*entry);
    names.emplace_back(kv.substr(0, kv.find('=')));
  }
  return UnknownVariables(names);
}

}  // namespace supertonic::service
