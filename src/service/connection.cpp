#include "service/connection.h"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "audio/frame_writer.h"
#include "service/tts_service.h"
#include "text/text_chunker.h"

namespace supertonic::service {

namespace asio = boost::asio;

namespace {
std::chrono::steady_clock::duration Seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

audio::SilenceTrimConfig SilenceTrimOf(const ServiceConfig& cfg) {
  audio::SilenceTrimConfig trim;
  trim.threshold_dbfs = cfg.trim_silence_threshold_db;
  trim.keep_leading_ms = cfg.trim_keep_leading_ms;
  trim.keep_trailing_ms = cfg.trim_keep_trailing_ms;
  return trim;
}
}  // namespace

bool IsAudioEvent(const ServerMessage& message) {
  return std::holds_alternative<SegmentStarted>(message) || std::holds_alternative<WordTimings>(message) ||
         std::holds_alternative<SegmentDone>(message);
}

Connection::Connection(TtsService& service, asio::any_io_executor executor, std::shared_ptr<ConnectionOutput> output)
    : service_(service), executor_(executor), output_(std::move(output)), debounce_(executor),
      slow_consumer_timer_(executor) {}

Connection::~Connection() = default;

void Connection::OnMessage(const ClientMessage& message) {
  if (closed_) return;
  last_activity_ = Clock::now();
  std::visit([this](const auto& m) { Handle(m); }, message);
}

void Connection::OnInvalidMessage(const ProtocolError& error) {
  if (closed_) return;
  last_activity_ = Clock::now();
  SendError(error.code, error.message);
}

void Connection::OnTextFrame(std::string_view frame) {
  if (closed_) return;
  ParseResult parsed = ParseClientMessage(frame);
  if (!parsed.ok()) return OnInvalidMessage(parsed.error());
  OnMessage(parsed.message());
}

void Connection::OnBinaryFrame() {
  if (closed_) return;
  last_activity_ = Clock::now();
  SendError(ErrorCode::kBinaryNotSupported, "binary frames are not accepted; send JSON text frames");
}

void Connection::OnFrameTooLarge() {
  if (closed_) return;
  SendError(ErrorCode::kMessageTooLarge, "message exceeds TTS_MAX_MESSAGE_BYTES (" +
                                             std::to_string(service_.config().max_message_bytes) + " bytes)");
}

void Connection::OnClosed() {
  if (closed_) return;
  closed_ = true;
  output_.reset();
  // The caller may be inside one of this connection's own calls (a transport
  // that learns of the failure while writing): the session goes after it.
  asio::post(executor_, [self = shared_from_this()] {
    self->debounce_.cancel();
    self->slow_consumer_timer_.cancel();
    if (self->session_) {
      self->service_.worker().CancelSession(self->session_->uid);
      self->LogSummary("disconnected");
      self->ReleaseSession();
    }
    self->service_.RemoveConnection(self.get());
  });
}

void Connection::Drain() {
  if (closed_) return;
  draining_ = true;
  if (!session_ && output_) {
    // A client that finds the socket closed must know to go elsewhere, not
    // take it for the end of a conversation.
    SendError(ErrorCode::kShuttingDown, "the server is shutting down; reconnect, to another replica");
    output_->Close();
  }
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

std::size_t Connection::unspoken_chars() const {
  if (!session_) return 0;
  return session_->accumulator.pending_chars() + session_->segments.unspoken_chars;
}

std::size_t Connection::queued_output_bytes() const { return output_ ? output_->queued_bytes() : 0; }

bool Connection::OutputCongested() const {
  if (!output_ || !session_) return false;
  const std::size_t limit_bytes = static_cast<std::size_t>(service_.config().max_output_buffer_ms) *
                                  static_cast<std::size_t>(session_->settings.sample_rate) / 1000 * 2;
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
  DropQueuedAudio();
  SendError(ErrorCode::kSlowConsumer,
            "the client read no audio for " + std::to_string(service_.config().slow_consumer_timeout_s) +
                " s (TTS_SLOW_CONSUMER_TIMEOUT_S) while more than TTS_MAX_OUTPUT_BUFFER_MS (" +
                std::to_string(service_.config().max_output_buffer_ms) +
                " ms) of its audio waited; the session was ended and its unsent audio dropped");
  FinishSession(SessionEndReason::kError);
}

std::size_t Connection::DropQueuedAudio() {
  if (!output_ || !session_) return 0;
  const DroppedAudio d = output_->DropQueuedAudio();
  auto& stats = session_->stats;
  stats.segments_sent -= static_cast<int64_t>(d.segment_ends);
  stats.audio_ms_sent = std::max(0.0, stats.audio_ms_sent - d.segment_audio_ms);
  stats.frames_sent -= static_cast<int64_t>(d.frames);
  return d.segment_ends;
}

void Connection::Send(ServerMessage message) {
  if (output_) output_->Send(std::move(message));
}

void Connection::SendError(ErrorCode code, std::string message, std::optional<int64_t> segment) {
  service_.metrics().Error(WireName(code));
  ErrorMessage e;
  if (session_) e.session_id = session_->id;
  e.code = code;
  e.message = std::move(message);
  e.segment = segment;
  Send(std::move(e));
}

void Connection::Handle(const StartSession& m) {
  const auto& cfg = service_.config();
  if (session_) {
    SendError(ErrorCode::kSessionActive, "session '" + session_->id + "' is still open on this connection; "
                                         "end_session or cancel it first");
    return;
  }
  auto resolved = ResolveSessionSettings(m, cfg, service_.model_choices(), &service_.voices());
  if (const auto* error = std::get_if<ProtocolError>(&resolved)) return SendError(error->code, error->message);
  SessionSettings settings = std::get<SessionSettings>(std::move(resolved));

  const bool client_named = !m.session_id.empty();
  switch (service_.AdmitSession(client_named ? std::optional<std::string>(m.session_id) : std::nullopt,
                                settings.model)) {
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
  acc.max_chars = settings.chunk_chars;
  const uint64_t uid = service_.NextSessionUid();
  session_.emplace(Session{.id = client_named ? m.session_id : "speech-" + std::to_string(uid),
                           .client_named = client_named,
                           .uid = uid,
                           .settings = std::move(settings),
                           .accumulator = TextAccumulator(acc)});
  std::weak_ptr<Connection> weak = weak_from_this();
  auto executor = executor_;
  service_.worker().RegisterSession(session_->uid, [weak, executor](SegmentResult r) {
    asio::post(executor, [weak, r = std::move(r)]() mutable {
      if (auto self = weak.lock()) self->OnResult(std::move(r));
    });
  });
  service_.metrics().SessionStarted(session_->settings.model_name);

  const auto& s = session_->settings;
  SessionStarted started;
  started.session_id = session_->id;
  started.model = s.model_name;
  const ModelProfile& profile = service_.model_choices()[s.model].profile;
  started.profile = profile.name;
  started.expression_tags = profile.expression_tags;
  started.normalize = s.normalize;
  started.word_timings = s.word_timings;
  started.voice = s.voice;
  started.resolved_voice = s.resolved_voice;
  started.lang_code = s.lang;
  started.sample_rate = s.sample_rate;
  started.frame_ms = cfg.chunk_size_ms;
  started.samples_per_frame = audio::FrameSamples(s.sample_rate, cfg.chunk_size_ms);
  started.num_inference_steps = s.steps;
  started.speed = s.speed;
  started.server = "supertonic-tts/0.1.0";
  Send(std::move(started));
}

void Connection::Handle(const SendText& m) {
  if (!session_) return SendError(ErrorCode::kNoSession, "send_text before start_session");
  auto& s = *session_;
  if (s.turn.ending) {
    return SendError(ErrorCode::kInvalidMessage, "send_text after end_session; start a new session for new text");
  }
  if (m.text.empty()) return;
  const std::size_t chars = CountCodePoints(m.text);
  const auto limit = static_cast<std::size_t>(service_.config().max_text_chars);
  if (unspoken_chars() + chars > limit) {
    return SendError(ErrorCode::kTextTooLong,
                     "the session's unspoken text would exceed TTS_MAX_TEXT_CHARS (" + std::to_string(limit) +
                         " characters; " + std::to_string(unspoken_chars()) +
                         " not yet spoken); this text was dropped, send it once more has been spoken");
  }
  const auto now = Clock::now();
  s.stats.chars_received += chars;
  if (!s.turn.started) s.turn.started = now;
  Submit(s.accumulator.Append(m.text, now));
  if (session_ && unfinished() == 0) {
    if (auto sentences = session_->accumulator.TakeCompleteSentences()) Submit({*sentences});
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
  session_->turn.ending = true;
  debounce_.cancel();
  Submit(session_->accumulator.Flush());
  MaybeFinish();
}

void Connection::Handle(const Cancel&) {
  if (!session_) return SendError(ErrorCode::kNoSession, "cancel before start_session");
  auto& s = *session_;
  const bool was_ending = s.turn.ending;
  ++s.stats.cancels;
  // Cut segments not yet sent, and those sent to the transport whose end the
  // client will now not get.
  int64_t dropped = static_cast<int64_t>(s.segments.unfinished());
  service_.worker().CancelSession(s.uid);
  debounce_.cancel();
  s.accumulator.Clear();
  s.segments = SegmentPipeline::StartingAt(s.segments.next_segment);
  s.turn = Turn{};
  s.playback = Playback{};
  dropped += static_cast<int64_t>(DropQueuedAudio());
  service_.metrics().Cancellation(static_cast<std::size_t>(dropped));
  Send(Cancelled{s.id, dropped});
  // The client had already asked to end: cancelling what was left ends it now.
  if (was_ending) FinishSession(SessionEndReason::kCancelledByClient);
}

// Cut segments wait as the client wrote them: each is normalized (and cut
// further when it does not fit the model) only when it is about to be
// submitted, so the network thread does the text work of at most
// TTS_MAX_INFLIGHT_SEGMENTS segments of a session per event, whatever one
// message holds, and one client's long text never stalls another's audio.
void Connection::Submit(std::vector<std::string> segments) {
  if (!session_) return;
  auto& pipeline = session_->segments;
  for (auto& segment : segments) {
    if (segment.empty()) continue;
    pipeline.unspoken_chars += CountCodePoints(segment);
    pipeline.held.push_back(SegmentText{std::move(segment), {}});
  }
  SubmitHeld();
}

std::string Connection::Spoken(std::string_view text) const {
  if (!session_->settings.normalize) return std::string(text);
  return service_.normalizer().Normalize(text, session_->settings.lang);
}

// The chunk limit counts characters as written, but normalization says
// numbers in words and NFKD expands some characters (a ligature, an enclosed
// number, U+FDFA's 18 letters) into several model ids: such text is cut
// further, so that one segment can never fail a batch it shares. Returns the
// front held segment with its spoken form; pieces cut from it go back to the
// front of `held`, to be normalized when their turn comes.
Connection::SegmentText Connection::TakeFittedHeld() {
  auto& pipeline = session_->segments;
  const Synthesizer& synth = service_.synthesizer(session_->settings.model);
  const std::string& lang = session_->settings.lang;
  while (true) {
    SegmentText piece = std::move(pipeline.held.front());
    pipeline.held.pop_front();
    const std::size_t chars = CountCodePoints(piece.text);
    piece.spoken = Spoken(piece.text);
    if (chars <= 1 || static_cast<int64_t>(synth.Encode(piece.spoken, lang).ids.size()) <= Synthesizer::kMaxTokens) {
      return piece;
    }
    auto halves = ChunkText(piece.text, std::max<std::size_t>(1, chars / 2));
    if (halves.size() < 2) return piece;  // cannot be cut: the model reports it
    pipeline.unspoken_chars -= std::min(pipeline.unspoken_chars, chars);
    for (auto it = halves.rbegin(); it != halves.rend(); ++it) {
      pipeline.unspoken_chars += CountCodePoints(*it);
      pipeline.held.push_front(SegmentText{std::move(*it), {}});
    }
  }
}

// At most TTS_MAX_INFLIGHT_SEGMENTS of a session are queued, running or
// waiting to be sent; the rest wait here, which also bounds the audio a slow
// reader can make the server hold.
void Connection::SubmitHeld() {
  if (!session_) return;
  auto& s = *session_;
  auto& pipeline = s.segments;
  const auto limit = static_cast<std::size_t>(service_.config().max_inflight_segments);
  while (!pipeline.held.empty() && pipeline.outstanding() < limit) {
    SegmentText text = TakeFittedHeld();
    SegmentJob job;
    job.session = s.uid;
    job.segment = pipeline.next_segment;
    job.model = s.settings.model;
    job.text = text.spoken;
    job.lang = s.settings.lang;
    job.voice = s.settings.voice;
    job.voice_style = s.settings.voice_style;
    job.speed = static_cast<float>(s.settings.speed);
    job.steps = s.settings.steps;
    job.first_of_turn = pipeline.next_segment == pipeline.floor;
    job.submitted = Clock::now();
    job.due = DueTime(job.submitted);
    s.playback.expected_s[pipeline.next_segment] =
        s.pace.seconds_per_char * static_cast<double>(CountCodePoints(text.spoken));
    pipeline.texts[pipeline.next_segment] = std::move(text);
    ++pipeline.next_segment;
    service_.worker().Submit(std::move(job));
  }
}

// The listener runs out of audio when everything sent or on its way has
// played. The model call must start one first-audio latency before that, and
// calls are not preempted, so it must be picked about one call earlier still.
// A listener already in silence is due now, like a first segment.
Connection::Clock::time_point Connection::DueTime(Clock::time_point now) const {
  const auto& s = *session_;
  double ahead_s = s.playback.played_s - s.pace.first_audio_s - s.pace.call_s;
  for (const auto& [segment, seconds] : s.playback.expected_s) ahead_s += seconds;
  const Clock::time_point start = s.playback.start.value_or(now);
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
    if (!self || self->closed_ || !self->session_) return;
    self->Submit(self->session_->accumulator.Poll(Clock::now()));
    self->ArmDebounce();
  });
}

void Connection::OnResult(SegmentResult result) {
  if (closed_ || !session_ || result.session != session_->uid || result.segment < session_->segments.floor) return;
  if (result.cancelled) return;
  session_->segments.ready[result.segment].push_back(std::move(result));
  EmitReady();
  if (session_ && !session_->turn.ending && unfinished() == 0) {
    if (auto sentences = session_->accumulator.TakeCompleteSentences()) {
      Submit({*sentences});
      ArmDebounce();
    }
  }
  MaybeFinish();
}

// Sends the audio of segment next_to_emit as its pieces arrive, in order;
// pieces of later segments wait their turn.
void Connection::EmitReady() {
  const auto& cfg = service_.config();
  if (!session_) return;
  const int model_rate = service_.synthesizer(session_->settings.model).model_config().sample_rate;
  while (session_ && output_) {
    auto& s = *session_;
    auto& pipeline = s.segments;
    auto it = pipeline.ready.find(pipeline.next_to_emit);
    if (it == pipeline.ready.end() || it->second.empty()) break;
    // Backpressure: hold the audio until the client has read what is queued.
    if (OutputCongested()) {
      WatchSlowConsumer();
      break;
    }
    // A model call's audio goes out in slices of at most 100 ms with the
    // congestion checked between them, so a client's queue passes its bound
    // by one slice, not by the rest of a segment.
    SegmentResult& front = it->second.front();
    const auto slice = static_cast<std::size_t>(model_rate / 10);
    SegmentResult r;
    if (front.samples.size() - pipeline.front_offset > slice) {
      std::vector<float> all = std::move(front.samples);
      r = front;  // everything but the audio
      const auto begin = all.begin() + static_cast<std::ptrdiff_t>(pipeline.front_offset);
      r.samples.assign(begin, begin + static_cast<std::ptrdiff_t>(slice));
      r.final = false;
      front.samples = std::move(all);
      pipeline.front_offset += slice;
    } else {
      r = std::move(front);
      r.samples.erase(r.samples.begin(), r.samples.begin() + static_cast<std::ptrdiff_t>(pipeline.front_offset));
      it->second.pop_front();
      pipeline.front_offset = 0;
    }
    const SegmentText segment_text = pipeline.texts[r.segment];
    const std::string& text = segment_text.text;
    auto close_segment = [&] {
      s.playback.expected_s.erase(r.segment);
      pipeline.writer.reset();
      pipeline.trimmer.reset();
      pipeline.front_offset = 0;
      pipeline.ready.erase(r.segment);
      pipeline.unspoken_chars -= std::min(pipeline.unspoken_chars, CountCodePoints(text));
      pipeline.texts.erase(r.segment);
      ++pipeline.next_to_emit;
    };
    auto send = [&](std::span<const int16_t> frame) {
      if (!s.playback.start) s.playback.start = Clock::now();
      if (!s.turn.first_audio_sent) {
        s.turn.first_audio_sent = true;
        if (s.turn.started) {
          const double seconds = std::chrono::duration<double>(Clock::now() - *s.turn.started).count();
          service_.metrics().ObserveTimeToFirstAudio(s.settings.model_name, seconds);
          if (!s.stats.first_turn_first_audio_ms) s.stats.first_turn_first_audio_ms = 1000.0 * seconds;
        }
      }
      ++s.stats.frames_sent;
      if (output_) output_->SendAudio(std::vector<int16_t>(frame.begin(), frame.end()));
    };
    // Ends the segment whose audio has started: pads the last frame, then
    // segment_done with what was sent.
    auto send_segment_done = [&] {
      pipeline.writer->Finish(send);
      const int64_t frames = pipeline.writer->frames_emitted();
      const double audio_ms =
          1000.0 * static_cast<double>(pipeline.writer->samples_emitted()) / s.settings.sample_rate;
      s.stats.audio_ms_sent += audio_ms;
      if (s.playback.start) s.playback.played_s += audio_ms / 1000.0;
      ++s.stats.segments_sent;
      Send(SegmentDone{s.id, static_cast<int64_t>(r.segment), text, segment_text.spoken, audio_ms, frames, r.queue_s * 1000.0,
                       r.synthesis_s * 1000.0, static_cast<int>(r.batch_size)});
      return audio_ms;
    };
    if (!r.error.empty()) {
      // The session goes on with its next segment; a segment whose audio had
      // started is still closed, so every segment_started has its segment_done.
      SendError(ErrorCode::kInternal, "synthesis of segment " + std::to_string(r.segment) + " failed: " + r.error,
                static_cast<int64_t>(r.segment));
      ++s.stats.failed_segments;
      if (pipeline.writer) send_segment_done();
      close_segment();
      continue;
    }
    // Silence is trimmed at the model's rate, before the frames: every client
    // (WebSocket, OpenAI formats) gets the same audio, and segment_done counts it.
    std::vector<float> trimmed;
    std::span<const float> audio = r.samples;
    if (cfg.trim_silence) {
      if (!pipeline.trimmer) pipeline.trimmer.emplace(model_rate, SilenceTrimOf(cfg));
      pipeline.trimmer->Push(r.samples, trimmed);
      if (r.final) {
        pipeline.trimmer->Finish(trimmed);
        service_.metrics().SilenceTrimmed(static_cast<double>(pipeline.trimmer->samples_dropped()) / model_rate);
      }
      audio = trimmed;
    }
    // Leading silence yields no frame: segment_started waits for the first piece that does.
    if (!pipeline.writer && audio.empty() && !r.final) continue;
    if (!pipeline.writer) {
      // The listener heard everything before this segment: playback starts over with it.
      if (s.playback.start && Clock::now() > *s.playback.start + Seconds(s.playback.played_s)) {
        s.playback.start.reset();
        s.playback.played_s = 0;
      }
      s.pace.first_audio_s = 0.5 * s.pace.first_audio_s + 0.5 * r.synthesis_s;
      if (r.duration_s > 0) {
        // What will be sent, not what the model predicted: trimming cuts the
        // silence, and the deadlines count the listener's queue in audio sent.
        const double expected = r.duration_s * s.pace.sent_per_predicted;
        s.playback.expected_s[r.segment] = expected;
        const auto chars = CountCodePoints(segment_text.spoken);
        if (chars > 0) s.pace.seconds_per_char = expected / static_cast<double>(chars);
      }
      const double start_ms = static_cast<double>(s.stats.frames_sent) * cfg.chunk_size_ms;
      Send(SegmentStarted{s.id, static_cast<int64_t>(r.segment), text, segment_text.spoken, r.duration_s * 1000.0,
                          start_ms});
      if (s.settings.word_timings) {
        const double cut_s =
            pipeline.trimmer ? static_cast<double>(pipeline.trimmer->leading_dropped()) / model_rate : 0.0;
        SendWordTimings(r, segment_text, start_ms, cut_s);
      }
      pipeline.writer.emplace(model_rate, s.settings.sample_rate, cfg.chunk_size_ms);
    }
    pipeline.writer->Push(audio, send);
    if (!r.final) continue;
    s.pace.call_s = 0.5 * s.pace.call_s + 0.5 * r.synthesis_s;
    const double audio_ms = send_segment_done();
    if (r.duration_s > 0) {
      const double ratio = std::clamp(audio_ms / 1000.0 / r.duration_s, 0.05, 1.5);
      s.pace.sent_per_predicted = 0.5 * s.pace.sent_per_predicted + 0.5 * ratio;
    }
    service_.metrics().SegmentCompleted(s.settings.model_name, CountCodePoints(text), audio_ms / 1000.0);
    if (r.duration_s > 0) {
      service_.metrics().ObserveRealtimeFactor(s.settings.model_name, r.synthesis_s / r.duration_s);
    }
    close_segment();
  }
  SubmitHeld();
}

// The words as the client wrote them, on the session's audio timeline: the
// segment starts at start_ms with its first cut_s seconds trimmed away.
void Connection::SendWordTimings(const SegmentResult& r, const SegmentText& segment_text, double start_ms,
                                 double cut_s) {
  const auto& s = *session_;
  const Synthesizer& synth = service_.synthesizer(s.settings.model);
  const TokenTimeline timeline = synth.TokenTimelineOf(r.latent_frames, r.num_tokens, r.duration_s);
  WordTimings message{s.id, static_cast<int64_t>(r.segment), {}};
  for (auto& w : synth.TimeWords(segment_text.text, segment_text.spoken, s.settings.lang, timeline)) {
    const double start = std::max(0.0, w.start_s - cut_s), end = std::max(0.0, w.end_s - cut_s);
    message.words.push_back({std::move(w.word), start_ms + 1000.0 * start, start_ms + 1000.0 * end});
  }
  Send(std::move(message));
}

void Connection::MaybeFinish() {
  if (session_ && session_->turn.ending && unfinished() == 0 && session_->accumulator.empty()) {
    FinishSession(SessionEndReason::kCompleted);
  }
}

void Connection::FinishSession(SessionEndReason reason) {
  if (!session_) return;
  const auto& s = *session_;
  Send(SessionEnded{s.id, s.stats.segments_sent, s.stats.audio_ms_sent, reason});
  LogSummary(WireName(reason));
  debounce_.cancel();
  slow_consumer_timer_.cancel();
  ReleaseSession();
  if (draining_ && output_) output_->Close();
}

// One line per session, without its text: what operators look for first.
void Connection::LogSummary(std::string_view reason) const {
  const auto& s = *session_;
  spdlog::info(
      "session {}{} ended ({}) after {:.1f} s: {} characters in, {} segments, {:.1f} s of audio out, first audio "
      "{}, {} cancel(s), {} failed segment(s)",
      s.id, service_.model_count() > 1 ? " (model " + s.settings.model_name + ")" : std::string(), reason,
      std::chrono::duration<double>(Clock::now() - s.stats.opened).count(), s.stats.chars_received,
      s.stats.segments_sent, s.stats.audio_ms_sent / 1000.0,
      s.stats.first_turn_first_audio_ms ? fmt::format("{:.0f} ms", *s.stats.first_turn_first_audio_ms)
                                        : std::string("none"),
      s.stats.cancels, s.stats.failed_segments);
}

void Connection::ReleaseSession() {
  const auto& s = *session_;
  service_.worker().UnregisterSession(s.uid);
  service_.ReleaseSession(s.client_named ? std::optional<std::string>(s.id) : std::nullopt, s.settings.model);
  session_.reset();
}

}  // namespace supertonic::service
