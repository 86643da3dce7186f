#include "service/service_config.h"

#include <gtest/gtest.h>

#include "support/test_paths.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace supertonic::service {
namespace {

using Env = std::map<std::string, std::string>;

// Directories that exist (TTS_MODELS checks that its directories do).
std::string ExistingDir(const std::string& sub) { return (testing::SourceDir() / sub).string(); }

ServiceConfig::Getenv FakeEnv(const Env& env, std::set<std::string>* asked = nullptr) {
  return [env, asked](const std::string& name) -> std::optional<std::string> {
    if (asked) asked->insert(name);
    const auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

ServiceConfig Load(const Env& env) { return ServiceConfig::FromEnvironment(FakeEnv(env)); }

// The message of the std::invalid_argument that loading `env` throws ("" if none).
std::string LoadError(const Env& env) {
  try {
    Load(env);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(ServiceConfigTest, Defaults) {
  const ServiceConfig c = Load({});
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_EQ(c.port, 8000);
  EXPECT_EQ(c.model_dir, "models/supertonic-2");
  EXPECT_EQ(c.device, Device::kAuto);
  EXPECT_EQ(c.intra_op_threads, 0);
  EXPECT_EQ(c.max_sessions, 100);
  EXPECT_EQ(c.max_inflight_segments, 2);
  EXPECT_EQ(c.default_voice, "F1");
  EXPECT_EQ(c.voices_rescan_s, 2);
  EXPECT_EQ(c.lang_code, "pt");
  EXPECT_FALSE(c.num_inference_steps.has_value()) << "each model's profile decides (supertonic-2: 2)";
  EXPECT_FALSE(c.speed.has_value()) << "each model's profile decides (1.05)";
  EXPECT_TRUE(c.models.empty());
  EXPECT_EQ(c.ModelSources(), (std::vector<ModelSource>{{"", "models/supertonic-2"}}));
  EXPECT_EQ(c.debounce_ms, 150);
  EXPECT_EQ(c.chunk_size_ms, 20);
  EXPECT_EQ(c.sample_rate, 24000);
  EXPECT_EQ(c.max_batch, 0);  // auto
  EXPECT_EQ(c.inference_workers, 0);  // auto
  EXPECT_EQ(c.ResolvedMaxBatch(/*on_gpu=*/false), 1);
  EXPECT_EQ(c.ResolvedMaxBatch(/*on_gpu=*/true), 8);
  EXPECT_EQ(c.ResolvedInferenceWorkers(/*on_gpu=*/true), 1);
  EXPECT_EQ(c.ResolvedInferenceWorkers(/*on_gpu=*/false), std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / 4));
  EXPECT_EQ(c.batch_wait_ms, 0);
  EXPECT_EQ(c.scheduler, SchedulerPolicy::kFair);
  EXPECT_EQ(c.max_text_chars, 20000);
  EXPECT_EQ(c.max_message_bytes, 65536);
  EXPECT_EQ(c.max_output_buffer_ms, 30000);
  EXPECT_EQ(c.idle_timeout_s, 300);
  EXPECT_EQ(c.ping_interval_s, 20);
  EXPECT_EQ(c.shutdown_grace_s, 30);
  EXPECT_EQ(c.auth_token, "");
  EXPECT_FALSE(c.metrics_require_auth);
  EXPECT_FALSE(c.ready_at_capacity);
  EXPECT_EQ(c.voices_dir, "") << "no voices beyond the models' own, no uploads";
  EXPECT_FALSE(c.allow_voice_upload);
  EXPECT_EQ(c.max_voices, 500);
  EXPECT_EQ(c.max_voice_bytes, 2 * 1024 * 1024);
  EXPECT_TRUE(c.chunked_vocoder);
  EXPECT_TRUE(c.trim_silence);
  EXPECT_DOUBLE_EQ(c.trim_silence_threshold_db, -50.0);
  EXPECT_EQ(c.trim_keep_leading_ms, 15);
  EXPECT_EQ(c.trim_keep_trailing_ms, 200);
  EXPECT_EQ(c.log_level, LogLevel::kInfo);
  EXPECT_EQ(c.ToString(), ServiceConfig{}.ToString());
  EXPECT_NO_THROW(ServiceConfig{}.Validate());
}

TEST(ServiceConfigTest, DocumentedDefaultsAreTheRealDefaults) {
  const std::string defaults = ServiceConfig{}.ToString();
  for (const auto& var : ServiceConfig::Variables()) {
    if (var.default_value.empty()) continue;  // "unset" is the default: setting it blank is another thing
    const ServiceConfig c = Load({{std::string(var.name), std::string(var.default_value)}});
    EXPECT_EQ(c.ToString(), defaults) << var.name << "=" << var.default_value;
  }
}

TEST(ServiceConfigTest, ReadsExactlyTheDocumentedVariables) {
  std::set<std::string> asked;
  ServiceConfig::FromEnvironment(FakeEnv({}, &asked));
  std::set<std::string> documented;
  for (const auto& var : ServiceConfig::Variables()) {
    EXPECT_TRUE(documented.insert(std::string(var.name)).second) << "listed twice: " << var.name;
    EXPECT_FALSE(var.meaning.empty()) << var.name;
  }
  EXPECT_EQ(asked, documented);
  // The variable names are a contract (docs/configuration.md).
  for (const char* name : {"TTS_MAX_SESSIONS", "TTS_MAX_INFLIGHT_SEGMENTS", "TTS_DEFAULT_VOICE", "TTS_LANG_CODE",
                           "TTS_NUM_INFERENCE_STEPS", "TTS_DEBOUNCE_MS", "TTS_CHUNK_SIZE_MS", "LOG_LEVEL"}) {
    EXPECT_TRUE(documented.count(name)) << name;
  }
}

TEST(ServiceConfigTest, EachVariableIsParsed) {
  struct Case {
    std::string name;
    std::string value;
    std::function<bool(const ServiceConfig&)> check;
  };
  const std::vector<Case> cases = {
      {"TTS_HOST", "127.0.0.1", [](const auto& c) { return c.host == "127.0.0.1"; }},
      {"TTS_HOST", "::", [](const auto& c) { return c.host == "::"; }},
      {"TTS_PORT", "9001", [](const auto& c) { return c.port == 9001; }},
      {"TTS_PORT", "0", [](const auto& c) { return c.port == 0; }},
      {"TTS_MODEL_DIR", "/models/st 2", [](const auto& c) { return c.model_dir == "/models/st 2"; }},
      {"TTS_MODELS", "only=" + ExistingDir("src"),
       [](const auto& c) { return c.models == std::vector<ModelSource>{{"only", ExistingDir("src")}}; }},
      {"TTS_OPTIMIZED_MODEL_CACHE", "/var/cache/tts",
       [](const auto& c) { return c.optimized_model_cache == "/var/cache/tts"; }},
      {"TTS_CUDA_OPTIONS", " cudnn_conv_algo_search=HEURISTIC, arena_extend_strategy = kSameAsRequested ,",
       [](const auto& c) {
         return c.cuda_options == std::map<std::string, std::string>{{"cudnn_conv_algo_search", "HEURISTIC"},
                                                                    {"arena_extend_strategy", "kSameAsRequested"}} &&
                c.ToEngineConfig(false).cuda_options == c.cuda_options;
       }},
      {"TTS_DEVICE", "cpu", [](const auto& c) { return c.device == Device::kCpu; }},
      {"TTS_DEVICE", "CUDA", [](const auto& c) { return c.device == Device::kCuda; }},
      {"TTS_DEVICE", "Auto", [](const auto& c) { return c.device == Device::kAuto; }},
      {"TTS_BACKEND", "openvino", [](const auto& c) { return c.backend == Backend::kOpenVino; }},
      {"TTS_BACKEND", "OnnxRuntime", [](const auto& c) { return c.backend == Backend::kOnnxRuntime; }},
      {"TTS_PRECISION", "FP32", [](const auto& c) { return c.precision == Precision::kFp32; }},
      {"TTS_INTRA_OP_THREADS", "8", [](const auto& c) { return c.intra_op_threads == 8; }},
      {"TTS_MAX_SESSIONS", "1", [](const auto& c) { return c.max_sessions == 1; }},
      {"TTS_MAX_SESSIONS", "100000", [](const auto& c) { return c.max_sessions == 100000; }},
      {"TTS_MAX_INFLIGHT_SEGMENTS", "3", [](const auto& c) { return c.max_inflight_segments == 3; }},
      {"TTS_MAX_BATCH", "16", [](const auto& c) { return c.max_batch == 16; }},
      {"TTS_BATCH_WAIT_MS", "5", [](const auto& c) { return c.batch_wait_ms == 5; }},
      {"TTS_SCHEDULER", "fifo", [](const auto& c) { return c.scheduler == SchedulerPolicy::kFifo; }},
      {"TTS_SCHEDULER", "FAIR", [](const auto& c) { return c.scheduler == SchedulerPolicy::kFair; }},
      {"TTS_DEFAULT_VOICE", "M5", [](const auto& c) { return c.default_voice == "M5"; }},
      {"TTS_LANG_CODE", "en", [](const auto& c) { return c.lang_code == "en"; }},
      {"TTS_LANG_CODE", "KO", [](const auto& c) { return c.lang_code == "ko"; }},
      {"TTS_NUM_INFERENCE_STEPS", "5", [](const auto& c) { return c.num_inference_steps == 5; }},
      {"TTS_NUM_INFERENCE_STEPS", "32", [](const auto& c) { return c.num_inference_steps == 32; }},
      {"TTS_NUM_INFERENCE_STEPS", "2", [](const auto& c) { return c.num_inference_steps == 2; }},
      {"TTS_SPEED", "0.5", [](const auto& c) { return c.speed == 0.5; }},
      {"TTS_SPEED", "2", [](const auto& c) { return c.speed == 2.0; }},
      {"TTS_SPEED", "1.25", [](const auto& c) { return c.speed == 1.25; }},
      {"TTS_SAMPLE_RATE", "8000", [](const auto& c) { return c.sample_rate == 8000; }},
      {"TTS_SAMPLE_RATE", "22050", [](const auto& c) { return c.sample_rate == 22050; }},
      {"TTS_SAMPLE_RATE", "48000", [](const auto& c) { return c.sample_rate == 48000; }},
      {"TTS_DEBOUNCE_MS", "0", [](const auto& c) { return c.debounce_ms == 0; }},
      {"TTS_DEBOUNCE_MS", "5000", [](const auto& c) { return c.debounce_ms == 5000; }},
      {"TTS_CHUNK_SIZE_MS", "5", [](const auto& c) { return c.chunk_size_ms == 5; }},
      {"TTS_CHUNK_SIZE_MS", "40", [](const auto& c) { return c.chunk_size_ms == 40; }},
      {"TTS_CHUNKED_VOCODER", "false", [](const auto& c) { return !c.chunked_vocoder; }},
      {"TTS_TRIM_SILENCE", "off", [](const auto& c) { return !c.trim_silence; }},
      {"TTS_TEXT_NORMALIZATION", "false", [](const auto& c) { return !c.text_normalization; }},
      {"TTS_TRIM_SILENCE_THRESHOLD_DB", "-60", [](const auto& c) { return c.trim_silence_threshold_db == -60.0; }},
      {"TTS_TRIM_SILENCE_THRESHOLD_DB", "-42.5", [](const auto& c) { return c.trim_silence_threshold_db == -42.5; }},
      {"TTS_TRIM_SILENCE_THRESHOLD_DB", "-100", [](const auto& c) { return c.trim_silence_threshold_db == -100.0; }},
      {"TTS_TRIM_KEEP_LEADING_MS", "0", [](const auto& c) { return c.trim_keep_leading_ms == 0; }},
      {"TTS_TRIM_KEEP_LEADING_MS", "40", [](const auto& c) { return c.trim_keep_leading_ms == 40; }},
      {"TTS_TRIM_KEEP_TRAILING_MS", "5000", [](const auto& c) { return c.trim_keep_trailing_ms == 5000; }},
      {"TTS_MAX_TEXT_CHARS", "500", [](const auto& c) { return c.max_text_chars == 500; }},
      {"TTS_MAX_MESSAGE_BYTES", "1048576", [](const auto& c) { return c.max_message_bytes == 1048576; }},
      {"TTS_MAX_OUTPUT_BUFFER_MS", "60000", [](const auto& c) { return c.max_output_buffer_ms == 60000; }},
      {"TTS_SLOW_CONSUMER_TIMEOUT_S", "40", [](const auto& c) { return c.slow_consumer_timeout_s == 40; }},
      {"TTS_INFERENCE_WORKERS", "2", [](const auto& c) { return c.inference_workers == 2; }},
      {"TTS_MAX_CONNECTIONS", "17", [](const auto& c) { return c.max_connections == 17; }},
      {"TTS_MAX_CONNECTIONS_PER_ADDRESS", "3",
       [](const auto& c) { return c.max_connections_per_address == 3 && c.ResolvedMaxConnectionsPerAddress() == 3; }},
      {"TTS_MAX_CONNECTIONS_PER_ADDRESS", "0",
       [](const auto& c) { return c.ResolvedMaxConnectionsPerAddress() == c.max_connections / 2; }},
      {"TTS_ALLOWED_ORIGINS", " https://App.example.com/ , http://localhost:3000,null",
       [](const auto& c) {
         return c.allowed_origins == std::vector<std::string>{"https://app.example.com", "http://localhost:3000", "null"};
       }},
      {"TTS_ALLOWED_ORIGINS", "*", [](const auto& c) { return c.allowed_origins == std::vector<std::string>{"*"}; }},
      {"TTS_IDLE_TIMEOUT_S", "0", [](const auto& c) { return c.idle_timeout_s == 0; }},
      {"TTS_PING_INTERVAL_S", "0", [](const auto& c) { return c.ping_interval_s == 0; }},
      {"TTS_SHUTDOWN_GRACE_S", "5", [](const auto& c) { return c.shutdown_grace_s == 5; }},
      {"TTS_AUTH_TOKEN", "s3cr3t-Token_=", [](const auto& c) { return c.auth_token == "s3cr3t-Token_="; }},
      {"TTS_METRICS_REQUIRE_AUTH", "true", [](const auto& c) { return c.metrics_require_auth; }},
      {"TTS_READY_AT_CAPACITY", "yes", [](const auto& c) { return c.ready_at_capacity; }},
      {"TTS_VOICES_DIR", "/var/lib/tts/voices", [](const auto& c) { return c.voices_dir == "/var/lib/tts/voices"; }},
      {"TTS_ALLOW_VOICE_UPLOAD", "true", [](const auto& c) { return c.allow_voice_upload; }},
      {"TTS_MAX_VOICES", "0", [](const auto& c) { return c.max_voices == 0; }},
      {"TTS_MAX_VOICES", "100000", [](const auto& c) { return c.max_voices == 100000; }},
      {"TTS_MAX_VOICE_BYTES", "262144", [](const auto& c) { return c.max_voice_bytes == 262144; }},
      {"TTS_VOICES_RESCAN_S", "0", [](const auto& c) { return c.voices_rescan_s == 0; }},
      {"TTS_VOICES_RESCAN_S", "3600", [](const auto& c) { return c.voices_rescan_s == 3600; }},
      {"LOG_LEVEL", "debug", [](const auto& c) { return c.log_level == LogLevel::kDebug; }},
      {"LOG_LEVEL", "WARNING", [](const auto& c) { return c.log_level == LogLevel::kWarn; }},
      {"LOG_LEVEL", "Warn", [](const auto& c) { return c.log_level == LogLevel::kWarn; }},
      {"LOG_LEVEL", "TRACE", [](const auto& c) { return c.log_level == LogLevel::kTrace; }},
      {"LOG_LEVEL", "error", [](const auto& c) { return c.log_level == LogLevel::kError; }},
      {"LOG_LEVEL", "CRITICAL", [](const auto& c) { return c.log_level == LogLevel::kCritical; }},
      {"LOG_LEVEL", "off", [](const auto& c) { return c.log_level == LogLevel::kOff; }},
  };
  std::set<std::string> covered;
  for (const auto& tc : cases) {
    ServiceConfig c;
    ASSERT_NO_THROW(c = Load({{tc.name, tc.value}})) << tc.name << "=" << tc.value;
    EXPECT_TRUE(tc.check(c)) << tc.name << "=" << tc.value << " -> " << c.ToString();
    covered.insert(tc.name);
  }
  for (const auto& var : ServiceConfig::Variables()) EXPECT_TRUE(covered.count(std::string(var.name))) << var.name;
}

TEST(ServiceConfigTest, BooleanSpellings) {
  for (const char* yes : {"true", "TRUE", "True", "1", "yes", "YES", "on"}) {
    EXPECT_TRUE(Load({{"TTS_READY_AT_CAPACITY", yes}}).ready_at_capacity) << yes;
  }
  for (const char* no : {"false", "FALSE", "0", "no", "No", "off"}) {
    EXPECT_FALSE(Load({{"TTS_CHUNKED_VOCODER", no}}).chunked_vocoder) << no;
  }
}

TEST(ServiceConfigTest, BlankMeansDefaultAndWhitespaceIsTrimmed) {
  EXPECT_EQ(Load({{"TTS_PORT", ""}}).port, 8000);
  EXPECT_EQ(Load({{"TTS_PORT", "   "}}).port, 8000);
  EXPECT_EQ(Load({{"TTS_PORT", " 8080\n"}}).port, 8080);
  EXPECT_EQ(Load({{"TTS_AUTH_TOKEN", "abc\n"}}).auth_token, "abc");
  EXPECT_EQ(Load({{"TTS_DEFAULT_VOICE", "\tM2 "}}).default_voice, "M2");
  EXPECT_EQ(Load({{"TTS_MAX_SESSIONS", "+5"}}).max_sessions, 5);
}

TEST(ServiceConfigTest, InvalidValuesNameTheVariable) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"TTS_HOST", "local host"},
      {"TTS_PORT", "http"},
      {"TTS_PORT", "65536"},
      {"TTS_PORT", "-1"},
      {"TTS_PORT", "80.0"},
      {"TTS_DEVICE", "tpu"},
      {"TTS_DEVICE", "cuda:0"},
      {"TTS_BACKEND", "tensorrt"},
      {"TTS_PRECISION", "fp16"},
      {"TTS_PRECISION", "bf16"},  // needs TTS_BACKEND=openvino
      {"TTS_INTRA_OP_THREADS", "-1"},
      {"TTS_INTRA_OP_THREADS", "257"},
      {"TTS_MAX_SESSIONS", "abc"},
      {"TTS_MAX_SESSIONS", "0"},
      {"TTS_MAX_SESSIONS", "100001"},
      {"TTS_MAX_SESSIONS", "99999999999999999999"},
      {"TTS_MAX_SESSIONS", "1e3"},
      {"TTS_MAX_SESSIONS", "10 sessions"},
      {"TTS_MAX_INFLIGHT_SEGMENTS", "0"},
      {"TTS_MAX_BATCH", "65"},
      {"TTS_BATCH_WAIT_MS", "1001"},
      {"TTS_SCHEDULER", "lifo"},
      {"TTS_DEFAULT_VOICE", "../../etc/passwd"},
      {"TTS_DEFAULT_VOICE", "F 1"},
      {"TTS_LANG_CODE", "p t"},
      {"TTS_LANG_CODE", "1x"},
      {"TTS_NUM_INFERENCE_STEPS", "0"},
      {"TTS_NUM_INFERENCE_STEPS", "33"},
      {"TTS_NUM_INFERENCE_STEPS", "2.5"},
      {"TTS_MODELS", "supertonic-2"},
      {"TTS_MODELS", "=/models/v2"},
      {"TTS_MODELS", "v2="},
      {"TTS_MODELS", ","},
      {"TTS_MODELS", "v 2=/tmp"},
      {"TTS_MODELS", "v2/x=/tmp"},
      {"TTS_MODELS", "v2=/tmp,v2=/tmp"},
      {"TTS_MODELS", "v2=/no/such/model/dir"},
      {"TTS_SPEED", "fast"},
      {"TTS_SPEED", "0.49"},
      {"TTS_SPEED", "2.01"},
      {"TTS_SPEED", "nan"},
      {"TTS_SPEED", "inf"},
      {"TTS_SPEED", "1,05"},
      {"TTS_SAMPLE_RATE", "11025"},
      {"TTS_SAMPLE_RATE", "24k"},
      {"TTS_DEBOUNCE_MS", "-1"},
      {"TTS_DEBOUNCE_MS", "5001"},
      {"TTS_CHUNK_SIZE_MS", "4"},
      {"TTS_CHUNK_SIZE_MS", "1001"},
      {"TTS_CHUNKED_VOCODER", "maybe"},
      {"TTS_TRIM_SILENCE", "sometimes"},
      {"TTS_TEXT_NORMALIZATION", "maybe"},
      {"TTS_TRIM_SILENCE_THRESHOLD_DB", "-10"},
      {"TTS_TRIM_SILENCE_THRESHOLD_DB", "-101"},
      {"TTS_TRIM_SILENCE_THRESHOLD_DB", "50"},
      {"TTS_TRIM_SILENCE_THRESHOLD_DB", "-50dB"},
      {"TTS_TRIM_SILENCE_THRESHOLD_DB", "nan"},
      {"TTS_TRIM_KEEP_LEADING_MS", "-1"},
      {"TTS_TRIM_KEEP_LEADING_MS", "1001"},
      {"TTS_TRIM_KEEP_TRAILING_MS", "5001"},
      {"TTS_TRIM_KEEP_TRAILING_MS", "0.2"},
      {"TTS_MAX_TEXT_CHARS", "0"},
      {"TTS_MAX_MESSAGE_BYTES", "100"},
      {"TTS_MAX_OUTPUT_BUFFER_MS", "999"},
      {"TTS_SLOW_CONSUMER_TIMEOUT_S", "0"},
      {"TTS_MAX_CONNECTIONS", "0"},
      {"TTS_MAX_CONNECTIONS_PER_ADDRESS", "-1"},
      {"TTS_ALLOWED_ORIGINS", "app.example.com"},
      {"TTS_ALLOWED_ORIGINS", "https://app.example.com/path"},
      {"TTS_INFERENCE_WORKERS", "17"},
      {"TTS_CUDA_OPTIONS", "cudnn_conv_algo_search"},
      {"TTS_CUDA_OPTIONS", "a=1,,=2"},
      {"TTS_IDLE_TIMEOUT_S", "-5"},
      {"TTS_PING_INTERVAL_S", "3601"},
      {"TTS_SHUTDOWN_GRACE_S", "forever"},
      {"TTS_AUTH_TOKEN", "two words"},
      {"TTS_METRICS_REQUIRE_AUTH", "2"},
      {"TTS_READY_AT_CAPACITY", "enabled"},
      {"TTS_ALLOW_VOICE_UPLOAD", "please"},
      {"TTS_MAX_VOICES", "-1"},
      {"TTS_MAX_VOICES", "100001"},
      {"TTS_MAX_VOICE_BYTES", "262143"},
      {"TTS_MAX_VOICE_BYTES", "2MB"},
      {"TTS_VOICES_RESCAN_S", "-1"},
      {"TTS_VOICES_RESCAN_S", "3601"},
      {"TTS_VOICES_RESCAN_S", "0.5"},
      {"LOG_LEVEL", "verbose"},
  };
  std::set<std::string> covered;
  for (const auto& [name, value] : cases) {
    const std::string message = LoadError({{name, value}});
    EXPECT_EQ(message.rfind(name + " ", 0), 0u) << name << "=" << value << " -> '" << message << "'";
    covered.insert(name);
  }
  for (const auto& var : ServiceConfig::Variables()) {
    if (var.name == "TTS_MODEL_DIR" || var.name == "TTS_OPTIMIZED_MODEL_CACHE" || var.name == "TTS_VOICES_DIR") {
      continue;  // any path is accepted
    }
    EXPECT_TRUE(covered.count(std::string(var.name))) << var.name;
  }
}

TEST(ServiceConfigTest, ErrorMessagesAreSpecific) {
  EXPECT_EQ(LoadError({{"TTS_MAX_SESSIONS", "abc"}}), "TTS_MAX_SESSIONS must be an integer in 1..100000, got 'abc'");
  EXPECT_EQ(LoadError({{"TTS_MAX_SESSIONS", "0"}}), "TTS_MAX_SESSIONS must be an integer in 1..100000, got '0'");
  EXPECT_EQ(LoadError({{"TTS_SAMPLE_RATE", "11025"}}),
            "TTS_SAMPLE_RATE must be one of 8000, 16000, 22050, 24000, 44100, 48000, got '11025'");
  EXPECT_EQ(LoadError({{"TTS_DEVICE", "tpu"}}), "TTS_DEVICE must be cpu, cuda or auto, got 'tpu'");
  EXPECT_EQ(LoadError({{"TTS_BACKEND", "tpu"}}), "TTS_BACKEND must be onnxruntime or openvino, got 'tpu'");
  EXPECT_EQ(LoadError({{"TTS_PRECISION", "bf16"}}),
            "TTS_PRECISION bf16 needs TTS_BACKEND=openvino (the onnxruntime backend runs fp32)");
  EXPECT_EQ(LoadError({{"TTS_BACKEND", "openvino"}, {"TTS_DEVICE", "cuda"}}),
            "TTS_BACKEND openvino runs on the CPU only, but TTS_DEVICE is cuda: set TTS_BACKEND=onnxruntime for "
            "CUDA, or TTS_DEVICE=cpu (or auto)");
  EXPECT_NO_THROW(Load({{"TTS_BACKEND", "openvino"}, {"TTS_PRECISION", "bf16"}}));
  EXPECT_EQ(LoadError({{"TTS_SPEED", "3"}}), "TTS_SPEED must be a number in 0.5..2.0, got '3'");
  EXPECT_EQ(LoadError({{"TTS_TRIM_SILENCE_THRESHOLD_DB", "-5"}}),
            "TTS_TRIM_SILENCE_THRESHOLD_DB must be a number in -100..-20 (dBFS), got '-5'");
  EXPECT_EQ(LoadError({{"TTS_NUM_INFERENCE_STEPS", "33"}}),
            "TTS_NUM_INFERENCE_STEPS must be an integer in 1..32, got '33'");
  // Long or binary garbage is quoted truncated and printable.
  const std::string message = LoadError({{"TTS_PORT", std::string(500, 'x') + "\x01"}});
  EXPECT_LT(message.size(), 200u);
  EXPECT_EQ(message.find('\x01'), std::string::npos);
}

TEST(ServiceConfigTest, TokenIsNeverPrinted) {
  const ServiceConfig c = Load({{"TTS_AUTH_TOKEN", "hunter2-very-secret"}});
  EXPECT_EQ(c.auth_token, "hunter2-very-secret");
  EXPECT_EQ(c.ToString().find("hunter2"), std::string::npos);
  EXPECT_NE(c.ToString().find("auth_token=<set>"), std::string::npos);
  EXPECT_NE(Load({}).ToString().find("auth_token=<none>"), std::string::npos);
  const std::string message = LoadError({{"TTS_AUTH_TOKEN", "hunter2 secret"}});
  EXPECT_EQ(message.rfind("TTS_AUTH_TOKEN ", 0), 0u);
  EXPECT_EQ(message.find("hunter2"), std::string::npos);
}

TEST(ServiceConfigTest, ToStringShowsTheSettings) {
  const std::string s = Load({{"TTS_MAX_SESSIONS", "7"}, {"TTS_SPEED", "1.25"}, {"TTS_SCHEDULER", "fifo"},
                              {"LOG_LEVEL", "WARN"}, {"TTS_DEVICE", "cuda"}})
                            .ToString();
  for (const char* part : {"max_sessions=7", "speed=1.25", "scheduler=fifo", "log_level=warning", "device=cuda",
                           "sample_rate=24000", "default_voice=F1"}) {
    EXPECT_NE(s.find(part), std::string::npos) << part << " in " << s;
  }
}

TEST(ServiceConfigTest, ValidateChecksConfigsBuiltInCode) {
  ServiceConfig c;
  c.max_sessions = 0;
  EXPECT_THROW(c.Validate(), std::invalid_argument);
  c = ServiceConfig{};
  c.sample_rate = 32000;
  EXPECT_THROW(c.Validate(), std::invalid_argument);
  c = ServiceConfig{};
  c.speed = 0.1;
  EXPECT_THROW(c.Validate(), std::invalid_argument);
  c = ServiceConfig{};
  c.trim_silence_threshold_db = -3;
  EXPECT_THROW(c.Validate(), std::invalid_argument);
  c = ServiceConfig{};
  c.trim_keep_trailing_ms = -1;
  EXPECT_THROW(c.Validate(), std::invalid_argument);
  c = ServiceConfig{};
  c.host.clear();
  EXPECT_THROW(c.Validate(), std::invalid_argument);
  c = ServiceConfig{};
  c.model_dir.clear();
  EXPECT_THROW(c.Validate(), std::invalid_argument);
  c = ServiceConfig{};
  c.auth_token = "a b";
  try {
    c.Validate();
    FAIL() << "accepted a token with a space";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).find("a b"), std::string::npos);
  }
}

