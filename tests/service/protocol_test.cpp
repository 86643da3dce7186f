#include "service/protocol.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace supertonic::service {
namespace {

using Json = nlohmann::json;
using namespace std::string_literals;

ProtocolError ParseError(std::string_view frame) {
  const ParseResult r = ParseClientMessage(frame);
  EXPECT_FALSE(r.ok()) << "parsed: " << frame;
  if (r.ok()) return {ErrorCode::kInternal, "parsed"};
  EXPECT_FALSE(r.error().message.empty());
  return r.error();
}

ErrorCode ParseErrorCode(std::string_view frame) { return ParseError(frame).code; }

// A start_session with only its id.
StartSession DefaultStart(std::string session_id) {
  StartSession s;
  s.session_id = std::move(session_id);
  return s;
}

ClientMessage ParseOk(std::string_view frame) {
  const ParseResult r = ParseClientMessage(frame);
  EXPECT_TRUE(r.ok()) << frame << " -> " << (r.ok() ? "" : r.error().message);
  if (!r.ok()) return Flush{};
  return r.message();
}

StartSession ParseStart(std::string_view frame) {
  const ClientMessage m = ParseOk(frame);
  EXPECT_TRUE(std::holds_alternative<StartSession>(m)) << frame;
  if (!std::holds_alternative<StartSession>(m)) return {};
  return std::get<StartSession>(m);
}

// ---------------------------------------------------------------------------
// Error code table

TEST(ErrorCodeTest, TableIsTheDocumentedContract) {
  const std::map<std::string, bool> documented = {
      {"invalid_message", false},     {"unknown_message_type", false}, {"no_session", false},
      {"session_active", false},      {"invalid_voice", false},        {"invalid_language", false},
      {"invalid_sample_rate", false}, {"invalid_config", false},       {"text_too_long", false},
      {"message_too_large", false},   {"binary_not_supported", false}, {"capacity", true},
      {"shutting_down", true},        {"slow_consumer", true},         {"unauthorized", false},
      {"internal", true},             {"invalid_model", false},
  };
  std::map<std::string, bool> actual;
  for (const auto& info : AllErrorCodes()) {
    if (!SentOverWebSocket(info.code)) continue;
    EXPECT_TRUE(actual.emplace(std::string(info.wire_name), info.retryable).second)
        << "duplicate wire name " << info.wire_name;
    EXPECT_EQ(WireName(info.code), info.wire_name);
    EXPECT_EQ(IsRetryable(info.code), info.retryable);
    EXPECT_EQ(ErrorCodeFromWireName(info.wire_name), info.code);
    EXPECT_FALSE(info.meaning.empty());
  }
  EXPECT_EQ(actual, documented);
}

TEST(ErrorCodeTest, TheWebSocketCodesComeFirst) {
  const auto all = AllErrorCodes();
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(SentOverWebSocket(all[i].code), i <= static_cast<size_t>(ErrorCode::kInvalidModel)) << all[i].wire_name;
  }
}

TEST(ErrorCodeTest, WireNamesAreSnakeCase) {
  for (const auto& info : AllErrorCodes()) {
    for (char c : info.wire_name) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << info.wire_name;
  }
  EXPECT_EQ(ErrorCodeFromWireName("Capacity"), std::nullopt);
  EXPECT_EQ(ErrorCodeFromWireName(""), std::nullopt);
}

TEST(ValueCheckTest, SampleRatesSpeedAndSteps) {
  for (int rate : {8000, 16000, 22050, 24000, 44100, 48000}) EXPECT_TRUE(IsSupportedSampleRate(rate)) << rate;
  for (int rate : {0, -1, 11025, 32000, 96000, 24001}) EXPECT_FALSE(IsSupportedSampleRate(rate)) << rate;
  EXPECT_TRUE(IsValidSpeed(0.5));
  EXPECT_TRUE(IsValidSpeed(1.05));
  EXPECT_TRUE(IsValidSpeed(2.0));
  EXPECT_FALSE(IsValidSpeed(0.49));
  EXPECT_FALSE(IsValidSpeed(2.01));
  EXPECT_FALSE(IsValidSpeed(std::numeric_limits<double>::quiet_NaN()));
  EXPECT_FALSE(IsValidSpeed(std::numeric_limits<double>::infinity()));
  EXPECT_TRUE(IsValidInferenceSteps(1));
  EXPECT_TRUE(IsValidInferenceSteps(32));
  EXPECT_FALSE(IsValidInferenceSteps(0));
  EXPECT_FALSE(IsValidInferenceSteps(33));
}

