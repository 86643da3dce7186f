// Fuzz target: the request side of POST /v1/audio/speech
// (service/speech_request.h), fed each input as one request body:
// ParseSpeechRequest, then ResolveSessionSettings of what it parsed and
// PrepareSpeech against a default ServiceConfig (and one with a small
// TTS_MAX_TEXT_CHARS, so that the length check is reached) and two served
// models, supertonic-2 and supertonic-3 (their profiles; voices F1..F5 M1..M5).
//
// Invariants:
//  - nothing throws or crashes, whatever the bytes;
//  - a parsed request has a non-empty, valid UTF-8 input, no session id, a
//    sample rate (24000 when absent), no OpenAI voice name left unmapped, no
//    NaN speed, and the language of "lang_code", else of its alias
//    "language" (null counting as absent, as everywhere in the protocol);
//  - every refusal has a status of {400, 401, 413, 429, 500, 503}, a non-empty
//    code and message, and a Body() that is OpenAI's error object as valid
//    JSON carrying them;
//  - PrepareSpeech refuses exactly what ParseSpeechRequest refuses (with the
//    same error), plus a format outside audio::SupportedAudioFormats(), an
//    input over TTS_MAX_TEXT_CHARS and settings ResolveSessionSettings
//    refuses; what it accepts is the parsed request (an OpenAI model name
//    that no served model has reads as no model), and its settings resolve
//    to a served model and, within its ranges, a supported sample rate, a
//    speed and step count, a voice, a language and its chunk limit;
//  - the voice, read as a blend (engine/voice_blend.h), is refused with a
//    message or is 1..kMaxBlendParts distinct voice names whose weights are
//    finite, in (0, 1] and sum to 1; its canonical text reads back as the
//    same names and, to its 4 significant digits, the same weights.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <optional>
#include <span>
#include <string>
#include <variant>

#include "audio/audio_encoder.h"
#include "engine/voice_blend.h"
#include "fuzz/fuzz_support.h"
#include "service/service_config.h"
#include "service/session_settings.h"
#include "service/speech_request.h"
#include "text/text_chunker.h"

