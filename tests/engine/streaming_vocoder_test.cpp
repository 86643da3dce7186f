// Chunked vocoding gives the samples one full vocoder run gives, for any
// length and chunk plan; a non-causal vocoder is detected and not chunked.
#include "engine/streaming_vocoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/synthesizer.h"
#include "support/probe.h"
#include "support/engine_config.h"
#include "support/test_paths.h"

namespace supertonic {
namespace {

constexpr int64_t kChannels = 144;
constexpr int64_t kFrame = 3072;

using testing::ConfigFor;

FloatTensor RandomLatent(int64_t batch, int64_t frames, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  FloatTensor t{std::vector<float>(static_cast<size_t>(batch * kChannels * frames)), {batch, kChannels, frames}};
  for (auto& v : t.data) v = normal(rng);
  return t;
}

// Reassembles [B, L*frame] from the chunks.
FloatTensor Chunked(const StreamingVocoder& vocoder, const FloatTensor& latent, const std::vector<FrameRange>& plan) {
  const int64_t B = latent.shape[0], L = latent.shape[2];
  FloatTensor out{std::vector<float>(static_cast<size_t>(B * L * kFrame), NAN), {B, L * kFrame}};
  int64_t expected_start = 0;
  vocoder.Vocode(latent, plan, nullptr, [&](const FrameRange& r, const FloatTensor& wav) {
    EXPECT_EQ(r.start, expected_start) << "chunks arrive in order, without gaps";
    expected_start = r.end;
    const int64_t n = (r.end - r.start) * kFrame;
    ASSERT_EQ(wav.shape[1], n);
    for (int64_t b = 0; b < B; ++b) {
      std::copy_n(wav.data.begin() + b * n, n, out.data.begin() + b * L * kFrame + r.start * kFrame);
    }
  });
  EXPECT_EQ(expected_start, L);
  return out;
}

double MaxDiff(const FloatTensor& a, const FloatTensor& b) {
  EXPECT_EQ(a.data.size(), b.data.size());
  double m = 0;
  for (size_t i = 0; i < a.data.size(); ++i) m = std::max(m, static_cast<double>(std::fabs(a.data[i] - b.data[i])));
  return m;
}

TEST(VocoderPlan, CoversEveryFrameOnceInOrder) {
  EXPECT_EQ(PlanVocoderChunks(0, 4, 0).size(), 0u);
  EXPECT_EQ(PlanVocoderChunks(1, 4, 0), (std::vector<FrameRange>{{0, 1}}));
  EXPECT_EQ(PlanVocoderChunks(10, 4, 0), (std::vector<FrameRange>{{0, 4}, {4, 10}}));
  EXPECT_EQ(PlanVocoderChunks(10, 4, 3), (std::vector<FrameRange>{{0, 4}, {4, 7}, {7, 10}}));
  EXPECT_EQ(PlanVocoderChunks(3, 0, 0), (std::vector<FrameRange>{{0, 1}, {1, 3}}));
}

class FaithfulVocoder : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    EngineConfig c = ConfigFor(testing::FaithfulModelDir());
    model_ = new SupertonicModel(c);
    probe_ = new VocoderProbeResult(StreamingVocoder::Probe(*model_, kChannels, kFrame));
  }
  static void TearDownTestSuite() {
    delete probe_;
    delete model_;
  }
  static SupertonicModel* model_;
  static VocoderProbeResult* probe_;
};
SupertonicModel* FaithfulVocoder::model_ = nullptr;
VocoderProbeResult* FaithfulVocoder::probe_ = nullptr;

TEST_F(FaithfulVocoder, IsDetectedCausalWithABoundedContext) {
  ASSERT_TRUE(probe_->causal) << probe_->reason;
  EXPECT_GE(probe_->context_frames, 2);
  EXPECT_LE(probe_->context_frames, 48);
  EXPECT_GT(probe_->seconds_per_frame, 0);
}

