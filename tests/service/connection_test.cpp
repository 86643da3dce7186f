// Connection, the protocol state machine of one client, driven over a real
// TtsService (the probe model, on the CPU) on an io_context this test runs.
// FakeOutput stands in for the WebSocket transport: it records what the
// Connection hands it, in order, and can hold its "socket" (bytes queue up,
// nothing reaches the client) and release it later, dropping queued audio on
// barge-in as the transport does.
#include "service/connection.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cmath>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "service/protocol.h"
#include "service/service_config.h"
#include "service/tts_service.h"
#include "support/probe.h"
#include "support/test_paths.h"
#include "text/text_chunker.h"

namespace supertonic::service {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kRate = 16000;  // the sessions' sample rate
// The failing probe model's text encoder fails for texts of more tokens than
// this ("<en>" + text + "</en>": texts over 31 characters).
constexpr int kFailAboveTokens = 40;
// The silent probe model's silence around every item's speech, standing in
// for Supertonic 3's reported 0.25-0.6 s before and 0.6-0.9 s after.
constexpr double kLeadSilenceS = 0.4;
constexpr double kTrailSilenceS = 0.7;
// The probe's silent start of every character (tools/models/probe.py).
constexpr double kProbeGapS = 512.0 / 44100.0;

// What the Connection hands its output: a server message or one audio frame.
using Event = std::variant<ServerMessage, std::vector<int16_t>>;

template <typename T>
const T* As(const Event& e) {
  const auto* m = std::get_if<ServerMessage>(&e);
  return m ? std::get_if<T>(m) : nullptr;
}

bool IsFrame(const Event& e) { return std::holds_alternative<std::vector<int16_t>>(e); }
// What barge-in drops from the transport's queue: everything but control messages.
bool IsDroppable(const Event& e) { return IsFrame(e) || IsAudioEvent(std::get<ServerMessage>(e)); }

std::size_t Bytes(const Event& e) {
  if (IsFrame(e)) return std::get<std::vector<int16_t>>(e).size() * sizeof(int16_t);
  return Serialize(std::get<ServerMessage>(e)).size();
}

template <typename T>
std::vector<T> All(const std::vector<Event>& events) {
  std::vector<T> out;
  for (const auto& e : events) {
    if (const T* m = As<T>(e)) out.push_back(*m);
  }
  return out;
}

std::vector<ErrorMessage> ErrorsWithCode(const std::vector<Event>& events, ErrorCode code) {
  std::vector<ErrorMessage> out;
  for (const auto& e : All<ErrorMessage>(events)) {
    if (e.code == code) out.push_back(e);
  }
  return out;
}

// The first error message among `events` (end() when there is none).
std::vector<Event>::const_iterator FirstError(const std::vector<Event>& events) {
  return std::find_if(events.begin(), events.end(), [](const Event& e) { return As<ErrorMessage>(e) != nullptr; });
}

// A transport's output queue. Never calls into the Connection from inside
// Send/SendAudio/Close (the ConnectionOutput contract): it posts.
class FakeOutput : public ConnectionOutput {
 public:
  explicit FakeOutput(asio::any_io_executor executor) : executor_(std::move(executor)) {}
  void Attach(const std::shared_ptr<Connection>& connection) { connection_ = connection; }

  void Send(ServerMessage message) override { Accept(Event(std::move(message))); }
  void SendAudio(std::vector<int16_t> frame) override { Accept(Event(std::move(frame))); }
  DroppedAudio DropQueuedAudio() override {
    DroppedAudio dropped;
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (!IsDroppable(*it)) {
        ++it;
        continue;
      }
      if (const auto* done = As<SegmentDone>(*it)) {
        ++dropped.segment_ends;
        dropped.segment_audio_ms += done->duration_ms;
      }
      dropped.frames += std::holds_alternative<ServerMessage>(*it) ? 0 : 1;
      queued_bytes_ -= Bytes(*it);
      it = queue_.erase(it);
    }
    return dropped;
  }
  std::size_t queued_bytes() const override { return queued_bytes_; }
  void Close() override { ++close_calls_; }

  // The socket stops taking bytes: output queues up.
  void Hold() { holding_ = true; }
  // The socket takes everything queued, then whatever comes.
  void Release() {
    holding_ = false;
    for (auto& e : queue_) delivered_.push_back(std::move(e));
    queue_.clear();
    queued_bytes_ = 0;
    Post([](Connection& c) { c.OnOutputDrained(); });
  }

  // Everything the Connection handed over, in order.
  const std::vector<Event>& sent() const { return sent_; }
  // What reached the client, in order.
  const std::vector<Event>& delivered() const { return delivered_; }
  const std::deque<Event>& queue() const { return queue_; }
  int close_calls() const { return close_calls_; }

 protected:
  // Runs on the executor, after the output call that asked for it.
  void Post(std::function<void(Connection&)> work) {
    asio::post(executor_, [weak = connection_, work = std::move(work)] {
      if (auto c = weak.lock()) work(*c);
    });
  }
  virtual void OnAccepted(const Event&) {}

 private:
  void Accept(Event e) {
    sent_.push_back(e);
    if (holding_) {
      queued_bytes_ += Bytes(e);
      queue_.push_back(std::move(e));
    } else {
      delivered_.push_back(std::move(e));
    }
    OnAccepted(sent_.back());
  }

