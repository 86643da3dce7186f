// supertonic-tts: the command-line front door (synthesis, text ids; later the server).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "app/batch_file.h"
#include "app/model_download.h"
#include "app/npy_file.h"
#include "app/serve.h"
#include "audio/resampler.h"
#include "audio/wav_file.h"
#include "engine/model_profile.h"
#include "engine/synthesizer.h"
#include "engine/voice_blend.h"
#include "service/errors.h"
#include "service/service_config.h"
#include "text/exceptions.h"
#include "text/reference_preprocessor.h"
#include "text/text_chunker.h"
#include "text/text_normalizer.h"

namespace {

using namespace supertonic;

std::string DefaultModelDir() {
  const char* env = std::getenv("TTS_MODEL_DIR");
  return env ? env : "models/supertonic-2";
}

struct EngineFlags {
  std::string model_dir = DefaultModelDir();
  std::string device = "cpu";
  int threads = 0;
  std::string graph_optimization = "all";
  bool no_pad_rewrite = false;
  bool no_normalize = false;
  int max_chunk_chars = 0;
  std::string backend = "onnxruntime";
  std::string precision = "fp32";

  void Add(CLI::App* cmd) {
    cmd->add_option("--model-dir", model_dir, "model directory (onnx/, voice_styles/); env TTS_MODEL_DIR")
        ->capture_default_str();
    cmd->add_option("--device", device, "cpu, cuda or auto")->capture_default_str();
    cmd->add_option("--threads", threads, "intra-op threads (0: one per core)")->capture_default_str();
    cmd->add_option("--graph-optimization", graph_optimization, "disabled, basic, extended or all")
        ->capture_default_str();
    cmd->add_flag("--no-pad-rewrite", no_pad_rewrite,
                  "load the graphs' padding as published: a batched item then differs from itself alone "
                  "(to measure that)");
    cmd->add_flag("--no-normalize", no_normalize,
                  "give the model the text as written (no numbers, money, dates... in words; no markdown removal)");
    AddChunkOption(cmd, max_chunk_chars);
    AddBackendOptions(cmd, backend, precision);
  }
  static void AddBackendOptions(CLI::App* cmd, std::string& backend, std::string& precision) {
    cmd->add_option("--backend", backend, "onnxruntime (the reference, CPU or CUDA) or openvino (CPU; bf16)")
        ->capture_default_str();
    cmd->add_option("--precision", precision, "fp32, or bf16 (openvino on a CPU with AVX512-BF16 or AMX)")
        ->capture_default_str();
  }
  static void AddChunkOption(CLI::App* cmd, int& max_chunk_chars) {
    cmd->add_option("--max-chunk-chars", max_chunk_chars,
                    "chunk length for long text in characters, 1..500 (0: the model profile's; ko and ja keep "
                    "their smaller limit)")
        ->capture_default_str();
  }
  EngineConfig ToConfig() const {
    EngineConfig c;
    c.model_dir = model_dir;
    c.device = EngineConfig::ParseDevice(device);
    c.intra_op_threads = threads;
    c.graph_optimization = EngineConfig::ParseGraphOptimization(graph_optimization);
    c.rewrite_batch_padding = !no_pad_rewrite;
    c.normalize_text = !no_normalize;
    c.max_chunk_chars = max_chunk_chars;
    c.backend = EngineConfig::ParseBackend(backend);
    c.precision = EngineConfig::ParsePrecision(precision);
    return c;
  }
};

std::string ReadTextArgOrStdin(const std::string& text) {
  if (!text.empty() && text != "-") return text;
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

// Resamples `samples` in place when the rates differ.
void WriteOutputWav(const std::string& path, std::vector<float>& samples, int model_rate, int sample_rate,
                    const std::string& format) {
  if (sample_rate != model_rate) samples = audio::Resampler::Convert(samples, model_rate, sample_rate);
  audio::WriteWav(path, samples, sample_rate,
                  format == "float" ? audio::WavFormat::kFloat32 : audio::WavFormat::kPcm16);
}

// The options the user may leave to the model's profile.
struct ProfileDefaults {
  std::optional<int> steps;
  std::optional<float> speed;
  int Steps(const ModelProfile& p) const { return steps.value_or(p.default_steps); }
  float Speed(const ModelProfile& p) const { return speed.value_or(p.default_speed); }
};

std::string SynthesisSummary(const Synthesizer& synth, int steps) {
  return fmt::format("{}, {}, {} steps", synth.execution_provider(), synth.profile().name, steps);
}

// A voice as the CLI takes it: one of the model's, a blend of them
// ("F1:0.7+M2:0.3"), or a voice-style JSON file (a path ending in .json).
// Throws InvalidRequest saying what is wrong.
std::shared_ptr<const VoiceStyle> ResolveCliVoice(const Synthesizer& synth, const std::string& voice) {
  if (voice.ends_with(".json")) {
    try {
      return std::make_shared<const VoiceStyle>(VoiceStyle::Load(voice));
    } catch (const ModelError& e) {
      throw InvalidRequest(std::string("voice file: ") + e.what());
    }
  }
  auto mix = ParseVoiceMix(voice);
  if (const auto* error = std::get_if<std::string>(&mix)) throw InvalidRequest(*error);
  auto style = ResolveVoiceMix(std::get<VoiceMix>(mix), [&](const std::string& name) {
    return synth.voices().FindShared(name);
  });
  if (const auto* error = std::get_if<std::string>(&style)) {
    throw InvalidRequest(fmt::format("{} (the model's voices: {}; or a blend such as F1:0.7+M2:0.3, or a "
                                     "voice-style .json file)",
                                     *error, fmt::join(synth.voices().names(), " ")));
  }
  return std::get<std::shared_ptr<const VoiceStyle>>(style);
}

int RunSynth(const EngineFlags& flags, const std::string& text_arg, const std::string& voice,
             const std::string& lang, const ProfileDefaults& options, uint64_t seed, const std::string& noise_path,
             int sample_rate, const std::string& format, const std::string& output) {
  const std::string text = ReadTextArgOrStdin(text_arg);
  Synthesizer synth(flags.ToConfig());
  const int steps = options.Steps(synth.profile());
  const float speed = options.Speed(synth.profile());
  const auto style = ResolveCliVoice(synth, voice);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<float> samples;
  if (!noise_path.empty()) {
    // Exact comparison mode: one chunk, the caller's initial noise.
    app::NpyArray noise = app::ReadNpyFloat32(noise_path);
    SynthesisItem item{text, lang, voice, speed, seed,
                       std::make_shared<const std::vector<float>>(std::move(noise.data)), style};
    samples = std::move(synth.SynthesizeBatch({item}, steps).items[0].samples);
  } else {
    samples = synth.SynthesizeText(text, lang, voice, steps, speed, seed, 0.3, style);
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int model_rate = synth.model_config().sample_rate;
  const double audio_s = static_cast<double>(samples.size()) / model_rate;
  WriteOutputWav(output, samples, model_rate, sample_rate, format);
  std::cerr << "wrote " << output << ": " << audio_s << " s of audio at " << sample_rate << " Hz in " << elapsed
            << " s (RTF " << (audio_s > 0 ? elapsed / audio_s : 0) << ", " << SynthesisSummary(synth, steps) << ")\n";
  return 0;
}

// A batch file's items as the engine takes them, each checked against the
// model first, so that a bad item is reported with its line before any
// model call and before any file is written.
std::vector<SynthesisItem> ToSynthesisItems(const Synthesizer& synth, const std::vector<app::BatchItem>& lines,
                                            const std::string& source) {
  const int64_t channels = synth.model_config().latent_channels();
  std::vector<SynthesisItem> items;
  items.reserve(lines.size());
  for (const app::BatchItem& line : lines) {
    auto fail = [&](const std::string& message) { return app::BatchLineError(source, line.line, message); };
    const ModelProfile& profile = synth.profile();
    std::shared_ptr<const VoiceStyle> style;
    try {
      style = ResolveCliVoice(synth, line.voice);
    } catch (const InvalidRequest& e) {
      throw fail(e.what());
    }
    if (!profile.SupportsLanguage(line.lang)) throw fail(profile.UnsupportedLanguageMessage(line.lang));
    if (!profile.SpeedAllowed(line.speed)) {
      throw fail(fmt::format("speed must be in {} for {}, got {}", profile.SpeedRange(), profile.name, line.speed));
    }
    const auto ids = synth.Encode(line.text, line.lang).ids.size();
    if (static_cast<int64_t>(ids) > Synthesizer::kMaxTokens) {
      throw fail("text too long for one model pass: " + std::to_string(ids) + " ids, at most " +
                 std::to_string(Synthesizer::kMaxTokens));
    }
    const auto output_dir = line.output.parent_path();
    if (!output_dir.empty() && !std::filesystem::is_directory(output_dir)) {
      throw fail("output directory " + output_dir.string() + " does not exist");
    }
    std::shared_ptr<const std::vector<float>> noise;
    if (!line.noise.empty()) {
      app::NpyArray array;
      try {
        array = app::ReadNpyFloat32(line.noise);
      } catch (const std::exception& e) {
        throw fail(e.what());
      }
      // L itself is checked by the engine, which alone knows the item's latent length.
      if (array.shape.size() != 3 || array.shape[0] != 1 || array.shape[1] != channels || array.shape[2] < 1) {
        std::string shape;
        for (int64_t d : array.shape) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
        throw fail("noise " + line.noise.string() + " has shape [" + shape + "], expected [1, " +
                   std::to_string(channels) + ", L] with L the item's latent_frames");
      }
      noise = std::make_shared<const std::vector<float>>(std::move(array.data));
    }
    items.push_back({line.text, line.lang, line.voice, line.speed, line.seed, std::move(noise), std::move(style)});
  }
  return items;
}

// Every item of the file in one SynthesizeBatch call (one model call per
// stage), so a batched item can be compared with the same line alone.
int RunSynthBatch(const EngineFlags& flags, const std::string& batch_path, app::BatchDefaults defaults,
                  const ProfileDefaults& options, int sample_rate, const std::string& format) {
  // The model first: a line without "speed" gets its profile's default.
  Synthesizer synth(flags.ToConfig());
  defaults.speed = options.Speed(synth.profile());
  const int steps = options.Steps(synth.profile());
  const std::vector<app::BatchItem> lines = app::ReadBatchFile(batch_path, defaults);
  const std::vector<SynthesisItem> items = ToSynthesisItems(synth, lines, batch_path);
  const bool any_noise = std::any_of(items.begin(), items.end(), [](const auto& item) { return item.noise; });

  const auto t0 = std::chrono::steady_clock::now();
  BatchAudio audio;
  try {
    audio = synth.SynthesizeBatch(items, steps);
  } catch (const InvalidRequest& e) {
    if (!any_noise) throw;
    throw InvalidRequest(std::string(e.what()) +
                         " (a noise file's L must be its item's latent_frames when synthesized alone: run the line "
                         "without \"noise\" to learn it)");
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const int model_rate = synth.model_config().sample_rate;
  nlohmann::ordered_json report = nlohmann::ordered_json::array();
  double audio_s = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    ItemAudio& item = audio.items[i];
    audio_s += static_cast<double>(item.samples.size()) / model_rate;
    WriteOutputWav(lines[i].output.string(), item.samples, model_rate, sample_rate, format);
    // samples: what the WAV file holds (at --sample-rate).
    report.push_back({{"output", lines[i].output.string()},
                      {"samples", item.samples.size()},
                      {"duration_s", item.duration_s},
                      {"latent_frames", item.latent_frames}});
  }
  std::cout << report.dump(2) << "\n";
  const StageTimes& t = audio.times;
  std::cerr << "wrote " << lines.size() << " WAV files from " << batch_path << ": " << audio_s << " s of audio at "
            << sample_rate << " Hz in " << elapsed << " s (RTF " << (audio_s > 0 ? elapsed / audio_s : 0) << ", "
            << SynthesisSummary(synth, steps) << "; one batch of " << lines.size() << ": duration "
            << t.duration_predictor_s << " s, text encoder " << t.text_encoder_s << " s, vector estimator "
            << t.vector_estimator_s << " s, vocoder " << t.vocoder_s << " s)\n";
  return 0;
}

nlohmann::ordered_json ProfileJson(const ModelProfile& p) {
  // 1.05, not the float's 1.0499999523162842.
  auto decimal = [](float v) { return std::round(static_cast<double>(v) * 1e6) / 1e6; };
  return {{"name", p.name},
          {"version", p.version},
          {"languages", p.languages},
          {"chunk_chars", p.chunk_chars},
          {"chunk_chars_by_lang", p.chunk_chars_by_lang},
          {"steps", {{"default", p.default_steps}, {"min", p.min_steps}, {"max", p.max_steps}}},
          {"speed", {{"default", decimal(p.default_speed)}, {"min", decimal(p.min_speed)}, {"max", decimal(p.max_speed)},
                     {"range", p.SpeedRange()}}},
          {"expression_tags", p.expression_tags},
          {"max_seconds_per_token", p.max_seconds_per_token},
          {"text_embedding_rows", p.text_embedding_rows},
          {"detected_by", p.detected_by}};
}

struct IdsFlags {
  std::string model_dir = DefaultModelDir();
  std::string text;
  std::string lang = "en";
  int max_chunk_chars = 0;
  bool profile = false;
  bool normalize = true;
};

// The model's profile is detected from the directory (no graph is loaded):
// its chunk limits and expression tags apply; the model's log line goes to
// standard error.
int RunIds(const IdsFlags& flags) {
  const std::filesystem::path dir(flags.model_dir);
  const ModelConfig config = ModelConfig::Load(dir / "onnx" / "tts.json");
  const UnicodeIndexer indexer = UnicodeIndexer::Load(dir / "onnx" / "unicode_indexer.json");
  ModelProfile profile = DetectModelProfile(dir, indexer, config);
  if (flags.max_chunk_chars < 0 || flags.max_chunk_chars > 500) {
    throw std::invalid_argument("--max-chunk-chars must be 0..500, got " + std::to_string(flags.max_chunk_chars));
  }
  profile.OverrideChunkChars(static_cast<std::size_t>(flags.max_chunk_chars));
  if (flags.profile) {
    std::cout << ProfileJson(profile).dump(2) << "\n";
    return 0;
  }
  const std::string& lang = flags.lang;
  if (!profile.SupportsLanguage(lang)) throw InvalidRequest(profile.UnsupportedLanguageMessage(lang));
  const std::string text = ReadTextArgOrStdin(flags.text);
  nlohmann::json out = nlohmann::json::array();
  const TextNormalizer normalizer;
  for (const auto& chunk : ChunkText(text, profile.ChunkLimit(lang))) {
    const std::string spoken = flags.normalize ? normalizer.Normalize(chunk, lang) : chunk;
    PreprocessedText pre = PreprocessText(spoken, lang, profile.expression_tags);
    EncodedText enc = indexer.Encode(pre.text);
    out.push_back({{"chunk", chunk},
                   {"normalized", spoken},
                   {"preprocessed", pre.text},
                   {"ids", enc.ids},
                   {"unknown_chars", enc.unknown_chars + pre.invalid_bytes}});
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Supertonic TTS: real-time text-to-speech on ONNX Runtime"};
  app.require_subcommand(1);

  EngineFlags synth_flags;
  std::string text, voice = "F1", lang = "en", output = "out.wav", noise, format = "pcm16", batch;
  int sample_rate = 44100;
  ProfileDefaults profile_options;
  uint64_t seed = 0;
  auto* synth = app.add_subcommand("synth", "synthesize text to a WAV file");
  synth_flags.Add(synth);
  auto* text_option = synth->add_option("--text", text, "text to speak (default or '-': read standard input)");
  synth->add_option("--voice", voice,
                    "voice: a name (F1..F5, M1..M5), a blend of them (\"F1:0.7+M2:0.3\": weights normalized, at "
                    "most 4), or a voice-style .json file")
      ->capture_default_str();
  synth->add_option("--lang", lang, "language code: one the model speaks (`ids --profile` lists them)")
      ->capture_default_str();
  synth->add_option("--steps", profile_options.steps,
                    "flow-matching steps (default: the model's, 2 for supertonic-2, 8 for supertonic-3)");
  synth->add_option("--speed", profile_options.speed,
                    "speaking speed factor (default: the model's, 1.05; supertonic-3 takes 0.7..2.0)");
  synth->add_option("--seed", seed, "noise seed")->capture_default_str();
  auto* noise_option =
      synth->add_option("--noise", noise, "initial noise from a float32 .npy of shape [1,144,L] (one chunk only)");
  synth->add_option("--sample-rate", sample_rate, "output sample rate (resampled with libsoxr)")
      ->capture_default_str();
  synth->add_option("--format", format, "pcm16 or float")->check(CLI::IsMember({"pcm16", "float"}))
      ->capture_default_str();
  auto* output_option = synth->add_option("-o,--output", output, "WAV file to write")->capture_default_str();
  auto* batch_option =
      synth
          ->add_option("--batch", batch,
                       "JSON Lines file, one item per line: {\"text\", \"output\", \"voice\", \"lang\", "
                       "\"speed\", \"seed\", \"noise\"} (text and output required; relative paths from the "
                       "file's directory), synthesized as one batch; prints a JSON array of {output, samples, "
                       "duration_s, latent_frames}")
          ->excludes(text_option)
          ->excludes(noise_option)
          ->excludes(output_option);

  IdsFlags ids_flags;
  auto* ids = app.add_subcommand(
      "ids", "print the preprocessed text and text ids, per chunk, as JSON (or, with --profile, the model's profile)");
  ids->add_option("--model-dir", ids_flags.model_dir, "model directory")->capture_default_str();
  ids->add_option("--text", ids_flags.text, "text (default: standard input)");
  ids->add_option("--lang", ids_flags.lang, "language code")->capture_default_str();
  EngineFlags::AddChunkOption(ids, ids_flags.max_chunk_chars);
  ids->add_flag("--profile", ids_flags.profile,
                "print the detected model profile as JSON (name, languages, chunk limits, steps, speed, tags) "
                "instead of ids");
  ids->add_flag("!--no-normalize", ids_flags.normalize,
                "give the model the text as written (no numbers, money, dates... in words; no markdown removal)");

  auto* serve = app.add_subcommand("serve", "run the WebSocket TTS service (configured by TTS_* environment variables)");
  bool help_env = false;
  bool help_env_markdown = false;
  serve->add_flag("--help-env", help_env, "list the environment variables and exit");
  serve->add_flag("--help-env-markdown", help_env_markdown,
                  "the same as a Markdown table (docs/configuration.md is made from it) and exit");

  auto* errors = app.add_subcommand(
      "errors", "print every error code the server sends (WebSocket and HTTP) with its retryable flag, HTTP status "
                "and meaning, as JSON");
  std::string errors_markdown;
  errors
      ->add_option("--markdown", errors_markdown,
                   "instead, one protocol's codes as the Markdown table of docs/protocol.md (websocket) or "
                   "docs/http-api.md (http)")
      ->check(CLI::IsMember({"websocket", "http"}));

  app::DownloadFlags download_flags;
  auto* download = app.add_subcommand(
      "download", "fetch a Supertonic model (supertonic-2 or supertonic-3, at its pinned revision; resumable, "
                  "sha256-verified) into a model directory");
  download_flags.Add(download);

  CLI11_PARSE(app, argc, argv);
  if (*serve) {
    if (help_env) {
      std::cout << service::ServiceConfig::EnvironmentHelp();
      return 0;
    }
    if (help_env_markdown) {
      std::cout << service::ServiceConfig::EnvironmentMarkdown();
      return 0;
    }
    return app::Serve();
  }
  if (*errors) {
    std::cout << (errors_markdown == "websocket" ? service::WebSocketErrorsMarkdown()
                  : errors_markdown == "http"    ? service::HttpErrorsMarkdown()
                                                 : service::ErrorTableJson());
    return 0;
  }
  if (*download) return app::RunDownload(download_flags);
  // synth --batch and ids print JSON on standard output: the engine's log goes
  // to standard error, beside the human summary.
  spdlog::set_default_logger(
      std::make_shared<spdlog::logger>("", std::make_shared<spdlog::sinks::stderr_color_sink_mt>()));
  try {
    if (*synth && batch_option->count() > 0) {
      return RunSynthBatch(synth_flags, batch, {voice, lang, 1.05f, seed}, profile_options, sample_rate, format);
    }
    if (*synth) {
      return RunSynth(synth_flags, text, voice, lang, profile_options, seed, noise, sample_rate, format, output);
    }
    if (*ids) return RunIds(ids_flags);
  } catch (const ModelError& e) {
    std::cerr << "error: " << e.what()
              << "\n(get the real model with `supertonic-tts download`, or generate the test models with "
                 "`make models`)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