TEST_F(FaithfulVocoder, ChunkedEqualsFullForManyLengthsAndPlans) {
  ASSERT_TRUE(probe_->causal);
  StreamingVocoder vocoder(*model_, kFrame, probe_->context_frames);
  struct Case {
    int64_t frames, first, next;
  };
  const std::vector<Case> cases = {
      {1, 1, 0},   {2, 1, 0},    {7, 3, 2},    {20, 4, 0},   {21, 1, 5},    {64, 4, 8},
      {64, 13, 0}, {150, 12, 0}, {150, 4, 40}, {333, 20, 0}, {1000, 16, 0}, {1000, 40, 400},
  };
  for (const auto& c : cases) {
    FloatTensor latent = RandomLatent(1, c.frames, static_cast<uint32_t>(c.frames * 7 + c.first));
    FloatTensor full = model_->Vocode(latent, nullptr);
    FloatTensor chunked = Chunked(vocoder, latent, PlanVocoderChunks(c.frames, c.first, c.next));
    EXPECT_LT(MaxDiff(full, chunked), 1e-4) << "frames " << c.frames << " first " << c.first << " next " << c.next;
  }
}

TEST_F(FaithfulVocoder, ChunkedEqualsFullForABatch) {
  ASSERT_TRUE(probe_->causal);
  StreamingVocoder vocoder(*model_, kFrame, probe_->context_frames);
  FloatTensor latent = RandomLatent(3, 90, 99);
  EXPECT_LT(MaxDiff(model_->Vocode(latent, nullptr), Chunked(vocoder, latent, PlanVocoderChunks(90, 5, 30))), 1e-4);
}

// Through the synthesizer: items of mixed lengths streamed through the sink
// equal the unstreamed batch.
TEST(StreamingSynthesis, SinkPiecesEqualTheWholeItemsForMixedLengths) {
  EngineConfig c = ConfigFor(testing::FaithfulModelDir());
  c.vocoder_first_chunk_frames = 5;
  c.vocoder_chunk_frames = 17;
  Synthesizer synth(c);
  ASSERT_TRUE(synth.streaming_vocoder()) << synth.vocoder_probe().reason;
  std::vector<SynthesisItem> items = {
      {"A short one.", "en", "F1", 1.05f, 1, nullptr},
      {"A much longer item that makes the batch pad the first and the third one quite a lot.", "en", "M2", 1.0f, 2,
       nullptr},
      {"Médio, não?", "pt", "F3", 1.1f, 3, nullptr},
  };
  auto whole = synth.SynthesizeBatch(items, 2);
  std::vector<std::vector<float>> streamed(items.size());
  std::vector<int> finals(items.size(), 0), pieces(items.size(), 0);
  synth.SynthesizeBatch(items, 2, nullptr, [&](const AudioPiece& p) {
    EXPECT_EQ(finals[p.item], 0) << "nothing after an item's final piece";
    EXPECT_NEAR(p.duration_s, whole.items[p.item].duration_s, 1e-9);
    streamed[p.item].insert(streamed[p.item].end(), p.samples.begin(), p.samples.end());
    finals[p.item] += p.final ? 1 : 0;
    ++pieces[p.item];
  });
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(finals[i], 1);
    EXPECT_GT(pieces[i], 1) << "item " << i << " was not streamed";
    ASSERT_EQ(streamed[i].size(), whole.items[i].samples.size());
    double m = 0;
    for (size_t s = 0; s < streamed[i].size(); ++s) {
      m = std::max(m, static_cast<double>(std::fabs(streamed[i][s] - whole.items[i].samples[s])));
    }
    EXPECT_LT(m, 1e-4) << "item " << i;
  }
}

