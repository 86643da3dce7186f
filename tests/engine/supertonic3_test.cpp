// A model directory with the Supertonic 3 interface (models/probe-v3: 8322 text
// ids, the scripts of its languages) is served with its profile: its
// languages, speed range, chunk limits and expression tags; runaway durations
// are clamped for every model.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/synthesizer.h"
#include "support/engine_config.h"
#include "support/probe.h"
#include "support/test_paths.h"
#include "text/exceptions.h"
#include "text/text_chunker.h"

namespace supertonic {
namespace {

using testing::DecodeProbeAudio;


using testing::ConfigFor;

class SupertonicThree : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    v3_ = new Synthesizer(ConfigFor(testing::ProbeV3ModelDir()));
    v2_ = new Synthesizer(ConfigFor(testing::ProbeModelDir()));
  }
  static void TearDownTestSuite() {
    delete v3_;
    delete v2_;
    v3_ = v2_ = nullptr;
  }
  static std::string DecodeV3(const std::vector<float>& samples) {
    return DecodeProbeAudio(samples, 44100, testing::ProbeV3ModelDir()).text;
  }
  static std::string InvalidRequestOf(const Synthesizer& synth, const SynthesisItem& item, int steps = 2) {
    try {
      synth.SynthesizeBatch({item}, steps);
    } catch (const InvalidRequest& e) {
      return e.what();
    }
    return "";
  }
  static Synthesizer* v3_;
  static Synthesizer* v2_;
};
Synthesizer* SupertonicThree::v3_ = nullptr;
Synthesizer* SupertonicThree::v2_ = nullptr;

TEST_F(SupertonicThree, ServesTheSupertonicThreeProfile) {
  EXPECT_EQ(v3_->profile().name, "supertonic-3");
  EXPECT_EQ(v3_->profile().default_steps, 8);
  // What the service offers comes from the profile.
  EXPECT_EQ(v3_->model_config().languages, v3_->profile().languages);
  EXPECT_EQ(v2_->profile().name, "supertonic-2");
  EXPECT_EQ(v2_->model_config().languages, (std::vector<std::string>{"en", "ko", "es", "pt", "fr"}));
}

TEST_F(SupertonicThree, LatinScriptLanguagesAreSpokenExactly) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"de", "Grüße aus München, wie geht's?"},
      {"it", "Perché così tardi? Andiamo!"},
      {"vi", "Tiếng Việt có dấu."},
      {"pl", "Zażółć gęślą jaźń."},
      {"na", "Kia ora, e hoa."},
      {"en", "Hello there."},
  };
  std::vector<SynthesisItem> items;
  for (const auto& [lang, text] : cases) items.push_back({text, lang, "F1", 1.0f, 0, nullptr});
  const BatchAudio audio = v3_->SynthesizeBatch(items, 8);
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& [lang, text] = cases[i];
    EXPECT_EQ(DecodeV3(audio.items[i].samples), "<" + lang + ">" + text + "</" + lang + ">") << lang;
    EXPECT_EQ(audio.items[i].unknown_chars, 0u) << lang;
  }
}

TEST_F(SupertonicThree, OtherScriptsAreSpokenCharacterForCharacter) {
  // The probe's tones tell 176 ids apart: other scripts decode as other
  // characters, but one per text id, each for its predicted time.
  for (const auto& [lang, text] : std::vector<std::pair<std::string, std::string>>{
           {"ja", "こんにちは、世界。"}, {"ru", "Привет, мир!"}, {"el", "Καλημέρα."}, {"ko", "안녕하세요."},
           {"hi", "नमस्ते।"}, {"ar", "مرحبا."}}) {
    const ItemAudio item = v3_->SynthesizeBatch({{text, lang, "M1", 1.0f, 0, nullptr}}, 8).items[0];
    EXPECT_EQ(item.unknown_chars, 0u) << lang;
    const auto decoded = DecodeProbeAudio(item.samples, 44100, testing::ProbeV3ModelDir());
    ASSERT_EQ(decoded.chars.size(), item.num_tokens) << lang;
    EXPECT_EQ(decoded.text.substr(0, lang.size() + 2), "<" + lang + ">") << lang;
    const double frame_s = 3072.0 / 44100.0;
    for (size_t c = 1; c + 1 < decoded.chars.size(); ++c) {
      EXPECT_NEAR(decoded.chars[c].duration_s, testing::kProbeCharSeconds, frame_s + 0.005) << lang << " char " << c;
    }
  }
}

