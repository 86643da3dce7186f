#include "service/errors.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "service/protocol.h"
#include "service/speech_request.h"

namespace supertonic::service {
namespace {

// Clients match on these: a change here is a break of the contract, not a refactor.
const std::map<std::string, std::pair<int, bool>> kContract = {
    {"invalid_message", {400, false}},       {"unknown_message_type", {400, false}},
    {"no_session", {400, false}},            {"session_active", {400, false}},
    {"invalid_voice", {400, false}},         {"invalid_language", {400, false}},
    {"invalid_sample_rate", {400, false}},   {"invalid_config", {400, false}},
    {"text_too_long", {400, false}},         {"message_too_large", {413, false}},
    {"binary_not_supported", {400, false}},  {"capacity", {429, true}},
    {"shutting_down", {503, true}},          {"slow_consumer", {503, true}},
    {"unauthorized", {401, false}},          {"internal", {500, true}},
    {"invalid_model", {400, false}},         {"invalid_request_error", {400, false}},
    {"bad_request", {400, false}},           {"not_found", {404, false}},
    {"method_not_allowed", {405, false}},    {"upgrade_required", {426, false}},
    {"origin_not_allowed", {403, false}},    {"unsupported_media_type", {415, false}},
    {"request_too_large", {413, false}},     {"headers_too_large", {431, false}},
    {"invalid_voice_name", {400, false}},    {"voice_not_found", {404, false}},
    {"voice_protected", {409, false}},       {"too_many_voices", {409, false}},
    {"voice_too_large", {413, false}},       {"uploads_disabled", {403, false}},
    {"voice_storage_failed", {500, true}},
};

TEST(ErrorTable, EveryCodeOnceWithItsContractedStatusAndRetryable) {
  std::map<std::string, std::pair<int, bool>> actual;
  for (const auto& info : AllErrorCodes()) {
    EXPECT_TRUE(actual.emplace(std::string(info.wire_name), std::pair{info.http_status, info.retryable}).second)
        << "duplicate wire name " << info.wire_name;
    EXPECT_EQ(ErrorCodeFromWireName(info.wire_name), info.code);
    EXPECT_FALSE(info.meaning.empty()) << info.wire_name;
    EXPECT_EQ(info.meaning.find('\n'), std::string_view::npos) << info.wire_name << ": one line, for a table row";
    EXPECT_EQ(info.meaning.find('|'), std::string_view::npos) << info.wire_name << ": would split the table row";
  }
  EXPECT_EQ(actual, kContract);
}

TEST(ErrorTable, EveryEnumeratorIsListedOnceInOrder) {
  const auto all = AllErrorCodes();
  ASSERT_EQ(all.size(), static_cast<std::size_t>(ErrorCode::kVoiceStorageFailed) + 1);
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(static_cast<std::size_t>(all[i].code), i);
}

TEST(ErrorTable, StatusesAreHttpErrorsAndRetryableExactlyFor429And5xx) {
  const auto retryable_status = [](int s) { return s == 429 || s >= 500; };
  for (const auto& info : AllErrorCodes()) {
    EXPECT_GE(info.http_status, 400) << info.wire_name;
    EXPECT_LE(info.http_status, 599) << info.wire_name;
    EXPECT_EQ(retryable_status(info.http_status), info.retryable) << info.wire_name;
    if (info.http_status_server_full == 0) continue;
    EXPECT_GE(info.http_status_server_full, 400) << info.wire_name;
    EXPECT_LE(info.http_status_server_full, 599) << info.wire_name;
    EXPECT_NE(info.http_status_server_full, info.http_status) << info.wire_name;
    EXPECT_EQ(retryable_status(info.http_status_server_full), info.retryable) << info.wire_name;
  }
  EXPECT_EQ(InfoFor(ErrorCode::kCapacity).http_status_server_full, 503);
}

TEST(ErrorTable, EachCodeIsSentOnAtLeastOneProtocol) {
  std::set<std::string_view> websocket;
  for (const auto& info : AllErrorCodes()) {
    EXPECT_TRUE(SentOverWebSocket(info.code) || SentOverHttp(info.code)) << info.wire_name;
    if (SentOverWebSocket(info.code)) websocket.insert(info.wire_name);
  }
  // The WebSocket protocol's codes are the 17 it always had.
  EXPECT_EQ(websocket.size(), 17u);
  EXPECT_TRUE(websocket.contains("slow_consumer"));
  EXPECT_FALSE(websocket.contains("invalid_request_error"));
}

TEST(ErrorTable, TheWebSocketErrorMessageTakesCodeAndRetryableFromIt) {
  for (const auto& info : AllErrorCodes()) {
    const auto j = nlohmann::json::parse(Serialize(ErrorMessage{"s", info.code, "m", std::nullopt}));
    EXPECT_EQ(j["code"], std::string(info.wire_name));
    EXPECT_EQ(j["retryable"], info.retryable);
  }
}

TEST(ErrorTable, HttpErrorsTakeStatusAndCodeFromIt) {
  for (const auto& info : AllErrorCodes()) {
    const HttpError e = HttpErrorFor(info.code, "why");
    EXPECT_EQ(e.status, info.http_status);
    EXPECT_EQ(HttpStatusFor(info.code), info.http_status);
    const auto body = nlohmann::json::parse(e.Body());
    EXPECT_EQ(body, nlohmann::json::parse(JsonErrorBody(info.code, "why")));
    EXPECT_EQ(body["error"]["code"], std::string(info.wire_name));
    EXPECT_EQ(body["error"]["type"], std::string(info.wire_name));
    EXPECT_EQ(body["error"]["message"], "why");
    EXPECT_EQ(body["error"].size(), 3u);
  }
}

TEST(ErrorTable, TheSpeechEndpointRefusesWithTheTablesCodes) {
  const auto not_json = ParseSpeechRequest("not json");
  ASSERT_TRUE(std::holds_alternative<HttpError>(not_json));
  EXPECT_EQ(std::get<HttpError>(not_json).code, WireName(ErrorCode::kInvalidRequest));
  EXPECT_EQ(std::get<HttpError>(not_json).status, HttpStatusFor(ErrorCode::kInvalidRequest));
  const auto bad_rate = ParseSpeechRequest(R"({"input":"hi","sample_rate":"x"})");
  ASSERT_TRUE(std::holds_alternative<HttpError>(bad_rate));
  EXPECT_EQ(std::get<HttpError>(bad_rate).status, 400);
}

TEST(ErrorTable, MarkdownTablesListEachProtocolsCodes) {
  const std::string ws = WebSocketErrorsMarkdown();
  const std::string http = HttpErrorsMarkdown();
  EXPECT_TRUE(ws.starts_with("| code | retryable | meaning |\n|---|---|---|\n"));
  EXPECT_TRUE(http.starts_with("| status | code | retryable | meaning |\n|---|---|---|---|\n"));
  for (const auto& info : AllErrorCodes()) {
    const std::string code = "| `" + std::string(info.wire_name) + "` |";
    EXPECT_EQ(ws.find(code) != std::string::npos, SentOverWebSocket(info.code)) << info.wire_name;
    EXPECT_EQ(http.find(code) != std::string::npos, SentOverHttp(info.code)) << info.wire_name;
  }
  EXPECT_NE(http.find("| 429, 503 | `capacity` | yes |"), std::string::npos);
  const auto json = nlohmann::json::parse(ErrorTableJson());
  ASSERT_EQ(json.size(), AllErrorCodes().size());
  EXPECT_EQ(json[0]["code"], "invalid_message");
}

}  // namespace
}  // namespace supertonic::service