TEST(ServiceConfigTest, EngineConfig) {
  const ServiceConfig c =
      Load({{"TTS_MODEL_DIR", "/srv/model"}, {"TTS_DEVICE", "cpu"}, {"TTS_INTRA_OP_THREADS", "4"}});
  const EngineConfig e = c.ToEngineConfig(false);
  EXPECT_EQ(e.model_dir, "/srv/model");
  EXPECT_EQ(e.device, Device::kCpu);
  EXPECT_EQ(e.intra_op_threads, 4);
  EXPECT_EQ(e.cuda_device_id, 0);
  EXPECT_NO_THROW(e.Validate());
  EXPECT_EQ(Load({}).ToEngineConfig(false).device, Device::kAuto);
}

// Regression: the provider ran on TTS_CUDA_OPTIONS's device_id while the GPU
// monitor read cuda_device_id, which stayed 0.
TEST(ServiceConfigTest, CudaDeviceIdComesFromTheProviderOptions) {
  const ServiceConfig c = Load({{"TTS_CUDA_OPTIONS", "device_id=3,cudnn_conv_algo_search=HEURISTIC"}});
  EXPECT_EQ(c.CudaDeviceId(), 3);
  const EngineConfig e = c.ToEngineConfig(true);
  EXPECT_EQ(e.cuda_device_id, 3);
  EXPECT_EQ(e.cuda_options.count("device_id"), 0u) << "one source for the device";
  EXPECT_EQ(e.cuda_options.at("cudnn_conv_algo_search"), "HEURISTIC");
  EXPECT_THROW(Load({{"TTS_CUDA_OPTIONS", "device_id=gpu1"}}), std::invalid_argument);
  EXPECT_THROW(Load({{"TTS_CUDA_OPTIONS", "device_id=-1"}}), std::invalid_argument);
}

