#include "service/connection.h"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "audio/frame_writer.h"
#include "engine/text_chunker.h"
#include "service/tts_service.h"

namespace supertonic::service {

namespace asio = boost::asio;

namespace {
std::chrono::steady_clock::duration Seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}
}  // namespace

Connection::Connection(TtsService& service, asio::any_io_executor executor, std::shared_ptr<ConnectionOutput> output)
    : service_(service), executor_(executor), output_(std::move(output)), debounce_(executor),
      slow_consumer_timer_(executor) {}

Connection::~Connection() = default;

void Connection::OnTextFrame(std::string_view frame) {
  if (closed_) return;
  last_activity_ = Clock::now();
  ParseResult parsed = ParseClientMessage(frame);
  if (!parsed.ok()) {
    SendError(parsed.error().code, parsed.error().message);
    return;
  }
  std::visit([this](const auto& m) { Handle(m); }, parsed.message());
}

void Connection::OnBinaryFrame() {
  last_activity_ = Clock::now();
  SendError(ErrorCode::kBinaryNotSupported, "binary frames are not accepted; send JSON text frames");
}

void Connection::OnFrameTooLarge() {
  SendError(ErrorCode::kMessageTooLarge, "message exceeds TTS_MAX_MESSAGE_BYTES (" +
                                             std::to_string(service_.config().max_message_bytes) + " bytes)");
}

void Connection::OnClosed() {
  if (closed_) return;
  closed_ = true;
  debounce_.cancel();
  slow_consumer_timer_.cancel();
  if (session_) {
    service_.worker().UnregisterSession(session_->uid);
    service_.ReleaseSession(session_->id);
    session_.reset();
    service_.metrics().SetActiveSessions(static_cast<double>(service_.active_sessions()));
  }
  output_.reset();
  service_.RemoveConnection(this);
}

void Connection::Drain() {
  if (closed_) return;
  draining_ = true;
  if (!session_ && output_) output_->Close();
}

void Connection::ForceClose() {
  if (closed_) return;
  draining_ = true;
  if (session_) FinishSession(SessionEndReason::kShuttingDown);
  if (output_) output_->Close();
}

void Connection::OnOutputDrained() {
  output_progress_ = Clock::now();
  if (closed_ || !session_) return;
  EmitReady();
  MaybeFinish();
}

bool Connection::OutputCongested() const {
  if (!output_ || !session_) return false;
  const std::size_t limit_bytes = static_cast<std::size_t>(service_.config().max_output_buffer_ms) *
                                  static_cast<std::size_t>(session_->sample_rate) / 1000 * 2;
  return output_->queued_bytes() > limit_bytes;
}

// Backpressure holds a session's audio while its client reads slowly; a
// client that reads nothing at all for TTS_SLOW_CONSUMER_TIMEOUT_S would hold
// the session, its slot and its buffers forever, so it loses the session.
void Connection::WatchSlowConsumer() {
  if (slow_consumer_watch_) return;
  slow_consumer_watch_ = true;
  const auto timeout = std::chrono::seconds(service_.config().slow_consumer_timeout_s);
  slow_consumer_timer_.expires_at(std::max(output_progress_, Clock::now()) + timeout);
  slow_consumer_timer_.async_wait([weak = weak_from_this(), timeout](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (!self) return;
    self->slow_consumer_watch_ = false;
    if (ec || self->closed_ || !self->session_ || !self->OutputCongested()) return;
    if (Clock::now() - self->output_progress_ >= timeout) {
      self->OnSlowConsumer();
    } else {
      self->WatchSlowConsumer();
    }
  });
}

void Connection::OnSlowConsumer() {
  auto& s = *session_;
  spdlog::warn("session {}: the client read no audio for {} s with more than {} ms queued; ending it (slow_consumer)",
               s.id, service_.config().slow_consumer_timeout_s, service_.config().max_output_buffer_ms);
  service_.worker().CancelSession(s.uid);
  if (output_) output_->DropQueuedAudio();
  SendError(ErrorCode::kSlowConsumer,
            "the client read no audio for " + std::to_string(service_.config().slow_consumer_timeout_s) +
                " s (TTS_SLOW_CONSUMER_TIMEOUT_S) while more than TTS_MAX_OUTPUT_BUFFER_MS (" +
                std::to_string(service_.config().max_output_buffer_ms) +
                " ms) of its audio waited; the session was ended and its unsent audio dropped");
  FinishSession(SessionEndReason::kError);
}

