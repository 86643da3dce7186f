#pragma once
// The WebSocket protocol of /ws/tts (docs/protocol.md): client messages parsed from
// JSON text frames and server messages serialized to JSON text frames (their
// error codes: service/errors.h). Pure functions: no sockets, no sessions, no model.
//
// Forward compatibility: clients and servers evolve independently, so
//  - unknown fields in a client message are ignored (a newer client may add
//    fields; an older server must still understand the message);
//  - an optional field that is JSON null is treated as absent (Python's None);
//  - an unknown message "type" is its own, recoverable error
//    (unknown_message_type), so the session survives it.
// Clients must likewise ignore server message types and fields they do not
// know.
//
// The parser checks syntax and types only. Whether a voice exists, a language
// is supported, a speed or step count is in range, or a text fits the session's
// limit is decided by the session, which knows the model and the
// configuration; the constants and helpers below are what it checks against.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "service/errors.h"

namespace supertonic::service {

inline constexpr int kProtocolVersion = 1;

// ---------------------------------------------------------------------------
// Limits and value checks shared by the parser, the sessions and the
// environment configuration.

inline constexpr std::size_t kMaxSessionIdChars = 128;  // code points
// JSON nesting deeper than this is rejected before it is parsed. A valid
// client message nests 2 levels ({"config":{...}}); the slack is for fields
// future clients may add.
inline constexpr int kMaxJsonDepth = 32;

inline constexpr std::array<int, 6> kSupportedSampleRates = {8000, 16000, 22050, 24000, 44100, 48000};
inline constexpr double kMinSpeed = 0.5;
inline constexpr double kMaxSpeed = 2.0;
inline constexpr int kMinInferenceSteps = 1;
inline constexpr int kMaxInferenceSteps = 32;

// Whether JSON `text` nests arrays/objects at most max_depth deep (one linear
// pass, without parsing: deep input is refused before a parser allocates).
bool JsonNestingWithin(std::string_view text, int max_depth = kMaxJsonDepth);

bool IsSupportedSampleRate(int rate);
bool IsValidSpeed(double speed);           // finite and in [kMinSpeed, kMaxSpeed]
bool IsValidInferenceSteps(int steps);     // in [kMinInferenceSteps, kMaxInferenceSteps]

// ---------------------------------------------------------------------------
// Client -> server.

// {"type":"start_session","session_id":"...","config":{...}}. The config
// fields are flattened here; an absent field means "use the server default".
struct StartSession {
  std::string session_id;  // non-empty, <= kMaxSessionIdChars, no control characters
  std::optional<std::string> voice;
  std::optional<std::string> lang_code;
  std::optional<double> speed;
  std::optional<int> num_inference_steps;
  std::optional<int> sample_rate;
  std::optional<std::string> model;  // a served model's name; absent: the first
  std::optional<bool> normalize;     // say numbers, money, dates... in words; absent: TTS_TEXT_NORMALIZATION
  std::optional<bool> word_timings;  // a word_timings message after each segment_started; absent: false
  bool operator==(const StartSession&) const = default;
};
struct SendText {
  std::string text;  // may be empty (a no-op)
  bool operator==(const SendText&) const = default;
};
struct Flush {
  bool operator==(const Flush&) const = default;
};
struct EndSession {
  bool operator==(const EndSession&) const = default;
};
struct Cancel {
  bool operator==(const Cancel&) const = default;
};
using ClientMessage = std::variant<StartSession, SendText, Flush, EndSession, Cancel>;

// The wire "type" of a message ("start_session", ...).
std::string_view MessageTypeName(const ClientMessage& message);

struct ProtocolError {
  ErrorCode code;
  std::string message;  // for humans; may quote (truncated) client input
};

class ParseResult {
 public:
  ParseResult(ClientMessage message) : value_(std::move(message)) {}
  ParseResult(ProtocolError error) : value_(std::move(error)) {}

  bool ok() const { return value_.index() == 0; }
  explicit operator bool() const { return ok(); }
  // Precondition: ok() for message(), !ok() for error().
  const ClientMessage& message() const { return std::get<0>(value_); }
  ClientMessage& message() { return std::get<0>(value_); }
  const ProtocolError& error() const { return std::get<1>(value_); }