  asio::any_io_executor executor_;
  std::weak_ptr<Connection> connection_;
  bool holding_ = false;
  std::vector<Event> sent_;
  std::vector<Event> delivered_;
  std::deque<Event> queue_;
  std::size_t queued_bytes_ = 0;
  int close_calls_ = 0;
};

// A transport that learns of a failure while sending an error: it closes the
// connection, posted as the contract asks.
class ClosingOnErrorOutput : public FakeOutput {
 public:
  using FakeOutput::FakeOutput;

 protected:
  void OnAccepted(const Event& e) override {
    if (As<ErrorMessage>(e)) Post([](Connection& c) { c.OnClosed(); });
  }
};

// One segment as the client saw it: segment_started, frames, segment_done.
struct HeardSegment {
  SegmentStarted started;
  SegmentDone done;
  std::vector<int16_t> samples;
  int64_t frames = 0;
};

// Reads the segments out of an event stream, checking the framing rules:
// a segment's frames lie between its segment_started and segment_done,
// segments never interleave, indices increase, frames are whole.
std::vector<HeardSegment> Segments(const std::vector<Event>& events, int samples_per_frame) {
  std::vector<HeardSegment> out;
  std::optional<HeardSegment> open;
  for (const auto& e : events) {
    if (IsFrame(e)) {
      const auto& frame = std::get<std::vector<int16_t>>(e);
      EXPECT_TRUE(open) << "an audio frame outside a segment";
      EXPECT_EQ(frame.size(), static_cast<std::size_t>(samples_per_frame));
      if (!open) continue;
      open->samples.insert(open->samples.end(), frame.begin(), frame.end());
      ++open->frames;
    } else if (const auto* started = As<SegmentStarted>(e)) {
      EXPECT_FALSE(open) << "segment " << started->segment << " started inside segment " << open->started.segment;
      if (!out.empty()) {
        EXPECT_GT(started->segment, out.back().started.segment);
      }
      open = HeardSegment{.started = *started, .done = {}, .samples = {}, .frames = 0};
    } else if (const auto* done = As<SegmentDone>(e)) {
      EXPECT_TRUE(open) << "segment_done " << done->segment << " without segment_started";
      if (!open) continue;
      EXPECT_EQ(done->segment, open->started.segment);
      EXPECT_EQ(done->text, open->started.text);
      EXPECT_EQ(done->frames, open->frames) << "segment " << done->segment;
      open->done = *done;
      out.push_back(std::move(*open));
      open.reset();
    }
  }
  EXPECT_FALSE(open) << "segment " << open->started.segment << " has no segment_done";
  return out;
}

std::string JoinTexts(const std::vector<HeardSegment>& segments) {
  std::string out;
  for (const auto& s : segments) out += (out.empty() ? "" : " ") + s.started.text;
  return out;
}

StartSession Start(std::string id = "s1", double speed = 2.0) {
  StartSession m;
  m.session_id = std::move(id);
  m.voice = "F1";
  m.lang_code = "en";
  m.speed = speed;
  m.num_inference_steps = 1;
  m.sample_rate = kRate;
  return m;
}

ServiceConfig TestConfig(const std::filesystem::path& model_dir = testing::ProbeModelDir()) {
  ServiceConfig c;
  c.model_dir = model_dir.string();
  c.device = Device::kCpu;
  c.intra_op_threads = 1;
  c.inference_workers = 1;
  c.max_batch = 1;
  c.debounce_ms = 20;
  c.lang_code = "en";
  return c;
}

// PCM16 -> float in [-1, 1).
std::vector<float> ToFloat(const std::vector<int16_t>& pcm) {
  std::vector<float> out(pcm.size());
  for (std::size_t i = 0; i < pcm.size(); ++i) out[i] = static_cast<float>(pcm[i]) / 32768.0f;
  return out;
}

class ConnectionTest : public ::testing::Test {
 protected:
  // The probe model, made to fail for texts over kFailAboveTokens tokens:
  // generated on first use (well under a second), once per suite.
  static const std::filesystem::path& FailingModel() {
    if (!failing_model_) {
      const auto dir = testing::MakeTempDir("failing-probe");
      testing::RunCommand("cd " + testing::SourceDir().string() + " && " + testing::PythonExecutable().string() +
                          " -m tools.models.probe --out " + dir.string() + " --fail-above-tokens " +
                          std::to_string(kFailAboveTokens) + " > /dev/null");
      failing_model_ = new std::filesystem::path(dir);
    }
    return *failing_model_;
  }
  // The probe model with kLeadSilenceS / kTrailSilenceS of silence around every item.
  static const std::filesystem::path& SilentModel() {
    if (!silent_model_) {
      const auto dir = testing::MakeTempDir("silent-probe");
      testing::RunCommand("cd " + testing::SourceDir().string() + " && " + testing::PythonExecutable().string() +
                          " -m tools.models.probe --out " + dir.string() + " --lead-silence " +
                          std::to_string(kLeadSilenceS) + " --trail-silence " + std::to_string(kTrailSilenceS) +
                          " > /dev/null");
      silent_model_ = new std::filesystem::path(dir);
    }
    return *silent_model_;
  }
  // A second probe model whose characters last 0.3 s (the probe's: 0.15 s),
  // so its audio shows which model made it.
  static const std::filesystem::path& SlowModel() {
    if (!slow_model_) {
      const auto dir = testing::MakeTempDir("slow-probe");
      testing::RunCommand("cd " + testing::SourceDir().string() + " && " + testing::PythonExecutable().string() +
                          " -m tools.models.probe --out " + dir.string() + " --char-seconds 0.3 > /dev/null");
      slow_model_ = new std::filesystem::path(dir);
    }
    return *slow_model_;
  }
  static void TearDownTestSuite() {
    for (auto** model : {&failing_model_, &silent_model_, &slow_model_}) {
      if (!*model) continue;
      std::filesystem::remove_all(**model);
      delete *model;
      *model = nullptr;
    }
  }

