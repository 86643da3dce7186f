// The engine's backends (EngineConfig::backend, ::precision): OpenVINO against
// ONNX Runtime, the reference. At fp32 every graph and the whole pipeline agree
// within 1e-4 (relative to the output's peak) on the architecture-faithful
// model with the same noise; at bf16 the deviation is bounded per graph and end
// to end (waveform SNR against fp32, durations equal), with the bounds of the
// README's "Backends" section. Batching, the streaming vocoder, cancellation
// and concurrent calls work on each backend. The OpenVINO cases skip in builds
// without it (-DSUPERTONIC_OPENVINO=OFF, the sanitizer builds) and the bf16
// cases on CPUs without bf16; the CPU check itself runs everywhere, on injected
// feature sets.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "engine/backends/cpu_features.h"
#include "engine/synthesizer.h"
#include "matmul_peak.h"
#include "support/engine_config.h"
#include "support/probe.h"
#include "support/test_paths.h"
#include "text/exceptions.h"

namespace supertonic {
namespace {

// The bounds of bf16 (README, "Backends"), measured on the faithful model
// with margin: bf16 keeps 8 bits of mantissa (relative rounding 2^-9 = 2e-3 per
// operand), and the errors of ~40 layers add up like noise.
constexpr double kBf16VectorEstimatorMaxRelative = 0.02;  // one step's output, relative to its peak
constexpr double kBf16VocoderMinSnrDb = 35;               // the vocoder alone, same latent
constexpr double kBf16EndToEndMinSnrDb = 25;              // text to waveform, same noise, 2 steps
constexpr double kFp32Relative = 1e-4;

#define REQUIRE_OPENVINO()                                                                       \
  if (!OpenVinoCompiledIn()) GTEST_SKIP() << "built without OpenVINO (-DSUPERTONIC_OPENVINO=OFF)"
#define REQUIRE_BF16()                                                                    \
  REQUIRE_OPENVINO();                                                                     \
  if (!DetectCpuFeatures().bf16()) GTEST_SKIP() << "this CPU has no bf16 (" << DetectCpuFeatures().ToString() << ")"

using testing::ConfigFor;

double Peak(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, static_cast<double>(std::fabs(x)));
  return m;
}

// max |a - ref| / max |ref|
double RelativeMaxDiff(const std::vector<float>& a, const std::vector<float>& ref) {
  EXPECT_EQ(a.size(), ref.size());
  double m = 0;
  for (size_t i = 0; i < a.size() && i < ref.size(); ++i) {
    m = std::max(m, static_cast<double>(std::fabs(a[i] - ref[i])));
  }
  return m / std::max(1e-12, Peak(ref));
}

double SnrDb(const std::vector<float>& a, const std::vector<float>& ref) {
  EXPECT_EQ(a.size(), ref.size());
  double signal = 0, noise = 0;
  for (size_t i = 0; i < a.size() && i < ref.size(); ++i) {
    signal += static_cast<double>(ref[i]) * ref[i];
    const double d = static_cast<double>(a[i]) - ref[i];
    noise += d * d;
  }
  return noise == 0 ? 300.0 : 10 * std::log10(signal / noise);
}

// --- The configuration and the CPU check (no model, every build) -----------

TEST(BackendConfig, ParsesBackendsAndPrecisions) {
  EXPECT_EQ(EngineConfig::ParseBackend("onnxruntime"), Backend::kOnnxRuntime);
  EXPECT_EQ(EngineConfig::ParseBackend("openvino"), Backend::kOpenVino);
  EXPECT_EQ(EngineConfig::ParsePrecision("fp32"), Precision::kFp32);
  EXPECT_EQ(EngineConfig::ParsePrecision("bf16"), Precision::kBf16);
  EXPECT_THROW(EngineConfig::ParseBackend("tensorrt"), std::invalid_argument);
  EXPECT_THROW(EngineConfig::ParsePrecision("fp16"), std::invalid_argument);
  EXPECT_EQ(ToString(Backend::kOpenVino), "openvino");
  EXPECT_EQ(ToString(Precision::kBf16), "bf16");
  const EngineConfig defaults;
  EXPECT_EQ(defaults.backend, Backend::kOnnxRuntime) << "the reference stays the default";
  EXPECT_EQ(defaults.precision, Precision::kFp32);
}

TEST(BackendConfig, RejectsCombinationsThatCannotRunByName) {
  auto error = [](const EngineConfig& c) {
    try {
      c.Validate();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EngineConfig c = ConfigFor("models/x", Backend::kOnnxRuntime, Precision::kBf16);
  EXPECT_NE(error(c).find("precision bf16 (TTS_PRECISION, --precision) needs the backend openvino"),
            std::string::npos)
      << error(c);
  c = ConfigFor("models/x", Backend::kOpenVino);
  c.device = Device::kCuda;
  EXPECT_NE(error(c).find("backend openvino (TTS_BACKEND, --backend) runs on the CPU only"), std::string::npos)
      << error(c);
  c.device = Device::kAuto;  // the service's default: means the CPU here
  EXPECT_EQ(error(c), "");
  c.precision = Precision::kBf16;
  EXPECT_EQ(error(c), "");
}

TEST(BackendConfig, Bf16NeedsACpuWithBf16) {
  const EngineConfig bf16 = ConfigFor("models/x", Backend::kOpenVino, Precision::kBf16);
  CpuFeatures avx2_only;
  avx2_only.avx2 = true;
  try {
    bf16.CheckCpuSupport(avx2_only);
    FAIL() << "bf16 accepted on a CPU without it";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              "precision bf16 (TTS_PRECISION, --precision) needs a CPU with AVX512-BF16 or AMX-BF16; this CPU has "
              "AVX2 (no AMX): use fp32");
  }
  CpuFeatures avx512 = avx2_only;
  avx512.avx512f = avx512.avx512_vnni = true;
  EXPECT_THROW(bf16.CheckCpuSupport(avx512), std::invalid_argument) << "AVX-512 without BF16 is not enough";
  EXPECT_THROW(bf16.CheckCpuSupport(CpuFeatures{}), std::invalid_argument);
  CpuFeatures zen4 = avx512;
  zen4.avx512_bf16 = true;
  EXPECT_NO_THROW(bf16.CheckCpuSupport(zen4));
  CpuFeatures sapphire_rapids = avx512;
  sapphire_rapids.amx_tile = sapphire_rapids.amx_bf16 = true;
  EXPECT_NO_THROW(bf16.CheckCpuSupport(sapphire_rapids));
  // fp32 runs anywhere.
  EXPECT_NO_THROW(ConfigFor("models/x", Backend::kOpenVino).CheckCpuSupport(CpuFeatures{}));
  EXPECT_NO_THROW(ConfigFor("models/x", Backend::kOnnxRuntime).CheckCpuSupport(CpuFeatures{}));
}

TEST(BackendConfig, DetectedFeaturesMatchProcCpuinfo) {
  std::ifstream in("/proc/cpuinfo");
  if (!in) GTEST_SKIP() << "no /proc/cpuinfo";
  std::string line, flags;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) == 0) {
      flags = " " + line.substr(line.find(':') + 1) + " ";
      break;
    }
  }
  if (flags.empty()) GTEST_SKIP() << "no flags line";
  auto has = [&](const char* f) { return flags.find(std::string(" ") + f + " ") != std::string::npos; };
  const CpuFeatures cpu = DetectCpuFeatures();
  EXPECT_EQ(cpu.avx2, has("avx2"));
  EXPECT_EQ(cpu.avx512f, has("avx512f"));
  EXPECT_EQ(cpu.avx512_vnni, has("avx512_vnni"));
  EXPECT_EQ(cpu.avx512_bf16, has("avx512_bf16"));
  EXPECT_EQ(cpu.amx_bf16, has("amx_bf16"));
  EXPECT_EQ(cpu.amx_tile, has("amx_tile"));
  std::cout << "CPU: " << cpu.ToString() << "\n";
}