// ---------------------------------------------------------------------------
// Client messages: valid input

TEST(ParseClientMessageTest, SeedExamples) {
  const StartSession start =
      ParseStart(R"({"type":"start_session","session_id":"3f1c","config":{"voice":"F1","lang_code":"pt"}})");
  EXPECT_EQ(start.session_id, "3f1c");
  EXPECT_EQ(start.voice, "F1");
  EXPECT_EQ(start.lang_code, "pt");
  EXPECT_EQ(start.speed, std::nullopt);
  EXPECT_EQ(start.num_inference_steps, std::nullopt);
  EXPECT_EQ(start.sample_rate, std::nullopt);

  EXPECT_EQ(ParseOk(R"({"type":"send_text","text":"Olá, como você está?"})"),
            ClientMessage(SendText{"Olá, como você está?"}));
  EXPECT_EQ(ParseOk(R"({"type":"flush"})"), ClientMessage(Flush{}));
  EXPECT_EQ(ParseOk(R"({"type":"end_session"})"), ClientMessage(EndSession{}));
  EXPECT_EQ(ParseOk(R"({"type":"cancel"})"), ClientMessage(Cancel{}));
}

TEST(ParseClientMessageTest, FullConfig) {
  const StartSession s = ParseStart(
      R"({"type":"start_session","session_id":"a","config":{"voice":"M3","lang_code":"en","speed":1.2,)"
      R"("num_inference_steps":5,"sample_rate":48000,"model":"supertonic-3","normalize":false,"word_timings":true}})");
  EXPECT_EQ(s.voice, "M3");
  EXPECT_EQ(s.lang_code, "en");
  EXPECT_EQ(s.speed, 1.2);
  EXPECT_EQ(s.num_inference_steps, 5);
  EXPECT_EQ(s.sample_rate, 48000);
  EXPECT_EQ(s.model, "supertonic-3");
  EXPECT_EQ(s.normalize, false);
  EXPECT_EQ(s.word_timings, true);
}

TEST(ParseClientMessageTest, ConfigIsOptionalAndNullMeansAbsent) {
  EXPECT_EQ(ParseStart(R"({"type":"start_session","session_id":"a"})"), DefaultStart("a"));
  EXPECT_EQ(ParseStart(R"({"type":"start_session","session_id":"a","config":null})"), DefaultStart("a"));
  EXPECT_EQ(ParseStart(R"({"type":"start_session","session_id":"a","config":{}})"), DefaultStart("a"));
  EXPECT_EQ(ParseStart(R"({"type":"start_session","session_id":"a","config":{"voice":null,"lang_code":null,)"
                       R"("speed":null,"num_inference_steps":null,"sample_rate":null,"model":null}})"),
            DefaultStart("a"));
}

TEST(ParseClientMessageTest, UnknownFieldsAreIgnored) {
  const StartSession s = ParseStart(
      R"({"type":"start_session","session_id":"a","future":{"x":[1,2,{"y":null}]},)"
      R"("config":{"voice":"F2","emotion":"happy","speed":1,"extra":[true]}})");
  EXPECT_EQ(s.voice, "F2");
  EXPECT_EQ(s.speed, 1.0);
  EXPECT_EQ(ParseOk(R"({"text":"hi","type":"send_text","priority":3})"), ClientMessage(SendText{"hi"}));
  EXPECT_EQ(ParseOk(R"({"type":"flush","reason":"turn_end"})"), ClientMessage(Flush{}));
  EXPECT_EQ(ParseOk(R"({"type":"cancel","text":5})"), ClientMessage(Cancel{}));
}

TEST(ParseClientMessageTest, IntegralFloatsAreIntegers) {
  const StartSession s =
      ParseStart(R"({"type":"start_session","session_id":"a",)"
                 R"("config":{"num_inference_steps":2.0,"sample_rate":2.4e4}})");
  EXPECT_EQ(s.num_inference_steps, 2);
  EXPECT_EQ(s.sample_rate, 24000);
}

TEST(ParseClientMessageTest, SemanticValuesPassThroughForTheSessionToCheck) {
  // Range checks need the configuration and the model: the parser leaves them.
  const StartSession s = ParseStart(R"({"type":"start_session","session_id":"a","config":)"
                                    R"({"voice":"nobody","lang_code":"xx","speed":9,"num_inference_steps":0,)"
                                    R"("sample_rate":12345}})");
  EXPECT_EQ(s.voice, "nobody");
  EXPECT_EQ(s.lang_code, "xx");
  EXPECT_EQ(s.speed, 9.0);
  EXPECT_EQ(s.num_inference_steps, 0);
  EXPECT_EQ(s.sample_rate, 12345);
}

