// Batching must not change what a conversation hears. The faithful model pads
// as the published graphs do (x * mask, then an edge Pad over the whole
// tensor), so a padded batch changes a short item there; the engine rewrites
// those pads at load (graph_padding.h). These tests show both: the published
// padding deviates, the rewritten graphs equal the published ones on a single
// item and give every item of a mixed batch its alone output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/batch_exactness_check.h"
#include "engine/graph_padding.h"
#include "engine/supertonic_model.h"
#include "engine/synthesizer.h"
#include "engine/voice_style.h"
#include "support/engine_config.h"
#include "support/probe.h"
#include "support/test_paths.h"

namespace supertonic {
namespace {

// The shared test configuration, with the batch padding rewrite on or off.
EngineConfig ConfigWithRewrite(const std::filesystem::path& dir, bool rewrite = true) {
  EngineConfig c = testing::ConfigFor(dir);
  c.rewrite_batch_padding = rewrite;
  return c;
}

// One item's text and latent, and the voice it is spoken in.
struct GraphItem {
  int64_t tokens = 0, frames = 0;
  std::string voice;
};

// Inputs for the three masked graphs: items packed (zero-padded) into one batch.
struct GraphInputs {
  std::vector<int64_t> ids;
  FloatTensor text_mask, style_ttl, style_dp, noisy_latent, latent_mask;
};

GraphInputs Pack(const std::vector<GraphItem>& items, const VoiceLibrary& voices, uint64_t seed) {
  const int64_t batch = static_cast<int64_t>(items.size());
  int64_t T = 0, L = 0;
  for (const auto& item : items) T = std::max(T, item.tokens), L = std::max(L, item.frames);
  GraphInputs in;
  in.ids.assign(static_cast<size_t>(batch * T), 0);
  in.text_mask = {std::vector<float>(static_cast<size_t>(batch * T), 0.0f), {batch, 1, T}};
  in.latent_mask = {std::vector<float>(static_cast<size_t>(batch * L), 0.0f), {batch, 1, L}};
  in.noisy_latent = {std::vector<float>(static_cast<size_t>(batch * 144 * L), 0.0f), {batch, 144, L}};
  in.style_ttl = {{}, {batch, VoiceStyle::kTtlTokens, VoiceStyle::kTtlDim}};
  in.style_dp = {{}, {batch, VoiceStyle::kDpTokens, VoiceStyle::kDpDim}};
  for (int64_t b = 0; b < batch; ++b) {
    const GraphItem& item = items[static_cast<size_t>(b)];
    // Each item's values depend on its own seed and position only, so the same
    // item packed alone gets the same ids and noise.
    std::mt19937_64 rng(seed + static_cast<uint64_t>(item.tokens * 1000 + item.frames));
    for (int64_t t = 0; t < item.tokens; ++t) in.ids[static_cast<size_t>(b * T + t)] = 1 + static_cast<int64_t>(rng() % 160);
    std::fill_n(in.text_mask.data.begin() + b * T, item.tokens, 1.0f);
    std::fill_n(in.latent_mask.data.begin() + b * L, item.frames, 1.0f);
    std::normal_distribution<float> normal;
    for (int64_t c = 0; c < 144; ++c) {
      for (int64_t l = 0; l < item.frames; ++l) in.noisy_latent.data[static_cast<size_t>((b * 144 + c) * L + l)] = normal(rng);
    }
    const VoiceStyle* v = voices.Find(item.voice);
    in.style_ttl.data.insert(in.style_ttl.data.end(), v->ttl.begin(), v->ttl.end());
    in.style_dp.data.insert(in.style_dp.data.end(), v->dp.begin(), v->dp.end());
  }
  return in;
}

struct GraphOutputs {
  std::vector<float> duration;
  FloatTensor text_emb, latent;
};

GraphOutputs RunGraphs(const SupertonicModel& model, const GraphInputs& in) {
  GraphOutputs out;
  out.duration = model.PredictDuration(in.ids, in.style_dp, in.text_mask, nullptr);
  out.text_emb = model.EncodeText(in.ids, in.style_ttl, in.text_mask, nullptr);
  out.latent = model.EstimateVector(in.noisy_latent, out.text_emb, in.style_ttl, in.latent_mask, in.text_mask, 0.0f,
                                    2.0f, nullptr);
  return out;
}

// Largest |a - b| over item `b`'s first `frames` frames of a [B, C, W] tensor
// against item 0 of a [1, C, frames] one.
double MaxDiff(const FloatTensor& batched, int64_t b, const FloatTensor& alone, int64_t frames) {
  const int64_t C = batched.shape[1], W = batched.shape[2];
  double m = 0;
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t t = 0; t < frames; ++t) {
      m = std::max(m, static_cast<double>(std::fabs(batched.data[static_cast<size_t>((b * C + c) * W + t)] -
                                                    alone.data[static_cast<size_t>(c * frames + t)])));
    }
  }
  return m;
}

