#include "service/speech_request.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "audio/audio_encoder.h"
#include "service/service_config.h"
#include "text/text_chunker.h"

namespace supertonic::service {

namespace {

// OpenAI's voice names map onto the Supertonic voices; our own names pass through.
std::string MapVoice(const std::string& v) {
  const auto alias = OpenAiVoiceAlias(v);
  return alias ? std::string(*alias) : v;
}

constexpr int kOpenAiSampleRate = 24000;  // OpenAI's audio is 24 kHz

HttpError InvalidRequest(std::string message) { return HttpErrorFor(ErrorCode::kInvalidRequest, std::move(message)); }

}  // namespace

std::optional<std::string_view> OpenAiVoiceAlias(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kAliases[] = {
      {"alloy", "F1"}, {"ash", "M1"},  {"ballad", "M2"}, {"coral", "F2"}, {"echo", "M3"},
      {"fable", "F3"}, {"nova", "F4"}, {"onyx", "M4"},   {"sage", "F5"},  {"shimmer", "M5"}};
  for (const auto& [openai, ours] : kAliases) {
    if (openai == name) return ours;
  }
  return std::nullopt;
}

// OpenAI's speech model ids, dated snapshots included (tts-1-1106,
// tts-1-hd-1106, gpt-4o-mini-tts-2025-03-20, ...): clients written for OpenAI
// send them unchanged, and they mean "the default model" here.
bool IsOpenAiModelName(std::string_view model) {
  return model == "tts-1" || model.starts_with("tts-1-") ||
         (model.starts_with("gpt-") && model.find("tts") != std::string_view::npos);
}

std::variant<SpeechRequest, HttpError> ParseSpeechRequest(std::string_view body) noexcept {
  try {
    if (!JsonNestingWithin(body)) {
      return InvalidRequest("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    const nlohmann::json root = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
    if (!root.is_object()) return InvalidRequest("the body must be a JSON object");
    SpeechRequest request;
    const auto input = root.find("input");
    if (input == root.end() || !input->is_string() || input->get_ref<const std::string&>().empty()) {
      return InvalidRequest("'input' must be a non-empty string");
    }
    request.input = input->get<std::string>();
    // Only whitespace would be a 200 with no audio in it.
    if (const auto breaks = FindBreaks(request.input);
        breaks.size() == 1 && breaks.front().begin == 0 && breaks.front().end == request.input.size()) {
      return InvalidRequest("'input' has no text to speak, only whitespace");
    }
    if (const auto f = root.find("response_format"); f != root.end() && !f->is_null()) {
      if (!f->is_string()) return InvalidRequest(std::string("'response_format' must be a string, got ") + f->type_name());
      request.format = f->get<std::string>();
    }
    // OpenAI's "language" is an alias of our "lang_code"; the latter wins
    // unless it is absent (null is absent, as everywhere in the protocol).
    nlohmann::json settings = root;
    const auto language = root.find("language");
    const auto lang_code = root.find("lang_code");
    if (language != root.end() && (lang_code == root.end() || lang_code->is_null())) {
      if (!language->is_null() && !language->is_string()) {
        return InvalidRequest(std::string("'language' must be a string, got ") + language->type_name());
      }
      settings["lang_code"] = *language;
    }
    if (auto error = ReadSessionConfig(settings, "", request.session)) {
      return error->code == ErrorCode::kInvalidMessage ? InvalidRequest(error->message)
                                                       : HttpErrorFor(error->code, error->message);
    }
    if (request.session.voice) request.session.voice = MapVoice(*request.session.voice);
    if (!request.session.sample_rate) request.session.sample_rate = kOpenAiSampleRate;
    return request;
  } catch (const std::exception& e) {
    return InvalidRequest(std::string("unreadable request: ") + e.what());
  } catch (...) {
    return InvalidRequest("unreadable request");
  }
}

std::variant<SpeechRequest, HttpError> PrepareSpeech(std::string_view body, const ServiceConfig& config,
                                                     std::span<const ModelChoices> models,
                                                     const VoiceResolver* voices) {
  auto parsed = ParseSpeechRequest(body);
  if (std::holds_alternative<HttpError>(parsed)) return parsed;
  auto& request = std::get<SpeechRequest>(parsed);
  if (const auto& model = request.session.model; model && IsOpenAiModelName(*model) &&
      std::none_of(models.begin(), models.end(), [&](const ModelChoices& m) { return m.name == *model; })) {
    request.session.model.reset();
  }
  try {
    audio::CheckAudioFormat(request.format);
  } catch (const std::invalid_argument& e) {
    return InvalidRequest(e.what());
  }
  const std::size_t chars = CountCodePoints(request.input);
  if (chars > static_cast<std::size_t>(config.max_text_chars)) {
    return HttpErrorFor(ErrorCode::kTextTooLong, "'input' has " + std::to_string(chars) +
                                                     " characters; TTS_MAX_TEXT_CHARS allows " +
                                                     std::to_string(config.max_text_chars));
  }
  auto settings = ResolveSessionSettings(request.session, config, models, voices);
  if (const auto* error = std::get_if<ProtocolError>(&settings)) return HttpErrorFor(error->code, error->message);
  return parsed;
}

}  // namespace supertonic::service
