// What a session runs with when a server serves several models: the model a
// start_session (or an OpenAI request) picks, that model's defaults, ranges,
// voices, languages and chunk limits, and the TTS_* settings that override
// its profile.
#include "service/session_settings.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "service/service_config.h"
#include "service/speech_request.h"

namespace supertonic::service {
namespace {

const std::vector<std::string> kVoices = {"F1", "F2", "M1"};

// A profile such as Supertonic 3's: more languages, narrower speed, 8 steps.
ModelProfile ThreeLike() {
  ModelProfile p;
  p.name = "supertonic-3";
  p.version = 3;
  p.languages = {"en", "ko", "ja", "de", "pt", "na"};
  p.chunk_chars = 160;
  p.chunk_chars_by_lang = {{"ko", 120}, {"ja", 120}};
  p.default_steps = 8;
  p.min_steps = 1;
  p.max_steps = 100;
  p.default_speed = 1.05f;
  p.min_speed = 0.7f;
  p.max_speed = 2.0f;
  return p;
}

std::vector<ModelChoices> TwoModels(const ServiceConfig& config = {}) {
  return {MakeModelChoices("v2", SupertonicTwoProfile(), kVoices, config),
          MakeModelChoices("v3", ThreeLike(), {"F1", "M9"}, config)};
}

StartSession Request(std::optional<std::string> model = std::nullopt) {
  StartSession r;
  r.session_id = "s";
  r.model = std::move(model);
  return r;
}

SessionSettings Resolve(const StartSession& r, const std::vector<ModelChoices>& models,
                        const ServiceConfig& config = {}) {
  auto resolved = ResolveSessionSettings(r, config, models);
  if (const auto* e = std::get_if<ProtocolError>(&resolved)) {
    ADD_FAILURE() << WireName(e->code) << ": " << e->message;
    return {};
  }
  return std::get<SessionSettings>(resolved);
}

ProtocolError Refusal(const StartSession& r, const std::vector<ModelChoices>& models) {
  auto resolved = ResolveSessionSettings(r, ServiceConfig{}, models);
  if (const auto* e = std::get_if<ProtocolError>(&resolved)) return *e;
  ADD_FAILURE() << "accepted";
  return {ErrorCode::kInternal, ""};
}

TEST(ModelChoicesTest, TheProfileGivesTheDefaultsUnlessASettingIsSet) {
  const auto models = TwoModels();
  EXPECT_EQ(models[0].default_steps, 2) << "supertonic-2 as before";
  EXPECT_DOUBLE_EQ(models[0].default_speed, 1.05);
  EXPECT_EQ(models[1].default_steps, 8);
  EXPECT_EQ(models[1].max_steps, kMaxInferenceSteps) << "the protocol's limit caps the profile's";
  EXPECT_DOUBLE_EQ(models[1].min_speed, 0.7) << "the profile narrows the protocol's 0.5";
  EXPECT_EQ(models[0].default_voice, "F1");
  EXPECT_EQ(models[0].default_lang, "pt");

  ServiceConfig set;
  set.num_inference_steps = 4;
  set.speed = 1.2;
  set.lang_code = "en";
  set.default_voice = "F1";
  for (const auto& m : TwoModels(set)) {
    EXPECT_EQ(m.default_steps, 4) << m.name;
    EXPECT_DOUBLE_EQ(m.default_speed, 1.2) << m.name;
    EXPECT_EQ(m.default_lang, "en") << m.name;
  }
}

TEST(ModelChoicesTest, ASettingThatDoesNotFitAModelFailsNamingBoth) {
  auto message = [](const ServiceConfig& c) {
    try {
      TwoModels(c);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  ServiceConfig c;
  c.lang_code = "de";
  EXPECT_EQ(message(c).rfind("TTS_LANG_CODE=de is not a language of model v2 (en ko es pt fr)", 0), 0u) << message(c);
  c = {};
  c.default_voice = "F2";
  EXPECT_EQ(message(c), "TTS_DEFAULT_VOICE=F2 is not a voice of model v3 (F1 M9)");
  c = {};
  c.speed = 0.6;
  EXPECT_EQ(message(c), "TTS_SPEED=0.6 is outside model v3's range 0.7..2");
}

TEST(ResolveSessionSettingsTest, TheFirstModelIsTheDefault) {
  const auto models = TwoModels();
  const SessionSettings s = Resolve(Request(), models);
  EXPECT_EQ(s.model, 0u);
  EXPECT_EQ(s.model_name, "v2");
  EXPECT_EQ(s.steps, 2);
  EXPECT_EQ(s.lang, "pt");
  EXPECT_EQ(s.chunk_chars, 300u);
}

TEST(ResolveSessionSettingsTest, ANamedModelBringsItsDefaultsLanguagesAndChunkLimits) {
  const auto models = TwoModels();
  StartSession r = Request("v3");
  r.lang_code = "ja";
  const SessionSettings s = Resolve(r, models);
  EXPECT_EQ(s.model, 1u);
  EXPECT_EQ(s.model_name, "v3");
  EXPECT_EQ(s.steps, 8);
  EXPECT_EQ(s.lang, "ja");
  EXPECT_EQ(s.chunk_chars, 120u);
  r.lang_code = "de";
  EXPECT_EQ(Resolve(r, models).chunk_chars, 160u);
  r.lang_code = "ko";
  r.model = "v2";
  EXPECT_EQ(Resolve(r, models).chunk_chars, 120u);
}

TEST(ResolveSessionSettingsTest, AnUnknownModelIsRefusedNamingTheServedOnes) {
  const auto models = TwoModels();
  const ProtocolError e = Refusal(Request("supertonic-9"), models);
  EXPECT_EQ(e.code, ErrorCode::kInvalidModel);
  EXPECT_EQ(e.message, "unknown model 'supertonic-9' (served: v2, v3)");
  EXPECT_FALSE(IsRetryable(ErrorCode::kInvalidModel));
  EXPECT_EQ(Refusal(Request(""), models).code, ErrorCode::kInvalidModel);
  EXPECT_EQ(Refusal(Request("V2"), models).code, ErrorCode::kInvalidModel) << "names are exact";
}

// Voices belong to the model they were loaded with; languages and ranges to its profile.
TEST(ResolveSessionSettingsTest, SettingsAreCheckedAgainstTheChosenModel) {
  const auto models = TwoModels();
  StartSession r = Request("v3");
  r.voice = "M1";  // a voice of v2 only
  ProtocolError e = Refusal(r, models);
  EXPECT_EQ(e.code, ErrorCode::kInvalidVoice);
  EXPECT_EQ(e.message, "unknown voice 'M1' of model v3 (available: F1, M9)");
  r.voice = "M9";
  EXPECT_EQ(Resolve(r, models).voice, "M9");
  r.model = "v2";
  EXPECT_EQ(Refusal(r, models).code, ErrorCode::kInvalidVoice);

  r = Request("v2");
  r.lang_code = "de";
  e = Refusal(r, models);
  EXPECT_EQ(e.code, ErrorCode::kInvalidLanguage);
  EXPECT_EQ(e.message, "unsupported language 'de' (model v2 supports: en, ko, es, pt, fr)");
  r.model = "v3";
  EXPECT_EQ(Resolve(r, models).lang, "de");
  r.lang_code = "na";
  EXPECT_EQ(Resolve(r, models).lang, "na");

  r = Request("v3");
  r.speed = 0.6;
  e = Refusal(r, models);
  EXPECT_EQ(e.code, ErrorCode::kInvalidConfig);
  EXPECT_EQ(e.message, "speed must be between 0.7 and 2 for model v3");
  r.model = "v2";
  EXPECT_DOUBLE_EQ(Resolve(r, models).speed, 0.6);
  r.speed = 0.4;
  EXPECT_EQ(Refusal(r, models).message, "speed must be between 0.5 and 2") << "unchanged for supertonic-2";
}

TEST(ResolveSessionSettingsTest, OneModelReadsAsBefore) {
  const std::vector<ModelChoices> one = {MakeModelChoices("supertonic-2", SupertonicTwoProfile(), kVoices, {})};
  StartSession r = Request();
  r.voice = "Z9";
  EXPECT_EQ(Refusal(r, one).message, "unknown voice 'Z9' (available: F1, F2, M1)");
  r = Request("supertonic-2");
  EXPECT_EQ(Resolve(r, one).model_name, "supertonic-2");
}

// The OpenAI endpoint: `model` picks a served model by name; OpenAI's own
// names mean the default one.
TEST(PrepareSpeechTest, TheModelFieldPicksTheServedModel) {
  const auto models = TwoModels();
  auto prepare = [&](const std::string& model_field) {
    return PrepareSpeech(R"({"input":"Hi.","voice":"F1","language":"en")" + model_field + "}", ServiceConfig{},
                         models);
  };
  for (const char* alias : {R"(,"model":"tts-1")", R"(,"model":"tts-1-hd")", R"(,"model":"gpt-4o-mini-tts")", ""}) {
    const auto prepared = prepare(alias);
    ASSERT_TRUE(std::holds_alternative<SpeechRequest>(prepared)) << alias;
    EXPECT_EQ(std::get<SpeechRequest>(prepared).session.model, std::nullopt) << alias;
  }
  const auto v3 = prepare(R"(,"model":"v3")");
  ASSERT_TRUE(std::holds_alternative<SpeechRequest>(v3));
  EXPECT_EQ(std::get<SpeechRequest>(v3).session.model, "v3");

  const auto unknown = prepare(R"(,"model":"whisper-1")");
  ASSERT_TRUE(std::holds_alternative<HttpError>(unknown));
  const HttpError& e = std::get<HttpError>(unknown);
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.code, "invalid_model");
  EXPECT_EQ(e.message, "unknown model 'whisper-1' (served: v2, v3)");

  const auto wrong_type = prepare(R"(,"model":2)");
  ASSERT_TRUE(std::holds_alternative<HttpError>(wrong_type));
  EXPECT_EQ(std::get<HttpError>(wrong_type).code, "invalid_request_error");

  // A served model named like OpenAI's is that model.
  std::vector<ModelChoices> named_tts1 = models;
  named_tts1[1].name = "tts-1";
  const auto tts1 = PrepareSpeech(R"({"input":"Hi.","model":"tts-1","voice":"F1","language":"de"})", ServiceConfig{},
                                  named_tts1);
  ASSERT_TRUE(std::holds_alternative<SpeechRequest>(tts1));
  EXPECT_EQ(std::get<SpeechRequest>(tts1).session.model, "tts-1");
}

}  // namespace
}  // namespace supertonic::service