  void TearDown() override {
    // Connections first (they reference the service), then the service (it
    // joins its worker, which posts to io_), then the io_context.
    clients_.clear();
    service_.reset();
  }

  TtsService& Service(ServiceConfig config = TestConfig()) {
    config.Validate();
    service_ = std::make_unique<TtsService>(std::move(config));
    return *service_;
  }

  struct Client {
    std::shared_ptr<FakeOutput> output;
    std::shared_ptr<Connection> connection;
    int samples_per_frame() const {
      const auto started = All<SessionStarted>(output->sent());
      return started.empty() ? 0 : started.back().samples_per_frame;
    }
    std::vector<HeardSegment> heard() const { return Segments(output->delivered(), samples_per_frame()); }
    void Say(const std::string& text) { connection->OnMessage(SendText{text}); }
  };

  // Three segments, then end_session; on FailingModel(), segment 1 fails.
  static void SayWithAFailingMiddleSegment(Client& c) {
    c.Say("Short one. ");
    c.Say("This sentence is far too long for the probe.");
    c.connection->OnMessage(Flush{});
    c.Say("Short two.");
    c.connection->OnMessage(EndSession{});
  }

  template <typename Output = FakeOutput>
  Client& Connect() {
    EXPECT_TRUE(service_) << "Service() first";
    auto output = std::make_shared<Output>(io_.get_executor());
    auto connection = std::make_shared<Connection>(*service_, io_.get_executor(), output);
    output->Attach(connection);
    clients_.push_back(Client{output, connection});
    return clients_.back();
  }

  // A connection with a session open (session_started received).
  template <typename Output = FakeOutput>
  Client& ConnectWithSession(StartSession start = Start()) {
    Client& c = Connect<Output>();
    c.connection->OnMessage(start);
    EXPECT_EQ(All<SessionStarted>(c.output->delivered()).size(), 1u) << "the session did not start";
    return c;
  }

  // Runs handlers until `done` holds (checked after each), or fails after `timeout`.
  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = Clock::now() + timeout;
    while (!done()) {
      if (Clock::now() >= deadline) return false;
      io_.run_one_for(10ms);
    }
    return true;
  }
  void RunFor(std::chrono::milliseconds d) { io_.run_for(d); }

  template <typename Events, typename Pred>
  static bool Has(const Events& events, Pred pred) {
    return std::any_of(events.begin(), events.end(), pred);
  }
  static bool Ended(const std::vector<Event>& events) { return !All<SessionEnded>(events).empty(); }

  // Runs until the client has its session_ended; returns it.
  SessionEnded RunToEnd(const Client& c, std::chrono::milliseconds timeout = 10s) {
    EXPECT_TRUE(RunUntil([&] { return Ended(c.output->delivered()); }, timeout)) << "no session_ended";
    const auto ended = All<SessionEnded>(c.output->delivered());
    return ended.empty() ? SessionEnded{} : ended.back();
  }

  // Says `text`, ends the session, runs until session_ended.
  SessionEnded SpeakAndEnd(Client& c, const std::string& text) {
    c.Say(text);
    c.connection->OnMessage(EndSession{});
    return RunToEnd(c);
  }

  // Two segments synthesized into a held socket, at least one of them whole;
  // then cancel, time for stale results to arrive, and the socket released.
  Cancelled BargeInOnHeldAudio(Client& c) {
    c.output->Hold();
    // Segment 0 is cut at once, segment 1 at the flush.
    c.Say("One two three. Four five six.");
    c.connection->OnMessage(Flush{});
    EXPECT_TRUE(RunUntil([&] { return Has(c.output->queue(), As<SegmentDone>); }));
    EXPECT_TRUE(c.heard().empty()) << "the socket is held: nothing reached the client";
    c.connection->OnMessage(Cancel{});
    const auto cancelled = All<Cancelled>(c.output->sent());
    EXPECT_EQ(cancelled.size(), 1u);
    // Results of the cancelled work still on their way must not come out.
    RunFor(150ms);
    c.output->Release();
    RunFor(20ms);
    return cancelled.empty() ? Cancelled{} : cancelled.back();
  }

  // One session on a fresh service with `config`: `text` at speed 1, then
  // end_session. Returns the segments the client heard.
  std::vector<HeardSegment> SpeakOnAFreshService(ServiceConfig config, const std::string& text,
                                                 SessionEnded* ended = nullptr) {
    clients_.clear();
    service_.reset();
    Service(std::move(config));
    Client& c = ConnectWithSession(Start("trim", /*speed=*/1.0));
    const SessionEnded e = SpeakAndEnd(c, text);
    if (ended) *ended = e;
    EXPECT_TRUE(All<ErrorMessage>(c.output->delivered()).empty());
    return c.heard();
  }

  // The service's tts_trimmed_silence_seconds_total.
  double TrimmedSilenceSeconds() const {
    const std::string text = service_->metrics().Serialize();
    const std::string name = "\ntts_trimmed_silence_seconds_total ";
    const auto at = text.find(name);
    EXPECT_NE(at, std::string::npos) << "no tts_trimmed_silence_seconds_total in the metrics";
    return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size()));
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::unique_ptr<TtsService> service_;
  std::deque<Client> clients_;
  static std::filesystem::path* failing_model_;
  static std::filesystem::path* silent_model_;
  static std::filesystem::path* slow_model_;
};
std::filesystem::path* ConnectionTest::failing_model_ = nullptr;
std::filesystem::path* ConnectionTest::silent_model_ = nullptr;
std::filesystem::path* ConnectionTest::slow_model_ = nullptr;

