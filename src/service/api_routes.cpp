#include "service/api_routes.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cctype>
#include <nlohmann/json.hpp>

#include "engine/voice_blend.h"
#include "service/playground/playground.h"
#include "service/speech_request.h"
#include "service/tts_service.h"
#include "text/exceptions.h"

namespace supertonic::service {

namespace {

HttpReply Text(int status, std::string body) { return HttpReply{status, "text/plain", std::move(body)}; }
HttpReply JsonReply(int status, const nlohmann::json& body) {
  return HttpReply{status, "application/json", body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

// OpenAI's model object (id, object, created, owned_by), plus what a client
// needs to use the model: its languages, voices, defaults and ranges.
nlohmann::json ModelObject(const ModelChoices& m, const std::vector<std::string>& voices, bool is_default,
                           int64_t created) {
  const ModelProfile& p = m.profile;
  nlohmann::json chunk_by_lang = nlohmann::json::object();
  for (const auto& [lang, chars] : p.chunk_chars_by_lang) chunk_by_lang[lang] = chars;
  return {{"id", m.name},
          {"object", "model"},
          {"created", created},
          {"owned_by", "supertone"},
          {"default", is_default},
          {"profile", p.name},
          {"version", p.version},
          {"languages", p.languages},
          {"voices", voices},
          {"default_voice", m.default_voice},
          {"default_language", m.default_lang},
          {"num_inference_steps", {{"default", m.default_steps}, {"min", m.min_steps}, {"max", m.max_steps}}},
          {"speed", {{"default", m.default_speed}, {"min", m.min_speed}, {"max", m.max_speed}}},
          {"chunk_chars", {{"default", p.chunk_chars}, {"by_language", chunk_by_lang}}},
          {"expression_tags", p.expression_tags},
          {"detected_by", p.detected_by}};
}

HttpReply Models(TtsService& service, const ApiRequest&) {
  nlohmann::json data = nlohmann::json::array();
  const auto models = service.model_choices();
  for (std::size_t i = 0; i < models.size(); ++i) {
    data.push_back(ModelObject(models[i], service.voices().Names(i), i == 0, service.loaded_at()));
  }
  return JsonReply(200, {{"object", "list"}, {"data", std::move(data)}});
}

HttpReply Error(ErrorCode code, const std::string& message) {
  return HttpReply{HttpStatusFor(code), "application/json", JsonErrorBody(code, message)};
}

// Why this server takes no voice changes now, or nothing when it does.
std::optional<std::string> VoiceWritesRefused(const TtsService& service) {
  const auto& cfg = service.config();
  if (cfg.auth_token.empty() && !cfg.allow_voice_upload) {
    return "voice uploads are off on this server: set TTS_AUTH_TOKEN (uploads then need the token) or "
           "TTS_ALLOW_VOICE_UPLOAD=true";
  }
  if (!service.voices().has_storage()) {
    return "voice uploads need TTS_VOICES_DIR, the folder they are stored in; it is not set on this server";
  }
  return std::nullopt;
}

nlohmann::json ParsedOr(const std::string& text, nlohmann::json fallback) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

nlohmann::json VoiceObject(const VoiceInfo& v) {
  nlohmann::json j = {{"name", v.name},
                      {"model", v.model},
                      {"origin", ToString(v.origin)},
                      {"metadata", ParsedOr(v.style ? v.style->metadata : "{}", nlohmann::json::object())}};
  if (v.style && !v.style->upload.empty()) j["upload"] = ParsedOr(v.style->upload, nlohmann::json::object());
  return j;
}

// A page of GET /v1/voices holds at most this many voices, and stops early
// once its voice objects pass kVoicePageBytes (metadata can be 16 KB each):
// one answer never makes the server build or hold megabytes.
constexpr int kDefaultVoicePage = 100;
constexpr int kMaxVoicePage = 500;
constexpr std::size_t kVoicePageBytes = 1 << 20;

// A voice's id in the listing, "model:name", the cursor `after` takes: ':'
// is in neither a model's nor a voice's name.
std::string VoiceId(std::string_view model, std::string_view name) {
  return std::string(model) + ":" + std::string(name);
}

// The default model's voices and languages at the top level (what this
// answered when a server had one model), every model's voice names under
// "models", and a page of voices, each with its model, origin and metadata,
// under "data" (OpenAI's list paging: ?limit=, ?after=<last_id>, has_more).
HttpReply Voices(TtsService& service, const ApiRequest& request) {
  int limit = kDefaultVoicePage;
  if (const auto v = QueryParameter(request.query, "limit")) {
    const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), limit);
    if (ec != std::errc() || end != v->data() + v->size() || limit < 1 || limit > kMaxVoicePage) {
      return Error(ErrorCode::kInvalidRequest,
                   "'limit' must be an integer in 1.." + std::to_string(kMaxVoicePage) + ", got '" + v->substr(0, 32) + "'");
    }
  }
  const std::string after = QueryParameter(request.query, "after").value_or("");
  const auto models = service.model_choices();
  const VoiceRegistry& registry = service.voices();
  nlohmann::json by_model = nlohmann::json::array();
  nlohmann::json data = nlohmann::json::array();
  std::size_t page_bytes = 0;
  bool has_more = false;
  std::string last_id;
  // Past `after`: models in order, each one's voices by name.
  bool past_cursor = after.empty();
  for (std::size_t i = 0; i < models.size(); ++i) {
    const auto& m = models[i];
    auto voices = registry.List(i);
    std::vector<std::string> names;
    for (const auto& v : voices) names.push_back(v.name);
    std::sort(voices.begin(), voices.end(), [](const VoiceInfo& a, const VoiceInfo& b) { return a.name < b.name; });
    const bool cursor_model = !past_cursor && after.starts_with(m.name + ":");
    for (const auto& v : voices) {
      if (!past_cursor) {
        if (!cursor_model || v.name <= std::string_view(after).substr(m.name.size() + 1)) continue;
        past_cursor = true;
      }
      if (has_more) break;
      if (static_cast<int>(data.size()) == limit || (!data.empty() && page_bytes > kVoicePageBytes)) {
        has_more = true;
        break;
      }
      nlohmann::json object = VoiceObject(v);
      object["id"] = VoiceId(m.name, v.name);
      page_bytes += 200 + (v.style ? v.style->metadata.size() + v.style->upload.size() : 0);
      last_id = object["id"].get<std::string>();
      data.push_back(std::move(object));
    }
    if (cursor_model) past_cursor = true;  // the cursor's voice is gone: the model's later ones follow
    by_model.push_back({{"model", m.name},
                        {"voices", names},
                        {"languages", m.languages()},
                        {"default_voice", m.default_voice}});
  }
  const ModelChoices& first = models.front();
  const auto refused = VoiceWritesRefused(service);
  nlohmann::json uploads = {{"enabled", !refused.has_value()},
                            {"token_required", !service.config().auth_token.empty()},
                            {"max_voices", registry.config().max_voices},
                            {"max_voice_bytes", registry.config().max_voice_bytes},
                            {"max_blend_parts", kMaxBlendParts}};
  if (refused) uploads["reason"] = *refused;
  return JsonReply(200, {{"object", "list"},
                    {"voices", by_model.front()["voices"]},
                    {"languages", first.languages()},
                    {"model", first.name},
                    {"models", std::move(by_model)},
                    {"data", std::move(data)},
                    {"has_more", has_more},
                    {"last_id", last_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(last_id)},
                    {"uploads", std::move(uploads)}});
}

// A served model by the name clients use (or its profile's name), as
// start_session's config.model finds it; absent: the first.
std::optional<std::size_t> FindModel(std::span<const ModelChoices> models, const std::optional<std::string>& name) {
  if (!name) return 0;
  for (std::size_t i = 0; i < models.size(); ++i) {
    if (models[i].name == *name) return i;
  }
  for (std::size_t i = 0; i < models.size(); ++i) {
    if (models[i].profile.name == *name) return i;
  }
  return std::nullopt;
}

HttpReply UnknownModel(std::span<const ModelChoices> models, const std::string& name) {
  return Error(ErrorCode::kInvalidModel,
               "unknown model '" + name.substr(0, 64) + "' (served: " + ModelNames(models) + ")");
}

ErrorCode CodeOf(VoiceWriteError::Kind kind) {
  using Kind = VoiceWriteError::Kind;
  switch (kind) {
    case Kind::kInvalidName: return ErrorCode::kInvalidVoiceName;
    case Kind::kInvalidVoice: return ErrorCode::kInvalidVoice;
    case Kind::kProtected: return ErrorCode::kVoiceProtected;
    case Kind::kTooMany: return ErrorCode::kTooManyVoices;
    case Kind::kTooLarge: return ErrorCode::kVoiceTooLarge;
    case Kind::kNotFound: return ErrorCode::kVoiceNotFound;
    case Kind::kNoStorage: return ErrorCode::kUploadsDisabled;
    case Kind::kStorage: return ErrorCode::kVoiceStorageFailed;
  }
  return ErrorCode::kInternal;
}

HttpReply WriteRefused(const VoiceWriteError& e) { return Error(CodeOf(e.kind), e.message); }

// POST /v1/voices: {"name", "style": {voice-style JSON}} or {"name", "blend":
// "F1:0.5+M2:0.5"}, optional "model" and "metadata".
HttpReply SaveVoice(TtsService& service, const ApiRequest& request) {
  auto invalid = [](const std::string& message) { return Error(ErrorCode::kInvalidRequest, message); };
  if (!JsonNestingWithin(request.body)) {
    return invalid("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  const nlohmann::json root = nlohmann::json::parse(request.body, nullptr, false);
  if (!root.is_object()) {
    return invalid(R"(the body must be a JSON object: {"name": ..., "style": {...}} or {"name": ..., "blend": "F1:0.5+M2:0.5"})");
  }
  const auto name = root.find("name");
  if (name == root.end() || !name->is_string()) return invalid("'name' must be a string");
  const std::string& voice_name = name->get_ref<const std::string&>();
  if (!IsVoiceName(voice_name)) {
    return Error(ErrorCode::kInvalidVoiceName,
                 "voice name '" + voice_name.substr(0, 64) + "' must be 1..64 letters, digits, '_' or '-'");
  }
  std::optional<std::string> model_name;
  if (const auto m = root.find("model"); m != root.end() && !m->is_null()) {
    if (!m->is_string()) return invalid("'model' must be a string");
    model_name = m->get<std::string>();
  }
  const auto models = service.model_choices();
  const auto model = FindModel(models, model_name);
  if (!model) return UnknownModel(models, *model_name);
  const auto style_field = root.find("style");
  const auto blend_field = root.find("blend");
  const bool has_style = style_field != root.end() && !style_field->is_null();
  const bool has_blend = blend_field != root.end() && !blend_field->is_null();
  if (has_style == has_blend) return invalid("give either 'style' (a voice-style JSON object) or 'blend' (a string)");

  VoiceStyle style;
  std::string blend;
  if (has_style) {
    if (!style_field->is_object()) return invalid("'style' must be a voice-style JSON object");
    try {
      style = VoiceStyle::FromJson(*style_field, voice_name, "style");
    } catch (const ModelError& e) {
      return Error(ErrorCode::kInvalidVoice, e.what());
    }
  } else {
    if (!blend_field->is_string()) return invalid("'blend' must be a string such as \"F1:0.5+M2:0.5\"");
    auto resolved = service.voices().Resolve(*model, blend_field->get<std::string>());
    if (auto* error = std::get_if<ProtocolError>(&resolved)) return Error(ErrorCode::kInvalidVoice, error->message);
    auto& voice = std::get<ResolvedVoice>(resolved);
    style = *voice.style;
    style.upload.clear();
    blend = voice.name;
  }
  if (const auto m = root.find("metadata"); m != root.end() && !m->is_null()) {
    if (!m->is_object()) return invalid("'metadata' must be an object");
    style.metadata = m->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (style.metadata.size() > VoiceStyle::kMaxMetadataBytes) {
      return invalid("'metadata' takes " + std::to_string(style.metadata.size()) + " bytes, at most " +
                     std::to_string(VoiceStyle::kMaxMetadataBytes));
    }
  }
  auto saved = service.voices().Save(*model, voice_name, std::move(style), blend);
  if (auto* error = std::get_if<VoiceWriteError>(&saved)) return WriteRefused(*error);
  const bool replaced = std::get<bool>(saved);
  VoiceInfo info{voice_name, models[*model].name, VoiceOrigin::kUpload, service.voices().Find(*model, voice_name)};
  nlohmann::json body = VoiceObject(info);
  body["replaced"] = replaced;
  return JsonReply(replaced ? 200 : 201, body);
}

constexpr std::string_view kVoicePrefix = "/v1/voices/";

// DELETE /v1/voices/{name}[?model=...]
HttpReply DeleteVoice(TtsService& service, const ApiRequest& request) {
  const std::string name(request.path.substr(kVoicePrefix.size()));
  const auto models = service.model_choices();
  const auto model_name = QueryParameter(request.query, "model");
  const auto model = FindModel(models, model_name);
  if (!model) return UnknownModel(models, *model_name);
  if (auto error = service.voices().Delete(*model, name)) return WriteRefused(*error);
  return JsonReply(200, {{"deleted", true}, {"name", name}, {"model", models[*model].name}});
}

std::size_t VoiceBodyLimit(const TtsService& service) {
  return static_cast<std::size_t>(service.config().max_voice_bytes) + kDefaultBodyLimit;
}

HttpReply Live(TtsService&, const ApiRequest&) { return Text(200, "ok\n"); }

HttpReply Startup(TtsService& service, const ApiRequest&) {
  return service.started() ? Text(200, "started\n") : Text(503, "loading\n");
}

HttpReply Ready(TtsService& service, const ApiRequest&) {
  if (service.ready()) return Text(200, "ready\n");
  return Text(503, !service.started() ? "loading\n" : service.draining() ? "draining\n" : "at capacity\n");
}

HttpReply Metrics(TtsService& service, const ApiRequest&) {
  service.RefreshConnectionGauges();
  return HttpReply{200, "text/plain; version=0.0.4", service.metrics().Serialize()};
}

// GET /: the browser playground. It holds no secret (a user types the token
// into it), so it is open like the probes; what it then calls is not.
HttpReply Playground(TtsService&, const ApiRequest&) {
  HttpReply reply{200, "text/html; charset=utf-8", std::string(playground::Page())};
  reply.headers = {{"Cache-Control", "no-cache"},  // revalidated: the page changes with the binary
                   {"Content-Security-Policy", std::string(playground::ContentSecurityPolicy())},
                   {"X-Content-Type-Options", "nosniff"},
                   {"Referrer-Policy", "no-referrer"}};
  return reply;
}

constexpr std::array<Route, 11> kRoutes = {{
    {.method = "GET", .path = "/", .endpoint = Endpoint::kReply, .access = Access::kOpen, .reply = Playground},
    {.method = "GET", .path = "/ws/tts", .endpoint = Endpoint::kWebSocket, .access = Access::kToken},
    {.method = "POST", .path = "/v1/audio/speech", .endpoint = Endpoint::kSpeech, .access = Access::kToken,
     .json_body = true},
    {.method = "GET", .path = "/v1/models", .endpoint = Endpoint::kReply, .access = Access::kToken, .reply = Models},
    {.method = "GET", .path = "/v1/voices", .endpoint = Endpoint::kReply, .access = Access::kToken, .reply = Voices,
     .off_network_thread = true},
    {.method = "POST", .path = "/v1/voices", .endpoint = Endpoint::kReply, .access = Access::kVoiceWrite,
     .reply = SaveVoice, .body_limit = VoiceBodyLimit, .json_body = true, .off_network_thread = true},
    {.method = "DELETE", .path = kVoicePrefix, .endpoint = Endpoint::kReply, .access = Access::kVoiceWrite,
     .reply = DeleteVoice, .prefix = true, .off_network_thread = true},
    {.method = "GET", .path = "/health/live", .endpoint = Endpoint::kReply, .access = Access::kOpen, .reply = Live,
     .served_at_capacity = true},
    {.method = "GET", .path = "/health/startup", .endpoint = Endpoint::kReply, .access = Access::kOpen,
     .reply = Startup, .served_at_capacity = true},
    {.method = "GET", .path = "/health/ready", .endpoint = Endpoint::kReply, .access = Access::kOpen, .reply = Ready,
     .served_at_capacity = true},
    {.method = "GET", .path = "/metrics", .endpoint = Endpoint::kReply, .access = Access::kMetricsToken,
     .reply = Metrics, .served_at_capacity = true},
}};

bool IsApiPath(std::string_view path) { return path.starts_with("/v1/"); }

bool PathMatches(const Route& r, std::string_view path) {
  if (!r.prefix) return r.path == path;
  if (!path.starts_with(r.path)) return false;
  const std::string_view rest = path.substr(r.path.size());
  return !rest.empty() && rest.find('/') == std::string_view::npos;
}

// `status`: the table's own unless given (capacity's other status).
HttpReply Refuse(std::string_view path, ErrorCode code, const std::string& message, int status = 0) {
  if (status == 0) status = HttpStatusFor(code);
  if (IsApiPath(path)) return HttpReply{status, "application/json", JsonErrorBody(code, message)};
  return Text(status, message + "\n");
}

}  // namespace

std::size_t BodyLimit(const TtsService& service, const Route& route) {
  return route.body_limit ? route.body_limit(service) : kDefaultBodyLimit;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

std::optional<std::string> QueryParameter(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (pair.size() > key.size() && pair.starts_with(key) && pair[key.size()] == '=') {
      return PercentDecode(pair.substr(key.size() + 1));
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return std::nullopt;
}

bool SecretsEqual(std::string_view a, std::string_view b) {
  unsigned char diff = static_cast<unsigned char>(a.size() != b.size());
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

namespace {

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// host[:port] without the scheme's default port, lower case.
std::string Authority(std::string_view scheme, std::string_view authority) {
  std::string a = AsciiLower(authority);
  const std::string_view default_port = scheme == "https" || scheme == "wss" ? ":443" : ":80";
  if (a.ends_with(default_port)) a.resize(a.size() - default_port.size());
  return a;
}

bool ChangesState(std::string_view method) { return method != "GET" && method != "HEAD" && method != "OPTIONS"; }

}  // namespace

bool OriginAllowed(const std::vector<std::string>& allowed_origins, std::string_view origin, std::string_view host) {
  if (origin.empty()) return true;
  std::string o = AsciiLower(origin);
  while (!o.empty() && o.back() == '/') o.pop_back();
  for (const std::string& allowed : allowed_origins) {
    if (allowed == "*" || allowed == o) return true;
  }
  const auto scheme_end = o.find("://");
  if (scheme_end == std::string::npos || host.empty()) return false;
  const std::string_view scheme = std::string_view(o).substr(0, scheme_end);
  // Host carries no scheme: the port a browser left out is the Origin scheme's default.
  return Authority(scheme, std::string_view(o).substr(scheme_end + 3)) == Authority(scheme, host);
}

bool IsJsonContentType(std::string_view content_type) {
  const std::string media = AsciiLower(content_type.substr(0, content_type.find(';')));
  std::string_view m = media;
  while (!m.empty() && (m.front() == ' ' || m.front() == '\t')) m.remove_prefix(1);
  while (!m.empty() && (m.back() == ' ' || m.back() == '\t')) m.remove_suffix(1);
  return m == "application/json";
}

HttpReply CapacityRefusal(const TtsService& service, std::string_view path, bool per_address) {
  const auto& cfg = service.config();
  HttpReply reply =
      per_address
          ? Refuse(path, ErrorCode::kCapacity,
                   "this client address has " + std::to_string(cfg.ResolvedMaxConnectionsPerAddress()) +
                       " connections open, its share (TTS_MAX_CONNECTIONS_PER_ADDRESS); close one or retry later")
          : Refuse(path, ErrorCode::kCapacity,
                   "the server has TTS_MAX_CONNECTIONS (" + std::to_string(cfg.max_connections) +
                       ") connections open; retry later or on another replica",
                   InfoFor(ErrorCode::kCapacity).http_status_server_full);
  reply.headers.emplace_back("Retry-After", "1");
  return reply;
}

RouteMatch MatchRoute(TtsService& service, const RequestHead& request) {
  const std::string_view path = request.path;
  const Route* found = nullptr;
  const Route* same_path = nullptr;
  std::string allowed;
  const std::string_view as = request.method == "HEAD" ? "GET" : request.method;
  for (const Route& r : kRoutes) {
    if (!PathMatches(r, path)) continue;
    same_path = &r;
    allowed += (allowed.empty() ? "" : " or ") + std::string(r.method);
    if (r.method == as && (r.endpoint == Endpoint::kWebSocket) == request.websocket_upgrade) found = &r;
  }
  if (found == nullptr) {
    if (request.websocket_upgrade) {
      return {nullptr, Refuse(path, ErrorCode::kNotFound, "no WebSocket endpoint here; use /ws/tts")};
    }
    if (same_path == nullptr) return {nullptr, Refuse(path, ErrorCode::kNotFound, "not found")};
    if (same_path->endpoint == Endpoint::kWebSocket) {
      return {nullptr, Refuse(path, ErrorCode::kUpgradeRequired, "this is a WebSocket endpoint: connect with a WebSocket client")};
    }
    HttpReply reply = Refuse(path, ErrorCode::kMethodNotAllowed, allowed + " only on " + std::string(path));
    return {nullptr, std::move(reply)};
  }
  const auto& cfg = service.config();
  // A page of any site can make the browser open a WebSocket or send a
  // "simple" POST (no preflight) with the user's network position: only the
  // server's own pages and the origins the operator lists may.
  if ((request.websocket_upgrade || ChangesState(request.method)) &&
      !OriginAllowed(cfg.allowed_origins, request.origin, request.host)) {
    service.metrics().Error(WireName(ErrorCode::kOriginNotAllowed));
    return {nullptr, Refuse(path, ErrorCode::kOriginNotAllowed,
                            "requests from the web page origin '" + std::string(request.origin.substr(0, 100)) +
                                "' are not allowed here; the operator can list it in TTS_ALLOWED_ORIGINS")};
  }
  const bool needs_token = !cfg.auth_token.empty() &&
                           (found->access == Access::kToken || found->access == Access::kVoiceWrite ||
                            (found->access == Access::kMetricsToken && cfg.metrics_require_auth));
  if (needs_token && !SecretsEqual(request.presented_token, cfg.auth_token)) {
    if (found->access != Access::kMetricsToken) service.metrics().Error(WireName(ErrorCode::kUnauthorized));
    return {nullptr, Refuse(path, ErrorCode::kUnauthorized, "missing or wrong token")};
  }
  if (found->access == Access::kVoiceWrite) {
    if (auto refused = VoiceWritesRefused(service)) return {nullptr, Refuse(path, ErrorCode::kUploadsDisabled, *refused)};
  }
  if (found->json_body && !IsJsonContentType(request.content_type)) {
    return {nullptr, Refuse(path, ErrorCode::kUnsupportedMediaType,
                            "send the body as JSON with Content-Type: application/json (got '" +
                                std::string(request.content_type.substr(0, 100)) + "')")};
  }
  return {found, std::nullopt};
}

}  // namespace supertonic::service