TEST(BackendConfig, OpenVinoOffSaysSoAtLoad) {
  if (OpenVinoCompiledIn()) GTEST_SKIP() << "OpenVINO is compiled in";
  try {
    SupertonicModel model(ConfigFor(testing::ProbeModelDir(), Backend::kOpenVino));
    FAIL() << "loaded without OpenVINO";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("SUPERTONIC_OPENVINO=OFF"), std::string::npos) << e.what();
  }
}

TEST(BackendConfig, MatmulPeakRunsOnEveryBackend) {
  EngineConfig c = ConfigFor("", Backend::kOnnxRuntime);
  EXPECT_GT(MeasureMatmulPeak(c, 256, 2).gflops, 0);
  if (!OpenVinoCompiledIn()) return;
  c.backend = Backend::kOpenVino;
  EXPECT_GT(MeasureMatmulPeak(c, 256, 2).gflops, 0);
}

// --- Fidelity on the architecture-faithful model ----------------------------

// The four graphs' outputs on one set of inputs, each graph fed the
// reference's outputs of the graph before, so each is measured alone.
struct BackendGraphOutputs {
  std::vector<float> duration, text_emb, latent, wav;
};

struct BackendGraphInputs {
  std::vector<int64_t> ids;
  FloatTensor text_mask, style_dp, style_ttl, noisy, latent_mask;
};