// Where the speech of a heard segment lies, from its decoded audio.
struct SpeechSpan {
  std::string text;
  double tone_start_s = 0;  // the first character's chord (after its silent gap)
  double speech_end_s = 0;  // the end of the last character's chord
  double duration_s = 0;    // segment_done's duration_ms
  double first_frame_rms = 0;
};

SpeechSpan SpanOf(const HeardSegment& segment) {
  const auto decoded = testing::DecodeProbeAudio(ToFloat(segment.samples), kRate);
  SpeechSpan span;
  span.text = decoded.text;
  if (!decoded.chars.empty()) {
    span.tone_start_s = decoded.chars.front().start_s + kProbeGapS;
    span.speech_end_s = decoded.chars.back().start_s + decoded.chars.back().duration_s;
  }
  span.duration_s = segment.done.duration_ms / 1000.0;
  const std::size_t frame = std::min<std::size_t>(segment.samples.size(), kRate * 20 / 1000);
  double power = 0;
  for (std::size_t i = 0; i < frame; ++i) power += std::pow(segment.samples[i] / 32768.0, 2);
  span.first_frame_rms = frame ? std::sqrt(power / static_cast<double>(frame)) : 0;
  return span;
}

TEST_F(ConnectionTest, SegmentsArriveInOrderFramedAndSpeakTheirText) {
  Service();
  Client& c = ConnectWithSession(Start("order", /*speed=*/1.0));
  // The first sentence is cut at once, the second after the debounce, the
  // third at end_session: three segments.
  c.Say("Hello world.  ");
  RunFor(60ms);
  c.Say("How are\n you? ");
  RunFor(60ms);
  c.Say("Fine thanks.");
  c.connection->OnMessage(EndSession{});
  const SessionEnded ended = RunToEnd(c);

  const auto& events = c.output->delivered();
  ASSERT_FALSE(events.empty());
  const auto* started = As<SessionStarted>(events.front());
  ASSERT_NE(started, nullptr) << "session_started comes first";
  EXPECT_EQ(started->session_id, "order");
  EXPECT_EQ(started->sample_rate, kRate);
  EXPECT_EQ(started->samples_per_frame, kRate * 20 / 1000);
  EXPECT_NE(As<SessionEnded>(events.back()), nullptr) << "session_ended comes last";
  EXPECT_TRUE(All<ErrorMessage>(events).empty());

  const auto segments = c.heard();
  ASSERT_EQ(segments.size(), 3u);
  double audio_ms = 0, stream_ms = 0;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    EXPECT_EQ(segments[i].started.segment, static_cast<int64_t>(i));
    EXPECT_GT(segments[i].frames, 0);
    EXPECT_DOUBLE_EQ(segments[i].started.start_ms, stream_ms) << "where segment " << i << " starts in the stream";
    audio_ms += segments[i].done.duration_ms;
    stream_ms += static_cast<double>(segments[i].frames * started->frame_ms);
  }
  EXPECT_EQ(JoinTexts(segments), "Hello world. How are you? Fine thanks.");
  EXPECT_EQ(ended.session_id, "order");
  EXPECT_EQ(ended.reason, SessionEndReason::kCompleted);
  EXPECT_EQ(ended.segments, 3);
  EXPECT_NEAR(ended.audio_ms, audio_ms, 0.01);

  // The audio says the text: decoded, each segment is "<en>text</en>".
  std::vector<int16_t> all;
  std::string expected;
  for (const auto& s : segments) {
    all.insert(all.end(), s.samples.begin(), s.samples.end());
    expected += "<en>" + s.started.text + "</en>";
  }
  EXPECT_EQ(testing::DecodeProbeAudio(ToFloat(all), kRate).text, expected);
  EXPECT_EQ(service_->active_sessions(), 0u);
}

