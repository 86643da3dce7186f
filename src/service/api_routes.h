#pragma once
// The HTTP API as a table: which paths exist, with which methods, behind the
// token or not, and what the request/response ones answer. The transport
// parses HTTP and writes bytes; what a route means is decided here.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "service/errors.h"  // for the errors the transport answers itself

namespace supertonic::service {

class TtsService;

struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
  // Further response headers (name, value), e.g. Cache-Control; the transport
  // adds Server, Content-Type and Content-Length itself.
  std::vector<std::pair<std::string, std::string>> headers = {};
};

enum class Endpoint {
  kReply,      // answered at once by Route::reply
  kWebSocket,  // upgrade to the streaming protocol (Connection)
  kSpeech,     // POST /v1/audio/speech (OpenAiSpeech), a streamed body
};

enum class Access {
  kOpen,          // probes and the playground page: never behind the token
  kToken,         // when TTS_AUTH_TOKEN is set
  kMetricsToken,  // when TTS_AUTH_TOKEN is set and TTS_METRICS_REQUIRE_AUTH
  // Changes to the voices: the token when TTS_AUTH_TOKEN is set; without a
  // token refused (403 uploads_disabled) unless TTS_ALLOW_VOICE_UPLOAD; and
  // refused when there is no TTS_VOICES_DIR to store them in.
  kVoiceWrite,
};

// What a kReply route gets of its request.
struct ApiRequest {
  std::string_view method;
  std::string_view path;   // without the query
  std::string_view query;  // after '?', empty when none
  std::string_view body;
};

// The body a request may have unless its route allows more.
inline constexpr std::size_t kDefaultBodyLimit = 64 * 1024;

struct Route {
  std::string_view method;  // "GET" (HEAD answered like it, without a body), "POST" or "DELETE"
  std::string_view path;    // the path; with `prefix`, what it starts with, followed by one more segment
  Endpoint endpoint;
  Access access;
  HttpReply (*reply)(TtsService& service, const ApiRequest& request) = nullptr;  // kReply only
  bool prefix = false;  // "/v1/voices/" matches "/v1/voices/{name}"
  std::size_t (*body_limit)(const TtsService& service) = nullptr;  // null: kDefaultBodyLimit
  bool json_body = false;  // the body must be sent as Content-Type: application/json (415 otherwise)
  // `reply` parses, lists or writes files: the transport runs it on a worker
  // thread, so that it never holds up the network thread's other clients.
  // Such a reply must only use the thread-safe parts of TtsService.
  bool off_network_thread = false;
  // Answered even when the server is at TTS_MAX_CONNECTIONS or the client's
  // address at its share (the probes and /metrics): an orchestrator must
  // never restart a replica because clients hold every connection.
  bool served_at_capacity = false;
};

// The largest body `route` takes.
std::size_t BodyLimit(const TtsService& service, const Route& route);

// What routing reads of a request: its line and headers, before any body.
struct RequestHead {
  std::string_view method;
  std::string_view path;  // without the query
  bool websocket_upgrade = false;
  std::string_view presented_token;  // Authorization: Bearer, or ?token=; empty when none
  std::string_view origin;           // the Origin header; empty when none (a non-browser client)
  std::string_view host;             // the Host header
  std::string_view content_type;     // the Content-Type header
};

// The route for a request, or the reply that refuses it: 404 for an unknown
// path, 405 (naming the methods allowed) for a known path with another method,
// 403 for a browser page of another origin opening the WebSocket or changing
// something (OriginAllowed), 415 for a JSON route's body of another type, 401
// for a missing or wrong token where the route needs one, 403 for a voice
// change the configuration does not allow. JSON error bodies under /v1/, text
// elsewhere. Decided from the request line and headers alone, before any body
// is read.
struct RouteMatch {
  const Route* route = nullptr;
  std::optional<HttpReply> refusal;
};
RouteMatch MatchRoute(TtsService& service, const RequestHead& request);

// Whether a request with this Origin header may open the WebSocket or change
// state: no Origin (not a browser), the server's own (the Origin's host and
// port are the Host the request was sent to; the scheme is not compared, as a
// TLS proxy may stand in front), or one TTS_ALLOWED_ORIGINS lists.
bool OriginAllowed(const std::vector<std::string>& allowed_origins, std::string_view origin, std::string_view host);

// Whether a Content-Type header names JSON (application/json, any parameters).
bool IsJsonContentType(std::string_view content_type);

// The refusal of a connection over TTS_MAX_CONNECTIONS (503 capacity) or
// over its address's share (429 capacity), for a route not served at capacity.
HttpReply CapacityRefusal(const TtsService& service, std::string_view path, bool per_address);

// The value of `key` in a query string ("a=1&model=x"), percent-decoded (%XX;
// a malformed one is kept as written, and '+' is a '+': RFC 3986, not a form), the
// first occurrence's (empty when written "key="); nullopt when the key is absent.
std::optional<std::string> QueryParameter(std::string_view query, std::string_view key);

// Constant-time comparison for secrets (auth tokens).
bool SecretsEqual(std::string_view a, std::string_view b);

}  // namespace supertonic::service