void Connection::SendError(ErrorCode code, std::string message, std::optional<int64_t> segment) {
  service_.metrics().Error(WireName(code));
  if (!output_) return;
  ErrorMessage e;
  if (session_) e.session_id = session_->id;
  e.code = code;
  e.message = std::move(message);
  e.segment = segment;
  output_->SendText(Serialize(e));
}

void Connection::Handle(const StartSession& m) {
  const auto& cfg = service_.config();
  const auto& synth = service_.synthesizer();
  if (session_) {
    SendError(ErrorCode::kSessionActive, "session '" + session_->id + "' is still open on this connection; "
                                         "end_session or cancel it first");
    return;
  }
  const std::string voice = m.voice.value_or(cfg.default_voice);
  const std::string lang = m.lang_code.value_or(cfg.lang_code);
  const int rate = m.sample_rate.value_or(cfg.sample_rate);
  const double speed = m.speed.value_or(cfg.speed);
  const int steps = m.num_inference_steps.value_or(cfg.num_inference_steps);
  if (synth.voices().Find(voice) == nullptr) {
    std::string known;
    for (const auto& n : synth.voices().names()) known += (known.empty() ? "" : ", ") + n;
    return SendError(ErrorCode::kInvalidVoice, "unknown voice '" + voice + "' (available: " + known + ")");
  }
  if (!synth.model_config().SupportsLanguage(lang)) {
    std::string known;
    for (const auto& l : synth.model_config().languages) known += (known.empty() ? "" : ", ") + l;
    return SendError(ErrorCode::kInvalidLanguage, "unsupported language '" + lang + "' (supported: " + known + ")");
  }
  if (!IsSupportedSampleRate(rate)) {
    return SendError(ErrorCode::kInvalidSampleRate,
                     "sample_rate " + std::to_string(rate) + " is not one of 8000, 16000, 22050, 24000, 44100, 48000");
  }
  if (!IsValidSpeed(speed)) {
    return SendError(ErrorCode::kInvalidConfig, "speed must be between 0.5 and 2.0");
  }
  if (!IsValidInferenceSteps(steps)) {
    return SendError(ErrorCode::kInvalidConfig, "num_inference_steps must be between 1 and 32");
  }
  switch (service_.AdmitSession(m.session_id)) {
    case TtsService::Admission::kAdmitted: break;
    case TtsService::Admission::kCapacity:
      return SendError(ErrorCode::kCapacity, "the server is at TTS_MAX_SESSIONS (" +
                                                 std::to_string(cfg.max_sessions) + "); retry later");
    case TtsService::Admission::kShuttingDown:
      return SendError(ErrorCode::kShuttingDown, "the server is shutting down; retry on another replica");
    case TtsService::Admission::kDuplicateId:
      return SendError(ErrorCode::kSessionActive, "session id '" + m.session_id + "' is already in use");
  }

  TextAccumulatorConfig acc;
  acc.debounce = std::chrono::milliseconds(cfg.debounce_ms);
  acc.max_chars = ChunkLimitFor(lang);
  session_.emplace(Session{.id = m.session_id,
                           .uid = service_.NextSessionUid(),
                           .voice = voice,
                           .lang = lang,
                           .sample_rate = rate,
                           .steps = steps,
                           .speed = speed,
                           .accumulator = TextAccumulator(acc)});
  std::weak_ptr<Connection> weak = weak_from_this();
  auto executor = executor_;
  service_.worker().RegisterSession(session_->uid, [weak, executor](SegmentResult r) {
    asio::post(executor, [weak, r = std::move(r)]() mutable {
      if (auto self = weak.lock()) self->OnResult(std::move(r));
    });
  });
  service_.metrics().SessionStarted();
  service_.metrics().SetActiveSessions(static_cast<double>(service_.active_sessions()));

  SessionStarted started;
  started.session_id = session_->id;
  started.voice = voice;
  started.lang_code = lang;
  started.sample_rate = rate;
  started.frame_ms = cfg.chunk_size_ms;
  started.samples_per_frame = rate * cfg.chunk_size_ms / 1000;
  started.num_inference_steps = steps;
  started.speed = speed;
  started.server = "supertonic-tts/0.1.0";
  output_->SendText(Serialize(started));
}

