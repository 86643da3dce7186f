#pragma once
// One client connection's protocol state machine (docs/protocol.md): sessions one after
// another, text bundling, segment submission, ordered audio output, barge-in.
// Transport-agnostic: it takes typed client messages and emits typed server
// messages through ConnectionOutput; the WebSocket transport serializes them,
// the OpenAI speech adapter translates them into an HTTP response. All calls
// happen on the connection's executor.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audio/frame_writer.h"
#include "audio/silence_trimmer.h"
#include "service/inference_worker.h"
#include "service/protocol.h"
#include "service/session_settings.h"
#include "service/text_accumulator.h"

namespace supertonic::service {

class TtsService;

// What DropQueuedAudio took back: the client will never get it.
struct DroppedAudio {
  std::size_t segment_ends = 0;  // segment_done messages
  double segment_audio_ms = 0;   // their duration_ms, summed
  std::size_t frames = 0;        // audio frames
};

// Where a Connection's output goes. The Connection calls these on its
// executor; an implementation must not call back into the Connection from
// inside them (OnClosed, OnOutputDrained, a message): it posts such work to
// the executor, so that no output call can end what is still on the stack.
class ConnectionOutput {
 public:
  virtual ~ConnectionOutput() = default;
  virtual void Send(ServerMessage message) = 0;
  // One frame of mono PCM16 audio.
  virtual void SendAudio(std::vector<int16_t> frame) = 0;
  // Audio frames and their segment_started/segment_done queued but not yet
  // handed to the socket are dropped (barge-in), so the client hears nothing
  // more of cancelled work.
  virtual DroppedAudio DropQueuedAudio() = 0;
  // Bytes accepted but not yet written to the socket.
  virtual std::size_t queued_bytes() const = 0;
  // Write what is queued, then close.
  virtual void Close() = 0;
};

// Messages that belong to a segment's audio: dropped with it on barge-in.
bool IsAudioEvent(const ServerMessage& message);

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(TtsService& service, boost::asio::any_io_executor executor, std::shared_ptr<ConnectionOutput> output);
  ~Connection();

  // A client message. A StartSession with an empty session_id (which the
  // wire protocol cannot carry) opens a session the server names itself,
  // outside the id space clients choose from (the OpenAI endpoint's).
  void OnMessage(const ClientMessage& message);
  // A frame the protocol parser refused.
  void OnInvalidMessage(const ProtocolError& error);
  // Parses one WebSocket text frame and handles it.
  void OnTextFrame(std::string_view frame);
  void OnBinaryFrame();
  void OnFrameTooLarge();
  // The socket is gone: cancel everything, free the session. Nothing is sent
  // after it; the rest of the teardown runs on the executor, after the call
  // that may be on the stack.
  void OnClosed();
  // Server shutdown: no new session; the open one may finish, then the connection closes.
  void Drain();
  // Grace period over: end the open session now and close.
  void ForceClose();
  // The transport's output queue shrank: emit held audio.
  void OnOutputDrained();
  bool has_session() const { return session_.has_value(); }
  bool closed() const { return closed_; }
  std::chrono::steady_clock::time_point last_activity() const { return last_activity_; }
  // Code points of the open session's text not yet spoken: pending in the
  // accumulator plus cut segments whose audio is not all sent. Bounded by
  // TTS_MAX_TEXT_CHARS.
  std::size_t unspoken_chars() const;
  std::size_t queued_output_bytes() const;

 private:
  using Clock = std::chrono::steady_clock;

  // A segment as the client wrote it and as the model reads it (normalized).
  struct SegmentText {
    std::string text;
    std::string spoken;
  };

  // The segments of the current turn, in order. Cancel replaces it whole.
  struct SegmentPipeline {
    uint64_t floor = 0;         // results below this index were cancelled
    uint64_t next_segment = 0;  // index the next cut segment gets
    uint64_t next_to_emit = 0;  // index whose audio goes out next
    std::deque<SegmentText> held{};                          // cut, not yet submitted (in-flight limit), not yet normalized
    std::map<uint64_t, SegmentText> texts{};                 // submitted, audio not all sent
    std::map<uint64_t, std::deque<SegmentResult>> ready{};   // audio pieces by segment, not yet sent
    std::optional<audio::FrameWriter> writer{};              // the segment being sent, once its first piece went out
    std::optional<audio::SilenceTrimmer> trimmer{};          // the segment being sent (TTS_TRIM_SILENCE)
    std::size_t front_offset = 0;                            // samples of the next piece already sent
    std::size_t unspoken_chars = 0;                          // code points in held and texts

