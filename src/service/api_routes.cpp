#include "service/api_routes.h"

#include <array>
#include <nlohmann/json.hpp>

#include "engine/errors.h"
#include "engine/voice_blend.h"
#include "service/playground/playground.h"
#include "service/speech_request.h"
#include "service/tts_service.h"

namespace supertonic::service {

namespace {

HttpReply Text(int status, std::string body) { return HttpReply{status, "text/plain", std::move(body)}; }
HttpReply Json(int status, const nlohmann::json& body) {
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
  return Json(200, {{"object", "list"}, {"data", std::move(data)}});
}

HttpReply Error(int status, std::string_view code, const std::string& message) {
  return HttpReply{status, "application/json", JsonErrorBody(code, message)};
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

// The default model's voices and languages at the top level (what this
// answered when a server had one model), every model's under "models", and
// every voice with its model, origin and metadata under "data".
HttpReply Voices(TtsService& service, const ApiRequest&) {
  const auto models = service.model_choices();
  const VoiceRegistry& registry = service.voices();
  nlohmann::json by_model = nlohmann::json::array();
  nlohmann::json data = nlohmann::json::array();
  for (std::size_t i = 0; i < models.size(); ++i) {
    const auto& m = models[i];
    const auto voices = registry.List(i);
    std::vector<std::string> names;
    for (const auto& v : voices) {
      names.push_back(v.name);
      data.push_back(VoiceObject(v));
    }
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
  return Json(200, {{"voices", by_model.front()["voices"]},
                    {"languages", first.languages()},
                    {"model", first.name},
                    {"models", std::move(by_model)},
                    {"data", std::move(data)},
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
  return Error(400, "invalid_model",
               "unknown model '" + name.substr(0, 64) + "' (served: " + ModelNames(models) + ")");
}

HttpReply WriteRefused(const VoiceWriteError& e) {
  using Kind = VoiceWriteError::Kind;
  switch (e.kind) {
    case Kind::kInvalidName: return Error(400, "invalid_voice_name", e.message);
    case Kind::kInvalidVoice: return Error(400, "invalid_voice", e.message);
    case Kind::kProtected: return Error(409, "voice_protected", e.message);
    case Kind::kTooMany: return Error(409, "too_many_voices", e.message);
    case Kind::kTooLarge: return Error(413, "voice_too_large", e.message);
    case Kind::kNotFound: return Error(404, "voice_not_found", e.message);
    case Kind::kNoStorage: return Error(403, "uploads_disabled", e.message);
    case Kind::kStorage: return Error(500, "voice_storage_failed", e.message);
  }
  return Error(500, "internal", e.message);
}

// POST /v1/voices: {"name", "style": {voice-style JSON}} or {"name", "blend":
// "F1:0.5+M2:0.5"}, optional "model" and "metadata".
HttpReply SaveVoice(TtsService& service, const ApiRequest& request) {
  auto invalid = [](const std::string& message) { return Error(400, "invalid_request_error", message); };
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
    return Error(400, "invalid_voice_name",
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
      return Error(400, "invalid_voice", e.what());
    }
  } else {
    if (!blend_field->is_string()) return invalid("'blend' must be a string such as \"F1:0.5+M2:0.5\"");
    auto resolved = service.voices().Resolve(*model, blend_field->get<std::string>());
    if (auto* error = std::get_if<ProtocolError>(&resolved)) return Error(400, "invalid_voice", error->message);
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
  return Json(replaced ? 200 : 201, body);
}

// The value of `key` in a query string ("a=1&model=x"), as written.
std::optional<std::string> QueryValue(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (pair.size() > key.size() && pair.starts_with(key) && pair[key.size()] == '=') {
      return std::string(pair.substr(key.size() + 1));
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return std::nullopt;
}

constexpr std::string_view kVoicePrefix = "/v1/voices/";

// DELETE /v1/voices/{name}[?model=...]
HttpReply DeleteVoice(TtsService& service, const ApiRequest& request) {
  const std::string name(request.path.substr(kVoicePrefix.size()));
  const auto models = service.model_choices();
  const auto model_name = QueryValue(request.query, "model");
  const auto model = FindModel(models, model_name);
  if (!model) return UnknownModel(models, *model_name);
  if (auto error = service.voices().Delete(*model, name)) return WriteRefused(*error);
  return Json(200, {{"deleted", true}, {"name", name}, {"model", models[*model].name}});
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
    {"GET", "/", Endpoint::kReply, Access::kOpen, Playground},
    {"GET", "/ws/tts", Endpoint::kWebSocket, Access::kToken},
    {"POST", "/v1/audio/speech", Endpoint::kSpeech, Access::kToken},
    {"GET", "/v1/models", Endpoint::kReply, Access::kToken, Models},
    {"GET", "/v1/voices", Endpoint::kReply, Access::kToken, Voices},
    {"POST", "/v1/voices", Endpoint::kReply, Access::kVoiceWrite, SaveVoice, false, VoiceBodyLimit},
    {"DELETE", kVoicePrefix, Endpoint::kReply, Access::kVoiceWrite, DeleteVoice, true},
    {"GET", "/health/live", Endpoint::kReply, Access::kOpen, Live},
    {"GET", "/health/startup", Endpoint::kReply, Access::kOpen, Startup},
    {"GET", "/health/ready", Endpoint::kReply, Access::kOpen, Ready},
    {"GET", "/metrics", Endpoint::kReply, Access::kMetricsToken, Metrics},
}};

bool IsApiPath(std::string_view path) { return path.starts_with("/v1/"); }

bool PathMatches(const Route& r, std::string_view path) {
  if (!r.prefix) return r.path == path;
  if (!path.starts_with(r.path)) return false;
  const std::string_view rest = path.substr(r.path.size());
  return !rest.empty() && rest.find('/') == std::string_view::npos;
}

HttpReply Refuse(std::string_view path, int status, std::string_view code, const std::string& message) {
  if (IsApiPath(path)) return HttpReply{status, "application/json", JsonErrorBody(code, message)};
  return Text(status, message + "\n");
}

}  // namespace

std::size_t BodyLimit(const TtsService& service, const Route& route) {
  return route.body_limit ? route.body_limit(service) : kDefaultBodyLimit;
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

RouteMatch MatchRoute(TtsService& service, std::string_view method, std::string_view path, bool websocket_upgrade,
                      std::string_view presented_token) {
  const Route* found = nullptr;
  const Route* same_path = nullptr;
  std::string allowed;
  const std::string_view as = method == "HEAD" ? "GET" : method;
  for (const Route& r : kRoutes) {
    if (!PathMatches(r, path)) continue;
    same_path = &r;
    allowed += (allowed.empty() ? "" : " or ") + std::string(r.method);
    if (r.method == as && (r.endpoint == Endpoint::kWebSocket) == websocket_upgrade) found = &r;
  }
  if (found == nullptr) {
    if (websocket_upgrade) return {nullptr, Refuse(path, 404, "not_found", "no WebSocket endpoint here; use /ws/tts")};
    if (same_path == nullptr) return {nullptr, Refuse(path, 404, "not_found", "not found")};
    if (same_path->endpoint == Endpoint::kWebSocket) {
      return {nullptr, Refuse(path, 426, "upgrade_required", "this is a WebSocket endpoint: connect with a WebSocket client")};
    }
    HttpReply reply = Refuse(path, 405, "method_not_allowed", allowed + " only on " + std::string(path));
    return {nullptr, std::move(reply)};
  }
  const auto& cfg = service.config();
  const bool needs_token = !cfg.auth_token.empty() &&
                           (found->access == Access::kToken || found->access == Access::kVoiceWrite ||
                            (found->access == Access::kMetricsToken && cfg.metrics_require_auth));
  if (needs_token && !SecretsEqual(presented_token, cfg.auth_token)) {
    if (found->access != Access::kMetricsToken) service.metrics().Error("unauthorized");
    return {nullptr, Refuse(path, 401, "unauthorized", "missing or wrong token")};
  }
  if (found->access == Access::kVoiceWrite) {
    if (auto refused = VoiceWritesRefused(service)) return {nullptr, Refuse(path, 403, "uploads_disabled", *refused)};
  }
  return {found, std::nullopt};
}

}  // namespace supertonic::service
