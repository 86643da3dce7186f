#pragma once
// The request side of POST /v1/audio/speech (OpenAiSpeech, openai_speech.h):
// a body parsed and checked into a SpeechRequest, or refused with an
// OpenAI-style HttpError (service/errors.h). Pure functions: no sockets, no sessions, no model
// (the speech_request fuzz target builds them on their own).
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "service/protocol.h"
#include "service/session_settings.h"

namespace supertonic::service {

struct ServiceConfig;

struct SpeechRequest {
  std::string input;
  std::string format = "mp3";  // as OpenAI: mp3 when absent
  StartSession session;        // settings only; session_id empty (the server names it)
};

// Parses a request body: a JSON object with a non-empty string "input" and
// optional "response_format", "voice" (OpenAI's names map onto ours; ours pass
// through), "model", "language" or "lang_code", "speed",
// "num_inference_steps", "sample_rate" (24000 when absent, as OpenAI), "normalize", checked
// for type and range exactly as start_session's config. Unknown fields
// ("instructions") are ignored. Never throws. Does not check values against
// the models or TTS_MAX_TEXT_CHARS (PrepareSpeech does).
std::variant<SpeechRequest, HttpError> ParseSpeechRequest(std::string_view body) noexcept;

// The Supertonic voice an OpenAI voice name (alloy, ash, ballad, coral,
// echo, fable, nova, onyx, sage, shimmer) stands for on /v1/audio/speech;
// nullopt for any other name. No uploaded or file voice may take these names.
std::optional<std::string_view> OpenAiVoiceAlias(std::string_view name);

// OpenAI's own model names (tts-1, tts-1-hd, gpt-4o-mini-tts and its dated
// versions), which OpenAI clients send by default.
bool IsOpenAiModelName(std::string_view model);

// ParseSpeechRequest, then the checks that need the service's settings and
// models: the format, the input's length, the model (OpenAI's own names,
// tts-1, tts-1-hd, gpt-4o-mini-tts, mean the first model unless one is served
// under that name: the returned request then names no model), the session
// settings against it (the voice, a name or a blend, through `voices` when given).
std::variant<SpeechRequest, HttpError> PrepareSpeech(std::string_view body, const ServiceConfig& config,
                                                     std::span<const ModelChoices> models,
                                                     const VoiceResolver* voices = nullptr);

}  // namespace supertonic::service