TEST_F(ConnectionTest, BargeInDropsHeldAudioAndTheSessionSpeaksOn) {
  Service();
  Client& c = ConnectWithSession(Start("barge"));
  const Cancelled cancelled = BargeInOnHeldAudio(c);
  EXPECT_EQ(cancelled.segments_dropped, 2) << "both segments were cut; none reached the client";
  ASSERT_EQ(c.output->delivered().size(), 2u) << "session_started, cancelled; no audio of the cancelled work";
  EXPECT_NE(As<Cancelled>(c.output->delivered()[1]), nullptr);

  // The session goes on; its segment indices continue after the cancelled ones.
  const SessionEnded ended = SpeakAndEnd(c, "Seven eight nine.");
  EXPECT_EQ(ended.reason, SessionEndReason::kCompleted);
  const auto segments = c.heard();
  ASSERT_EQ(segments.size(), 1u);
  EXPECT_EQ(segments[0].started.segment, 2);
  EXPECT_EQ(segments[0].started.text, "Seven eight nine.");
  EXPECT_TRUE(All<ErrorMessage>(c.output->delivered()).empty());
}

// Known bug (Connection): the session's totals count audio at its hand-off to
// the transport and keep what barge-in then dropped from the transport's
// queue. Here session_ended says 2 segments / 3675 ms for the one segment of
// 1950 ms the client got, and that segment's start_ms is 1740 (the dropped
// audio) in a stream where it is the first audio. Enable once fixed.
TEST_F(ConnectionTest, SessionTotalsAfterBargeInCountOnlyDeliveredAudio) {
  Service();
  Client& c = ConnectWithSession(Start("barge-totals"));
  BargeInOnHeldAudio(c);
  const SessionEnded ended = SpeakAndEnd(c, "Seven eight nine.");
  const auto segments = c.heard();
  ASSERT_EQ(segments.size(), 1u);
  EXPECT_EQ(ended.segments, 1);
  EXPECT_NEAR(ended.audio_ms, segments[0].done.duration_ms, 0.01);
  EXPECT_EQ(segments[0].started.start_ms, 0);
}

TEST_F(ConnectionTest, CancelAfterEndSessionEndsTheSession) {
  Service();
  Client& c = ConnectWithSession(Start("late-cancel"));
  c.Say("Some words to speak. And some more of them.");
  c.connection->OnMessage(EndSession{});
  c.connection->OnMessage(Cancel{});
  const auto& events = c.output->delivered();
  ASSERT_EQ(events.size(), 3u) << "session_started, cancelled, session_ended";
  const auto* cancelled = As<Cancelled>(events[1]);
  ASSERT_NE(cancelled, nullptr);
  EXPECT_EQ(cancelled->segments_dropped, 2);
  const auto* ended = As<SessionEnded>(events[2]);
  ASSERT_NE(ended, nullptr);
  EXPECT_EQ(ended->reason, SessionEndReason::kCancelledByClient);
  EXPECT_EQ(ended->segments, 0);
  EXPECT_EQ(service_->active_sessions(), 0u);
  RunFor(150ms);
  EXPECT_EQ(events.size(), 3u) << "nothing of the cancelled work follows";
  EXPECT_FALSE(c.connection->has_session());
}

TEST_F(ConnectionTest, BackpressureHoldsAudioInTheConnectionAndLosesNothing) {
  ServiceConfig config = TestConfig();
  config.max_output_buffer_ms = 1000;
  Service(config);
  Client& c = ConnectWithSession(Start("backpressure"));
  c.output->Hold();
  const std::vector<std::string> sentences = {"The first sentence here.", "A second one follows it.",
                                              "Then comes a third one.", "A fourth sentence now.",
                                              "And the fifth and last."};
  std::string input;
  for (const auto& s : sentences) {
    c.Say(s + " ");
    c.connection->OnMessage(Flush{});  // each sentence its own segment
    input += (input.empty() ? "" : " ") + s;
  }
  c.connection->OnMessage(EndSession{});

  // The bound, and how far the queue may pass it: audio goes out in slices
  // of 100 ms of model audio, the congestion checked between them.
  const std::size_t bound = 1000 * kRate / 1000 * 2;
  // "<en>" + text + "</en>", 0.15 s per token at speed 1, whole latent frames of 3072 samples at 44.1 kHz.
  const auto segment_bytes = [](std::size_t chars) {
    const double seconds = static_cast<double>(chars + 9) * 0.15 / 2.0 + 3072.0 / 44100.0;
    return static_cast<std::size_t>(std::ceil(seconds * kRate)) * 2;
  };
  const std::size_t slack = kRate / 10 * 2 + 2 * kRate * 20 / 1000 + 4096;  // a slice, padding, messages
  std::size_t total = 0;
  for (const auto& s : sentences) total += segment_bytes(s.size());
  ASSERT_GT(total, 2 * (bound + slack)) << "the text must make far more audio than the bound";

  ASSERT_TRUE(RunUntil([&] { return c.output->queued_bytes() > bound; }));
  RunFor(300ms);  // time for every segment to be synthesized, were it not held back
  const std::size_t held = c.output->queued_bytes();
  EXPECT_LE(held, bound + slack);
  RunFor(100ms);
  EXPECT_EQ(c.output->queued_bytes(), held) << "audio still flows into a full output";
  EXPECT_FALSE(Ended(c.output->sent()));
  EXPECT_TRUE(c.heard().empty());

  c.output->Release();
  const SessionEnded ended = RunToEnd(c);
  EXPECT_EQ(ended.reason, SessionEndReason::kCompleted);
  const auto segments = c.heard();
  EXPECT_EQ(segments.size(), sentences.size());
  EXPECT_EQ(ended.segments, static_cast<int64_t>(sentences.size()));
  EXPECT_EQ(JoinTexts(segments), input);
  EXPECT_TRUE(All<ErrorMessage>(c.output->delivered()).empty());
}

