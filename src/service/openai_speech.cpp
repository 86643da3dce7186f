#include "service/openai_speech.h"

#include <spdlog/spdlog.h>

#include "service/tts_service.h"

namespace supertonic::service {

OpenAiSpeech::OpenAiSpeech(TtsService& service, boost::asio::any_io_executor executor,
                           std::shared_ptr<SpeechResponseSink> sink)
    : service_(service), executor_(std::move(executor)), sink_(std::move(sink)) {}

void OpenAiSpeech::Start(std::string_view body) {
  auto prepared = PrepareSpeech(body, service_.config(), service_.model_choices(), &service_.voices());
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
    if (state_ == State::kNew) return Fail(HttpErrorFor(error->code, error->message));
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
    return Fail(HttpErrorFor(ErrorCode::kInternal, e.what()));
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
