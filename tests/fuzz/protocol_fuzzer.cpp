// Fuzz target: the client message parser (service::ParseClientMessage), fed
// each input as one WebSocket text frame, and the server-side serializers
// that echo client input.
//
// Invariants:
//  - parsing never throws or crashes, whatever the bytes;
//  - a rejection carries one of the codes the parser documents
//    (invalid_message, unknown_message_type, and the range codes of the two
//    integer config fields), and the error message the server would send is
//    valid JSON carrying that code;
//  - an accepted message obeys the documented field rules (a start_session's
//    id is non-empty, at most kMaxSessionIdChars code points, without control
//    characters; strings are valid UTF-8), and SerializeClientMessage of it
//    parses back to an equal message. Documented exception: JSON has no
//    infinity, so a speed that overflowed to +-inf ("1e999", accepted by the
//    parser and rejected by the session as out of range) serializes as null,
//    which parses back as "no speed".
//  - the server messages that quote client text (segment_started/_done,
//    error) are valid JSON and return that text unchanged.
#include <nlohmann/json.hpp>

#include <cmath>
#include <string>
#include <variant>

#include "fuzz/fuzz_support.h"
#include "service/protocol.h"

namespace supertonic::fuzz {

namespace {

using namespace supertonic::service;

std::size_t CodePoints(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Parses a server message and returns it; aborts when it is not a JSON object.
nlohmann::json ParseServerMessage(const std::string& json, std::string_view input) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(j.is_object(), "server message is not a JSON object: " + Escape(json) + "  input: " + Escape(input));
  return j;
}

void CheckError(const ProtocolError& error, std::string_view input) {
  const bool documented = error.code == ErrorCode::kInvalidMessage || error.code == ErrorCode::kUnknownMessageType ||
                          error.code == ErrorCode::kInvalidConfig || error.code == ErrorCode::kInvalidSampleRate;
  FUZZ_CHECK(documented, "parser returned code " + std::string(WireName(error.code)) + " for " + Escape(input));
  FUZZ_CHECK(!error.message.empty(), "empty error message for " + Escape(input));
  ErrorMessage e;
  e.code = error.code;
  e.message = error.message;
  const nlohmann::json j = ParseServerMessage(Serialize(e), input);
  FUZZ_CHECK(j.value("code", "") == WireName(error.code), "error code lost in serialization: " + j.dump());
  FUZZ_CHECK(j["session_id"].is_null(), "error without a session has a session_id: " + j.dump());
}

// Text as the server echoes it; any bytes give valid JSON (invalid UTF-8
// replaced), valid UTF-8 comes back unchanged.
void CheckEcho(const std::string& text, std::string_view input) {
  const bool valid = IsValidUtf8(text);
  SegmentStarted started;
  started.session_id = "s";
  started.text = text;
  const nlohmann::json j = ParseServerMessage(Serialize(started), input);
  FUZZ_CHECK(!valid || j.value("text", std::string()) == text,
             "segment_started does not carry the text unchanged: " + Escape(text));
  SegmentDone done;
  done.session_id = text;  // also: a session id echoed in every server message
  done.text = text;
  const nlohmann::json d = ParseServerMessage(Serialize(done), input);
  FUZZ_CHECK(!valid || (d.value("text", std::string()) == text && d.value("session_id", std::string()) == text),
             "segment_done does not carry the text unchanged: " + Escape(text));
  ErrorMessage e;
  e.session_id = text;
  e.message = "quoting '" + text + "'";
  ParseServerMessage(Serialize(e), input);
}

void CheckMessage(const ClientMessage& message, std::string_view input) {
  if (const auto* start = std::get_if<StartSession>(&message)) {
    const std::string& id = start->session_id;
    FUZZ_CHECK(!id.empty(), "accepted an empty session id: " + Escape(input));
    FUZZ_CHECK(CodePoints(id) <= kMaxSessionIdChars, "accepted a session id over the limit: " + Escape(input));
    for (char c : id) {
      const auto u = static_cast<unsigned char>(c);
      FUZZ_CHECK(u >= 0x20 && u != 0x7F, "accepted a session id with a control character: " + Escape(input));
    }
    FUZZ_CHECK(IsValidUtf8(id), "session id is not valid UTF-8: " + Escape(id));
    if (start->voice) FUZZ_CHECK(IsValidUtf8(*start->voice), "voice is not valid UTF-8: " + Escape(*start->voice));
    if (start->lang_code) {
      FUZZ_CHECK(IsValidUtf8(*start->lang_code), "lang_code is not valid UTF-8: " + Escape(*start->lang_code));
    }
    if (start->speed) FUZZ_CHECK(!std::isnan(*start->speed), "speed is NaN: " + Escape(input));
    CheckEcho(id, input);
  } else if (const auto* send = std::get_if<SendText>(&message)) {
    FUZZ_CHECK(IsValidUtf8(send->text), "send_text text is not valid UTF-8: " + Escape(send->text));
    CheckEcho(send->text, input);
  }

  // Round trip through the client serializer.
  const std::string wire = SerializeClientMessage(message);
  const ParseResult again = ParseClientMessage(wire);
  FUZZ_CHECK(again.ok(), "the serialized message does not parse: " + Escape(wire) + " (" +
                             (again.ok() ? std::string() : again.error().message) + ")  input: " + Escape(input));
  ClientMessage expected = message;
  if (auto* start = std::get_if<StartSession>(&expected); start && start->speed && std::isinf(*start->speed)) {
    start->speed.reset();  // the documented exception: JSON has no infinity
  }
  FUZZ_CHECK(again.message() == expected,
             "the round trip changed the message: " + Escape(wire) + "  input: " + Escape(input));
  FUZZ_CHECK(SerializeClientMessage(again.message()) == SerializeClientMessage(expected),
             "serialization is not stable: " + Escape(wire));
}

}  // namespace

int FuzzProtocol(const uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const ParseResult result = ParseClientMessage(input);
  if (size <= 4096) CheckEcho(std::string(input), input);
  if (result.ok()) {
    CheckMessage(result.message(), input);
  } else {
    CheckError(result.error(), input);
  }
  return 0;
}

}  // namespace supertonic::fuzz
