#include "service/session_settings.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "service/service_config.h"

namespace supertonic::service {

std::variant<SessionSettings, ProtocolError> ResolveSessionSettings(const StartSession& request,
                                                                    const ServiceConfig& config,
                                                                    const ModelChoices& model) {
  auto offers = [](const std::vector<std::string>& choices, const std::string& value) {
    return std::find(choices.begin(), choices.end(), value) != choices.end();
  };
  SessionSettings s{.voice = request.voice.value_or(config.default_voice),
                    .lang = request.lang_code.value_or(config.lang_code),
                    .sample_rate = request.sample_rate.value_or(config.sample_rate),
                    .steps = request.num_inference_steps.value_or(config.num_inference_steps),
                    .speed = request.speed.value_or(config.speed)};
  if (!offers(model.voices, s.voice)) {
    return ProtocolError{ErrorCode::kInvalidVoice,
                         fmt::format("unknown voice '{}' (available: {})", s.voice, fmt::join(model.voices, ", "))};
  }
  if (!offers(model.languages, s.lang)) {
    return ProtocolError{ErrorCode::kInvalidLanguage, fmt::format("unsupported language '{}' (supported: {})",
                                                                  s.lang, fmt::join(model.languages, ", "))};
  }
  if (!IsSupportedSampleRate(s.sample_rate)) {
    return ProtocolError{ErrorCode::kInvalidSampleRate, fmt::format("sample_rate {} is not one of {}", s.sample_rate,
                                                                    fmt::join(kSupportedSampleRates, ", "))};
  }
  if (!IsValidSpeed(s.speed)) {
    return ProtocolError{ErrorCode::kInvalidConfig,
                         fmt::format("speed must be between {} and {}", kMinSpeed, kMaxSpeed)};
  }
  if (!IsValidInferenceSteps(s.steps)) {
    return ProtocolError{ErrorCode::kInvalidConfig, fmt::format("num_inference_steps must be between {} and {}",
                                                                kMinInferenceSteps, kMaxInferenceSteps)};
  }
  return s;
}

}  // namespace supertonic::service