TEST_F(SupertonicThree, OtherLanguagesAreRefusedWithTheModelsList) {
  const std::string v3 = InvalidRequestOf(*v3_, {"hi", "xx", "F1", 1.0f, 0, nullptr});
  EXPECT_EQ(v3,
            "unsupported language 'xx'; this model (supertonic-3) speaks: en ko ja ar bg cs da de el es et fi fr hi "
            "hr hu id it lt lv nl pl pt ro ru sk sl sv tr uk vi na");
  const std::string v2 = InvalidRequestOf(*v2_, {"hallo", "de", "F1", 1.0f, 0, nullptr});
  EXPECT_EQ(v2, "unsupported language 'de'; this model (supertonic-2) speaks: en ko es pt fr");
}

TEST_F(SupertonicThree, SpeedAndStepsFollowTheProfile) {
  EXPECT_NE(InvalidRequestOf(*v3_, {"hi", "en", "F1", 0.5f, 0, nullptr}).find("speed must be in [0.7, 2]"),
            std::string::npos);
  EXPECT_NE(InvalidRequestOf(*v3_, {"hi", "en", "F1", 2.5f, 0, nullptr}).find("[0.7, 2]"), std::string::npos);
  EXPECT_EQ(InvalidRequestOf(*v3_, {"hi", "en", "F1", 0.7f, 0, nullptr}), "");
  EXPECT_EQ(InvalidRequestOf(*v2_, {"hi", "en", "F1", 0.5f, 0, nullptr}), "");  // v2: (0, 10] as before
  EXPECT_NE(InvalidRequestOf(*v2_, {"hi", "en", "F1", 0.0f, 0, nullptr}).find("(0, 10]"), std::string::npos);
  EXPECT_NE(InvalidRequestOf(*v3_, {"hi", "en", "F1", 1.0f, 0, nullptr}, 65).find("steps must be 1..64"),
            std::string::npos);
}

TEST_F(SupertonicThree, ExpressionTagsAreSpokenByV3AndRemovedForV2) {
  const SynthesisItem item{"That is so funny <LAUGH> really", "en", "F1", 1.0f, 0, nullptr};
  const ItemAudio v3 = v3_->SynthesizeBatch({item}, 8).items[0];
  EXPECT_EQ(DecodeV3(v3.samples), "<en>That is so funny <laugh> really.</en>");
  EXPECT_EQ(v3_->Encode("ends with a tag <breath>", "en").ids, v3_->Encode("ends with a tag. <breath>", "en").ids);

  EXPECT_EQ(v2_->Encode(item.text, "en").ids, v2_->Encode("That is so funny really", "en").ids);
  const ItemAudio v2 = v2_->SynthesizeBatch({item}, 2).items[0];
  EXPECT_EQ(DecodeProbeAudio(v2.samples, 44100).text, "<en>That is so funny really.</en>");
}

std::vector<std::string> SegmentsOf(const std::string& decoded, const std::string& lang) {
  std::vector<std::string> out;
  const std::string open = "<" + lang + ">", close = "</" + lang + ">";
  for (size_t pos = decoded.find(open); pos != std::string::npos; pos = decoded.find(open, pos)) {
    const size_t end = decoded.find(close, pos);
    if (end == std::string::npos) break;
    out.push_back(decoded.substr(pos + open.size(), end - pos - open.size()));
    pos = end;
  }
  return out;
}

// Counted in letters (A, B, ...): text normalization leaves them as they are.
std::string Sentences(int count) {
  std::string text;
  for (int i = 0; i < count; ++i) text += std::string("Satz Nummer ") + static_cast<char>('A' + i) + " ist hier. ";
  return text;
}

