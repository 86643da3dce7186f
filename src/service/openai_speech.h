#pragma once
// POST /v1/audio/speech, OpenAI-compatible: one request is one session of a
// Connection, driven with typed messages, so it shares the scheduler, the
// limits and the backpressure of WebSocket sessions. The audio streams back in
// the requested format as soon as the first chunk is vocoded.
//
// Everything that can be refused is refused before the 200 status line: a bad
// body, a format, a setting (the same ResolveSessionSettings as WebSocket
// sessions), an input over TTS_MAX_TEXT_CHARS, capacity, shutdown. After it,
// the only signal left is a body cut short (no last chunk). The request's
// parsing and checks are pure functions of their own: speech_request.h.
#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "audio/audio_encoder.h"
#include "service/connection.h"
#include "service/protocol.h"
#include "service/speech_request.h"

namespace supertonic::service {

class TtsService;

// The response, as the transport writes it. Calls come on the executor and
// must not call back into OpenAiSpeech synchronously (post instead). At most
// one write is in flight; the rest waits in order.
class SpeechResponseSink {
 public:
  virtual ~SpeechResponseSink() = default;
  // 200 with a chunked body of this type.
  virtual void StartBody(std::string content_type) = 0;
  virtual void SendChunk(std::string bytes) = 0;
  // The last chunk, once everything before it is written; then the socket closes.
  virtual void EndBody() = 0;
  // An error response instead of the body (before StartBody only).
  virtual void Fail(const HttpError& error) = 0;
  // Drops what is queued and closes the socket: a body cut short.
  virtual void Abort() = 0;
  virtual std::size_t queued_bytes() const = 0;
};

class OpenAiSpeech : public ConnectionOutput, public std::enable_shared_from_this<OpenAiSpeech> {
 public:
  OpenAiSpeech(TtsService& service, boost::asio::any_io_executor executor, std::shared_ptr<SpeechResponseSink> sink);

  // Validates the request and starts its session, or fails the response.
  void Start(std::string_view body);
  // From the sink: bytes were written (audio held back may go now).
  void OnWritten();
  // From the sink: the response is over (complete, failed or the peer left).
  void OnFinished();

  // ConnectionOutput
  void Send(ServerMessage message) override;
  void SendAudio(std::vector<int16_t> frame) override;
  DroppedAudio DropQueuedAudio() override { return {}; }
  std::size_t queued_bytes() const override;
  void Close() override;

 private:
  void OnSessionStarted(const SessionStarted& started);
  void Fail(HttpError error);
  void Abort();
  template <typename F>
  void Encode(F&& encode);

  TtsService& service_;
  boost::asio::any_io_executor executor_;
  std::shared_ptr<SpeechResponseSink> sink_;
  std::shared_ptr<Connection> connection_;
  std::string format_;
  std::unique_ptr<audio::AudioEncoder> encoder_;
  enum class State { kNew, kStreaming, kEnded, kFailed } state_ = State::kNew;
};

}  // namespace supertonic::service