BackendGraphInputs MakeInputs(const Synthesizer& synth) {
  BackendGraphInputs in;
  in.ids = synth.Encode("The backend must not change what is said, nor for how long it is said.", "en").ids;
  const int64_t T = static_cast<int64_t>(in.ids.size());
  in.text_mask = {std::vector<float>(static_cast<size_t>(T), 1.0f), {1, 1, T}};
  const VoiceStyle& voice = *synth.voices().Find("F1");
  in.style_dp = {voice.dp, {1, VoiceStyle::kDpTokens, VoiceStyle::kDpDim}};
  in.style_ttl = {voice.ttl, {1, VoiceStyle::kTtlTokens, VoiceStyle::kTtlDim}};
  const int64_t C = synth.model_config().latent_channels(), L = 120;
  std::mt19937 rng(17);
  std::normal_distribution<float> normal;
  in.noisy = {std::vector<float>(static_cast<size_t>(C * L)), {1, C, L}};
  for (auto& v : in.noisy.data) v = normal(rng);
  in.latent_mask = {std::vector<float>(static_cast<size_t>(L), 1.0f), {1, 1, L}};
  return in;
}

BackendGraphOutputs RunGraphs(const SupertonicModel& model, const BackendGraphInputs& in, const BackendGraphOutputs* feed) {
  BackendGraphOutputs out;
  out.duration = model.PredictDuration(in.ids, in.style_dp, in.text_mask, nullptr);
  FloatTensor emb = model.EncodeText(in.ids, in.style_ttl, in.text_mask, nullptr);
  out.text_emb = emb.data;
  if (feed) emb.data = feed->text_emb;
  FloatTensor latent =
      model.EstimateVector(in.noisy, emb, in.style_ttl, in.latent_mask, in.text_mask, 0.0f, 2.0f, nullptr);
  out.latent = latent.data;
  if (feed) latent.data = feed->latent;
  out.wav = model.Vocode(latent, nullptr).data;
  return out;
}

class FaithfulBackends : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!OpenVinoCompiledIn()) return;  // every test skips
    reference_ = new Synthesizer(ConfigFor(testing::FaithfulModelDir(), Backend::kOnnxRuntime));
  }
  static void TearDownTestSuite() {
    delete reference_;
    reference_ = nullptr;
  }
  static Synthesizer* reference_;

  static std::vector<SynthesisItem> Items() {
    return {{"Hello there, this is the first item of the batch.", "en", "F1", 1.05f, 11, nullptr},
            {"Corto.", "es", "M3", 1.0f, 12, nullptr},
            {"Bonjour à tous, comment allez-vous aujourd'hui?", "fr", "M5", 0.9f, 14, nullptr}};
  }
};
Synthesizer* FaithfulBackends::reference_ = nullptr;

