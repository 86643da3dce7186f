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

#include "service/speech_request.h"  // JsonErrorBody, for the errors the transport answers itself

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
};

// The largest body `route` takes.
std::size_t BodyLimit(const TtsService& service, const Route& route);

// The route for a request, or the reply that refuses it: 404 for an unknown
// path, 405 (naming the methods allowed) for a known path with another method,
// 401 for a missing or wrong token where the route needs one, 403 for a voice
// change the configuration does not allow. JSON error bodies under /v1/, text
// elsewhere. Decided from the request line and headers alone, before any body
// is read. `presented_token` is what the client
// sent (Authorization: Bearer, or ?token=), empty when nothing.
struct RouteMatch {
  const Route* route = nullptr;
  std::optional<HttpReply> refusal;
};
RouteMatch MatchRoute(TtsService& service, std::string_view method, std::string_view path, bool websocket_upgrade,
                      std::string_view presented_token);

// Constant-time comparison for secrets (auth tokens).
bool SecretsEqual(std::string_view a, std::string_view b);

}  // namespace supertonic::service