TEST(ParseClientMessageTest, TextIsKeptVerbatim) {
  EXPECT_EQ(ParseOk(R"({"type":"send_text","text":""})"), ClientMessage(SendText{""}));
  EXPECT_EQ(ParseOk(R"({"type":"send_text","text":"  a\nb\t\"c\" \u00e9 \ud83d\ude00 "})"),
            ClientMessage(SendText{"  a\nb\t\"c\" \xC3\xA9 \xF0\x9F\x98\x80 "}));
  EXPECT_EQ(ParseOk(R"({"type":"send_text","text":")" + std::string(56, '[') + R"("})"),
            ClientMessage(SendText{std::string(56, '[')}));
  // A UTF-8 byte order mark before the JSON is skipped (RFC 8259 allows it).
  EXPECT_EQ(ParseOk("\xEF\xBB\xBF{\"type\":\"flush\"}"), ClientMessage(Flush{}));
  EXPECT_EQ(ParseOk(" \n{\"type\" : \"flush\"}\n "), ClientMessage(Flush{}));
}

TEST(ParseClientMessageTest, SessionIdLimits) {
  EXPECT_EQ(ParseStart(R"({"type":"start_session","session_id":")" + std::string(128, 'x') + R"("})").session_id,
            std::string(128, 'x'));
  // 128 characters, 256 bytes.
  std::string two_byte;
  for (int i = 0; i < 128; ++i) two_byte += "\xC3\xA9";
  EXPECT_EQ(ParseStart(R"({"type":"start_session","session_id":")" + two_byte + R"("})").session_id, two_byte);

  EXPECT_EQ(ParseErrorCode(R"({"type":"start_session","session_id":")" + std::string(129, 'x') + R"("})"),
            ErrorCode::kInvalidMessage);
  EXPECT_EQ(ParseErrorCode(R"({"type":"start_session","session_id":""})"), ErrorCode::kInvalidMessage);
  EXPECT_EQ(ParseErrorCode(R"({"type":"start_session"})"), ErrorCode::kInvalidMessage);
  EXPECT_EQ(ParseErrorCode(R"({"type":"start_session","session_id":null})"), ErrorCode::kInvalidMessage);
  EXPECT_EQ(ParseErrorCode(R"({"type":"start_session","session_id":42})"), ErrorCode::kInvalidMessage);
  EXPECT_EQ(ParseErrorCode(R"({"type":"start_session","session_id":"a\nb"})"), ErrorCode::kInvalidMessage);
  EXPECT_EQ(ParseErrorCode(R"({"type":"start_session","session_id":"a\u0000b"})"), ErrorCode::kInvalidMessage);
}

// ---------------------------------------------------------------------------
// Client messages: every malformed-input class

TEST(ParseClientMessageTest, NotJson) {
  for (const auto& frame : {""s, " "s, "x"s, "{"s, "}"s, "{\"type\":\"flush\""s, "{'type':'flush'}"s,
                                  "{\"type\":\"flush\"} x"s, "{\"type\":\"flush\"}{}"s, "{type:\"flush\"}"s,
                                  "{\"type\":\"flush\",}"s, "/* c */ {\"type\":\"flush\"}"s, "NaN"s,
                                  "{\"type\":\"send_text\",\"text\":\"a\nb\"}"s}) {
    EXPECT_EQ(ParseErrorCode(frame), ErrorCode::kInvalidMessage) << frame;
  }
}

TEST(ParseClientMessageTest, SyntaxErrorMessagesAreShort) {
  const ProtocolError e = ParseError(R"({"type":"send_text","text":")" + std::string(60000, 'a') + "\x01\"}");
  EXPECT_EQ(e.code, ErrorCode::kInvalidMessage);
  EXPECT_LT(e.message.size(), 256u);
  EXPECT_EQ(e.message.rfind("not valid JSON: ", 0), 0u) << e.message;
  EXPECT_EQ(e.message.find("[json.exception"), std::string::npos) << e.message;
}

TEST(ParseClientMessageTest, NotAnObject) {
  for (const auto& frame : {"[]"s, "[{\"type\":\"flush\"}]"s, "\"flush\""s, "42"s, "-1.5e3"s, "null"s,
                                  "true"s, "false"s}) {
    const ProtocolError e = ParseError(frame);
    EXPECT_EQ(e.code, ErrorCode::kInvalidMessage) << frame;
    EXPECT_NE(e.message.find("object"), std::string::npos) << e.message;
  }
}