// Threads are sized for the workers of the device expected: on a GPU one
// call takes every core, on a CPU they are shared among the calls.
TEST(ServiceConfigTest, ThreadsFollowTheExpectedDevice) {
  const ServiceConfig c = Load({{"TTS_INFERENCE_WORKERS", "0"}});
  EXPECT_EQ(c.ToEngineConfig(true).intra_op_threads, 0) << "one GPU worker: ONNX Runtime's default";
  const ServiceConfig two = Load({{"TTS_INFERENCE_WORKERS", "2"}});
  EXPECT_GE(two.ToEngineConfig(false).intra_op_threads, 1);
}

// Regression: a Kubernetes secret that mounted empty turned auth off silently.
TEST(ServiceConfigTest, BlankAuthTokenRefusesToStart) {
  for (const char* blank : {"", " ", "\n", "\t \n"}) {
    try {
      Load({{"TTS_AUTH_TOKEN", blank}});
      FAIL() << "accepted a blank TTS_AUTH_TOKEN";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("TTS_AUTH_TOKEN is set but blank"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(Load({}).auth_token.empty()) << "unset: no authentication";
}

TEST(ServiceConfigTest, HelpListsEveryVariable) {
  const std::string help = ServiceConfig::EnvironmentHelp();
  const std::string markdown = ServiceConfig::EnvironmentMarkdown();
  for (const auto& var : ServiceConfig::Variables()) {
    EXPECT_NE(help.find(var.name), std::string::npos) << var.name;
    EXPECT_NE(markdown.find("| `" + std::string(var.name) + "` |"), std::string::npos) << var.name;
  }
  EXPECT_NE(markdown.find("| `TTS_MAX_SESSIONS` | `100` |"), std::string::npos);
}

TEST(ServiceConfigTest, UnknownVariablesFlagsLikelyTypos) {
  const std::vector<std::string> names = {"PATH", "TTS_MAX_SESSIONS", "TTS_MAX_SESSION", "TTS_PROT", "LOG_LEVEL",
                                          "TTSX"};
  EXPECT_EQ(ServiceConfig::UnknownVariables(names), (std::vector<std::string>{"TTS_MAX_SESSION", "TTS_PROT"}));
}

// TTS_MODELS: several models, in order (the first is the default), each
// under its own name; TTS_MODEL_DIR alone stays the one-model case.
TEST(ServiceConfigTest, ModelsAreParsedInOrder) {
  const ServiceConfig c = Load({{"TTS_MODELS", " fast = " + ExistingDir("src") + " ,supertonic-3.x_1=" +
                                                   ExistingDir("tests") + ","},
                                {"TTS_MODEL_DIR", "/ignored"}});
  const std::vector<ModelSource> want = {{"fast", ExistingDir("src")}, {"supertonic-3.x_1", ExistingDir("tests")}};
  EXPECT_EQ(c.models, want);
  EXPECT_EQ(c.ModelSources(), want) << "TTS_MODELS wins over TTS_MODEL_DIR";
  EXPECT_EQ(c.ToEngineConfig(false).model_dir, ExistingDir("src")) << "the first model's";
  EXPECT_NE(c.ToString().find("models=fast=" + ExistingDir("src") + ",supertonic-3.x_1="), std::string::npos)
      << c.ToString();
  EXPECT_NE(Load({}).ToString().find("models=<model_dir>"), std::string::npos);
}

TEST(ServiceConfigTest, ModelErrorsSayWhatIsWrong) {
  const std::string dir = ExistingDir("src");
  EXPECT_NE(LoadError({{"TTS_MODELS", "a=" + dir + ",a=" + dir}}).find("names model 'a' twice"), std::string::npos);
  EXPECT_NE(LoadError({{"TTS_MODELS", "a b=" + dir}}).find("model names of letters, digits"), std::string::npos);
  EXPECT_NE(LoadError({{"TTS_MODELS", dir}}).find("name=directory pairs"), std::string::npos);
  const std::string missing = LoadError({{"TTS_MODELS", "v3=/no/such/dir"}});
  EXPECT_NE(missing.find("model 'v3' in '/no/such/dir', which is not a directory (it does not exist)"),
            std::string::npos)
      << missing;
  const std::string a_file = LoadError({{"TTS_MODELS", "v3=" + (testing::SourceDir() / "README.md").string()}});
  EXPECT_NE(a_file.find("which is not a directory;"), std::string::npos) << a_file;
  // Configs built in code are checked too (not their directories: the engine reports those).
  ServiceConfig twice;
  twice.models = {{"a", "/x"}, {"a", "/y"}};
  EXPECT_THROW(twice.Validate(), std::invalid_argument);
  ServiceConfig unnamed;
  unnamed.models = {{"", "/x"}};
  EXPECT_THROW(unnamed.Validate(), std::invalid_argument);
}

TEST(ServiceConfigTest, ToStringNames) {
  EXPECT_EQ(ToString(SchedulerPolicy::kFair), "fair");
  EXPECT_EQ(ToString(SchedulerPolicy::kFifo), "fifo");
  EXPECT_EQ(ToString(LogLevel::kWarn), "warning");
  EXPECT_EQ(ToString(LogLevel::kOff), "off");
}

}  // namespace
}  // namespace supertonic::service
