#pragma once
// Every error the server sends, on the WebSocket protocol (docs/protocol.md)
// and over HTTP (docs/http-api.md), in one table: its wire code, whether a
// retry can help, its HTTP status and a line for the docs. Both protocols,
// every HTTP route and the transport build their errors from it, and the docs'
// tables are printed from it (`supertonic-tts errors --markdown`), so a code,
// a status or a retryable flag exists in one place only.
//
// The wire codes, statuses and retryable flags are a contract with clients:
// never change or reuse one, only add (at the end: metrics and tests rely on
// the declaration order).
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace supertonic::service {

enum class ErrorCode {
  // Sent on the WebSocket protocol (and most over HTTP too).
  kInvalidMessage,
  kUnknownMessageType,
  kNoSession,
  kSessionActive,
  kInvalidVoice,
  kInvalidLanguage,
  kInvalidSampleRate,
  kInvalidConfig,
  kTextTooLong,
  kMessageTooLarge,
  kBinaryNotSupported,
  kCapacity,
  kShuttingDown,
  kSlowConsumer,
  kUnauthorized,
  kInternal,
  kInvalidModel,
  // Sent over HTTP only.
  kInvalidRequest,
  kBadRequest,
  kNotFound,
  kMethodNotAllowed,
  kUpgradeRequired,
  kOriginNotAllowed,
  kUnsupportedMediaType,
  kRequestTooLarge,
  kHeadersTooLarge,
  kInvalidVoiceName,
  kVoiceNotFound,
  kVoiceProtected,
  kTooManyVoices,
  kVoiceTooLarge,
  kUploadsDisabled,
  kVoiceStorageFailed,
};

// Where a code can be sent: the docs list each protocol's own.
enum class ErrorSurface { kWebSocket, kHttp, kBoth };

struct ErrorCodeInfo {
  ErrorCode code;
  std::string_view wire_name;
  // HTTP bodies carry no flag: clients infer it from the status, so it is
  // true exactly for 429 and 5xx (a test holds the table to that).
  bool retryable;
  int http_status;
  // The one other status the code is sent with, 0 when none: capacity is 429
  // when a client holds its share, 503 when the whole server is full (what
  // a load balancer reads as "try another replica").
  int http_status_server_full;
  ErrorSurface surface;
  std::string_view meaning;  // one line of Markdown, for the docs' tables
};

// Every code, in declaration order.
std::span<const ErrorCodeInfo> AllErrorCodes();
const ErrorCodeInfo& InfoFor(ErrorCode code);
std::string_view WireName(ErrorCode code);
bool IsRetryable(ErrorCode code);
int HttpStatusFor(ErrorCode code);
std::optional<ErrorCode> ErrorCodeFromWireName(std::string_view wire_name);
bool SentOverWebSocket(ErrorCode code);
bool SentOverHttp(ErrorCode code);

// OpenAI's JSON error body, {"error":{"message","type","code"}}, the code's
// wire name as both "type" and "code".
std::string JsonErrorBody(ErrorCode code, std::string_view message);

// An HTTP error with that body. Made by HttpErrorFor, so that the status is
// the table's.
struct HttpError {
  int status = 400;
  std::string code;
  std::string message;
  std::string Body() const;
};
HttpError HttpErrorFor(ErrorCode code, std::string message);

// The docs' tables: the WebSocket codes (code, retryable, meaning) and the
// HTTP ones (status, code, retryable, meaning), as Markdown; and the whole
// table as a JSON array of {code, retryable, http_status, websocket, http,
// meaning} objects, for the tests that hold clients to it.
std::string WebSocketErrorsMarkdown();
std::string HttpErrorsMarkdown();
std::string ErrorTableJson();

}  // namespace supertonic::service