void Connection::Handle(const SendText& m) {
  if (!session_) return SendError(ErrorCode::kNoSession, "send_text before start_session");
  if (session_->ending) {
    return SendError(ErrorCode::kInvalidMessage, "send_text after end_session; start a new session for new text");
  }
  if (m.text.empty()) return;
  const std::size_t chars = CountCodePoints(m.text);
  if (session_->accumulator.pending_chars() + chars > static_cast<std::size_t>(service_.config().max_text_chars)) {
    return SendError(ErrorCode::kTextTooLong,
                     "pending text would exceed TTS_MAX_TEXT_CHARS (" +
                         std::to_string(service_.config().max_text_chars) + " characters); this text was dropped");
  }
  const auto now = Clock::now();
  session_->chars_received += chars;
  if (!session_->turn_started) session_->turn_started = now;
  Submit(session_->accumulator.Append(m.text, now));
  if (session_ && unfinished() == 0) {
    if (auto s = session_->accumulator.TakeCompleteSentences()) Submit({*s});
  }
  ArmDebounce();
}

void Connection::Handle(const Flush&) {
  if (!session_) return SendError(ErrorCode::kNoSession, "flush before start_session");
  Submit(session_->accumulator.Flush());
  ArmDebounce();
}

void Connection::Handle(const EndSession&) {
  if (!session_) return SendError(ErrorCode::kNoSession, "end_session before start_session");
  session_->ending = true;
  debounce_.cancel();
  Submit(session_->accumulator.Flush());
  MaybeFinish();
}

void Connection::Handle(const Cancel&) {
  if (!session_) return SendError(ErrorCode::kNoSession, "cancel before start_session");
  auto& s = *session_;
  const bool was_ending = s.ending;
  ++s.cancels;
  // Cut segments not yet sent, and those sent to the transport whose end the
  // client will now not get.
  int64_t dropped = static_cast<int64_t>(unfinished());
  service_.worker().CancelSession(s.uid);
  debounce_.cancel();
  s.accumulator.Clear();
  s.floor = s.next_to_emit = s.next_segment;
  s.ready.clear();
  s.writer.reset();
  s.texts.clear();
  s.held.clear();
  s.ending = false;
  s.turn_started.reset();
  s.turn_first_audio_sent = false;
  s.playback_start.reset();
  s.played_s = 0;
  s.expected_s.clear();
  if (output_) dropped += static_cast<int64_t>(output_->DropQueuedAudio());
  service_.metrics().Cancellation(static_cast<std::size_t>(dropped));
  if (output_) output_->SendText(Serialize(Cancelled{s.id, dropped}));
  // The client had already asked to end: cancelling what was left ends it now.
  if (was_ending) FinishSession(SessionEndReason::kCancelledByClient);
}

void Connection::Submit(std::vector<std::string> segments) {
  if (!session_) return;
  for (auto& text : segments) {
    if (!text.empty()) session_->held.push_back(std::move(text));
  }
  SubmitHeld();
}