TEST(ParseClientMessageTest, MissingOrNonStringType) {
  for (const auto& frame : {"{}"s, "{\"text\":\"hi\"}"s, "{\"Type\":\"flush\"}"s, "{\"type\":null}"s,
                                  "{\"type\":1}"s, "{\"type\":[\"flush\"]}"s, "{\"type\":{\"name\":\"flush\"}}"s,
                                  "{\"type\":true}"s}) {
    EXPECT_EQ(ParseErrorCode(frame), ErrorCode::kInvalidMessage) << frame;
  }
}

TEST(ParseClientMessageTest, UnknownTypeIsItsOwnCode) {
  for (const auto& frame : {"{\"type\":\"speak\"}"s, "{\"type\":\"\"}"s, "{\"type\":\"FLUSH\"}"s,
                                  "{\"type\":\"flush \"}"s, "{\"type\":\"start-session\",\"session_id\":\"a\"}"s}) {
    EXPECT_EQ(ParseErrorCode(frame), ErrorCode::kUnknownMessageType) << frame;
  }
  const ProtocolError e = ParseError(R"({"type":"speak"})");
  EXPECT_NE(e.message.find("speak"), std::string::npos);
  // A long type name is quoted truncated.
  const ProtocolError long_name = ParseError(R"({"type":")" + std::string(10000, 'z') + R"("})");
  EXPECT_EQ(long_name.code, ErrorCode::kUnknownMessageType);
  EXPECT_LT(long_name.message.size(), 200u);
}

