// supertonic-tts: the command-line front door (synthesis, text ids; later the server).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <iterator>

#include "app/model_download.h"
#include "app/npy_file.h"
#include "app/serve.h"
#include "service/service_config.h"
#include "audio/resampler.h"
#include "audio/wav_file.h"
#include "engine/errors.h"
#include "engine/synthesizer.h"
#include "engine/text_chunker.h"
#include "engine/text_preprocessor.h"

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

  void Add(CLI::App* cmd) {
    cmd->add_option("--model-dir", model_dir, "model directory (onnx/, voice_styles/); env TTS_MODEL_DIR")
        ->capture_default_str();
    cmd->add_option("--device", device, "cpu, cuda or auto")->capture_default_str();
    cmd->add_option("--threads", threads, "intra-op threads (0: one per core)")->capture_default_str();
    cmd->add_option("--graph-optimization", graph_optimization, "disabled, basic, extended or all")
        ->capture_default_str();
  }
  EngineConfig ToConfig() const {
    EngineConfig c;
    c.model_dir = model_dir;
    c.device = EngineConfig::ParseDevice(device);
    c.intra_op_threads = threads;
    c.graph_optimization = EngineConfig::ParseGraphOptimization(graph_optimization);
    return c;
  }
};

std::string ReadTextArgOrStdin(const std::string& text) {
  if (!text.empty() && text != "-") return text;
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

int RunSynth(const EngineFlags& flags, const std::string& text_arg, const std::string& voice,
             const std::string& lang, int steps, float speed, uint64_t seed, const std::string& noise_path,
             int sample_rate, const std::string& format, const std::string& output) {
  const std::string text = ReadTextArgOrStdin(text_arg);
  Synthesizer synth(flags.ToConfig());
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<float> samples;
  if (!noise_path.empty()) {
    // Exact comparison mode: one chunk, the caller's initial noise.
    app::NpyArray noise = app::ReadNpyFloat32(noise_path);
    SynthesisItem item{text, lang, voice, speed, seed,
                       std::make_shared<const std::vector<float>>(std::move(noise.data))};
    samples = std::move(synth.SynthesizeBatch({item}, steps).items[0].samples);
  } else {
    samples = synth.SynthesizeText(text, lang, voice, steps, speed, seed);
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int model_rate = synth.model_config().sample_rate;
  const double audio_s = static_cast<double>(samples.size()) / model_rate;
  if (sample_rate != model_rate) samples = audio::Resampler::Convert(samples, model_rate, sample_rate);
  audio::WriteWav(output, samples, sample_rate,
                  format == "float" ? audio::WavFormat::kFloat32 : audio::WavFormat::kPcm16);
  std::cerr << "wrote " << output << ": " << audio_s << " s of audio at " << sample_rate << " Hz in " << elapsed
            << " s (RTF " << (audio_s > 0 ? elapsed / audio_s : 0) << ", " << synth.execution_provider() << ")\n";
  return 0;
}

int RunIds(const std::string& model_dir, const std::string& text_arg, const std::string& lang) {
  const std::string text = ReadTextArgOrStdin(text_arg);
  auto indexer = UnicodeIndexer::Load(std::filesystem::path(model_dir) / "onnx" / "unicode_indexer.json");
  nlohmann::json out = nlohmann::json::array();
  for (const auto& chunk : ChunkText(text, ChunkLimitFor(lang))) {
    PreprocessedText pre = PreprocessText(chunk, lang);
    EncodedText enc = indexer.Encode(pre.text);
    out.push_back({{"chunk", chunk},
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
  std::string text, voice = "F1", lang = "en", output = "out.wav", noise, format = "pcm16";
  int steps = 2, sample_rate = 44100;
  float speed = 1.05f;
  uint64_t seed = 0;
  auto* synth = app.add_subcommand("synth", "synthesize text to a WAV file");
  synth_flags.Add(synth);
  synth->add_option("--text", text, "text to speak (default or '-': read standard input)");
  synth->add_option("--voice", voice, "voice style name (F1..F5, M1..M5)")->capture_default_str();
  synth->add_option("--lang", lang, "language code (en ko es pt fr)")->capture_default_str();
  synth->add_option("--steps", steps, "flow-matching steps (2 fastest, 5 quality)")->capture_default_str();
  synth->add_option("--speed", speed, "speaking speed factor")->capture_default_str();
  synth->add_option("--seed", seed, "noise seed")->capture_default_str();
  synth->add_option("--noise", noise, "initial noise from a float32 .npy of shape [1,144,L] (one chunk only)");
  synth->add_option("--sample-rate", sample_rate, "output sample rate (resampled with libsoxr)")
      ->capture_default_str();
  synth->add_option("--format", format, "pcm16 or float")->check(CLI::IsMember({"pcm16", "float"}))
      ->capture_default_str();
  synth->add_option("-o,--output", output, "WAV file to write")->capture_default_str();

  std::string ids_model_dir = DefaultModelDir(), ids_text, ids_lang = "en";
  auto* ids = app.add_subcommand("ids", "print the preprocessed text and text ids, per chunk, as JSON");
  ids->add_option("--model-dir", ids_model_dir, "model directory")->capture_default_str();
  ids->add_option("--text", ids_text, "text (default: standard input)");
  ids->add_option("--lang", ids_lang, "language code")->capture_default_str();

  auto* serve = app.add_subcommand("serve", "run the WebSocket TTS service (configured by TTS_* environment variables)");
  bool help_env = false;
  serve->add_flag("--help-env", help_env, "list the environment variables and exit");

  app::DownloadFlags download_flags;
  auto* download = app.add_subcommand(
      "download", "fetch the Supertonic 2 model (resumable, sha256-verified) into a model directory");
  download_flags.Add(download);

  CLI11_PARSE(app, argc, argv);
  if (*serve) {
    if (help_env) {
      std::cout << service::ServiceConfig::EnvironmentHelp();
      return 0;
    }
    return app::Serve();
  }
  if (*download) return app::RunDownload(download_flags);
  try {
    if (*synth) {
      return RunSynth(synth_flags, text, voice, lang, steps, speed, seed, noise, sample_rate, format, output);
    }
    if (*ids) return RunIds(ids_model_dir, ids_text, ids_lang);
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
