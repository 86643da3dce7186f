#include "service/openai_speech.h"

#include <spdlog/spdlog.h>

#include <map>
#include <nlohmann/json.hpp>

#include "engine/text_chunker.h"
#include "service/service_config.h"
#include "service/session_settings.h"
#include "service/tts_service.h"

namespace supertonic::service {

namespace {

// OpenAI's voice names map onto the Supertonic voices; our own names pass through.
std::string MapVoice(const std::string& v) {
  static const std::map<std::string, std::string> kOpenAi = {
      {"alloy", "F1"}, {"ash", "M1"},  {"ballad", "M2"}, {"coral", "F2"}, {"echo", "M3"},
      {"fable", "F3"}, {"nova", "F4"}, {"onyx", "M4"},   {"sage", "F5"},  {"shimmer", "M5"}};
  auto it = kOpenAi.find(v);
  return it == kOpenAi.end() ? v : it->second;
}

constexpr int kOpenAiSampleRate = 24000;  // OpenAI's audio is 24 kHz

HttpError RequestError(ErrorCode code, std::string message) {
  return HttpError{HttpStatusFor(code), std::string(WireName(code)), std::move(message)};
}

HttpError InvalidRequest(std::string message) {
  return HttpError{400, "invalid_request_error", std::move(message)};
}

}  // namespace

std::string HttpError::Body() const {
  return nlohmann::json{{"error", {{"message", message}, {"type", code}, {"code", code}}}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int HttpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kCapacity: return 429;
    case ErrorCode::kShuttingDown:
    case ErrorCode::kSlowConsumer: return 503;
    case ErrorCode::kUnauthorized: return 401;
    case ErrorCode::kMessageTooLarge: return 413;
    case ErrorCode::kInternal: return 500;
    default: return 400;
  }
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
    if (const auto f = root.find("response_format"); f != root.end() && !f->is_null()) {
      if (!f->is_string()) return InvalidRequest(std::string("'response_format' must be a string, got ") + f->type_name());
      request.format = f->get<std::string>();
    }
    // OpenAI's "language" is an alias of our "lang_code"; the latter wins.
    nlohmann::json settings = root;
    if (const auto l = root.find("language"); l != root.end() && !root.contains("lang_code")) {
      settings["lang_code"] = *l;
    }
    if (auto error = ReadSessionConfig(settings, "", request.session)) {
      return error->code == ErrorCode::kInvalidMessage ? InvalidRequest(error->message)
                                                       : RequestError(error->code, error->message);
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
                                                     const ModelChoices& model) {
  auto parsed = ParseSpeechRequest(body);
  if (std::holds_alternative<HttpError>(parsed)) return parsed;
  auto& request = std::get<SpeechRequest>(parsed);
  try {
    audio::CheckAudioFormat(request.format);
  } catch (const std::invalid_argument& e) {
    return InvalidRequest(e.what());
  }
  const std::size_t chars = CountCodePoints(request.input);
  if (chars > static_cast<std::size_t>(config.max_text_chars)) {
    return RequestError(ErrorCode::kTextTooLong, "'input' has " + std::to_string(chars) +
                                                     " characters; TTS_MAX_TEXT_CHARS allows " +
                                                     std::to_string(config.max_text_chars));
  }
  auto settings = ResolveSessionSettings(request.session, config, model);
  if (const auto* error = std::get_if<ProtocolError>(&settings)) return RequestError(error->code, error->message);
  return parsed;
}

OpenAiSpeech::OpenAiSpeech(TtsService& service, boost::asio::any_io_executor executor,
                           std::shared_ptr<SpeechResponseSink> sink)
    : service_(service), executor_(std::move(executor)), sink_(std::move(sink)) {}

void OpenAiSpeech::Start(std::string_view body) {
  auto prepared = PrepareSpeech(body, service_.config(), service_.model_choices());
  if (auto* error = std::get_if<HttpError>(&prepared)) return Fail(std::move(*error));
  auto& request = std::get<SpeechRequest>(prepared);
  format_ = request.format;
  connection_ = std::make_shared<Connection>(service_, executor_, shared_from_this());
  service_.AddConnection(connection_);
  // Capacity and shutdown are refused here, before the status line.
  connection_->OnMessage(request.session);
  if (state_ != State::kStreaming) return;
  connection_->OnMessage(SendText{std::move(request.input)});
  connection_->OnMessage(EndSession{});
}

void OpenAiSpeech::OnWritten() {
  if (connection_) connection_->OnOutputDrained();
}

void OpenAiSpeech::OnFinished() {
  auto self = shared_from_this();  // the connection holds the last reference
  state_ = state_ == State::kStreaming ? State::kFailed : state_;
  if (auto c = std::move(connection_)) c->OnClosed();
}

void OpenAiSpeech::Send(ServerMessage message) {
  if (state_ == State::kFailed || state_ == State::kEnded) return;
  if (const auto* started = std::get_if<SessionStarted>(&message)) return OnSessionStarted(*started);
  if (const auto* error = std::get_if<ErrorMessage>(&message)) {
    if (state_ == State::kNew) return Fail(RequestError(error->code, error->message));
    spdlog::warn("speech request {}: {} after the response started; cutting the body short",
                 error->session_id.value_or("?"), WireName(error->code));
    return Abort();
  }
  if (const auto* ended = std::get_if<SessionEnded>(&message)) {
    if (ended->reason != SessionEndReason::kCompleted) return Abort();
    Encode([&] { return encoder_->Finish(); });
    if (state_ != State::kStreaming) return;
    state_ = State::kEnded;
    sink_->EndBody();
  }
  // segment_started / segment_done / cancelled have no place in this response.
}

void OpenAiSpeech::SendAudio(std::vector<int16_t> frame) {
  if (state_ != State::kStreaming) return;
  Encode([&] { return encoder_->Encode(frame); });
}

std::size_t OpenAiSpeech::queued_bytes() const { return sink_->queued_bytes(); }

void OpenAiSpeech::Close() {
  // A drained server closes connections after their session ends; a
  // completed body is closed by the sink once it is written.
  if (state_ == State::kEnded || state_ == State::kFailed) return;
  Abort();
}

void OpenAiSpeech::OnSessionStarted(const SessionStarted& started) {
  try {
    encoder_ = audio::MakeAudioEncoder(format_, started.sample_rate);
  } catch (const std::exception& e) {
    return Fail(RequestError(ErrorCode::kInternal, e.what()));
  }
  state_ = State::kStreaming;
  sink_->StartBody(std::string(encoder_->content_type()));
}

// Queues what the encoder returns (it buffers whole codec frames, so often
// nothing). An encoder failure cuts the body short, as a failed synthesis does.
template <typename F>
void OpenAiSpeech::Encode(F&& encode) {
  std::string bytes;
  try {
    bytes = encode();
  } catch (const std::exception& e) {
    spdlog::error("encoding {} audio failed: {}", format_, e.what());
    return Abort();
  }
  if (!bytes.empty()) sink_->SendChunk(std::move(bytes));
}

void OpenAiSpeech::Fail(HttpError error) {
  if (state_ != State::kNew) return Abort();
  state_ = State::kFailed;
  sink_->Fail(error);
}

void OpenAiSpeech::Abort() {
  state_ = State::kFailed;
  sink_->Abort();
}

}  // namespace supertonic::service