TEST_F(FaithfulBackends, OpenVinoFp32MatchesOnnxRuntimePerGraph) {
  REQUIRE_OPENVINO();
  SupertonicModel ov(ConfigFor(testing::FaithfulModelDir(), Backend::kOpenVino));
  EXPECT_EQ(ov.execution_provider(), "OpenVINO CPU fp32");
  const BackendGraphInputs in = MakeInputs(*reference_);
  const BackendGraphOutputs ref = RunGraphs(reference_->model(), in, nullptr);
  const BackendGraphOutputs got = RunGraphs(ov, in, &ref);
  EXPECT_LT(RelativeMaxDiff(got.duration, ref.duration), kFp32Relative);
  EXPECT_LT(RelativeMaxDiff(got.text_emb, ref.text_emb), kFp32Relative);
  EXPECT_LT(RelativeMaxDiff(got.latent, ref.latent), kFp32Relative);
  EXPECT_LT(RelativeMaxDiff(got.wav, ref.wav), kFp32Relative);
  std::cout << "fp32 relative deviation: duration " << RelativeMaxDiff(got.duration, ref.duration) << ", text_emb "
            << RelativeMaxDiff(got.text_emb, ref.text_emb) << ", vector_estimator "
            << RelativeMaxDiff(got.latent, ref.latent) << ", vocoder " << RelativeMaxDiff(got.wav, ref.wav) << "\n";
}

TEST_F(FaithfulBackends, OpenVinoFp32MatchesOnnxRuntimeEndToEnd) {
  REQUIRE_OPENVINO();
  Synthesizer ov(ConfigFor(testing::FaithfulModelDir(), Backend::kOpenVino));
  const auto items = Items();
  const auto ref = reference_->SynthesizeBatch(items, 2);
  const auto got = ov.SynthesizeBatch(items, 2);
  for (size_t i = 0; i < items.size(); ++i) {
    ASSERT_EQ(got.items[i].samples.size(), ref.items[i].samples.size()) << "item " << i;
    EXPECT_EQ(got.items[i].latent_frames, ref.items[i].latent_frames);
    EXPECT_LT(RelativeMaxDiff(got.items[i].samples, ref.items[i].samples), kFp32Relative) << "item " << i;
  }
}

TEST_F(FaithfulBackends, OpenVinoBf16DeviationIsBoundedPerGraph) {
  REQUIRE_BF16();
  SupertonicModel ov(ConfigFor(testing::FaithfulModelDir(), Backend::kOpenVino, Precision::kBf16));
  EXPECT_EQ(ov.execution_provider(), "OpenVINO CPU bf16");
  const BackendGraphInputs in = MakeInputs(*reference_);
  const BackendGraphOutputs ref = RunGraphs(reference_->model(), in, nullptr);
  const BackendGraphOutputs got = RunGraphs(ov, in, &ref);
  // The duration predictor and the text encoder stay fp32.
  EXPECT_LT(RelativeMaxDiff(got.duration, ref.duration), kFp32Relative);
  EXPECT_LT(RelativeMaxDiff(got.text_emb, ref.text_emb), kFp32Relative);
  const double ve = RelativeMaxDiff(got.latent, ref.latent), voc_snr = SnrDb(got.wav, ref.wav);
  EXPECT_LT(ve, kBf16VectorEstimatorMaxRelative);
  EXPECT_GT(voc_snr, kBf16VocoderMinSnrDb);
  EXPECT_GT(RelativeMaxDiff(got.wav, ref.wav), 0) << "bf16 really ran (no deviation at all is fp32)";
  std::cout << "bf16: vector_estimator relative deviation " << ve << " (SNR " << SnrDb(got.latent, ref.latent)
            << " dB), vocoder SNR " << voc_snr << " dB (relative deviation " << RelativeMaxDiff(got.wav, ref.wav)
            << ")\n";
}

TEST_F(FaithfulBackends, OpenVinoBf16EndToEndKeepsDurationsAndBoundsTheWaveform) {
  REQUIRE_BF16();
  Synthesizer ov(ConfigFor(testing::FaithfulModelDir(), Backend::kOpenVino, Precision::kBf16));
  const auto items = Items();
  const auto ref = reference_->SynthesizeBatch(items, 2);
  const auto got = ov.SynthesizeBatch(items, 2);
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(got.items[i].duration_s, ref.items[i].duration_s) << "item " << i << ": durations are fp32's";
    ASSERT_EQ(got.items[i].samples.size(), ref.items[i].samples.size()) << "item " << i;
    const double snr = SnrDb(got.items[i].samples, ref.items[i].samples);
    EXPECT_GT(snr, kBf16EndToEndMinSnrDb) << "item " << i;
    std::cout << "bf16 end to end, item " << i << ": SNR " << snr << " dB against ONNX Runtime fp32\n";
  }
}