struct Deviation {
  double duration = 0, text_emb = 0, latent = 0;  // worst over items (duration relative)
};

Deviation BatchedAgainstAlone(const SupertonicModel& model, const VoiceLibrary& voices,
                              const std::vector<GraphItem>& items) {
  const GraphOutputs batched = RunGraphs(model, Pack(items, voices, 5));
  Deviation d;
  for (size_t b = 0; b < items.size(); ++b) {
    const GraphOutputs alone = RunGraphs(model, Pack({items[b]}, voices, 5));
    d.duration = std::max(d.duration, std::fabs(double{batched.duration[b]} - alone.duration[0]) / alone.duration[0]);
    d.text_emb = std::max(d.text_emb, MaxDiff(batched.text_emb, static_cast<int64_t>(b), alone.text_emb, items[b].tokens));
    d.latent = std::max(d.latent, MaxDiff(batched.latent, static_cast<int64_t>(b), alone.latent, items[b].frames));
  }
  return d;
}

const std::vector<GraphItem> kMixedItems = {{12, 9, "F1"}, {108, 70, "M2"}, {41, 28, "F4"}};

class FaithfulGraphs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    voices_ = new VoiceLibrary(VoiceLibrary::Load(testing::FaithfulModelDir() / "voice_styles"));
    rewritten_ = new SupertonicModel(ConfigWithRewrite(testing::FaithfulModelDir(), true));
    published_ = new SupertonicModel(ConfigWithRewrite(testing::FaithfulModelDir(), false));
  }
  static void TearDownTestSuite() {
    delete rewritten_;
    delete published_;
    delete voices_;
  }
  static VoiceLibrary* voices_;
  static SupertonicModel* rewritten_;
  static SupertonicModel* published_;
};
VoiceLibrary* FaithfulGraphs::voices_ = nullptr;
SupertonicModel* FaithfulGraphs::rewritten_ = nullptr;
SupertonicModel* FaithfulGraphs::published_ = nullptr;

TEST_F(FaithfulGraphs, EveryConvNeXtPadIsRewrittenAndTheCausalVocoderIsLeftAlone) {
  EXPECT_EQ(rewritten_->padding(Graph::kDurationPredictor).rewritten, 6);
  EXPECT_EQ(rewritten_->padding(Graph::kTextEncoder).rewritten, 6);
  EXPECT_EQ(rewritten_->padding(Graph::kVectorEstimator).rewritten, 28);
  const PaddingRewrite& vocoder = rewritten_->padding(Graph::kVocoder);
  EXPECT_EQ(vocoder.rewritten, 0);
  EXPECT_EQ(vocoder.left_only, vocoder.edge_pads);
  EXPECT_GT(vocoder.edge_pads, 0);
  for (size_t g = 0; g < kGraphCount; ++g) {
    EXPECT_TRUE(rewritten_->padding(static_cast<Graph>(g)).exact()) << rewritten_->padding(static_cast<Graph>(g)).Summary();
    EXPECT_EQ(published_->padding(static_cast<Graph>(g)).edge_pads, 0) << "no rewrite asked, none reported";
  }
}

TEST_F(FaithfulGraphs, RewrittenGraphsEqualThePublishedOnesForOneItem) {
  for (const GraphItem& item : kMixedItems) {
    const GraphInputs in = Pack({item}, *voices_, 9);
    const GraphOutputs a = RunGraphs(*rewritten_, in);
    const GraphOutputs b = RunGraphs(*published_, in);
    EXPECT_NEAR(a.duration[0], b.duration[0], 1e-6);
    EXPECT_LE(MaxDiff(a.text_emb, 0, b.text_emb, item.tokens), 1e-6) << item.tokens << " tokens";
    EXPECT_LE(MaxDiff(a.latent, 0, b.latent, item.frames), 1e-6) << item.frames << " frames";
  }
}

