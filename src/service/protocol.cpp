#include "service/protocol.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <climits>
#include <cmath>
#include <exception>
#include <type_traits>
#include <utility>

#include "text/utf8.h"

namespace supertonic::service {

namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr std::size_t kQuotedInputMaxBytes = 64;
constexpr std::size_t kParseErrorMaxBytes = 160;

// Nesting depth of arrays/objects outside strings, without parsing: rejects
// deep input in one linear pass before the parser allocates anything. On
// malformed input the count may be off, which is harmless: the parser then
// rejects it (nlohmann's parser keeps its own stack, it does not recurse).
bool NestingWithin(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > max_depth) return false;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return true;
}

// At most max_bytes of `s`, cut at a UTF-8 character boundary, "..." appended when cut.
std::string Quote(std::string_view s, std::size_t max_bytes = kQuotedInputMaxBytes) {
  if (s.size() <= max_bytes) return std::string(s);
  return std::string(utf8::Truncate(s, max_bytes)) + "...";
}

bool HasControlCharacter(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

// nlohmann's message without its "[json.exception.parse_error.101] " prefix,
// and short: it ends with the token read so far, which may be most of the frame.
std::string DescribeParseError(std::string_view what) {
  if (what.rfind("[json.exception.", 0) == 0) {
    const auto end = what.find("] ");
    if (end != std::string_view::npos) what.remove_prefix(end + 2);
  }
  return Quote(what, kParseErrorMaxBytes);
}

ProtocolError Invalid(std::string message) { return {ErrorCode::kInvalidMessage, std::move(message)}; }

ProtocolError WrongType(std::string_view field, std::string_view expected, const Json& value) {
  return Invalid("field '" + std::string(field) + "' must be " + std::string(expected) + ", got " +
                 value.type_name());
}

// A JSON number that is a whole number fitting an int.
enum class IntegerStatus { kOk, kNotInteger, kOutOfRange };

IntegerStatus ToInt(const Json& value, int& out) {
  if (value.is_number_integer() && !value.is_number_unsigned()) {
    const auto v = value.get<int64_t>();
    if (v < INT_MIN || v > INT_MAX) return IntegerStatus::kOutOfRange;
    out = static_cast<int>(v);
    return IntegerStatus::kOk;
  }
  if (value.is_number_unsigned()) {
    const auto v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(INT_MAX)) return IntegerStatus::kOutOfRange;
    out = static_cast<int>(v);
    return IntegerStatus::kOk;
  }
  if (value.is_number_float()) {
    const double v = value.get<double>();
    if (std::isnan(v)) return IntegerStatus::kNotInteger;
    if (std::isinf(v)) return IntegerStatus::kOutOfRange;
    if (std::trunc(v) != v) return IntegerStatus::kNotInteger;
    if (v < static_cast<double>(INT_MIN) || v > static_cast<double>(INT_MAX)) return IntegerStatus::kOutOfRange;
    out = static_cast<int>(v);
    return IntegerStatus::kOk;
  }
  return IntegerStatus::kNotInteger;
}

// Reads an optional field of JSON type `T` (string, number, boolean); null counts as absent.
template <typename T>
std::optional<ProtocolError> ReadOptional(const Json& object, const char* key, std::string_view path,
                                          std::optional<T>& out) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return WrongType(path, "a string", *it);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) return WrongType(path, "true or false", *it);
  } else {
    if (!it->is_number()) return WrongType(path, "a number", *it);
  }
  out = it->get<T>();
  return std::nullopt;
}

std::optional<ProtocolError> ReadOptionalString(const Json& object, const char* key, std::string_view path,
                                                std::optional<std::string>& out) {
  return ReadOptional(object, key, path, out);
}

std::optional<ProtocolError> ReadOptionalNumber(const Json& object, const char* key, std::string_view path,
                                                std::optional<double>& out) {
  return ReadOptional(object, key, path, out);
}

std::optional<ProtocolError> ReadOptionalBool(const Json& object, const char* key, std::string_view path,
                                              std::optional<bool>& out) {
  return ReadOptional(object, key, path, out);
}

std::optional<ProtocolError> ReadOptionalInt(const Json& object, const char* key, std::string_view path,
                                             ErrorCode range_code, std::optional<int>& out) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) return WrongType(path, "an integer", *it);
  int value = 0;
  switch (ToInt(*it, value)) {
    case IntegerStatus::kOk: out = value; return std::nullopt;
    case IntegerStatus::kNotInteger: return Invalid("field '" + std::string(path) + "' must be an integer");
    case IntegerStatus::kOutOfRange:
      return ProtocolError{range_code, "field '" + std::string(path) + "' is out of range"};
  }
  return std::nullopt;
}