// Batching on the backend as loaded: the load-time probe and a real batch.
TEST_F(FaithfulBackends, OpenVinoBatchesEqualItemsAlone) {
  REQUIRE_OPENVINO();
  for (Precision p : {Precision::kFp32, Precision::kBf16}) {
    if (p == Precision::kBf16 && !DetectCpuFeatures().bf16()) continue;
    Synthesizer ov(ConfigFor(testing::FaithfulModelDir(), Backend::kOpenVino, p));
    EXPECT_TRUE(ov.mixed_length_batches_exact()) << ToString(p) << ": " << ov.batch_exactness().reason;
    const auto items = Items();
    const auto batch = ov.SynthesizeBatch(items, 2);
    for (size_t i = 0; i < items.size(); ++i) {
      const auto alone = ov.SynthesizeBatch({items[i]}, 2);
      ASSERT_EQ(batch.items[i].samples.size(), alone.items[0].samples.size());
      EXPECT_LT(RelativeMaxDiff(batch.items[i].samples, alone.items[0].samples), kFp32Relative)
          << ToString(p) << " item " << i;
    }
  }
}

// The streaming vocoder on OpenVINO: the causality probe passes and chunked
// vocoding gives the one-shot samples.
TEST_F(FaithfulBackends, OpenVinoStreamingVocoderEqualsOneShot) {
  REQUIRE_OPENVINO();
  for (Precision p : {Precision::kFp32, Precision::kBf16}) {
    if (p == Precision::kBf16 && !DetectCpuFeatures().bf16()) continue;
    EngineConfig c = ConfigFor(testing::FaithfulModelDir(), Backend::kOpenVino, p);
    c.vocoder_first_chunk_frames = 5;
    c.vocoder_chunk_frames = 17;
    Synthesizer ov(c);
    ASSERT_TRUE(ov.streaming_vocoder()) << ToString(p) << ": " << ov.vocoder_probe().reason;
    EXPECT_LE(ov.vocoder_probe().context_frames, 48);
    const auto items = Items();
    const auto whole = ov.SynthesizeBatch(items, 2);
    std::vector<std::vector<float>> streamed(items.size());
    std::vector<int> pieces(items.size(), 0);
    ov.SynthesizeBatch(items, 2, nullptr, [&](const AudioPiece& piece) {
      streamed[piece.item].insert(streamed[piece.item].end(), piece.samples.begin(), piece.samples.end());
      ++pieces[piece.item];
    });
    for (size_t i = 0; i < items.size(); ++i) {
      EXPECT_GT(pieces[i], 1) << "item " << i << " was not streamed";
      ASSERT_EQ(streamed[i].size(), whole.items[i].samples.size());
      EXPECT_LT(RelativeMaxDiff(streamed[i], whole.items[i].samples), kFp32Relative) << ToString(p) << " item " << i;
    }
  }
}

// Concurrent calls on one loaded model (the service's inference workers).
TEST_F(FaithfulBackends, OpenVinoConcurrentCallsGiveTheSequentialResults) {
  REQUIRE_OPENVINO();
  Synthesizer ov(ConfigFor(testing::FaithfulModelDir(), Backend::kOpenVino));
  const auto items = Items();
  std::vector<std::vector<float>> sequential, concurrent(items.size());
  for (const auto& item : items) sequential.push_back(ov.SynthesizeBatch({item}, 2).items[0].samples);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < items.size(); ++i) {
    threads.emplace_back([&, i] { concurrent[i] = ov.SynthesizeBatch({items[i]}, 2).items[0].samples; });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < items.size(); ++i) EXPECT_EQ(concurrent[i], sequential[i]) << "item " << i;
}

