#include "service/errors.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <vector>

namespace supertonic::service {

namespace {

using enum ErrorCode;
using enum ErrorSurface;

constexpr std::array<ErrorCodeInfo, 33> kErrorCodes = {{
    {kInvalidMessage, "invalid_message", false, 400, 0, kWebSocket,
     "not JSON, not an object, a field missing or of the wrong type, or text after `end_session`"},
    {kUnknownMessageType, "unknown_message_type", false, 400, 0, kWebSocket,
     "`type` is not one this server knows (the session is kept)"},
    {kNoSession, "no_session", false, 400, 0, kWebSocket,
     "`send_text`/`flush`/`end_session`/`cancel` with no session open"},
    {kSessionActive, "session_active", false, 400, 0, kWebSocket,
     "`start_session` while a session is open on the connection, or a session id already in use"},
    {kInvalidVoice, "invalid_voice", false, 400, 0, kBoth,
     "the voice is not one the session's model has (the message lists them), or a blend is malformed or names an "
     "unknown voice (the message names the part); for `POST /v1/voices`, a style that fails the checks of "
     "[voices.md](voices.md)"},
    {kInvalidLanguage, "invalid_language", false, 400, 0, kBoth,
     "the language is not one the session's model speaks (the message lists its languages, e.g. en ko es pt fr for "
     "Supertonic 2)"},
    {kInvalidSampleRate, "invalid_sample_rate", false, 400, 0, kBoth, "not 8000/16000/22050/24000/44100/48000"},
    {kInvalidConfig, "invalid_config", false, 400, 0, kBoth, "`speed` or `num_inference_steps` out of range"},
    {kTextTooLong, "text_too_long", false, 400, 0, kBoth,
     "the session's unspoken text (pending, queued or being sent) would exceed `TTS_MAX_TEXT_CHARS`; that text is "
     "dropped, the session kept (OpenAI API: an `input` longer than the limit)"},
    {kMessageTooLarge, "message_too_large", false, 413, 0, kWebSocket,
     "a frame exceeds `TTS_MAX_MESSAGE_BYTES`; it is ignored, the connection kept"},
    {kBinaryNotSupported, "binary_not_supported", false, 400, 0, kWebSocket, "the client sent a binary frame"},
    {kCapacity, "capacity", true, 429, 503, kBoth,
     "`TTS_MAX_SESSIONS` sessions are open; over HTTP also a client address past its share of connections "
     "(`TTS_MAX_CONNECTIONS_PER_ADDRESS`: 429) or the server at `TTS_MAX_CONNECTIONS` (503), with `Retry-After: 1`"},
    {kShuttingDown, "shutting_down", true, 503, 0, kBoth,
     "the server is draining (SIGTERM); retry on another replica"},
    {kSlowConsumer, "slow_consumer", true, 503, 0, kWebSocket,
     "the client read no audio for `TTS_SLOW_CONSUMER_TIMEOUT_S` while more than `TTS_MAX_OUTPUT_BUFFER_MS` waited; "
     "the session was ended"},
    {kUnauthorized, "unauthorized", false, 401, 0, kBoth,
     "missing or wrong token (on `/ws/tts`: HTTP 401 on the upgrade, before any WebSocket message)"},
    {kInternal, "internal", true, 500, 0, kBoth,
     "a server-side failure, e.g. inference failed; on the WebSocket, for the segment named in `segment`: that "
     "segment is skipped (if its audio had started, it is closed with `segment_done`) and the session goes on with "
     "the next one"},
    {kInvalidModel, "invalid_model", false, 400, 0, kBoth,
     "`config.model` (or the OpenAI `model`, or a voice route's `model`) names no served model; the message lists "
     "the served ones"},
    {kInvalidRequest, "invalid_request_error", false, 400, 0, kHttp,
     "the body is not a JSON object, lacks a field the route needs or has one of the wrong type, or a value "
     "(`response_format`, `?limit=`, voice metadata over 16 KiB) is not one the route takes"},
    {kBadRequest, "bad_request", false, 400, 0, kHttp, "not an HTTP request the server can parse"},
    {kNotFound, "not_found", false, 404, 0, kHttp,
     "no route at this path (or a WebSocket upgrade elsewhere than `/ws/tts`)"},
    {kMethodNotAllowed, "method_not_allowed", false, 405, 0, kHttp,
     "the path is served with another method (the message names it)"},
    {kUpgradeRequired, "upgrade_required", false, 426, 0, kHttp, "`GET /ws/tts` without a WebSocket upgrade"},
    {kOriginNotAllowed, "origin_not_allowed", false, 403, 0, kHttp,
     "a WebSocket upgrade, `POST` or `DELETE` from a browser page of another origin than the server's own or one "
     "`TTS_ALLOWED_ORIGINS` lists"},
    {kUnsupportedMediaType, "unsupported_media_type", false, 415, 0, kHttp,
     "a JSON route's body not sent as `Content-Type: application/json`"},
    {kRequestTooLarge, "request_too_large", false, 413, 0, kHttp,
     "a body over 64 KiB (a voice upload's: over `TTS_MAX_VOICE_BYTES` + 64 KiB)"},
    {kHeadersTooLarge, "headers_too_large", false, 431, 0, kHttp, "request headers over 16 KiB"},
    {kInvalidVoiceName, "invalid_voice_name", false, 400, 0, kHttp,
     "a voice name that is not 1-64 letters, digits, `_` or `-`"},
    {kVoiceNotFound, "voice_not_found", false, 404, 0, kHttp, "`DELETE` of a voice the model does not have"},
    {kVoiceProtected, "voice_protected", false, 409, 0, kHttp,
     "one of the model's own voices, an OpenAI voice name, or deleting `TTS_DEFAULT_VOICE`"},
    {kTooManyVoices, "too_many_voices", false, 409, 0, kHttp,
     "the model has `TTS_MAX_VOICES` voices from files and uploads"},
    {kVoiceTooLarge, "voice_too_large", false, 413, 0, kHttp, "a voice whose file would exceed `TTS_MAX_VOICE_BYTES`"},
    {kUploadsDisabled, "uploads_disabled", false, 403, 0, kHttp,
     "voice changes are off: no token and no `TTS_ALLOW_VOICE_UPLOAD`, or no `TTS_VOICES_DIR`"},
    {kVoiceStorageFailed, "voice_storage_failed", true, 500, 0, kHttp,
     "the voice's file could not be written or removed (the message says why); nothing changed"},
}};

std::string Code(std::string_view wire_name) {
  std::string s(1, '`');
  s.append(wire_name).push_back('`');
  return s;
}

std::string Status(const ErrorCodeInfo& info) {
  std::string s = std::to_string(info.http_status);
  if (info.http_status_server_full != 0) s += ", " + std::to_string(info.http_status_server_full);
  return s;
}

const char* YesNo(bool b) { return b ? "yes" : "no"; }

// Messages may quote client input: invalid UTF-8 is replaced, never thrown on.
std::string OpenAiErrorBody(std::string_view code, std::string_view message) {
  return nlohmann::json{{"error", {{"message", message}, {"type", code}, {"code", code}}}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::span<const ErrorCodeInfo> AllErrorCodes() { return kErrorCodes; }

const ErrorCodeInfo& InfoFor(ErrorCode code) {
  const auto index = static_cast<std::size_t>(code);
  if (index < kErrorCodes.size() && kErrorCodes[index].code == code) return kErrorCodes[index];
  for (const auto& info : kErrorCodes) {
    if (info.code == code) return info;
  }
  return kErrorCodes[static_cast<std::size_t>(kInternal)];  // unreachable for a valid enumerator
}

std::string_view WireName(ErrorCode code) { return InfoFor(code).wire_name; }

bool IsRetryable(ErrorCode code) { return InfoFor(code).retryable; }

int HttpStatusFor(ErrorCode code) { return InfoFor(code).http_status; }

std::optional<ErrorCode> ErrorCodeFromWireName(std::string_view wire_name) {
  for (const auto& info : kErrorCodes) {
    if (info.wire_name == wire_name) return info.code;
  }
  return std::nullopt;
}

bool SentOverWebSocket(ErrorCode code) { return InfoFor(code).surface != kHttp; }

bool SentOverHttp(ErrorCode code) { return InfoFor(code).surface != kWebSocket; }

std::string JsonErrorBody(ErrorCode code, std::string_view message) { return OpenAiErrorBody(WireName(code), message); }

std::string HttpError::Body() const { return OpenAiErrorBody(code, message); }

HttpError HttpErrorFor(ErrorCode code, std::string message) {
  return HttpError{HttpStatusFor(code), std::string(WireName(code)), std::move(message)};
}

std::string WebSocketErrorsMarkdown() {
  std::string out = "| code | retryable | meaning |\n|---|---|---|\n";
  for (const auto& info : kErrorCodes) {
    if (!SentOverWebSocket(info.code)) continue;
    out += "| " + Code(info.wire_name) + " | " + YesNo(info.retryable) + " | " + std::string(info.meaning) + " |\n";
  }
  return out;
}

std::string HttpErrorsMarkdown() {
  std::vector<const ErrorCodeInfo*> rows;
  for (const auto& info : kErrorCodes) {
    if (SentOverHttp(info.code)) rows.push_back(&info);
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const ErrorCodeInfo* a, const ErrorCodeInfo* b) { return a->http_status < b->http_status; });
  std::string out = "| status | code | retryable | meaning |\n|---|---|---|---|\n";
  for (const auto* info : rows) {
    out += "| " + Status(*info) + " | " + Code(info->wire_name) + " | " + YesNo(info->retryable) + " | " +
           std::string(info->meaning) + " |\n";
  }
  return out;
}

std::string ErrorTableJson() {
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  for (const auto& info : kErrorCodes) {
    nlohmann::ordered_json statuses = {info.http_status};
    if (info.http_status_server_full != 0) statuses.push_back(info.http_status_server_full);
    all.push_back({{"code", info.wire_name},
                   {"retryable", info.retryable},
                   {"http_status", info.http_status},
                   {"http_statuses", statuses},
                   {"websocket", SentOverWebSocket(info.code)},
                   {"http", SentOverHttp(info.code)},
                   {"meaning", info.meaning}});
  }
  return all.dump(2) + "\n";
}

}  // namespace supertonic::service