TEST_F(FaithfulGraphs, PublishedPaddingChangesAShortItemInABatch) {
  const Deviation d = BatchedAgainstAlone(*published_, *voices_, kMixedItems);
  std::cout << "published padding, batched vs alone: duration " << d.duration << " (relative), text_emb "
            << d.text_emb << ", one vector-estimator step " << d.latent << "\n";
  EXPECT_GT(d.duration, 1e-4);
  EXPECT_GT(d.text_emb, 1e-2);
  EXPECT_GT(d.latent, 1e-2);
}

TEST_F(FaithfulGraphs, RewrittenGraphsGiveEveryItemOfAMixedBatchItsAloneOutput) {
  const Deviation d = BatchedAgainstAlone(*rewritten_, *voices_, kMixedItems);
  EXPECT_LT(d.duration, 1e-5);
  EXPECT_LT(d.text_emb, 1e-4);
  EXPECT_LT(d.latent, 1e-4);
}

TEST(BatchExactnessCheck, TellsPublishedPaddingFromRewritten) {
  Synthesizer rewritten(ConfigWithRewrite(testing::FaithfulModelDir(), true));
  EXPECT_TRUE(rewritten.mixed_length_batches_exact()) << rewritten.batch_exactness().reason;
  EXPECT_LT(rewritten.batch_exactness().max_deviation, 1e-4);
  Synthesizer published(ConfigWithRewrite(testing::FaithfulModelDir(), false));
  EXPECT_FALSE(published.mixed_length_batches_exact());
  EXPECT_GT(published.batch_exactness().max_deviation, 1e-2);
  EXPECT_NE(published.batch_exactness().reason.find(published.batch_exactness().worst_graph), std::string::npos);
  // The probe model pads with zeros only: nothing to rewrite, exact as it is.
  Synthesizer probe(ConfigWithRewrite(testing::ProbeModelDir(), true));
  EXPECT_TRUE(probe.mixed_length_batches_exact()) << probe.batch_exactness().reason;
  for (size_t g = 0; g < kGraphCount; ++g) EXPECT_EQ(probe.model().padding(static_cast<Graph>(g)).edge_pads, 0);
}

// End to end: text items differing in length, voice, language and speed.
const std::vector<SynthesisItem> kMixedSynthesis = {
    {"Hi.", "en", "F1", 1.05f, 21, nullptr},
    {"A considerably longer sentence, spoken in the same batch as a two-letter greeting and others.", "en", "M2",
     0.9f, 22, nullptr},
    {"안녕하세요, 반갑습니다.", "ko", "F4", 1.3f, 23, nullptr},
    {"¿Dónde está la estación de tren?", "es", "M5", 0.95f, 24, nullptr},
    {"Bonjour à tous.", "fr", "F3", 1.0f, 25, nullptr},
};

struct AudioDeviation {
  bool equal_lengths = true;
  double max_diff = 0, min_snr_db = INFINITY;
};

AudioDeviation Compare(const std::vector<std::vector<float>>& batched, const std::vector<std::vector<float>>& alone) {
  AudioDeviation d;
  for (size_t i = 0; i < alone.size(); ++i) {
    d.equal_lengths = d.equal_lengths && batched[i].size() == alone[i].size();
    const size_t n = std::min(batched[i].size(), alone[i].size());
    double signal = 0, noise = 0;
    for (size_t s = 0; s < n; ++s) {
      const double e = static_cast<double>(alone[i][s]) - batched[i][s];
      d.max_diff = std::max(d.max_diff, std::fabs(e));
      signal += static_cast<double>(alone[i][s]) * alone[i][s];
      noise += e * e;
    }
    if (noise > 0) d.min_snr_db = std::min(d.min_snr_db, 10 * std::log10(signal / noise));
  }
  return d;
}

std::vector<std::vector<float>> Streamed(const Synthesizer& synth, const std::vector<SynthesisItem>& items) {
  std::vector<std::vector<float>> audio(items.size());
  synth.SynthesizeBatch(items, 2, nullptr, [&](const AudioPiece& p) {
    audio[p.item].insert(audio[p.item].end(), p.samples.begin(), p.samples.end());
  });
  return audio;
}

