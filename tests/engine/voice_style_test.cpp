// Voice-style files (what a voices folder and an upload hold) and blends
// ("F1:0.7+M2:0.3"): validation at load, the parser of blends, and the blend
// arithmetic against a direct computation.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "engine/voice_blend.h"
#include "engine/voice_style.h"
#include "support/test_paths.h"
#include "text/exceptions.h"

namespace supertonic {
namespace {

using nlohmann::json;

std::filesystem::path ProbeVoice(const std::string& name) {
  return testing::ProbeModelDir() / "voice_styles" / (name + ".json");
}

json ReadJson(const std::filesystem::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

std::filesystem::path Write(const std::filesystem::path& dir, const std::string& name, const std::string& text) {
  const auto path = dir / name;
  std::ofstream(path) << text;
  return path;
}

// The message of the ModelError that loading `text` as a voice file throws ("" when it loads).
std::string LoadError(const std::string& text, std::size_t max_bytes = VoiceStyle::kDefaultMaxFileBytes) {
  static const auto dir = testing::MakeTempDir("voice_style");
  const auto path = Write(dir, "voice.json", text);
  try {
    VoiceStyle::Load(path, max_bytes);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}

TEST(VoiceStyleTest, LoadsAPublishedVoiceFile) {
  const VoiceStyle v = VoiceStyle::Load(ProbeVoice("F1"));
  EXPECT_EQ(v.name, "F1");
  ASSERT_EQ(v.ttl.size(), VoiceStyle::kTtlValues);
  ASSERT_EQ(v.dp.size(), VoiceStyle::kDpValues);
  const json file = ReadJson(ProbeVoice("F1"));
  EXPECT_FLOAT_EQ(v.ttl[0], file["style_ttl"]["data"][0][0][0].get<float>());
  EXPECT_FLOAT_EQ(v.ttl[257], file["style_ttl"]["data"][0][1][1].get<float>());
  EXPECT_FLOAT_EQ(v.dp[17], file["style_dp"]["data"][0][1][1].get<float>());
  EXPECT_EQ(json::parse(v.metadata), file["metadata"]);
  EXPECT_TRUE(v.upload.empty());
}

TEST(VoiceStyleTest, WritesWhatItReads) {
  VoiceStyle v = VoiceStyle::Load(ProbeVoice("M2"));
  v.upload = R"({"created_at":"2026-12-01T00:00:00Z"})";
  const VoiceStyle back = VoiceStyle::FromJson(json::parse(v.ToJson()), "M2", "written");
  EXPECT_EQ(back.ttl, v.ttl);  // bit for bit: floats are written with enough digits
  EXPECT_EQ(back.dp, v.dp);
  EXPECT_EQ(json::parse(back.metadata), json::parse(v.metadata));
  EXPECT_EQ(json::parse(back.upload), json::parse(v.upload));
  const json written = json::parse(v.ToJson());
  EXPECT_EQ(written["style_ttl"]["dims"], json({1, 50, 256}));
  EXPECT_EQ(written["style_dp"]["dims"], json({1, 8, 16}));
}

TEST(VoiceStyleTest, BadFilesAreRefusedSayingWhy) {
  const json good = ReadJson(ProbeVoice("F1"));
  auto with = [&](const std::function<void(json&)>& change) {
    json j = good;
    change(j);
    return j.dump();
  };
  struct Case {
    std::string name;
    std::string text;
    std::string expected;  // in the message
  };
  const std::vector<Case> cases = {
      {"not JSON", "{\"style_ttl\": [", "not valid JSON"},
      {"wrong ttl dims", with([](json& j) { j["style_ttl"]["dims"] = {1, 50, 255}; }), "style_ttl has dims [1,50,255]"},
      {"wrong dp dims", with([](json& j) { j["style_dp"]["dims"] = {1, 16, 8}; }), "style_dp has dims [1,16,8]"},
      {"missing tensor", with([](json& j) { j.erase("style_dp"); }), "style_dp is missing"},
      {"too few values", with([](json& j) { j["style_dp"]["data"][0].erase(0); }),
       "style_dp.data has 112 values, expected 128"},
      {"too many values", with([](json& j) { j["style_dp"]["data"][0].push_back(j["style_dp"]["data"][0][0]); }),
       "style_dp.data has more than 128 values"},
      {"text value", with([](json& j) { j["style_ttl"]["data"][0][3][7] = "0.1"; }), "non-numeric entry"},
      {"huge value", with([](json& j) { j["style_ttl"]["data"][0][0][2] = 1e39; }),
       "style_ttl.data[2] is 1e+39, beyond +-1000"},
      {"nested deep", with([](json& j) {
         json deep = 0.5;
         for (int i = 0; i < 20; ++i) deep = json::array({deep});
         j["style_dp"]["data"][0][0][0] = deep;
       }),
       "nested too deep"},
      {"metadata not an object", with([](json& j) { j["metadata"] = "F1"; }), "metadata is not an object"},
      {"metadata too large", with([](json& j) { j["metadata"] = {{"notes", std::string(20000, 'x')}}; }),
       "metadata takes"},
      {"not an object", "[1, 2, 3]", "not a JSON object"},
  };
  for (const auto& c : cases) {
    const std::string message = LoadError(c.text);
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.name << ": '" << message << "'";
    EXPECT_NE(message.find("voice.json"), std::string::npos) << c.name << ": names the file: " << message;
  }
  // JSON has no NaN or infinity: such a file does not parse.
  auto replacing_first_dp_value = [&](const std::string& by) {
    std::string text = good.dump();
    const std::string first = good["style_dp"]["data"][0][0][0].dump();
    return text.replace(text.find(first), first.size(), by);
  };
  EXPECT_NE(LoadError(replacing_first_dp_value("NaN")).find("not valid JSON"), std::string::npos);
  EXPECT_NE(LoadError(replacing_first_dp_value("1e999")), "") << "an overflowing number is refused";
  // The dims may be absent (the count is what matters); a good file loads.
  EXPECT_EQ(LoadError(with([](json& j) { j["style_ttl"].erase("dims"); })), "");
  EXPECT_EQ(LoadError(good.dump()), "");
}

TEST(VoiceStyleTest, TheSizeLimitIsCheckedBeforeReading) {
  const std::string text = ReadJson(ProbeVoice("F1")).dump();
  EXPECT_EQ(LoadError(text, text.size()), "");
  const std::string message = LoadError(text, text.size() - 1);
  EXPECT_NE(message.find("over the limit of " + std::to_string(text.size() - 1)), std::string::npos) << message;
}

TEST(VoiceStyleTest, VoiceNames) {
  for (const std::string ok : {"F1", "my_voice", "Ann-2", "x", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"}) {
    EXPECT_TRUE(IsVoiceName(ok)) << ok;
  }
  for (const std::string bad : {"", "../x", "a/b", "a\\b", ".hidden", "F1.json", "a b", "F1:0.5", "F1+M2", "é",
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-a", "a\nb"}) {
    EXPECT_FALSE(IsVoiceName(bad)) << bad;
  }
}

// --- blends -----------------------------------------------------------------

VoiceMix Mix(std::string_view spec) {
  auto parsed = ParseVoiceMix(spec);
  if (const auto* error = std::get_if<std::string>(&parsed)) ADD_FAILURE() << spec << ": " << *error;
  return std::get_if<VoiceMix>(&parsed) ? std::get<VoiceMix>(parsed) : VoiceMix{};
}

std::string MixError(std::string_view spec) {
  auto parsed = ParseVoiceMix(spec);
  return std::holds_alternative<std::string>(parsed) ? std::get<std::string>(parsed) : "";
}

TEST(VoiceBlendTest, WeightsAreNormalized) {
  const VoiceMix one = Mix("F1");
  ASSERT_EQ(one.parts.size(), 1u);
  EXPECT_FALSE(one.is_blend());
  EXPECT_EQ(one.Canonical(), "F1");
  EXPECT_EQ(Mix("F1:0.25").Canonical(), "F1") << "one voice at any weight is that voice";

  const VoiceMix two = Mix("F1:0.7+M2:0.3");
  ASSERT_EQ(two.parts.size(), 2u);
  EXPECT_DOUBLE_EQ(two.parts[0].weight, 0.7);
  EXPECT_DOUBLE_EQ(two.parts[1].weight, 0.3);
  EXPECT_EQ(two.Canonical(), "F1:0.7+M2:0.3");

  EXPECT_EQ(Mix("F1+M2").Canonical(), "F1:0.5+M2:0.5") << "a part without a weight weighs 1";
  EXPECT_EQ(Mix("F1:2+M2:6").Canonical(), "F1:0.25+M2:0.75");
  EXPECT_EQ(Mix(" F1 : 1 + M2 ").Canonical(), "F1:0.5+M2:0.5") << "spaces are ignored";
  EXPECT_EQ(Mix("F1+M2+F3").Canonical(), "F1:0.3333+M2:0.3333+F3:0.3333") << "order as written";
  EXPECT_EQ(Mix("a:1e-3+b:1").Canonical(), "a:0.000999+b:0.999");
  EXPECT_EQ(Mix("A+B+C+D").parts.size(), kMaxBlendParts);
}

TEST(VoiceBlendTest, BadBlendsNameThePartAtFault) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "the voice is empty"},
      {"  ", "the voice is empty"},
      {"F1+", "has an empty part"},
      {"+F1", "has an empty part"},
      {"F1++M2", "has an empty part"},
      {"F1:0+M2", "blend part 'F1:0': the weight must be a number above 0"},
      {"F1:-1+M2", "blend part 'F1:-1'"},
      {"F1:abc+M2", "got 'abc'"},
      {"F1:nan+M2", "got 'nan'"},
      {"F1:inf+M2", "got 'inf'"},
      {"F1:1e7+M2", "at most 1e+06"},
      {"F1:+M2", "blend part 'F1:'"},
      {"F1:0.5:0.5+M2", "got '0.5:0.5'"},
      {"A+B+C+D+E", "has more than 4 voices"},
      {"F1+F1", "voice 'F1' appears twice"},
      {"../x:1+F1", "blend part '../x:1' does not name a voice"},
      {"F 1+M2", "blend part 'F 1' does not name a voice"},
  };
  for (const auto& [spec, expected] : cases) {
    const std::string message = MixError(spec);
    EXPECT_NE(message.find(expected), std::string::npos) << spec << " -> '" << message << "'";
  }
  EXPECT_LT(MixError(std::string(5000, 'x') + "+F1").size(), 300u) << "the echo is bounded";
}

TEST(VoiceBlendTest, TheBlendIsTheWeightedMeanOfTheStyles) {
  const VoiceStyle f1 = VoiceStyle::Load(ProbeVoice("F1"));
  const VoiceStyle m2 = VoiceStyle::Load(ProbeVoice("M2"));
  const VoiceStyle f3 = VoiceStyle::Load(ProbeVoice("F3"));
  ASSERT_NE(f1.ttl, m2.ttl);
  // Weights 1:2:5 as written: 0.125, 0.25, 0.625.
  const VoiceMix mix = Mix("F1:1+M2:2+F3:5");
  std::vector<WeightedStyle> parts = {{&f1, mix.parts[0].weight}, {&m2, mix.parts[1].weight},
                                      {&f3, mix.parts[2].weight}};
  const VoiceStyle blend = BlendStyles(parts, mix.Canonical());
  EXPECT_EQ(blend.name, "F1:0.125+M2:0.25+F3:0.625");
  ASSERT_EQ(blend.ttl.size(), VoiceStyle::kTtlValues);
  ASSERT_EQ(blend.dp.size(), VoiceStyle::kDpValues);
  for (std::size_t i = 0; i < blend.ttl.size(); ++i) {
    const double direct = 0.125 * f1.ttl[i] + 0.25 * m2.ttl[i] + 0.625 * f3.ttl[i];
    ASSERT_NEAR(blend.ttl[i], direct, 1e-7 * std::max(1.0, std::fabs(direct))) << "ttl[" << i << "]";
  }
  for (std::size_t i = 0; i < blend.dp.size(); ++i) {
    const double direct = 0.125 * f1.dp[i] + 0.25 * m2.dp[i] + 0.625 * f3.dp[i];
    ASSERT_NEAR(blend.dp[i], direct, 1e-7 * std::max(1.0, std::fabs(direct))) << "dp[" << i << "]";
  }
  EXPECT_EQ(json::parse(blend.metadata)["blend"], "F1:0.125+M2:0.25+F3:0.625");

  // Unnormalized weights given straight to BlendStyles are normalized too;
  // a voice blended with itself is itself.
  const std::vector<WeightedStyle> same = {{&f1, 3.0}, {&f1, 1.0}};
  const VoiceStyle f1_again = BlendStyles(same, "x");
  for (std::size_t i = 0; i < f1.ttl.size(); ++i) ASSERT_FLOAT_EQ(f1_again.ttl[i], f1.ttl[i]);
}

TEST(VoiceBlendTest, ResolvingAMixLooksEveryPartUp) {
  auto f1 = std::make_shared<const VoiceStyle>(VoiceStyle::Load(ProbeVoice("F1")));
  auto m2 = std::make_shared<const VoiceStyle>(VoiceStyle::Load(ProbeVoice("M2")));
  const VoiceLookup lookup = [&](const std::string& name) -> std::shared_ptr<const VoiceStyle> {
    return name == "F1" ? f1 : name == "M2" ? m2 : nullptr;
  };
  auto single = ResolveVoiceMix(Mix("F1"), lookup);
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const VoiceStyle>>(single));
  EXPECT_EQ(std::get<std::shared_ptr<const VoiceStyle>>(single), f1) << "one part: the voice itself, not a copy";
  auto blend = ResolveVoiceMix(Mix("F1+M2"), lookup);
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const VoiceStyle>>(blend));
  const auto& style = *std::get<std::shared_ptr<const VoiceStyle>>(blend);
  EXPECT_FLOAT_EQ(style.dp[5], static_cast<float>(0.5 * f1->dp[5] + 0.5 * m2->dp[5]));
  auto unknown = ResolveVoiceMix(Mix("F1+Zed"), lookup);
  ASSERT_TRUE(std::holds_alternative<std::string>(unknown));
  EXPECT_EQ(std::get<std::string>(unknown), "unknown voice 'Zed'");
}

}  // namespace
}  // namespace supertonic
