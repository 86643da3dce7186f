#include "service/session_settings.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "service/service_config.h"
#include "text/utf8.h"

namespace supertonic::service {

namespace {

bool Offers(const std::vector<std::string>& choices, const std::string& value) {
  return std::find(choices.begin(), choices.end(), value) != choices.end();
}

// " for supertonic-3" where a model's range is narrower than the protocol's,
// so that a value valid elsewhere is not a mystery.
std::string Narrowed(const ModelChoices& m, bool narrower) { return narrower ? " for model " + m.name : ""; }

// The profile's float as the decimal it was written as (1.05f -> 1.05, not
// 1.0499999523), so that session_started echoes and messages read as written.
double AsWritten(float value) { return std::stod(fmt::format("{}", value)); }

}  // namespace

ModelChoices MakeModelChoices(std::string name, const ModelProfile& profile, std::vector<std::string> voices,
                              const ServiceConfig& config) {
  ModelChoices m;
  m.name = std::move(name);
  m.profile = profile;
  m.voices = std::move(voices);
  m.min_steps = std::max(kMinInferenceSteps, profile.min_steps);
  m.max_steps = std::min(kMaxInferenceSteps, profile.max_steps);
  m.min_speed = std::max(kMinSpeed, AsWritten(profile.min_speed));
  m.max_speed = std::min(kMaxSpeed, AsWritten(profile.max_speed));
  if (m.min_steps > m.max_steps || m.min_speed > m.max_speed) {
    throw std::invalid_argument(fmt::format("model {}: its profile's steps {}..{} or speed {}..{} leave nothing within "
                                            "the protocol's steps {}..{} and speed {}..{}",
                                            m.name, profile.min_steps, profile.max_steps, profile.min_speed,
                                            profile.max_speed, kMinInferenceSteps, kMaxInferenceSteps, kMinSpeed,
                                            kMaxSpeed));
  }
  m.default_steps = config.num_inference_steps.value_or(std::clamp(profile.default_steps, m.min_steps, m.max_steps));
  m.default_speed = config.speed.value_or(std::clamp(AsWritten(profile.default_speed), m.min_speed, m.max_speed));
  m.default_voice = config.default_voice;
  m.default_lang = config.lang_code;

  if (m.default_steps < m.min_steps || m.default_steps > m.max_steps) {
    throw std::invalid_argument(fmt::format("TTS_NUM_INFERENCE_STEPS={} is outside model {}'s range {}..{}",
                                            m.default_steps, m.name, m.min_steps, m.max_steps));
  }
  if (m.default_speed < m.min_speed || m.default_speed > m.max_speed) {
    throw std::invalid_argument(fmt::format("TTS_SPEED={} is outside model {}'s range {}..{}", m.default_speed, m.name,
                                            m.min_speed, m.max_speed));
  }
  if (!profile.SupportsLanguage(m.default_lang)) {
    throw std::invalid_argument(fmt::format("TTS_LANG_CODE={} is not a language of model {} ({}); set TTS_LANG_CODE "
                                            "to one that every served model speaks",
                                            m.default_lang, m.name, fmt::join(profile.languages, " ")));
  }
  if (!Offers(m.voices, m.default_voice)) {
    throw std::invalid_argument(fmt::format("TTS_DEFAULT_VOICE={} is not a voice of model {} ({})", m.default_voice,
                                            m.name,
                                            m.voices.empty() ? std::string("it has none: add voice_styles/*.json")
                                                             : fmt::format("{}", fmt::join(m.voices, " "))));
  }
  return m;
}

std::string ModelNames(std::span<const ModelChoices> models) {
  std::vector<std::string> names;
  for (const auto& m : models) names.push_back(m.name);
  return fmt::format("{}", fmt::join(names, ", "));
}

namespace {
// A client's string, echoed in an error: bounded, so an error stays small.
std::string Truncated(std::string_view s, std::size_t max_bytes = 64) {
  if (s.size() <= max_bytes) return std::string(s);
  return std::string(utf8::Truncate(s, max_bytes)) + "...";
}
}  // namespace

std::variant<SessionSettings, ProtocolError> ResolveSessionSettings(const StartSession& request,
                                                                    const ServiceConfig& config,
                                                                    std::span<const ModelChoices> models,
                                                                    const VoiceResolver* voices) {
  std::size_t index = 0;
  if (request.model) {
    auto it = std::find_if(models.begin(), models.end(),
                           [&](const ModelChoices& m) { return m.name == *request.model; });
    // Served under another name: "supertonic-3" still finds the first model that is one.
    if (it == models.end()) {
      it = std::find_if(models.begin(), models.end(),
                        [&](const ModelChoices& m) { return m.profile.name == *request.model; });
    }
    if (it == models.end()) {
      return ProtocolError{ErrorCode::kInvalidModel,
                           fmt::format("unknown model '{}' (served: {})", Truncated(*request.model),
                                       ModelNames(models))};
    }
    index = static_cast<std::size_t>(it - models.begin());
  }
  const ModelChoices& model = models[index];
  SessionSettings s{.model = index,
                    .model_name = model.name,
                    .voice = request.voice.value_or(model.default_voice),
                    .lang = request.lang_code.value_or(model.default_lang),
                    .sample_rate = request.sample_rate.value_or(config.sample_rate),
                    .steps = request.num_inference_steps.value_or(model.default_steps),
                    .speed = request.speed.value_or(model.default_speed)};
  s.normalize = request.normalize.value_or(config.text_normalization);
  s.word_timings = request.word_timings.value_or(false);
  const std::string of_model = models.size() > 1 ? " of model " + model.name : "";
  if (voices != nullptr) {
    auto resolved = voices->Resolve(index, s.voice);
    if (auto* error = std::get_if<ProtocolError>(&resolved)) return std::move(*error);
    auto& voice = std::get<ResolvedVoice>(resolved);
    s.resolved_voice = std::move(voice.name);
    s.voice_style = std::move(voice.style);
  } else if (!Offers(model.voices, s.voice)) {
    return ProtocolError{ErrorCode::kInvalidVoice, fmt::format("unknown voice '{}'{} (available: {})",
                                                               Truncated(s.voice), of_model,
                                                               fmt::join(model.voices, ", "))};
  } else {
    s.resolved_voice = s.voice;
  }
  if (!model.profile.SupportsLanguage(s.lang)) {
    return ProtocolError{ErrorCode::kInvalidLanguage,
                         fmt::format("unsupported language '{}' (model {} supports: {})", s.lang, model.name,
                                     fmt::join(model.languages(), ", "))};
  }
  if (!IsSupportedSampleRate(s.sample_rate)) {
    return ProtocolError{ErrorCode::kInvalidSampleRate, fmt::format("sample_rate {} is not one of {}", s.sample_rate,
                                                                    fmt::join(kSupportedSampleRates, ", "))};
  }
  if (!IsValidSpeed(s.speed) || s.speed < model.min_speed || s.speed > model.max_speed) {
    return ProtocolError{ErrorCode::kInvalidConfig,
                         fmt::format("speed must be between {} and {}{}", model.min_speed, model.max_speed,
                                     Narrowed(model, model.min_speed > kMinSpeed || model.max_speed < kMaxSpeed))};
  }
  if (!IsValidInferenceSteps(s.steps) || s.steps < model.min_steps || s.steps > model.max_steps) {
    return ProtocolError{
        ErrorCode::kInvalidConfig,
        fmt::format("num_inference_steps must be between {} and {}{}", model.min_steps, model.max_steps,
                    Narrowed(model, model.min_steps > kMinInferenceSteps || model.max_steps < kMaxInferenceSteps))};
  }
  s.chunk_chars = model.profile.ChunkLimit(s.lang);
  return s;
}

}  // namespace supertonic::service