ParseResult ParseStartSession(const Json& root) {
  StartSession msg;
  const auto id = root.find("session_id");
  if (id == root.end()) return Invalid("start_session needs a 'session_id'");
  if (!id->is_string()) return WrongType("session_id", "a string", *id);
  msg.session_id = id->get<std::string>();
  if (msg.session_id.empty()) return Invalid("'session_id' must not be empty");
  if (CountCodePoints(msg.session_id) > kMaxSessionIdChars) {
    return Invalid("'session_id' must be at most " + std::to_string(kMaxSessionIdChars) + " characters");
  }
  if (HasControlCharacter(msg.session_id)) return Invalid("'session_id' must not contain control characters");

  const auto config = root.find("config");
  if (config == root.end() || config->is_null()) return ClientMessage(std::move(msg));
  if (!config->is_object()) return WrongType("config", "an object", *config);
  if (auto e = ReadSessionConfig(*config, "config.", msg)) return *e;
  return ClientMessage(std::move(msg));
}

ParseResult ParseSendText(const Json& root) {
  const auto text = root.find("text");
  if (text == root.end()) return Invalid("send_text needs a 'text'");
  if (!text->is_string()) return WrongType("text", "a string", *text);
  return ClientMessage(SendText{text->get<std::string>()});
}

ParseResult ParseObject(const Json& root) {
  if (!root.is_object()) return Invalid(std::string("a message must be a JSON object, got ") + root.type_name());
  const auto type = root.find("type");
  if (type == root.end()) return Invalid("the message has no 'type'");
  if (!type->is_string()) return WrongType("type", "a string", *type);
  const auto& name = type->get_ref<const std::string&>();
  if (name == "start_session") return ParseStartSession(root);
  if (name == "send_text") return ParseSendText(root);
  if (name == "flush") return ClientMessage(Flush{});
  if (name == "end_session") return ClientMessage(EndSession{});
  if (name == "cancel") return ClientMessage(Cancel{});
  return ProtocolError{ErrorCode::kUnknownMessageType, "unknown message type '" + Quote(name) + "'"};
}

std::string Dump(const OrderedJson& j) {
  return j.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

// Milliseconds rounded to 1 µs; non-finite values (a bug upstream) become 0
// rather than JSON null, which clients would not expect.
double Ms(double ms) {
  if (!std::isfinite(ms)) return 0.0;
  return std::round(ms * 1000.0) / 1000.0;
}

OrderedJson Header(std::string_view type, std::string_view session_id) {
  OrderedJson j;
  j["type"] = type;
  j["session_id"] = session_id;
  return j;
}

}  // namespace

bool JsonNestingWithin(std::string_view text, int max_depth) { return NestingWithin(text, max_depth); }

bool IsSupportedSampleRate(int rate) {
  return std::find(kSupportedSampleRates.begin(), kSupportedSampleRates.end(), rate) != kSupportedSampleRates.end();
}

bool IsValidSpeed(double speed) { return std::isfinite(speed) && speed >= kMinSpeed && speed <= kMaxSpeed; }

bool IsValidInferenceSteps(int steps) { return steps >= kMinInferenceSteps && steps <= kMaxInferenceSteps; }

std::string_view MessageTypeName(const ClientMessage& message) {
  struct Visitor {
    std::string_view operator()(const StartSession&) const { return "start_session"; }
    std::string_view operator()(const SendText&) const { return "send_text"; }
    std::string_view operator()(const Flush&) const { return "flush"; }
    std::string_view operator()(const EndSession&) const { return "end_session"; }
    std::string_view operator()(const Cancel&) const { return "cancel"; }
  };
  return std::visit(Visitor{}, message);
}