TEST(ParseClientMessageTest, WrongFieldTypes) {
  const std::vector<std::string> frames = {
      R"({"type":"send_text"})",
      R"({"type":"send_text","text":null})",
      R"({"type":"send_text","text":5})",
      R"({"type":"send_text","text":["a"]})",
      R"({"type":"send_text","text":{"value":"a"}})",
      R"({"type":"send_text","text":true})",
      R"({"type":"start_session","session_id":"a","config":[]})",
      R"({"type":"start_session","session_id":"a","config":"voice=F1"})",
      R"({"type":"start_session","session_id":"a","config":1})",
      R"({"type":"start_session","session_id":"a","config":{"voice":1}})",
      R"({"type":"start_session","session_id":"a","config":{"voice":["F1"]}})",
      R"({"type":"start_session","session_id":"a","config":{"model":3}})",
      R"({"type":"start_session","session_id":"a","config":{"model":["supertonic-2"]}})",
      R"({"type":"start_session","session_id":"a","config":{"lang_code":true}})",
      R"({"type":"start_session","session_id":"a","config":{"speed":"fast"}})",
      R"({"type":"start_session","session_id":"a","config":{"speed":"1.0"}})",
      R"({"type":"start_session","session_id":"a","config":{"speed":true}})",
      R"({"type":"start_session","session_id":"a","config":{"num_inference_steps":2.5}})",
      R"({"type":"start_session","session_id":"a","config":{"num_inference_steps":"2"}})",
      R"({"type":"start_session","session_id":"a","config":{"num_inference_steps":false}})",
      R"({"type":"start_session","session_id":"a","config":{"sample_rate":"24000"}})",
      R"({"type":"start_session","session_id":"a","config":{"sample_rate":24000.5}})",
      R"({"type":"start_session","session_id":"a","config":{"sample_rate":[24000]}})",
      R"({"type":"start_session","session_id":"a","config":{"normalize":"no"}})",
      R"({"type":"start_session","session_id":"a","config":{"normalize":0}})",
      R"({"type":"start_session","session_id":"a","config":{"word_timings":"yes"}})",
      R"({"type":"start_session","session_id":"a","config":{"word_timings":1}})",
  };
  for (const auto& frame : frames) EXPECT_EQ(ParseErrorCode(frame), ErrorCode::kInvalidMessage) << frame;

  const ProtocolError e = ParseError(R"({"type":"start_session","session_id":"a","config":{"speed":"fast"}})");
  EXPECT_NE(e.message.find("config.speed"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("string"), std::string::npos) << e.message;
}

TEST(ParseClientMessageTest, IntegersTooLargeForAnIntGetTheFieldsRangeCode) {
  EXPECT_EQ(ParseErrorCode(R"({"type":"start_session","session_id":"a","config":{"num_inference_steps":1e12}})"),
            ErrorCode::kInvalidConfig);
  EXPECT_EQ(ParseErrorCode(
                R"({"type":"start_session","session_id":"a","config":{"num_inference_steps":-99999999999}})"),
            ErrorCode::kInvalidConfig);
  EXPECT_EQ(ParseErrorCode(
                R"({"type":"start_session","session_id":"a","config":{"sample_rate":18446744073709551615}})"),
            ErrorCode::kInvalidSampleRate);
  EXPECT_EQ(ParseErrorCode(R"({"type":"start_session","session_id":"a","config":{"sample_rate":1e300}})"),
            ErrorCode::kInvalidSampleRate);
  // A number beyond a double's range is not accepted at all.
  EXPECT_EQ(ParseErrorCode(R"({"type":"start_session","session_id":"a","config":{"sample_rate":1e400}})"),
            ErrorCode::kInvalidMessage);
  EXPECT_EQ(ParseErrorCode(R"({"type":"start_session","session_id":"a","config":{"speed":-1e400}})"),
            ErrorCode::kInvalidMessage);
  // Huge speeds parse; the session rejects them as invalid_config.
  const StartSession s = ParseStart(R"({"type":"start_session","session_id":"a","config":{"speed":1e300}})");
  ASSERT_TRUE(s.speed.has_value());
  EXPECT_FALSE(IsValidSpeed(*s.speed));
}

TEST(ParseClientMessageTest, InvalidUtf8) {
  const std::vector<std::string> frames = {
      "{\"type\":\"send_text\",\"text\":\"\xFF\"}",
      "{\"type\":\"send_text\",\"text\":\"\xC3\"}",              // truncated sequence
      "{\"type\":\"send_text\",\"text\":\"\xC0\xAF\"}",          // overlong
      "{\"type\":\"send_text\",\"text\":\"\xED\xA0\x80\"}",      // UTF-16 surrogate encoded
      "{\"type\":\"send_text\",\"text\":\"\xF4\x90\x80\x80\"}",  // above U+10FFFF
      R"({"type":"send_text","text":"\ud800"})",                  // lone surrogate escape
      R"({"type":"send_text","text":"\udc00\ud800"})",
      "{\"type\":\"start_session\",\"session_id\":\"\xFE\"}",
      "{\"type\":\"fl\xFFush\"}",
      "{\"type\":\"flush\",\"\xFF\":1}",
      "\xFF{\"type\":\"flush\"}",
  };
  for (const auto& frame : frames) EXPECT_EQ(ParseErrorCode(frame), ErrorCode::kInvalidMessage) << frame;
}

TEST(ParseClientMessageTest, DeepNestingIsRejectedQuickly) {
  // Depth 32 is accepted (the message object is level 1).
  std::string ok = R"({"type":"flush","x":)" + std::string(31, '[') + std::string(31, ']') + "}";
  EXPECT_EQ(ParseOk(ok), ClientMessage(Flush{}));
  std::string too_deep = R"({"type":"flush","x":)" + std::string(32, '[') + std::string(32, ']') + "}";
  EXPECT_EQ(ParseErrorCode(too_deep), ErrorCode::kInvalidMessage);
  EXPECT_NE(ParseError(too_deep).message.find("deep"), std::string::npos);

  std::string objects = R"({"type":"flush","x":)";
  for (int i = 0; i < 40; ++i) objects += R"({"a":)";
  objects += "1" + std::string(40, '}') + "}";
  EXPECT_EQ(ParseErrorCode(objects), ErrorCode::kInvalidMessage);

  const auto t0 = std::chrono::steady_clock::now();
  for (const std::string& frame : {std::string(1 << 20, '['), std::string(1 << 20, '{'),
                                   R"({"type":"flush","x":)" + std::string(1 << 20, '[')}) {
    EXPECT_EQ(ParseErrorCode(frame), ErrorCode::kInvalidMessage);
  }
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(elapsed, std::chrono::milliseconds(500));

  // Brackets inside strings are text, not nesting (escaped quotes included).
  const std::string in_string = R"({"type":"send_text","text":"\")" + std::string(100, '[') + R"("})";
  EXPECT_EQ(ParseOk(in_string), ClientMessage(SendText{"\"" + std::string(100, '[')}));
}

// ---------------------------------------------------------------------------
// Client messages: round trips