TEST_F(ConnectionTest, AClientThatReadsNothingLosesItsSession) {
  ServiceConfig config = TestConfig();
  config.max_output_buffer_ms = 1000;
  config.slow_consumer_timeout_s = 1;
  Service(config);
  const auto opened = Clock::now();
  Client& c = ConnectWithSession(Start("slow"));
  c.output->Hold();  // forever
  c.Say("This text makes a lot more audio. Than the output may hold.");
  c.connection->OnMessage(EndSession{});
  ASSERT_TRUE(RunUntil([&] { return Ended(c.output->sent()); }, 5s));
  EXPECT_GE(Clock::now() - opened, 1s) << "TTS_SLOW_CONSUMER_TIMEOUT_S is 1 s";

  const auto& sent = c.output->sent();
  const auto error = FirstError(sent);
  ASSERT_NE(error, sent.end());
  EXPECT_EQ(As<ErrorMessage>(*error)->code, ErrorCode::kSlowConsumer);
  EXPECT_EQ(As<ErrorMessage>(*error)->session_id, "slow");
  ASSERT_NE(As<SessionEnded>(sent.back()), nullptr) << "session_ended last";
  EXPECT_GT(sent.end() - error, 1) << "the error before session_ended";
  EXPECT_EQ(As<SessionEnded>(sent.back())->reason, SessionEndReason::kError);
  EXPECT_EQ(service_->active_sessions(), 0u) << "the slot is free";
  EXPECT_FALSE(c.connection->has_session());
  for (const auto& e : c.output->queue()) EXPECT_FALSE(IsDroppable(e)) << "unsent audio is dropped";
}

TEST_F(ConnectionTest, UnspokenTextIsBoundedAndAcceptedAgainOnceSpoken) {
  ServiceConfig config = TestConfig();
  config.max_text_chars = 200;
  config.max_output_buffer_ms = 1000;
  Service(config);
  Client& c = ConnectWithSession(Start("bound"));
  c.output->Hold();
  int refused = 0;
  for (int i = 0; i < 20 && refused < 3; ++i) {
    const std::string text = "This is sentence number " + std::to_string(10 + i) + ". ";
    const std::size_t before = c.connection->unspoken_chars();
    const std::size_t errors = ErrorsWithCode(c.output->sent(), ErrorCode::kTextTooLong).size();
    c.Say(text);
    const bool refused_now = ErrorsWithCode(c.output->sent(), ErrorCode::kTextTooLong).size() > errors;
    EXPECT_EQ(refused_now, before + CountCodePoints(text) > 200)
        << "text " << i << ": " << before << " characters unspoken";
    if (refused_now) {
      EXPECT_EQ(c.connection->unspoken_chars(), before) << "refused text is dropped";
    }
    refused += refused_now ? 1 : 0;
    EXPECT_LE(c.connection->unspoken_chars(), 200u);
    RunFor(10ms);
    EXPECT_LE(c.connection->unspoken_chars(), 200u);
  }
  EXPECT_GT(refused, 0) << "the held audio never let the text pass the bound";

  c.output->Release();
  ASSERT_TRUE(RunUntil([&] { return c.connection->unspoken_chars() == 0; }));
  const std::size_t errors = All<ErrorMessage>(c.output->sent()).size();
  const SessionEnded ended = SpeakAndEnd(c, "Accepted again. ");
  EXPECT_EQ(All<ErrorMessage>(c.output->sent()).size(), errors);
  EXPECT_EQ(ended.reason, SessionEndReason::kCompleted);
  const auto segments = c.heard();
  ASSERT_FALSE(segments.empty());
  EXPECT_EQ(segments.back().started.text, "Accepted again.");
}

TEST_F(ConnectionTest, AFailedSegmentIsReportedAndTheSessionGoesOn) {
  Service(TestConfig(FailingModel()));
  Client& c = ConnectWithSession(Start("failing"));
  SayWithAFailingMiddleSegment(c);
  const SessionEnded ended = RunToEnd(c);

  const auto errors = All<ErrorMessage>(c.output->delivered());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, ErrorCode::kInternal);
  EXPECT_EQ(errors[0].segment, 1);
  EXPECT_EQ(errors[0].session_id, "failing");
  const auto segments = c.heard();
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(segments[0].started.segment, 0);
  EXPECT_EQ(segments[0].started.text, "Short one.");
  EXPECT_EQ(segments[1].started.segment, 2);
  EXPECT_EQ(segments[1].started.text, "Short two.");
  EXPECT_EQ(ended.reason, SessionEndReason::kCompleted);
  EXPECT_EQ(ended.segments, 2);
}

