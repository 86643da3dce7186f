#pragma once
// One client connection's protocol state machine (SPEC §3): sessions one after
// another, text bundling, segment submission, ordered audio output, barge-in.
// Transport-agnostic: the WebSocket code feeds it frames and implements
// ConnectionOutput. All calls happen on the connection's executor.
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
#include "service/inference_worker.h"
#include "service/protocol.h"
#include "service/text_accumulator.h"

namespace supertonic::service {

class TtsService;

class ConnectionOutput {
 public:
  virtual ~ConnectionOutput() = default;
  // segment_started and segment_done belong to the audio and go with it when
  // queued audio is dropped.
  enum class Kind { kControl, kSegmentStarted, kAudioFrame, kSegmentDone };
  virtual void SendText(std::string json, Kind kind = Kind::kControl) = 0;
  virtual void SendBinary(std::vector<int16_t> frame) = 0;
  // Audio frames and their events queued but not yet handed to the socket are
  // dropped (barge-in), so the client hears nothing more of cancelled work.
  // Returns how many segment_done messages went with them.
  virtual std::size_t DropQueuedAudio() = 0;
  virtual std::size_t queued_bytes() const = 0;
  virtual void Close() = 0;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(TtsService& service, boost::asio::any_io_executor executor, std::shared_ptr<ConnectionOutput> output);
  ~Connection();

  void OnTextFrame(std::string_view frame);
  void OnBinaryFrame();
  void OnFrameTooLarge();
  // The socket is gone: cancel everything, free the session.
  void OnClosed();
  // Server shutdown: no new session; the open one may finish, then the connection closes.
  void Drain();
  // Grace period over: end the open session now and close.
  void ForceClose();
  // The transport's output queue fell below its bound: emit held audio.
  void OnOutputDrained();
  bool has_session() const { return session_.has_value(); }
  std::chrono::steady_clock::time_point last_activity() const { return last_activity_; }

 private:
  using Clock = std::chrono::steady_clock;

  struct Session {
    std::string id;
    uint64_t uid = 0;
    std::string voice, lang;
    int sample_rate = 0;
    int steps = 0;
    double speed = 1.0;
    TextAccumulator accumulator;
    uint64_t next_segment = 0;      // index the next cut segment gets
    uint64_t next_to_emit = 0;      // index whose audio goes out next
    uint64_t floor = 0;             // results below this index were cancelled
    std::map<uint64_t, std::string> texts{};
    std::deque<std::string> held{};           // cut, not yet submitted (in-flight limit)
    std::map<uint64_t, std::deque<SegmentResult>> ready{};  // audio pieces by segment, not yet sent
    std::optional<audio::FrameWriter> writer{};  // the segment being sent, once its first piece went out
    std::size_t pending_chars = 0;
    bool ending = false;
    bool turn_first_audio_sent = false;
    std::optional<Clock::time_point> turn_started{};
    // When the listener will have heard all audio sent so far: the deadline
    // of the scheduling (SegmentJob::due) for later segments.
    std::optional<Clock::time_point> playback_start{}; // first frame since the start or the last cancel
    double played_s = 0;                               // audio of completed segments since then
    std::map<uint64_t, double> expected_s{};           // outstanding segments' durations: predicted, else estimated
    double seconds_per_char = 0.075;                   // learned from this session's segments
    double first_audio_s = 0.3;                        // model call start -> first audio piece, learned
    double call_s = 0.5;                               // model call start -> last piece, learned
    int64_t segments_sent = 0;
    double audio_ms_sent = 0;
    double stream_ms = 0;
    // For the session's summary in the log.
    Clock::time_point opened = Clock::now();
    std::size_t chars_received = 0;
    int cancels = 0;
    int failed_segments = 0;
    std::optional<double> first_turn_first_audio_ms{};
  };

  void Handle(const StartSession& m);
  void Handle(const SendText& m);
  void Handle(const Flush& m);
  void Handle(const EndSession& m);
  void Handle(const Cancel& m);

  void SendError(ErrorCode code, std::string message, std::optional<int64_t> segment = std::nullopt);
  void Submit(std::vector<std::string> segments);
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
  std::size_t outstanding() const;   // cut and submitted, audio not yet sent
  std::size_t unfinished() const;    // outstanding plus held back

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
