// The pipeline on generated models: the probe model proves what is spoken and
// for how long; the architecture-faithful model proves batching is exact.
#include "engine/synthesizer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "support/engine_config.h"
#include "support/probe.h"
#include "support/test_paths.h"
#include "text/exceptions.h"

namespace supertonic {
namespace {

using testing::DecodeProbeAudio;


using testing::ConfigFor;

class ProbeSynthesizer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { synth_ = new Synthesizer(ConfigFor(testing::ProbeModelDir())); }
  static void TearDownTestSuite() {
    delete synth_;
    synth_ = nullptr;
  }
  static Synthesizer* synth_;
};
Synthesizer* ProbeSynthesizer::synth_ = nullptr;

TEST_F(ProbeSynthesizer, SpeaksTheTextWithLanguageTagsAndPredictedLength) {
  auto audio = synth_->SynthesizeBatch({{"Hello world", "en", "F1", 1.05f, 0, nullptr}}, 2);
  ASSERT_EQ(audio.items.size(), 1u);
  const auto& item = audio.items[0];
  EXPECT_EQ(item.num_tokens, std::string("<en>Hello world.</en>").size());
  const int64_t expected_samples = static_cast<int64_t>(item.num_tokens * testing::kProbeCharSeconds / 1.05 * 44100);
  EXPECT_NEAR(static_cast<double>(item.samples.size()), static_cast<double>(expected_samples), 1.0);
  EXPECT_EQ(item.latent_frames, (static_cast<int64_t>(item.samples.size()) + 3071) / 3072);
  EXPECT_EQ(DecodeProbeAudio(item.samples, 44100).text, "<en>Hello world.</en>");
}

TEST_F(ProbeSynthesizer, EveryLanguageRoundTrips) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"en", "How are you today?"},
      {"ko", "안녕하세요, 반갑습니다."},
      {"es", "¿Dónde está la biblioteca?"},
      {"pt", "Olá, como você está?"},
      {"fr", "Ça va très bien, merci!"},
  };
  std::vector<SynthesisItem> items;
  for (const auto& [lang, text] : cases) items.push_back({text, lang, "M1", 1.0f, 0, nullptr});
  auto audio = synth_->SynthesizeBatch(items, 2);
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(DecodeProbeAudio(audio.items[i].samples, 44100).text,
              "<" + cases[i].first + ">" + cases[i].second + "</" + cases[i].first + ">")
        << cases[i].first;
  }
}

TEST_F(ProbeSynthesizer, CharacterDurationsFollowSpeed) {
  for (float speed : {0.8f, 1.0f, 1.5f}) {
    auto audio = synth_->SynthesizeBatch({{"abcdefghij", "en", "F2", speed, 0, nullptr}}, 2);
    auto decoded = DecodeProbeAudio(audio.items[0].samples, 44100);
    ASSERT_EQ(decoded.text, "<en>abcdefghij.</en>");
    const double frame_s = 3072.0 / 44100.0;
    // Interior characters: whole latent frames around 0.15 s / speed each.
    for (size_t i = 1; i + 1 < decoded.chars.size(); ++i) {
      EXPECT_NEAR(decoded.chars[i].duration_s, testing::kProbeCharSeconds / speed, frame_s + 0.005)
          << "speed " << speed << " char " << i;
    }
  }
}

TEST_F(ProbeSynthesizer, UnknownCharactersAreDroppedAndCounted) {
  auto audio = synth_->SynthesizeBatch({{"a\u2211b\u4e2dc", "en", "F1", 1.0f, 0, nullptr}}, 2);
  EXPECT_EQ(audio.items[0].unknown_chars, 2u);
  EXPECT_EQ(DecodeProbeAudio(audio.items[0].samples, 44100).text, "<en>abc.</en>");
}

TEST_F(ProbeSynthesizer, BatchItemsDoNotHearEachOther) {
  std::vector<SynthesisItem> items = {
      {"Short.", "en", "F1", 1.05f, 1, nullptr},
      {"A considerably longer sentence in the same batch.", "en", "M2", 1.05f, 2, nullptr},
      {"Uma frase em português.", "pt", "F3", 1.2f, 3, nullptr},
  };
  auto batch = synth_->SynthesizeBatch(items, 2);
  for (size_t i = 0; i < items.size(); ++i) {
    auto alone = synth_->SynthesizeBatch({items[i]}, 2);
    ASSERT_EQ(alone.items[0].samples.size(), batch.items[i].samples.size()) << i;
    for (size_t s = 0; s < alone.items[0].samples.size(); ++s) {
      ASSERT_NEAR(alone.items[0].samples[s], batch.items[i].samples[s], 1e-5) << "item " << i << " sample " << s;
    }
    EXPECT_EQ(DecodeProbeAudio(batch.items[i].samples, 44100).text,
              "<" + items[i].lang + ">" + items[i].text + "</" + items[i].lang + ">");
  }
}

TEST_F(ProbeSynthesizer, TextIsSaidInWordsUnlessNormalizationIsOff) {
  EXPECT_EQ(DecodeProbeAudio(synth_->SynthesizeText("Room 12 costs $5.", "en", "F1", 2, 1.5f), 44100).text,
            "<en>Room twelve costs five dollars.</en>");
  EngineConfig config = ConfigFor(testing::ProbeModelDir());
  config.normalize_text = false;
  const Synthesizer as_written(config);
  EXPECT_EQ(DecodeProbeAudio(as_written.SynthesizeText("Room 12.", "en", "F1", 2, 1.5f), 44100).text,
            "<en>Room 12.</en>");
}