TEST_F(ConnectionTest, ServerNamedSessionsNeverCollideWithClientIds) {
  Service();
  StartSession unnamed = Start("");
  Client& a = ConnectWithSession(unnamed);
  Client& b = ConnectWithSession(unnamed);
  const std::string id_a = All<SessionStarted>(a.output->delivered()).at(0).session_id;
  const std::string id_b = All<SessionStarted>(b.output->delivered()).at(0).session_id;
  EXPECT_TRUE(id_a.starts_with("speech-")) << id_a;
  EXPECT_TRUE(id_b.starts_with("speech-")) << id_b;
  EXPECT_NE(id_a, id_b);
  // A client id that spells a server name ("speech-1" on a fresh service) is
  // the client's own: admitted, and like any client id, taken once.
  Client& named = ConnectWithSession(Start(id_a));
  EXPECT_EQ(All<SessionStarted>(named.output->delivered()).at(0).session_id, id_a);
  EXPECT_EQ(service_->active_sessions(), 3u);
  for (const auto& c : clients_) EXPECT_TRUE(All<ErrorMessage>(c.output->delivered()).empty());
  Client& duplicate = Connect();
  duplicate.connection->OnMessage(Start(id_a));
  EXPECT_EQ(ErrorsWithCode(duplicate.output->delivered(), ErrorCode::kSessionActive).size(), 1u);
  EXPECT_EQ(service_->active_sessions(), 3u);
  // Ending the server-named sessions frees their slots, not the client's id.
  a.connection->OnMessage(EndSession{});
  b.connection->OnMessage(EndSession{});
  EXPECT_EQ(service_->active_sessions(), 1u);
  duplicate.connection->OnMessage(Start(id_a));
  EXPECT_EQ(ErrorsWithCode(duplicate.output->delivered(), ErrorCode::kSessionActive).size(), 2u);
}

TEST_F(ConnectionTest, DisconnectMidStreamFreesTheSession) {
  Service();
  Client& c = ConnectWithSession(Start("gone"));
  c.Say("Words for a listener who leaves. And more words after that.");
  c.connection->OnMessage(EndSession{});
  ASSERT_TRUE(RunUntil([&] { return Has(c.output->sent(), IsFrame); }));
  c.connection->OnClosed();
  const std::size_t sent = c.output->sent().size();
  EXPECT_TRUE(c.connection->closed());
  ASSERT_TRUE(RunUntil([&] { return service_->active_sessions() == 0; }));
  RunFor(150ms);
  EXPECT_EQ(c.output->sent().size(), sent) << "nothing is sent after OnClosed";
  c.connection->OnMessage(SendText{"Anyone there?"});
  EXPECT_EQ(c.output->sent().size(), sent);
}

// Two models in one service: each session speaks with the one it named (the
// first by default), at the same time, and is counted under it.
TEST_F(ConnectionTest, SessionsOfTwoModelsSpeakWithTheirOwn) {
  ServiceConfig config = TestConfig();
  config.models = {{"fast", testing::ProbeModelDir().string()}, {"slow", SlowModel().string()}};
  config.max_batch = 4;  // a batch that mixed the models would show in the durations
  Service(config);
  ASSERT_EQ(service_->model_count(), 2u);
  EXPECT_EQ(service_->model_choices()[0].name, "fast");
  StartSession on_slow = Start("on-slow", 1.0);
  on_slow.model = "slow";
  Client& slow = ConnectWithSession(on_slow);
  Client& fast = ConnectWithSession(Start("on-default", 1.0));
  EXPECT_EQ(service_->active_sessions(0), 1u);
  EXPECT_EQ(service_->active_sessions(1), 1u);
  for (Client* c : {&slow, &fast}) {
    c->Say("Same words. ");
    c->Say("Said twice.");
    c->connection->OnMessage(EndSession{});
  }
  RunToEnd(slow);
  RunToEnd(fast);
  EXPECT_EQ(All<SessionStarted>(slow.output->delivered()).at(0).model, "slow");
  EXPECT_EQ(All<SessionStarted>(fast.output->delivered()).at(0).model, "fast");
  double ms[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    const Client& c = k == 0 ? slow : fast;
    for (const auto& segment : c.heard()) {
      EXPECT_EQ(testing::DecodeProbeAudio(ToFloat(segment.samples), kRate).text,
                "<en>" + segment.started.text + "</en>");
      ms[k] += segment.done.duration_ms;
    }
  }
  EXPECT_NEAR(ms[0] / ms[1], 2.0, 0.2) << "0.3 s against 0.15 s per character";
  EXPECT_EQ(service_->active_sessions(0), 0u);
  EXPECT_EQ(service_->active_sessions(1), 0u);

  Client& unknown = Connect();
  StartSession bad = Start("unknown-model");
  bad.model = "medium";
  unknown.connection->OnMessage(bad);
  const auto errors = ErrorsWithCode(unknown.output->delivered(), ErrorCode::kInvalidModel);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "unknown model 'medium' (served: fast, slow)");
  EXPECT_FALSE(unknown.connection->has_session());
}