// At most TTS_MAX_INFLIGHT_SEGMENTS of a session are queued, running or
// waiting to be sent; the rest wait here, which also bounds the audio a slow
// reader can make the server hold.
void Connection::SubmitHeld() {
  if (!session_) return;
  auto& s = *session_;
  const auto limit = static_cast<std::size_t>(service_.config().max_inflight_segments);
  while (!s.held.empty() && outstanding() < limit) {
    std::string text = std::move(s.held.front());
    s.held.pop_front();
    SegmentJob job;
    job.session = s.uid;
    job.segment = s.next_segment;
    job.text = text;
    job.lang = s.lang;
    job.voice = s.voice;
    job.speed = static_cast<float>(s.speed);
    job.steps = s.steps;
    job.first_of_turn = s.next_segment == s.floor;
    job.submitted = Clock::now();
    job.due = DueTime(job.submitted);
    s.expected_s[s.next_segment] = s.seconds_per_char * static_cast<double>(CountCodePoints(text));
    s.texts[s.next_segment] = std::move(text);
    ++s.next_segment;
    service_.worker().Submit(std::move(job));
  }
}

// The listener runs out of audio when everything sent or on its way has
// played. The model call must start one first-audio latency before that, and
// calls are not preempted, so it must be picked about one call earlier still.
// A listener already in silence is due now, like a first segment.
Connection::Clock::time_point Connection::DueTime(Clock::time_point now) const {
  const auto& s = *session_;
  double ahead_s = s.played_s - s.first_audio_s - s.call_s;
  for (const auto& [segment, seconds] : s.expected_s) ahead_s += seconds;
  const Clock::time_point start = s.playback_start.value_or(now);
  return std::max(now, start + Seconds(ahead_s));
}

void Connection::ArmDebounce() {
  if (!session_) return;
  auto deadline = session_->accumulator.NextDeadline();
  if (!deadline) {
    debounce_.cancel();
    return;
  }
  debounce_.expires_at(*deadline);
  debounce_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    auto self = weak.lock();
    if (!self || !self->session_) return;
    self->Submit(self->session_->accumulator.Poll(Clock::now()));
    self->ArmDebounce();
  });
}

std::size_t Connection::outstanding() const {
  return session_ ? static_cast<std::size_t>(session_->next_segment - session_->next_to_emit) : 0;
}

std::size_t Connection::unfinished() const {
  return session_ ? outstanding() + session_->held.size() : 0;
}

void Connection::OnResult(SegmentResult result) {
  if (closed_ || !session_ || result.session != session_->uid || result.segment < session_->floor) return;
  if (result.cancelled) return;
  session_->ready[result.segment].push_back(std::move(result));
  EmitReady();
  if (session_ && !session_->ending && unfinished() == 0) {
    if (auto s = session_->accumulator.TakeCompleteSentences()) {
      Submit({*s});
      ArmDebounce();
    }
  }
  MaybeFinish();
}