std::vector<std::vector<float>> Whole(const Synthesizer& synth, const std::vector<SynthesisItem>& items) {
  std::vector<std::vector<float>> audio;
  for (auto& item : synth.SynthesizeBatch(items, 2).items) audio.push_back(std::move(item.samples));
  return audio;
}

std::vector<std::vector<float>> EachAlone(const Synthesizer& synth, const std::vector<SynthesisItem>& items) {
  std::vector<std::vector<float>> audio;
  for (const auto& item : items) audio.push_back(std::move(synth.SynthesizeBatch({item}, 2).items[0].samples));
  return audio;
}

TEST(FaithfulBatchAudio, EveryItemSoundsAsAloneWithTheFullAndTheStreamingVocoder) {
  EngineConfig config = ConfigWithRewrite(testing::FaithfulModelDir());
  config.vocoder_first_chunk_frames = 5;
  config.vocoder_chunk_frames = 13;
  Synthesizer synth(config);
  ASSERT_TRUE(synth.streaming_vocoder());
  const auto alone = EachAlone(synth, kMixedSynthesis);
  for (const auto& a : alone) ASSERT_GT(a.size(), 3072u);
  for (const auto& [name, batched] : {std::pair{"full vocoder", Whole(synth, kMixedSynthesis)},
                                      std::pair{"streaming vocoder", Streamed(synth, kMixedSynthesis)}}) {
    const AudioDeviation d = Compare(batched, alone);
    EXPECT_TRUE(d.equal_lengths) << name;
    EXPECT_LT(d.max_diff, 1e-4) << name;
  }
}

TEST(FaithfulBatchAudio, PublishedPaddingChangesDurationsAndAudio) {
  Synthesizer synth(ConfigWithRewrite(testing::FaithfulModelDir(), false));
  const AudioDeviation d = Compare(Whole(synth, kMixedSynthesis), EachAlone(synth, kMixedSynthesis));
  std::cout << "published padding, batched vs alone: equal lengths " << d.equal_lengths << ", max |diff| "
            << d.max_diff << ", lowest SNR " << d.min_snr_db << " dB\n";
  EXPECT_GT(d.max_diff, 1e-2);
}

// The probe model (tiny, decodable): the same guarantee, heard as text.
TEST(ProbeBatchAudio, EveryItemDecodesAndEqualsAloneWithTheFullAndTheStreamingVocoder) {
  EngineConfig config = ConfigWithRewrite(testing::ProbeModelDir());
  config.vocoder_first_chunk_frames = 4;
  config.vocoder_chunk_frames = 7;
  Synthesizer synth(config);
  ASSERT_TRUE(synth.streaming_vocoder());
  const auto alone = EachAlone(synth, kMixedSynthesis);
  for (const auto& [name, batched] : {std::pair{"full vocoder", Whole(synth, kMixedSynthesis)},
                                      std::pair{"streaming vocoder", Streamed(synth, kMixedSynthesis)}}) {
    const AudioDeviation d = Compare(batched, alone);
    EXPECT_TRUE(d.equal_lengths) << name;
    EXPECT_LT(d.max_diff, 1e-4) << name;
    for (size_t i = 0; i < batched.size(); ++i) {
      const auto& item = kMixedSynthesis[i];
      EXPECT_EQ(testing::DecodeProbeAudio(batched[i], 44100).text, "<" + item.lang + ">" + item.text + "</" + item.lang + ">")
          << name << " item " << i;
    }
  }
}

}  // namespace
}  // namespace supertonic

namespace supertonic {
namespace {

// Graphs that fail on the batch check's inputs still load: batching stays off and
// the first real synthesis reports the failure.
TEST(BatchExactnessCheck, GraphsThatFailOnItsInputsLoadWithBatchingOff) {
  const auto dir = testing::MakeTempDir("failing_probe");
  testing::RunCommand("cd " + testing::SourceDir().string() + " && " + testing::PythonExecutable().string() +
                      " -m tools.models.probe --fail-above-tokens 3 --out " + dir.string() + " > /dev/null");
  Synthesizer synth(ConfigWithRewrite(dir));
  EXPECT_FALSE(synth.mixed_length_batches_exact());
  EXPECT_NE(synth.batch_exactness().reason.find("failed on the batch check's inputs"), std::string::npos)
      << synth.batch_exactness().reason;
  EXPECT_ANY_THROW(synth.SynthesizeBatch({{"Far more than three tokens.", "en", "F1", 1.0f, 0, nullptr}}, 2));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace supertonic