TEST(SerializeClientMessageTest, EveryTypeRoundTrips) {
  StartSession full{"sess-1", "F3", "ko", 0.8, 7, 16000, "supertonic-3"};
  const std::vector<ClientMessage> messages = {
      DefaultStart("minimal"),
      full,
      [] {
        StartSession s = DefaultStart("voice-only");
        s.voice = "M1";
        return s;
      }(),
      SendText{"Hello, world. \xC3\xA9\xF0\x9F\x98\x80 \"quoted\" \\ back\nslash"},
      SendText{""},
      Flush{},
      EndSession{},
      Cancel{},
  };
  for (const auto& message : messages) {
    const std::string frame = SerializeClientMessage(message);
    const ParseResult r = ParseClientMessage(frame);
    ASSERT_TRUE(r.ok()) << frame << ": " << r.error().message;
    EXPECT_EQ(r.message(), message) << frame;
    EXPECT_EQ(Json::parse(frame)["type"], std::string(MessageTypeName(message)));
  }
  EXPECT_EQ(SerializeClientMessage(DefaultStart("a")), R"({"type":"start_session","session_id":"a"})");
  EXPECT_EQ(SerializeClientMessage(Flush{}), R"({"type":"flush"})");
}

TEST(SerializeClientMessageTest, InvalidUtf8IsReplacedNotThrown) {
  std::string frame;
  ASSERT_NO_THROW(frame = SerializeClientMessage(SendText{"a\xFFz"}));
  EXPECT_EQ(ParseOk(frame), ClientMessage(SendText{"a\xEF\xBF\xBDz"}));
}

// ---------------------------------------------------------------------------
// Robustness: random input never throws

void ExpectWellFormedResult(const std::string& frame) {
  ParseResult r = ParseClientMessage(frame);
  if (r.ok()) {
    // Anything accepted can be serialized back and parsed to the same message.
    const ParseResult again = ParseClientMessage(SerializeClientMessage(r.message()));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again.message(), r.message());
    return;
  }
  EXPECT_FALSE(r.error().message.empty());
  // The error message is what goes back to the client: it must serialize.
  EXPECT_NO_THROW(Serialize(ErrorMessage{std::nullopt, r.error().code, r.error().message, std::nullopt}));
}

TEST(ParseClientMessageFuzzTest, RandomBytesNeverThrow) {
  std::mt19937 rng(20240607);
  const std::string json_alphabet =
      "{}[]\":,\\ \t\n0123456789.-+eEtrufalsn\x80\xC3\xFF\xED abcdefghijklmnopqrstuvwxyz_";
  for (int i = 0; i < 10000; ++i) {
    const size_t len = std::uniform_int_distribution<size_t>(0, 200)(rng);
    std::string frame(len, '\0');
    const bool structured = i % 2 == 0;
    for (auto& c : frame) {
      c = structured ? json_alphabet[std::uniform_int_distribution<size_t>(0, json_alphabet.size() - 1)(rng)]
                     : static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
    }
    ASSERT_NO_THROW(ExpectWellFormedResult(frame)) << i;
  }
}

TEST(ParseClientMessageFuzzTest, MutatedValidMessagesNeverThrow) {
  const std::vector<std::string> seeds = {
      R"({"type":"start_session","session_id":"3f1c","config":{"voice":"F1","lang_code":"pt","speed":1.05,)"
      R"("num_inference_steps":2,"sample_rate":24000}})",
      R"({"type":"send_text","text":"Olá, como você está? \u00e9 \ud83d\ude00"})",
      R"({"type":"flush"})",
      R"({"type":"end_session"})",
      R"({"type":"cancel","extra":[1,{"a":null}]})",
  };
  const std::string interesting = "{}[]\":,\\0-1e.\xFF\xC3\x80nultrfase ";
  std::mt19937 rng(7);
  int accepted = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string frame = seeds[i % seeds.size()];
    const int edits = std::uniform_int_distribution<int>(1, 4)(rng);
    for (int e = 0; e < edits && !frame.empty(); ++e) {
      const size_t pos = std::uniform_int_distribution<size_t>(0, frame.size() - 1)(rng);
      const char c = std::uniform_int_distribution<int>(0, 1)(rng)
                         ? interesting[std::uniform_int_distribution<size_t>(0, interesting.size() - 1)(rng)]
                         : static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
      switch (std::uniform_int_distribution<int>(0, 4)(rng)) {
        case 0: frame[pos] = c; break;                     // replace
        case 1: frame.insert(frame.begin() + pos, c); break;  // insert
        case 2: frame.erase(pos, 1); break;                // delete
        case 3: frame.resize(pos); break;                  // truncate
        case 4: frame.insert(pos, frame.substr(pos, 8)); break;  // duplicate a run
      }
    }
    ASSERT_NO_THROW(ExpectWellFormedResult(frame)) << i;
    accepted += ParseClientMessage(frame).ok() ? 1 : 0;
  }
  // Some mutations (inside string values) keep the message valid.
  EXPECT_GT(accepted, 0);
}