// Sends the audio of segment next_to_emit as its pieces arrive, in order;
// pieces of later segments wait their turn.
void Connection::EmitReady() {
  const auto& cfg = service_.config();
  const int model_rate = service_.synthesizer().model_config().sample_rate;
  while (session_ && output_) {
    auto& s = *session_;
    auto it = s.ready.find(s.next_to_emit);
    if (it == s.ready.end() || it->second.empty()) break;
    // Backpressure: hold the audio until the client has read what is queued.
    if (OutputCongested()) {
      WatchSlowConsumer();
      break;
    }
    SegmentResult r = std::move(it->second.front());
    it->second.pop_front();
    const std::string& text = s.texts[r.segment];
    auto close_segment = [&] {
      s.expected_s.erase(r.segment);
      s.writer.reset();
      s.ready.erase(r.segment);
      s.texts.erase(r.segment);
      ++s.next_to_emit;
    };
    auto send = [&](std::span<const int16_t> frame) {
      if (!s.playback_start) s.playback_start = Clock::now();
      if (!s.turn_first_audio_sent) {
        s.turn_first_audio_sent = true;
        if (s.turn_started) {
          const double seconds = std::chrono::duration<double>(Clock::now() - *s.turn_started).count();
          service_.metrics().ObserveTimeToFirstAudio(seconds);
          if (!s.first_turn_first_audio_ms) s.first_turn_first_audio_ms = 1000.0 * seconds;
        }
      }
      output_->SendBinary(std::vector<int16_t>(frame.begin(), frame.end()));
    };
    // Ends the segment whose audio has started: pads the last frame, then
    // segment_done with what was sent.
    auto send_segment_done = [&] {
      s.writer->Finish(send);
      const int64_t frames = s.writer->frames_emitted();
      const double audio_ms = 1000.0 * static_cast<double>(s.writer->samples_emitted()) / s.sample_rate;
      s.stream_ms += static_cast<double>(frames) * cfg.chunk_size_ms;
      s.audio_ms_sent += audio_ms;
      if (s.playback_start) s.played_s += audio_ms / 1000.0;
      ++s.segments_sent;
      output_->SendText(Serialize(SegmentDone{s.id, static_cast<int64_t>(r.segment), text, audio_ms, frames,
                                              r.queue_s * 1000.0, r.synthesis_s * 1000.0,
                                              static_cast<int>(r.batch_size)}),
                        ConnectionOutput::Kind::kSegmentDone);
      return audio_ms;
    };
    if (!r.error.empty()) {
      // The session goes on with its next segment; a segment whose audio had
      // started is still closed, so every segment_started has its segment_done.
      SendError(ErrorCode::kInternal, "synthesis of segment " + std::to_string(r.segment) + " failed: " + r.error,
                static_cast<int64_t>(r.segment));
      ++s.failed_segments;
      if (s.writer) send_segment_done();
      close_segment();
      continue;
    }
    if (!s.writer) {
      // The listener heard everything before this segment: playback starts over with it.
      if (s.playback_start && Clock::now() > *s.playback_start + Seconds(s.played_s)) {
        s.playback_start.reset();
        s.played_s = 0;
      }
      s.first_audio_s = 0.5 * s.first_audio_s + 0.5 * r.synthesis_s;
      if (r.duration_s > 0) {
        s.expected_s[r.segment] = r.duration_s;
        const auto chars = CountCodePoints(text);
        if (chars > 0) s.seconds_per_char = r.duration_s / static_cast<double>(chars);
      }
      output_->SendText(Serialize(SegmentStarted{s.id, static_cast<int64_t>(r.segment), text, r.duration_s * 1000.0,
                                                 s.stream_ms}),
                        ConnectionOutput::Kind::kSegmentStarted);
      s.writer.emplace(model_rate, s.sample_rate, cfg.chunk_size_ms);
    }
    s.writer->Push(r.samples, send);
    if (!r.final) continue;
    s.call_s = 0.5 * s.call_s + 0.5 * r.synthesis_s;
    const double audio_ms = send_segment_done();
    service_.metrics().SegmentCompleted(CountCodePoints(text), audio_ms / 1000.0);
    if (r.duration_s > 0) service_.metrics().ObserveRealtimeFactor(r.synthesis_s / r.duration_s);
    close_segment();
  }
  SubmitHeld();
}

void Connection::MaybeFinish() {
  if (session_ && session_->ending && unfinished() == 0 && session_->accumulator.empty()) {
    FinishSession(SessionEndReason::kCompleted);
  }
}

void Connection::FinishSession(SessionEndReason reason) {
  if (!session_) return;
  auto& s = *session_;
  if (output_) output_->SendText(Serialize(SessionEnded{s.id, s.segments_sent, s.audio_ms_sent, reason}));
  // One line per session, without its text: what operators look for first.
  spdlog::info(
      "session {} ended ({}) after {:.1f} s: {} characters in, {} segments, {:.1f} s of audio out, first audio "
      "{}, {} cancel(s), {} failed segment(s)",
      s.id, WireName(reason), std::chrono::duration<double>(Clock::now() - s.opened).count(), s.chars_received,
      s.segments_sent, s.audio_ms_sent / 1000.0,
      s.first_turn_first_audio_ms ? fmt::format("{:.0f} ms", *s.first_turn_first_audio_ms) : std::string("none"),
      s.cancels, s.failed_segments);
  debounce_.cancel();
  slow_consumer_timer_.cancel();
  service_.worker().UnregisterSession(s.uid);
  service_.ReleaseSession(s.id);
  session_.reset();
  service_.metrics().SetActiveSessions(static_cast<double>(service_.active_sessions()));
  if (draining_ && output_) output_->Close();
}

}  // namespace supertonic::service