namespace supertonic::fuzz {

namespace {

using namespace supertonic::service;

// Two served models, so that choosing one is fuzzed too.
std::span<const ModelChoices> Choices() {
  static const std::vector<ModelChoices> kChoices = [] {
    const std::vector<std::string> voices = {"F1", "F2", "F3", "F4", "F5", "M1", "M2", "M3", "M4", "M5"};
    return std::vector<ModelChoices>{
        MakeModelChoices("supertonic-2", SupertonicTwoProfile(), voices, ServiceConfig{}),
        MakeModelChoices("supertonic-3", SupertonicThreeProfile(), voices, ServiceConfig{})};
  }();
  return kChoices;
}

// What PrepareSpeech makes of the request's model: OpenAI's names that no
// served model has mean the default.
StartSession WithOpenAiModelMapped(StartSession session) {
  if (session.model && IsOpenAiModelName(*session.model) &&
      std::none_of(Choices().begin(), Choices().end(),
                   [&](const ModelChoices& m) { return m.name == *session.model; })) {
    session.model.reset();
  }
  return session;
}

bool Contains(const std::vector<std::string>& values, const std::string& v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

std::string Describe(const HttpError& e) {
  return std::to_string(e.status) + " " + e.code + ": " + Escape(e.message);
}

void CheckHttpError(const HttpError& error, std::string_view input) {
  const int s = error.status;
  FUZZ_CHECK(s == 400 || s == 401 || s == 413 || s == 429 || s == 500 || s == 503,
             "status " + std::to_string(s) + " for " + Escape(input));
  FUZZ_CHECK(!error.code.empty() && !error.message.empty(), "empty code or message for " + Escape(input));
  const std::string body = error.Body();
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(j.is_object() && j.contains("error") && j["error"].is_object(),
             "error body is not {\"error\": {...}}: " + Escape(body) + "  input: " + Escape(input));
  const auto& e = j["error"];
  FUZZ_CHECK(e.value("type", "") == error.code && e.value("code", "") == error.code,
             "error code lost in the body: " + Escape(body));
  FUZZ_CHECK(e.contains("message") && e["message"].is_string(), "error body without a message: " + Escape(body));
  FUZZ_CHECK(!IsValidUtf8(error.message) || e["message"].get<std::string>() == error.message,
             "error message changed in the body: " + Escape(body));
}

void CheckParsed(const SpeechRequest& r, std::string_view input) {
  FUZZ_CHECK(!r.input.empty(), "accepted an empty input: " + Escape(input));
  FUZZ_CHECK(IsValidUtf8(r.input), "input is not valid UTF-8: " + Escape(r.input));
  FUZZ_CHECK(IsValidUtf8(r.format), "format is not valid UTF-8: " + Escape(r.format));
  FUZZ_CHECK(r.session.session_id.empty(), "a speech request carries a session id: " + Escape(input));
  FUZZ_CHECK(r.session.sample_rate.has_value(), "no sample rate (OpenAI's 24000 when absent): " + Escape(input));
  if (r.session.voice) {
    static const std::vector<std::string> kOpenAiNames = {"alloy", "ash",  "ballad", "coral", "echo",
                                                          "fable", "nova", "onyx",   "sage",  "shimmer"};
    FUZZ_CHECK(!Contains(kOpenAiNames, *r.session.voice), "OpenAI voice name not mapped: " + *r.session.voice);
    FUZZ_CHECK(IsValidUtf8(*r.session.voice), "voice is not valid UTF-8: " + Escape(*r.session.voice));
  }
  if (r.session.speed) FUZZ_CHECK(!std::isnan(*r.session.speed), "speed is NaN: " + Escape(input));
  // "language" is an alias of "lang_code", which wins unless absent (null is absent).
  const nlohmann::json body = nlohmann::json::parse(input, nullptr, /*allow_exceptions=*/false);
  std::optional<std::string> lang;
  for (const char* key : {"language", "lang_code"}) {
    if (const auto it = body.find(key); it != body.end() && it->is_string()) lang = it->get<std::string>();
  }
  FUZZ_CHECK(r.session.lang_code == lang, "language/lang_code not read as documented: " + Escape(input));
}

void CheckSettings(const SessionSettings& s, std::string_view input) {
  FUZZ_CHECK(s.model < Choices().size(), "resolved model " + std::to_string(s.model));
  const ModelChoices& model = Choices()[s.model];
  FUZZ_CHECK(s.model_name == model.name, "resolved model name " + Escape(s.model_name));
  FUZZ_CHECK(IsSupportedSampleRate(s.sample_rate), "resolved sample rate " + std::to_string(s.sample_rate));
  FUZZ_CHECK(IsValidSpeed(s.speed) && s.speed >= model.min_speed && s.speed <= model.max_speed,
             "resolved speed " + std::to_string(s.speed) + " for " + Escape(input));
  FUZZ_CHECK(IsValidInferenceSteps(s.steps) && s.steps >= model.min_steps && s.steps <= model.max_steps,
             "resolved steps " + std::to_string(s.steps));
  FUZZ_CHECK(Contains(model.voices, s.voice), "resolved voice " + Escape(s.voice));
  FUZZ_CHECK(Contains(model.languages(), s.lang), "resolved language " + Escape(s.lang));
  FUZZ_CHECK(s.chunk_chars == model.profile.ChunkLimit(s.lang), "chunk limit " + std::to_string(s.chunk_chars));
}

bool SameRequest(const SpeechRequest& a, const SpeechRequest& b) {
  return a.input == b.input && a.format == b.format && a.session == b.session;
}

void CheckPrepare(std::string_view input, const ServiceConfig& config,
                  const std::variant<SpeechRequest, HttpError>& parsed) {
  const auto prepared = PrepareSpeech(input, config, Choices());
  if (const auto* error = std::get_if<HttpError>(&parsed)) {
    const auto* again = std::get_if<HttpError>(&prepared);
    FUZZ_CHECK(again && again->status == error->status && again->code == error->code &&
                   again->message == error->message,
               "PrepareSpeech does not refuse as ParseSpeechRequest does (" + Describe(*error) + "): " +
                   Escape(input));
    return;
  }
  const auto& request = std::get<SpeechRequest>(parsed);
  const auto formats = audio::SupportedAudioFormats();
  const bool format_ok = std::find(formats.begin(), formats.end(), request.format) != formats.end();
  const bool length_ok = CountCodePoints(request.input) <= static_cast<std::size_t>(config.max_text_chars);
  SpeechRequest expected = request;
  expected.session = WithOpenAiModelMapped(request.session);
  const auto resolved = ResolveSessionSettings(expected.session, config, Choices());
  const bool settings_ok = std::holds_alternative<SessionSettings>(resolved);
  if (const auto* ok = std::get_if<SpeechRequest>(&prepared)) {
    FUZZ_CHECK(format_ok, "accepted format " + Escape(ok->format));
    FUZZ_CHECK(length_ok, "accepted an input over TTS_MAX_TEXT_CHARS: " + Escape(input));
    FUZZ_CHECK(settings_ok, "accepted settings ResolveSessionSettings refuses: " + Escape(input));
    FUZZ_CHECK(SameRequest(*ok, expected), "PrepareSpeech changed the request beyond OpenAI's model names: " +
                                               Escape(input));
    CheckSettings(std::get<SessionSettings>(resolved), input);
    return;
  }
  const auto& error = std::get<HttpError>(prepared);
  CheckHttpError(error, input);
  FUZZ_CHECK(!(format_ok && length_ok && settings_ok), "refused a valid request (" + Describe(error) + "): " +
                                                           Escape(input));
  FUZZ_CHECK(error.status == 400, "a request refused for its content is not a 400: " + Describe(error));
}

void CheckBlend(const std::string& voice, std::string_view input) {
  const auto parsed = ParseVoiceMix(voice);
  if (const auto* error = std::get_if<std::string>(&parsed)) {
    FUZZ_CHECK(!error->empty() && error->size() < 512, "a blend refusal without a short message: " + Escape(input));
    return;
  }
  const VoiceMix& mix = std::get<VoiceMix>(parsed);
  FUZZ_CHECK(!mix.parts.empty() && mix.parts.size() <= kMaxBlendParts, "a blend of " +
                                                                            std::to_string(mix.parts.size()) +
                                                                            " parts: " + Escape(input));
  double total = 0;
  for (std::size_t i = 0; i < mix.parts.size(); ++i) {
    const auto& p = mix.parts[i];
    FUZZ_CHECK(IsVoiceName(p.name), "a blend part that is not a voice name: " + Escape(input));
    FUZZ_CHECK(std::isfinite(p.weight) && p.weight > 0 && p.weight <= 1, "a weight outside (0, 1]: " + Escape(input));
    for (std::size_t j = 0; j < i; ++j) FUZZ_CHECK(mix.parts[j].name != p.name, "a voice twice: " + Escape(input));
    total += p.weight;
  }
  FUZZ_CHECK(std::fabs(total - 1.0) < 1e-9, "weights that do not sum to 1: " + Escape(input));
  const auto again = ParseVoiceMix(mix.Canonical());
  FUZZ_CHECK(std::holds_alternative<VoiceMix>(again), "the canonical blend does not parse: " + Escape(input));
  const auto& back = std::get<VoiceMix>(again);
  FUZZ_CHECK(back.parts.size() == mix.parts.size(), "the canonical blend has other parts: " + Escape(input));
  for (std::size_t i = 0; i < back.parts.size(); ++i) {
    FUZZ_CHECK(back.parts[i].name == mix.parts[i].name, "the canonical blend renames a part: " + Escape(input));
    FUZZ_CHECK(std::fabs(back.parts[i].weight - mix.parts[i].weight) <= 1e-3 * mix.parts[i].weight + 1e-12 ||
                   mix.parts.size() == 1,
               "the canonical blend changes a weight: " + Escape(input));
  }
}

}  // namespace

int FuzzSpeechRequest(const uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto parsed = ParseSpeechRequest(input);
  if (const auto* request = std::get_if<SpeechRequest>(&parsed)) {
    CheckParsed(*request, input);
    if (request->session.voice) CheckBlend(*request->session.voice, input);
    const auto resolved = ResolveSessionSettings(WithOpenAiModelMapped(request->session), ServiceConfig{}, Choices());
    if (const auto* settings = std::get_if<SessionSettings>(&resolved)) {
      CheckSettings(*settings, input);
    } else {
      const auto& e = std::get<ProtocolError>(resolved);
      FUZZ_CHECK(e.code == ErrorCode::kInvalidVoice || e.code == ErrorCode::kInvalidLanguage ||
                     e.code == ErrorCode::kInvalidSampleRate || e.code == ErrorCode::kInvalidConfig ||
                     e.code == ErrorCode::kInvalidModel,
                 "ResolveSessionSettings returned " + std::string(WireName(e.code)) + " for " + Escape(input));
      CheckHttpError(HttpErrorFor(e.code, e.message), input);
    }
  } else {
    CheckHttpError(std::get<HttpError>(parsed), input);
  }
  static const ServiceConfig kDefault{};
  static const ServiceConfig kShortTexts = [] {
    ServiceConfig c;
    c.max_text_chars = 16;
    return c;
  }();
  CheckPrepare(input, kDefault, parsed);
  CheckPrepare(input, kShortTexts, parsed);
  return 0;
}

}  // namespace supertonic::fuzz