 private:
  std::variant<ClientMessage, ProtocolError> value_;
};

// Parses one text frame. Never throws, whatever the input: malformed JSON,
// invalid UTF-8, nesting deeper than kMaxJsonDepth, a non-object or a
// missing/ill-typed field give kInvalidMessage; an unknown "type" gives
// kUnknownMessageType. Integer fields accept integral numbers (2 or 2.0);
// an integer too large for an int gives the field's own range code
// (kInvalidConfig for num_inference_steps, kInvalidSampleRate for
// sample_rate). The frame size limit is the transport's to enforce.
ParseResult ParseClientMessage(std::string_view frame) noexcept;

// The JSON text frame a client sends for `message` (for C++ clients, tools
// and tests). Invalid UTF-8 in strings is replaced by U+FFFD.
std::string SerializeClientMessage(const ClientMessage& message);

// Reads a session's settings from a JSON object (start_session's "config",
// or an OpenAI speech request's body) into `out`: "model", "voice" and
// "lang_code" (strings), "speed" (number), "num_inference_steps" and "sample_rate"
// (integers), each optional, null meaning absent. `prefix` names the object
// in error messages ("config." gives "config.speed"). Types and integer
// ranges are checked as ParseClientMessage checks them; values against the
// model and the limits by ResolveSessionSettings.
std::optional<ProtocolError> ReadSessionConfig(const nlohmann::json& object, std::string_view prefix,
                                               StartSession& out);

// ---------------------------------------------------------------------------
// Server -> client. Every message has "type" and "session_id". Strings that
// echo client input are serialized with invalid UTF-8 replaced by U+FFFD;
// serializing never throws for bad text. Durations are milliseconds as JSON
// numbers (rounded to 1 µs).

// The effective configuration of a new session.
struct SessionStarted {
  std::string session_id;
  std::string voice;
  std::string lang_code;
  int sample_rate = 0;
  int frame_ms = 0;
  int samples_per_frame = 0;  // PCM16 mono samples in each binary frame
  int num_inference_steps = 0;
  double speed = 1.0;
  std::string server;         // e.g. "supertonic-tts/0.1.0"; omitted when empty
  std::string model;          // the served model's name; omitted when empty
  std::string profile;        // which Supertonic it is ("supertonic-3"); omitted when empty
  std::vector<std::string> expression_tags;  // tags the model reads in the text (<laugh>...); always sent
  bool normalize = true;      // whether the text is normalized before the model reads it
  bool word_timings = false;  // whether word_timings messages follow segment_started
  // The voice as resolved: a name, or a blend with its weights normalized
  // ("F1:0.7+M2:0.3"); omitted when empty.
  std::string resolved_voice;
};
// Also sent: "encoding":"pcm_s16le", "channels":1, "protocol_version".

// Right before the first binary frame of a segment.
struct SegmentStarted {
  std::string session_id;
  int64_t segment = 0;           // 0-based index within the session
  std::string text;              // as the client sent it
  std::string spoken_text;       // what the model was given (text normalized)
  double duration_ms = 0;        // predicted audio length of the segment
  double start_ms = 0;           // where the segment's audio starts in the session's audio stream
};

// Right after segment_started, when the session asked for them: the
// segment's words as the client wrote them, on the session's audio timeline.
struct WordTiming {
  std::string word;
  double start_ms = 0;
  double end_ms = 0;
  bool operator==(const WordTiming&) const = default;
};
struct WordTimings {
  std::string session_id;
  int64_t segment = 0;
  std::vector<WordTiming> words;
};

// After the last binary frame of a segment.
struct SegmentDone {
  std::string session_id;
  int64_t segment = 0;
  std::string text;
  std::string spoken_text;
  double duration_ms = 0;        // real audio sent (the last frame's padding excluded)
  int64_t frames = 0;            // binary frames sent for the segment
  double queue_ms = 0;           // from the segment being cut to its inference starting
  double synthesis_ms = 0;       // inference time of the batch that produced it
  int batch_size = 1;            // segments in that model call
};

// session_id null when the error is not about a session (e.g. no_session,
// capacity on a connection without a session).
struct ErrorMessage {
  std::optional<std::string> session_id;
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::optional<int64_t> segment;  // the segment that failed, when the error is about one
};
// Also sent: "retryable" from IsRetryable(code).

enum class SessionEndReason {
  kCompleted,          // end_session: all pending text was spoken
  kCancelledByClient,  // the session's last work was dropped by a cancel
  kShuttingDown,       // the server drained the session at shutdown
  kError,              // the session could not continue (see the preceding error)
};
std::string_view WireName(SessionEndReason reason);

struct SessionEnded {
  std::string session_id;
  int64_t segments = 0;          // segments whose audio was sent
  double audio_ms = 0;           // total real audio sent
  SessionEndReason reason = SessionEndReason::kCompleted;
};

// Confirms a cancel: no binary frame of the cancelled work follows it.
struct Cancelled {
  std::string session_id;
  int64_t segments_dropped = 0;  // segments pending, queued or running that were discarded
};

// Everything the service sends a client besides audio, in one type: the
// transports serialize it (WebSocket) or translate it (the OpenAI endpoint).
using ServerMessage =
    std::variant<SessionStarted, SegmentStarted, WordTimings, SegmentDone, ErrorMessage, SessionEnded, Cancelled>;

std::string Serialize(const ServerMessage& message);
std::string Serialize(const SessionStarted& message);
std::string Serialize(const SegmentStarted& message);
std::string Serialize(const WordTimings& message);
std::string Serialize(const SegmentDone& message);
std::string Serialize(const ErrorMessage& message);
std::string Serialize(const SessionEnded& message);
std::string Serialize(const Cancelled& message);

}  // namespace supertonic::service