// ---------------------------------------------------------------------------
// Server messages

Json ParseServer(const std::string& frame) {
  Json j = Json::parse(frame);  // throws (fails the test) if not valid JSON
  EXPECT_TRUE(j.contains("type"));
  EXPECT_TRUE(j.contains("session_id"));
  return j;
}

TEST(ServerMessageTest, SessionStarted) {
  SessionStarted m{"s1", "F1", "pt", 24000, 20, 480, 2, 1.05, "supertonic-tts/0.1.0"};
  const std::string frame = Serialize(m);
  const Json j = ParseServer(frame);
  EXPECT_EQ(j["type"], "session_started");
  EXPECT_EQ(j["session_id"], "s1");
  EXPECT_EQ(j["voice"], "F1");
  EXPECT_EQ(j["lang_code"], "pt");
  EXPECT_EQ(j["sample_rate"], 24000);
  EXPECT_EQ(j["frame_ms"], 20);
  EXPECT_EQ(j["samples_per_frame"], 480);
  EXPECT_EQ(j["num_inference_steps"], 2);
  EXPECT_EQ(j["speed"], 1.05);
  EXPECT_EQ(j["encoding"], "pcm_s16le");
  EXPECT_EQ(j["channels"], 1);
  EXPECT_EQ(j["protocol_version"], kProtocolVersion);
  EXPECT_EQ(j["server"], "supertonic-tts/0.1.0");
  EXPECT_FALSE(j.contains("model")) << "no model named: no field";
  EXPECT_EQ(frame.rfind(R"({"type":"session_started","session_id":"s1",)", 0), 0u) << frame;
  EXPECT_NE(frame.find("\"speed\":1.05"), std::string::npos) << frame;
  m.server.clear();
  EXPECT_FALSE(ParseServer(Serialize(m)).contains("server"));
}

TEST(ServerMessageTest, SegmentStarted) {
  const Json j = ParseServer(Serialize(SegmentStarted{"s1", 3, "Olá.", "Olá.", 1234.5678, 20000}));
  EXPECT_EQ(j["type"], "segment_started");
  EXPECT_EQ(j["session_id"], "s1");
  EXPECT_EQ(j["segment"], 3);
  EXPECT_EQ(j["text"], "Olá.");
  EXPECT_EQ(j["spoken_text"], "Olá.");
  EXPECT_DOUBLE_EQ(j["duration_ms"].get<double>(), 1234.568);
  EXPECT_EQ(j["start_ms"], 20000);
}

TEST(ServerMessageTest, WordTimings) {
  const Json j = ParseServer(
      Serialize(WordTimings{"s1", 2, {{"It", 100.0, 210.1234567}, {"$5.50", 300.0, 1300.0}, {"ok\xff", 1400, 1400}}}));
  EXPECT_EQ(j["type"], "word_timings");
  EXPECT_EQ(j["session_id"], "s1");
  EXPECT_EQ(j["segment"], 2);
  ASSERT_EQ(j["words"].size(), 3u);
  EXPECT_EQ(j["words"][0]["word"], "It");
  EXPECT_DOUBLE_EQ(j["words"][0]["end_ms"].get<double>(), 210.123);
  EXPECT_EQ(j["words"][1]["word"], "$5.50");
  EXPECT_EQ(j["words"][1]["start_ms"], 300);
  EXPECT_EQ(j["words"][2]["word"], "ok\uFFFD");  // invalid UTF-8 never breaks the frame
  EXPECT_TRUE(ParseServer(Serialize(WordTimings{"s1", 0, {}}))["words"].is_array());
}

TEST(ServerMessageTest, SegmentDone) {
  const Json j = ParseServer(Serialize(SegmentDone{"s1", 0, "It costs $5.", "It costs five dollars.", 987.6543219, 50, 12.5, 80.25, 3}));
  EXPECT_EQ(j["type"], "segment_done");
  EXPECT_EQ(j["segment"], 0);
  EXPECT_EQ(j["text"], "It costs $5.");
  EXPECT_EQ(j["spoken_text"], "It costs five dollars.");
  EXPECT_DOUBLE_EQ(j["duration_ms"].get<double>(), 987.654);
  EXPECT_EQ(j["frames"], 50);
  EXPECT_DOUBLE_EQ(j["queue_ms"].get<double>(), 12.5);
  EXPECT_DOUBLE_EQ(j["synthesis_ms"].get<double>(), 80.25);
  EXPECT_EQ(j["batch_size"], 3);
}