// The transport closes the connection (posted) when it sends an error; the
// connection must survive the teardown that follows, whatever it was doing.
TEST_F(ConnectionTest, ClosingOnAnErrorIsSafe) {
  ServiceConfig config = TestConfig(FailingModel());
  config.max_text_chars = 100;
  Service(config);
  // An error with no session.
  Client& idle = Connect<ClosingOnErrorOutput>();
  idle.connection->OnMessage(SendText{"hello"});
  // text_too_long while segments are in flight.
  Client& chatty = ConnectWithSession<ClosingOnErrorOutput>(Start("chatty"));
  chatty.Say("Short one. ");
  std::string too_long;
  while (too_long.size() < 100) too_long += "word ";
  chatty.Say(too_long);
  // A failed segment in the middle of emitting audio.
  Client& failing = ConnectWithSession<ClosingOnErrorOutput>(Start("failing"));
  SayWithAFailingMiddleSegment(failing);

  ASSERT_TRUE(RunUntil([&] {
    return std::all_of(clients_.begin(), clients_.end(), [](const Client& c) { return c.connection->closed(); }) &&
           service_->active_sessions() == 0;
  }));
  RunFor(150ms);
  for (const auto& c : clients_) EXPECT_NE(FirstError(c.output->sent()), c.output->sent().end());
}

TEST_F(ConnectionTest, SilenceAroundEachSegmentIsCutToANaturalPause) {
  const std::string text = "Hello world. How are you?";
  ServiceConfig untrimmed_config = TestConfig(SilentModel());
  untrimmed_config.trim_silence = false;
  const auto untrimmed = SpeakOnAFreshService(untrimmed_config, text);
  EXPECT_DOUBLE_EQ(TrimmedSilenceSeconds(), 0.0);
  SessionEnded ended;
  const auto trimmed = SpeakOnAFreshService(TestConfig(SilentModel()), text, &ended);
  ASSERT_EQ(untrimmed.size(), 2u);
  ASSERT_EQ(trimmed.size(), 2u);

  double cut_s = 0, sent_ms = 0;
  for (std::size_t i = 0; i < trimmed.size(); ++i) {
    SCOPED_TRACE("segment " + std::to_string(i) + ": " + trimmed[i].started.text);
    const SpeechSpan before = SpanOf(untrimmed[i]), after = SpanOf(trimmed[i]);
    const std::string spoken = "<en>" + trimmed[i].started.text + "</en>";
    EXPECT_EQ(before.text, spoken);
    EXPECT_EQ(after.text, spoken) << "the text is intact";
    // Untrimmed, the model's silence is all there, and the first frame is silent.
    EXPECT_NEAR(before.tone_start_s - kProbeGapS, kLeadSilenceS, 0.05);
    EXPECT_NEAR(before.duration_s - before.speech_end_s, kTrailSilenceS, 0.08);
    EXPECT_EQ(before.first_frame_rms, 0.0);
    // Trimmed: 15 ms before the first chord (the probe's own 11.6 ms gap and
    // 3.4 ms of the model's silence), so the first 20 ms frame carries speech.
    EXPECT_NEAR(after.tone_start_s, 0.015, 0.002);
    EXPECT_GT(after.first_frame_rms, 0.05);
    // 200 ms after the last chord; the speech between is as long as before.
    EXPECT_NEAR(after.duration_s - after.speech_end_s, 0.200, 0.004);
    EXPECT_NEAR(after.speech_end_s - after.tone_start_s, before.speech_end_s - before.tone_start_s, 0.002);
    const double expected_cut_s =
        (before.tone_start_s - 0.015) + (before.duration_s - before.speech_end_s - 0.200);
    EXPECT_NEAR(before.duration_s - after.duration_s, expected_cut_s, 0.005);
    EXPECT_GT(expected_cut_s, 0.8);
    // segment_started still predicts the model's (untrimmed) duration; segment_done says what was sent.
    EXPECT_DOUBLE_EQ(trimmed[i].started.duration_ms, untrimmed[i].started.duration_ms);
    EXPECT_NEAR(trimmed[i].done.duration_ms, static_cast<double>(trimmed[i].frames) * 20.0, 20.0);
    cut_s += before.duration_s - after.duration_s;
    sent_ms += trimmed[i].done.duration_ms;
  }
  EXPECT_NEAR(trimmed[1].started.start_ms, static_cast<double>(trimmed[0].frames) * 20.0, 1e-9);
  EXPECT_NEAR(ended.audio_ms, sent_ms, 0.01);
  EXPECT_NEAR(TrimmedSilenceSeconds(), cut_s, 0.002);
}

TEST_F(ConnectionTest, TrimmingLeavesAudioWithoutLongSilencesAsItWas) {
  // The probe model's characters start with 11.6 ms of silence and its items
  // end on a chord: less than the pauses kept, so trimming changes nothing.
  const std::string text = "Hello world. How are you?";
  ServiceConfig untrimmed_config = TestConfig();
  untrimmed_config.trim_silence = false;
  const auto untrimmed = SpeakOnAFreshService(untrimmed_config, text);
  const auto trimmed = SpeakOnAFreshService(TestConfig(), text);
  ASSERT_EQ(trimmed.size(), untrimmed.size());
  for (std::size_t i = 0; i < trimmed.size(); ++i) {
    EXPECT_EQ(trimmed[i].samples, untrimmed[i].samples) << "segment " << i;
    EXPECT_DOUBLE_EQ(trimmed[i].done.duration_ms, untrimmed[i].done.duration_ms);
  }
  EXPECT_DOUBLE_EQ(TrimmedSilenceSeconds(), 0.0);
}

}  // namespace
}  // namespace supertonic::service