ParseResult ParseClientMessage(std::string_view frame) noexcept {
  try {
    if (frame.empty()) return Invalid("empty message");
    if (!NestingWithin(frame, kMaxJsonDepth)) {
      return Invalid("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    Json root;
    try {
      root = Json::parse(frame.begin(), frame.end());
    } catch (const Json::exception& e) {
      return Invalid("not valid JSON: " + DescribeParseError(e.what()));
    }
    return ParseObject(root);
  } catch (const std::exception& e) {
    return Invalid(std::string("unreadable message: ") + e.what());
  } catch (...) {
    return Invalid("unreadable message");
  }
}

std::string SerializeClientMessage(const ClientMessage& message) {
  OrderedJson j;
  j["type"] = MessageTypeName(message);
  if (const auto* start = std::get_if<StartSession>(&message)) {
    j["session_id"] = start->session_id;
    OrderedJson config = OrderedJson::object();
    if (start->model) config["model"] = *start->model;
    if (start->voice) config["voice"] = *start->voice;
    if (start->lang_code) config["lang_code"] = *start->lang_code;
    if (start->speed) config["speed"] = *start->speed;
    if (start->num_inference_steps) config["num_inference_steps"] = *start->num_inference_steps;
    if (start->sample_rate) config["sample_rate"] = *start->sample_rate;
    if (start->normalize) config["normalize"] = *start->normalize;
    if (start->word_timings) config["word_timings"] = *start->word_timings;
    if (!config.empty()) j["config"] = std::move(config);
  } else if (const auto* send = std::get_if<SendText>(&message)) {
    j["text"] = send->text;
  }
  return Dump(j);
}

std::optional<ProtocolError> ReadSessionConfig(const nlohmann::json& object, std::string_view prefix,
                                               StartSession& out) {
  const std::string p(prefix);
  if (auto e = ReadOptionalString(object, "model", p + "model", out.model)) return e;
  if (auto e = ReadOptionalString(object, "voice", p + "voice", out.voice)) return e;
  if (auto e = ReadOptionalString(object, "lang_code", p + "lang_code", out.lang_code)) return e;
  if (auto e = ReadOptionalNumber(object, "speed", p + "speed", out.speed)) return e;
  if (auto e = ReadOptionalBool(object, "normalize", p + "normalize", out.normalize)) return e;
  if (auto e = ReadOptionalBool(object, "word_timings", p + "word_timings", out.word_timings)) return e;
  if (auto e = ReadOptionalInt(object, "num_inference_steps", p + "num_inference_steps", ErrorCode::kInvalidConfig,
                               out.num_inference_steps)) {
    return e;
  }
  return ReadOptionalInt(object, "sample_rate", p + "sample_rate", ErrorCode::kInvalidSampleRate, out.sample_rate);
}

std::string_view WireName(SessionEndReason reason) {
  switch (reason) {
    case SessionEndReason::kCompleted: return "completed";
    case SessionEndReason::kCancelledByClient: return "cancelled_by_client";
    case SessionEndReason::kShuttingDown: return "shutting_down";
    case SessionEndReason::kError: return "error";
  }
  return "error";
}

std::string Serialize(const ServerMessage& message) {
  return std::visit([](const auto& m) { return Serialize(m); }, message);
}

std::string Serialize(const SessionStarted& m) {
  OrderedJson j = Header("session_started", m.session_id);
  if (!m.model.empty()) j["model"] = m.model;
  if (!m.profile.empty()) j["profile"] = m.profile;
  j["expression_tags"] = m.expression_tags;
  j["normalize"] = m.normalize;
  j["word_timings"] = m.word_timings;
  j["voice"] = m.voice;
  if (!m.resolved_voice.empty()) j["resolved_voice"] = m.resolved_voice;
  j["lang_code"] = m.lang_code;
  j["sample_rate"] = m.sample_rate;
  j["frame_ms"] = m.frame_ms;
  j["samples_per_frame"] = m.samples_per_frame;
  j["encoding"] = "pcm_s16le";
  j["channels"] = 1;
  j["num_inference_steps"] = m.num_inference_steps;
  j["speed"] = std::isfinite(m.speed) ? m.speed : 0.0;
  j["protocol_version"] = kProtocolVersion;
  if (!m.server.empty()) j["server"] = m.server;
  return Dump(j);
}

std::string Serialize(const SegmentStarted& m) {
  OrderedJson j = Header("segment_started", m.session_id);
  j["segment"] = m.segment;
  j["text"] = m.text;
  j["spoken_text"] = m.spoken_text;
  j["duration_ms"] = Ms(m.duration_ms);
  j["start_ms"] = Ms(m.start_ms);
  return Dump(j);
}

std::string Serialize(const WordTimings& m) {
  OrderedJson j = Header("word_timings", m.session_id);
  j["segment"] = m.segment;
  OrderedJson words = OrderedJson::array();
  for (const auto& w : m.words) {
    OrderedJson word;
    word["word"] = w.word;
    word["start_ms"] = Ms(w.start_ms);
    word["end_ms"] = Ms(w.end_ms);
    words.push_back(std::move(word));
  }
  j["words"] = std::move(words);
  return Dump(j);
}

std::string Serialize(const SegmentDone& m) {
  OrderedJson j = Header("segment_done", m.session_id);
  j["segment"] = m.segment;
  j["text"] = m.text;
  j["spoken_text"] = m.spoken_text;
  j["duration_ms"] = Ms(m.duration_ms);
  j["frames"] = m.frames;
  j["queue_ms"] = Ms(m.queue_ms);
  j["synthesis_ms"] = Ms(m.synthesis_ms);
  j["batch_size"] = m.batch_size;
  return Dump(j);
}

std::string Serialize(const ErrorMessage& m) {
  OrderedJson j;
  j["type"] = "error";
  if (m.session_id) {
    j["session_id"] = *m.session_id;
  } else {
    j["session_id"] = nullptr;
  }
  j["code"] = WireName(m.code);
  j["message"] = m.message;
  j["retryable"] = IsRetryable(m.code);
  if (m.segment) j["segment"] = *m.segment;
  return Dump(j);
}

std::string Serialize(const SessionEnded& m) {
  OrderedJson j = Header("session_ended", m.session_id);
  j["segments"] = m.segments;
  j["audio_ms"] = Ms(m.audio_ms);
  j["reason"] = WireName(m.reason);
  return Dump(j);
}

std::string Serialize(const Cancelled& m) {
  OrderedJson j = Header("cancelled", m.session_id);
  j["segments_dropped"] = m.segments_dropped;
  return Dump(j);
}

}  // namespace supertonic::service