TEST(ServerMessageTest, ErrorCarriesCodeMessageAndRetryable) {
  for (const auto& info : AllErrorCodes()) {
    const Json j = ParseServer(Serialize(ErrorMessage{"s9", info.code, "something", std::nullopt}));
    EXPECT_EQ(j["type"], "error");
    EXPECT_EQ(j["session_id"], "s9");
    EXPECT_EQ(j["code"], std::string(info.wire_name));
    EXPECT_EQ(j["message"], "something");
    EXPECT_EQ(j["retryable"], info.retryable);
    EXPECT_FALSE(j.contains("segment"));
  }
  const Json failed = ParseServer(Serialize(ErrorMessage{"s9", ErrorCode::kInternal, "synthesis failed", 4}));
  EXPECT_EQ(failed["segment"], 4);
  const Json no_session =
      ParseServer(Serialize(ErrorMessage{std::nullopt, ErrorCode::kCapacity, "full", std::nullopt}));
  EXPECT_TRUE(no_session["session_id"].is_null());
  EXPECT_EQ(no_session["code"], "capacity");
  EXPECT_EQ(no_session["retryable"], true);
}

TEST(ServerMessageTest, SessionEnded) {
  const std::map<SessionEndReason, std::string> reasons = {
      {SessionEndReason::kCompleted, "completed"},
      {SessionEndReason::kCancelledByClient, "cancelled_by_client"},
      {SessionEndReason::kShuttingDown, "shutting_down"},
      {SessionEndReason::kError, "error"},
  };
  for (const auto& [reason, name] : reasons) {
    const Json j = ParseServer(Serialize(SessionEnded{"s1", 4, 5320.5, reason}));
    EXPECT_EQ(j["type"], "session_ended");
    EXPECT_EQ(j["segments"], 4);
    EXPECT_DOUBLE_EQ(j["audio_ms"].get<double>(), 5320.5);
    EXPECT_EQ(j["reason"], name);
    EXPECT_EQ(WireName(reason), name);
  }
}

TEST(ServerMessageTest, Cancelled) {
  const Json j = ParseServer(Serialize(Cancelled{"s1", 2}));
  EXPECT_EQ(j["type"], "cancelled");
  EXPECT_EQ(j["session_id"], "s1");
  EXPECT_EQ(j["segments_dropped"], 2);
}

TEST(ServerMessageTest, SessionStartedEchoesTheModel) {
  SessionStarted m{"s1", "F1", "de", 24000, 20, 480, 8, 1.05, "", "supertonic-3"};
  const std::string frame = Serialize(m);
  EXPECT_EQ(ParseServer(frame)["model"], "supertonic-3");
  EXPECT_EQ(frame.rfind(R"({"type":"session_started","session_id":"s1","model":"supertonic-3",)", 0), 0u) << frame;
}

TEST(ServerMessageTest, InvalidUtf8InEchoedTextIsReplaced) {
  const std::string bad = "ab\xFF\xC3";
  std::string frame;
  ASSERT_NO_THROW(frame = Serialize(SegmentStarted{bad, 0, bad, bad, 1, 0}));
  Json j = ParseServer(frame);
  EXPECT_EQ(j["text"], "ab\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(j["spoken_text"], "ab\xEF\xBF\xBD\xEF\xBF\xBD");
  ASSERT_NO_THROW(frame = Serialize(SegmentDone{"s", 0, bad, bad}));
  ASSERT_NO_THROW(frame = Serialize(ErrorMessage{bad, ErrorCode::kInvalidMessage, bad, std::nullopt}));
  ASSERT_NO_THROW(frame = Serialize(SessionStarted{bad, bad, bad, 24000, 20, 480, 2, 1.0, bad}));
  ASSERT_NO_THROW(frame = Serialize(SessionEnded{bad}));
  ASSERT_NO_THROW(frame = Serialize(Cancelled{bad}));
  ParseServer(frame);
}

TEST(ServerMessageTest, NonFiniteDurationsBecomeZero) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Json j = ParseServer(Serialize(SegmentDone{"s", 0, "t", "t", nan, 0, nan, std::numeric_limits<double>::infinity()}));
  EXPECT_EQ(j["duration_ms"], 0.0);
  EXPECT_EQ(j["queue_ms"], 0.0);
  EXPECT_EQ(j["synthesis_ms"], 0.0);
}

}  // namespace
}  // namespace supertonic::service