// The adaptive first chunk holds enough audio to play while the rest is
// vocoded; calls sharing the CPU vocode slower, so it grows with them.
TEST(StreamingSynthesis, FirstChunkGrowsWithCallsSharingTheCpu) {
  Synthesizer synth(ConfigFor(testing::FaithfulModelDir()));
  ASSERT_TRUE(synth.streaming_vocoder());
  const int64_t frames = 400;
  const auto alone = synth.VocoderPlan(frames, 1, 1);
  const auto shared = synth.VocoderPlan(frames, 1, 2);
  ASSERT_GE(alone.size(), 2u);
  ASSERT_GE(shared.size(), 2u);
  EXPECT_GT(shared.front().end - shared.front().start, alone.front().end - alone.front().start);
  EXPECT_EQ(shared.back().end, frames);
}

// The probe model with a fixed chunk plan of `first`, then `chunk` latent frames.
Synthesizer ChunkedProbe(int first, int chunk) {
  EngineConfig c = ConfigFor(testing::ProbeModelDir());
  c.vocoder_first_chunk_frames = first;
  c.vocoder_chunk_frames = chunk;
  return Synthesizer(c);
}

TEST(StreamingSynthesis, ProbeStillDecodesWhenChunked) {
  Synthesizer synth = ChunkedProbe(1, 3);
  ASSERT_TRUE(synth.streaming_vocoder());
  EXPECT_EQ(synth.vocoder_probe().context_frames, 1);  // the probe renders each frame alone
  std::vector<float> audio;
  synth.SynthesizeBatch({{"Chunked, still exact.", "en", "F1", 1.0f, 0, nullptr}}, 2, nullptr,
                        [&](const AudioPiece& p) { audio.insert(audio.end(), p.samples.begin(), p.samples.end()); });
  EXPECT_EQ(testing::DecodeProbeAudio(audio, 44100).text, "<en>Chunked, still exact.</en>");
}

// Barge-in during vocoding: a cancel stops the run between chunks, and no
// piece follows the one during which it came.
TEST(StreamingSynthesis, CancelStopsBetweenChunks) {
  Synthesizer synth = ChunkedProbe(1, 2);
  ASSERT_TRUE(synth.streaming_vocoder());
  const SynthesisItem item{"A sentence long enough for many vocoder chunks.", "en", "F1", 1.0f, 0, nullptr};
  int pieces = 0;
  synth.SynthesizeBatch({item}, 2, nullptr, [&](const AudioPiece&) { ++pieces; });
  ASSERT_GT(pieces, 5) << "the uncancelled run must stream in many pieces";

  RunControl control;
  int before_cancel = 0, after_cancel = 0;
  EXPECT_THROW(synth.SynthesizeBatch({item}, 2, &control,
                                     [&](const AudioPiece&) {
                                       if (control.cancelled()) {
                                         ++after_cancel;
                                       } else {
                                         ++before_cancel;
                                         control.Cancel();
                                       }
                                     }),
               Cancelled);
  EXPECT_EQ(before_cancel, 1);
  EXPECT_EQ(after_cancel, 0);
}

TEST(StreamingSynthesis, NonCausalVocoderFallsBackToOneRun) {
  const auto dir = testing::MakeTempDir("noncausal");
  testing::RunCommand("cd " + testing::SourceDir().string() + " && " + testing::PythonExecutable().string() +
                      " -m tools.models.probe --non-causal-vocoder --out " + dir.string() + " > /dev/null");
  Synthesizer synth(ConfigFor(dir));
  EXPECT_FALSE(synth.streaming_vocoder());
  EXPECT_NE(synth.vocoder_probe().reason.find("not causal"), std::string::npos) << synth.vocoder_probe().reason;
  int pieces = 0;
  std::vector<float> audio;
  synth.SynthesizeBatch({{"Whole.", "en", "F1", 1.0f, 0, nullptr}}, 2, nullptr,
                        [&](const AudioPiece& p) {
                          ++pieces;
                          EXPECT_TRUE(p.final);
                          audio.insert(audio.end(), p.samples.begin(), p.samples.end());
                        });
  EXPECT_EQ(pieces, 1);
  EXPECT_EQ(testing::DecodeProbeAudio(audio, 44100).text, "<en>Whole.</en>");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace supertonic