    static SegmentPipeline StartingAt(uint64_t index) { return {.floor = index, .next_segment = index, .next_to_emit = index}; }
    std::size_t outstanding() const { return static_cast<std::size_t>(next_segment - next_to_emit); }
    std::size_t unfinished() const { return outstanding() + held.size(); }
  };

  // One conversational turn: from its first text to end_session or cancel.
  struct Turn {
    bool ending = false;  // end_session arrived
    bool first_audio_sent = false;
    std::optional<Clock::time_point> started{};
  };

  // When the listener will have heard all audio sent so far: the deadline
  // of the scheduling (SegmentJob::due) for later segments. Cancel resets it.
  struct Playback {
    std::optional<Clock::time_point> start{};  // first frame since the start or the last cancel
    double played_s = 0;                       // audio of completed segments since then
    std::map<uint64_t, double> expected_s{};   // outstanding segments' durations: predicted, else estimated
  };

  // Learned from this session's segments; kept across cancels.
  struct Pace {
    double seconds_per_char = 0.075;
    double first_audio_s = 0.3;  // model call start -> first audio piece
    double call_s = 0.5;         // model call start -> last piece
    // Audio sent per second the model predicted (silence trimming makes it < 1):
    // the listener's queue is counted in audio sent, so predictions are scaled.
    double sent_per_predicted = 1.0;
  };

  // Totals of the session, for session_ended and the summary log line: what
  // the client gets (audio a cancel took back from the transport is not counted).
  struct Stats {
    int64_t segments_sent = 0;   // segment_done messages
    double audio_ms_sent = 0;    // their duration_ms
    int64_t frames_sent = 0;     // audio frames: where the next segment starts in the session's audio
    Clock::time_point opened = Clock::now();
    std::size_t chars_received = 0;
    int cancels = 0;
    int failed_segments = 0;
    std::optional<double> first_turn_first_audio_ms{};
  };

  struct Session {
    std::string id;
    bool client_named = true;  // the id is in the client id space (TtsService admission)
    uint64_t uid = 0;
    SessionSettings settings;
    TextAccumulator accumulator;
    SegmentPipeline segments{};
    Turn turn{};
    Playback playback{};
    Pace pace{};
    Stats stats{};
  };

  void Handle(const StartSession& m);
  void Handle(const SendText& m);
  void Handle(const Flush& m);
  void Handle(const EndSession& m);
  void Handle(const Cancel& m);

  void Send(ServerMessage message);
  void SendError(ErrorCode code, std::string message, std::optional<int64_t> segment = std::nullopt);
  // Takes back the audio the transport still holds; returns the segment_done messages it dropped.
  std::size_t DropQueuedAudio();
  void Submit(std::vector<std::string> segments);
  void SendWordTimings(const SegmentResult& r, const SegmentText& segment_text, double start_ms, double cut_s);
  // The front held segment, normalized, in a piece that fits one model pass
  // (Synthesizer::kMaxTokens ids); the rest of it stays held.
  SegmentText TakeFittedHeld();
  std::string Spoken(std::string_view text) const;
  void SubmitHeld();
  Clock::time_point DueTime(Clock::time_point now) const;
  bool OutputCongested() const;
  void WatchSlowConsumer();
  void OnSlowConsumer();
  void ArmDebounce();
  void OnResult(SegmentResult result);
  void EmitReady();
  void MaybeFinish();
  void FinishSession(SessionEndReason reason);
  void LogSummary(std::string_view reason) const;
  void ReleaseSession();
  std::size_t unfinished() const { return session_ ? session_->segments.unfinished() : 0; }

  TtsService& service_;
  boost::asio::any_io_executor executor_;
  std::shared_ptr<ConnectionOutput> output_;
  boost::asio::steady_timer debounce_;
  boost::asio::steady_timer slow_consumer_timer_;
  bool slow_consumer_watch_ = false;
  Clock::time_point output_progress_ = Clock::now();  // the transport last handed output to the socket
  std::optional<Session> session_;
  bool closed_ = false;
  bool draining_ = false;
  Clock::time_point last_activity_ = Clock::now();
};

}  // namespace supertonic::service