TEST_F(SupertonicThree, LongTextIsChunkedAtTheProfilesLimit) {
  const std::string text = Sentences(12);  // 12 sentences of 23 characters: 287 characters with the spaces
  const auto segments = SegmentsOf(DecodeV3(v3_->SynthesizeText(text, "de", "F1", 2, 1.0f)), "de");
  EXPECT_EQ(segments, ChunkText(text, 150));
  ASSERT_EQ(segments.size(), 2u);
  for (const auto& s : segments) EXPECT_LE(CountCodePoints(s), 150u) << s;
  // Supertonic 2 packs the same text into one chunk of up to 300.
  EXPECT_EQ(v2_->profile().ChunkLimit("en"), 300u);
  EXPECT_EQ(ChunkText(text, v2_->profile().ChunkLimit("en")).size(), 1u);
}

TEST_F(SupertonicThree, JapaneseChunksAreShorter) {
  std::string text;
  for (int i = 0; i < 12; ++i) text += "今日はいい天気ですね。";  // 11 characters each
  const auto chunks = ChunkText(text, v3_->profile().ChunkLimit("ja"));
  const auto segments = SegmentsOf(DecodeV3(v3_->SynthesizeText(text, "ja", "F1", 2, 1.0f)), "ja");
  ASSERT_EQ(segments.size(), chunks.size());
  EXPECT_EQ(chunks.size(), 2u);  // 132 characters over a limit of 120
}

TEST(SupertonicThreeConfig, ConfiguredChunkLengthReplacesTheProfiles) {
  EngineConfig config = ConfigFor(testing::ProbeV3ModelDir());
  config.max_chunk_chars = 300;
  const Synthesizer synth(config);
  EXPECT_EQ(synth.profile().ChunkLimit("de"), 300u);
  EXPECT_EQ(synth.profile().ChunkLimit("ko"), 120u);
  const std::string text = Sentences(12);
  const auto decoded = DecodeProbeAudio(synth.SynthesizeText(text, "de", "F1", 2, 1.5f), 44100,
                                        testing::ProbeV3ModelDir()).text;
  EXPECT_EQ(SegmentsOf(decoded, "de").size(), 1u);
  config.max_chunk_chars = 501;
  EXPECT_THROW(Synthesizer{config}, std::invalid_argument);
}

// A probe model whose duration predictor runs away: 1.5 s per text id.
class RunawayDurations : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(testing::MakeTempDir("runaway"));
    testing::RunCommand("cd " + testing::SourceDir().string() + " && " + testing::PythonExecutable().string() +
                        " -m tools.models.probe --char-seconds 1.5 --out " + dir_->string() + " > /dev/null");
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static std::filesystem::path* dir_;
};
std::filesystem::path* RunawayDurations::dir_ = nullptr;

TEST_F(RunawayDurations, AreClampedToTheProfilesBoundAndStillSpeakTheText) {
  const Synthesizer synth(ConfigFor(*dir_));
  const float speed = 1.25f;
  const ItemAudio item = synth.SynthesizeBatch({{"Hello", "en", "F1", speed, 0, nullptr}}, 2).items[0];
  EXPECT_TRUE(item.duration_clamped);
  const double bound_s = synth.profile().max_seconds_per_token * static_cast<double>(item.num_tokens) / speed;
  EXPECT_NEAR(item.duration_s, bound_s, 1.0 / 44100 + 1e-6);  // not 1.5 s per id
  const auto decoded = DecodeProbeAudio(item.samples, 44100);
  EXPECT_EQ(decoded.text, "<en>Hello.</en>");
  for (size_t c = 1; c + 1 < decoded.chars.size(); ++c) {
    EXPECT_NEAR(decoded.chars[c].duration_s, 0.4 / speed, 3072.0 / 44100 + 0.005) << c;
  }
}

TEST(RunawayDurationsNormal, NormalDurationsAreLeftAlone) {
  const Synthesizer synth(ConfigFor(testing::ProbeModelDir()));
  const ItemAudio item = synth.SynthesizeBatch({{"Hello", "en", "F1", 1.0f, 0, nullptr}}, 2).items[0];
  EXPECT_FALSE(item.duration_clamped);
  EXPECT_NEAR(item.duration_s, testing::kProbeCharSeconds * static_cast<double>(item.num_tokens), 1.0 / 44100 + 1e-6);
}

}  // namespace
}  // namespace supertonic