// Cancel() from another thread stops a call in flight (InferRequest::cancel),
// well before the call would have ended.
TEST_F(FaithfulBackends, OpenVinoCancelStopsTheCallInFlight) {
  REQUIRE_OPENVINO();
  SupertonicModel ov(ConfigFor(testing::FaithfulModelDir(), Backend::kOpenVino));
  FloatTensor latent{std::vector<float>(static_cast<size_t>(144 * 1000), 0.3f), {1, 144, 1000}};
  ov.Vocode(latent, nullptr);  // warm: this shape's kernels
  const auto t0 = std::chrono::steady_clock::now();
  ov.Vocode(latent, nullptr);
  const double full_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  RunControl control;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::duration<double>(full_s * 0.2));
    control.Cancel();
  });
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_THROW(ov.Vocode(latent, &control), Cancelled);
  const double cancelled_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  canceller.join();
  std::cout << "vocoder call " << full_s << " s; cancelled after " << cancelled_s << " s\n";
  EXPECT_LT(cancelled_s, full_s * 0.8) << "the call ran on after Cancel()";
  EXPECT_THROW(ov.Vocode(latent, &control), Cancelled) << "every later call under the control";
  // The model stays usable for other calls.
  EXPECT_EQ(ov.Vocode(latent, nullptr).data.size(), static_cast<size_t>(1000 * 3072));
}

// --- The probe model through OpenVINO: its audio decodes back to the text ---

class ProbeOnOpenVino : public ::testing::TestWithParam<Precision> {};

// Probe models generated before tools/models/probe.py made them loadable by
// OpenVINO (`make models` regenerates them, as it does after any change there).
bool ProbeModelPredatesItsGenerator() {
  namespace fs = std::filesystem;
  const fs::path stamp = testing::ProbeModelDir() / ".complete";
  const fs::path generator = testing::SourceDir() / "tools" / "models" / "probe.py";
  return fs::exists(stamp) && fs::exists(generator) && fs::last_write_time(stamp) < fs::last_write_time(generator);
}

TEST_P(ProbeOnOpenVino, SpeaksTheTextAndStreamsAndCancels) {
  REQUIRE_OPENVINO();
  if (ProbeModelPredatesItsGenerator()) {
    GTEST_SKIP() << "models/probe is older than tools/models/probe.py: run `make models`";
  }
  if (GetParam() == Precision::kBf16 && !DetectCpuFeatures().bf16()) GTEST_SKIP() << "this CPU has no bf16";
  EngineConfig c = ConfigFor(testing::ProbeModelDir(), Backend::kOpenVino, GetParam());
  c.vocoder_first_chunk_frames = 1;
  c.vocoder_chunk_frames = 2;
  Synthesizer synth(c);
  const auto audio = synth.SynthesizeBatch({{"Hello from OpenVINO", "en", "F1", 1.0f, 0, nullptr}}, 2);
  EXPECT_EQ(testing::DecodeProbeAudio(audio.items[0].samples, 44100).text, "<en>Hello from OpenVINO.</en>");

  ASSERT_TRUE(synth.streaming_vocoder()) << synth.vocoder_probe().reason;
  const std::vector<SynthesisItem> batch = {{"First of two.", "en", "F1", 1.0f, 0, nullptr},
                                            {"Segundo, mais longo.", "pt", "M1", 1.0f, 0, nullptr}};
  std::vector<std::vector<float>> streamed(2);
  synth.SynthesizeBatch(batch, 2, nullptr, [&](const AudioPiece& p) {
    streamed[p.item].insert(streamed[p.item].end(), p.samples.begin(), p.samples.end());
  });
  EXPECT_EQ(testing::DecodeProbeAudio(streamed[0], 44100).text, "<en>First of two.</en>");
  EXPECT_EQ(testing::DecodeProbeAudio(streamed[1], 44100).text, "<pt>Segundo, mais longo.</pt>");

  // Cancelled between chunks: no piece after the one during which it came.
  RunControl control;
  int after_cancel = 0, pieces = 0;
  EXPECT_THROW(synth.SynthesizeBatch({{"A sentence long enough for many vocoder chunks.", "en", "F1", 1.0f, 0,
                                       nullptr}},
                                     2, &control,
                                     [&](const AudioPiece&) {
                                       if (control.cancelled()) ++after_cancel;
                                       if (++pieces == 2) control.Cancel();
                                     }),
               Cancelled);
  EXPECT_EQ(pieces, 2);
  EXPECT_EQ(after_cancel, 0);
}

INSTANTIATE_TEST_SUITE_P(Precisions, ProbeOnOpenVino, ::testing::Values(Precision::kFp32, Precision::kBf16),
                         [](const auto& info) { return ToString(info.param); });

}  // namespace
}  // namespace supertonic