TEST_F(ProbeSynthesizer, LongTextIsChunkedAndSpokenInOrder) {
  std::string text;
  // Counted in letters (A, B, ...): text normalization leaves them as they are.
  for (int i = 0; i < 12; ++i) text += std::string("Sentence number ") + static_cast<char>('A' + i) + " is here. ";
  auto samples = synth_->SynthesizeText(text, "en", "F1", 2, 1.5f);
  auto decoded = DecodeProbeAudio(samples, 44100);
  std::string expected;
  // ChunkText packs whole sentences up to 300 characters.
  std::string chunk;
  for (int i = 0; i < 12; ++i) {
    std::string s = std::string("Sentence number ") + static_cast<char>('A' + i) + " is here.";
    if (!chunk.empty() && chunk.size() + 1 + s.size() > 300) {
      expected += "<en>" + chunk + "</en>";
      chunk.clear();
    }
    chunk += (chunk.empty() ? "" : " ") + s;
  }
  expected += "<en>" + chunk + "</en>";
  EXPECT_EQ(decoded.text, expected);
}

TEST_F(ProbeSynthesizer, RejectsBadRequestsByName) {
  auto expect_invalid = [&](SynthesisItem item, int steps, const std::string& needle) {
    try {
      synth_->SynthesizeBatch({item}, steps);
      FAIL() << "expected InvalidRequest mentioning " << needle;
    } catch (const InvalidRequest& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_invalid({"hi", "en", "Nobody", 1.0f, 0, nullptr}, 2, "voice 'Nobody'");
  expect_invalid({"hi", "xx", "F1", 1.0f, 0, nullptr}, 2, "language 'xx'");
  expect_invalid({"hi", "en", "F1", 0.0f, 0, nullptr}, 2, "speed");
  expect_invalid({"hi", "en", "F1", 1.0f, 0, nullptr}, 0, "steps");
  expect_invalid({std::string(1200, 'a'), "en", "F1", 1.0f, 0, nullptr}, 2, "too long");
}

TEST_F(ProbeSynthesizer, CancelledControlStopsTheRun) {
  RunControl control;
  control.Cancel();
  EXPECT_THROW(synth_->SynthesizeBatch({{"hello", "en", "F1", 1.0f, 0, nullptr}}, 2, &control), Cancelled);
}

TEST_F(ProbeSynthesizer, LatentFrameArithmetic) {
  EXPECT_EQ(synth_->LatentFramesFor(0), 0);
  EXPECT_EQ(synth_->LatentFramesFor(1), 1);
  EXPECT_EQ(synth_->LatentFramesFor(3072), 1);
  EXPECT_EQ(synth_->LatentFramesFor(3073), 2);
  EXPECT_EQ(synth_->LatentFramesFor(3072 * 7), 7);
}

// The architecture-faithful model: an item equals itself alone in a batch of
// mixed voices, languages and lengths.
TEST(FaithfulSynthesizer, BatchEquivalenceAcrossVoicesLanguagesAndLengths) {
  Synthesizer synth(ConfigFor(testing::FaithfulModelDir()));
  std::vector<SynthesisItem> items = {
      {"Hello there, this is the first item of the batch.", "en", "F1", 1.05f, 11, nullptr},
      {"Corto.", "es", "M3", 1.0f, 12, nullptr},
      {"안녕하세요, 오늘 날씨가 좋네요.", "ko", "F4", 1.2f, 13, nullptr},
      {"Bonjour à tous, comment allez-vous aujourd'hui?", "fr", "M5", 0.9f, 14, nullptr},
  };
  auto batch = synth.SynthesizeBatch(items, 2);
  for (size_t i = 0; i < items.size(); ++i) {
    auto alone = synth.SynthesizeBatch({items[i]}, 2);
    const auto& a = alone.items[0].samples;
    const auto& b = batch.items[i].samples;
    ASSERT_EQ(a.size(), b.size()) << "item " << i;
    ASSERT_GT(a.size(), 0u);
    double max_diff = 0, energy = 0;
    for (size_t s = 0; s < a.size(); ++s) {
      ASSERT_TRUE(std::isfinite(b[s]));
      max_diff = std::max(max_diff, static_cast<double>(std::fabs(a[s] - b[s])));
      energy += static_cast<double>(a[s]) * a[s];
    }
    EXPECT_LT(max_diff, 1e-4) << "item " << i;
    EXPECT_GT(energy, 0.0) << "item " << i << " is silent";
  }
}

TEST(FaithfulSynthesizer, SameSeedSameAudioDifferentSeedDifferentAudio) {
  Synthesizer synth(ConfigFor(testing::FaithfulModelDir()));
  SynthesisItem item{"Determinism matters for tests.", "en", "F1", 1.05f, 5, nullptr};
  auto a = synth.SynthesizeBatch({item}, 2).items[0].samples;
  auto b = synth.SynthesizeBatch({item}, 2).items[0].samples;
  item.seed = 6;
  auto c = synth.SynthesizeBatch({item}, 2).items[0].samples;
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), c.size());
  EXPECT_NE(a, c);
}

}  // namespace
}  // namespace supertonic
