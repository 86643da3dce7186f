#include "service/api_routes.h"

#include <array>
#include <nlohmann/json.hpp>

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
nlohmann::json ModelObject(const ModelChoices& m, bool is_default, int64_t created) {
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
          {"voices", m.voices},
          {"default_voice", m.default_voice},
          {"default_language", m.default_lang},
          {"num_inference_steps", {{"default", m.default_steps}, {"min", m.min_steps}, {"max", m.max_steps}}},
          {"speed", {{"default", m.default_speed}, {"min", m.min_speed}, {"max", m.max_speed}}},
          {"chunk_chars", {{"default", p.chunk_chars}, {"by_language", chunk_by_lang}}},
          {"expression_tags", p.expression_tags},
          {"detected_by", p.detected_by}};
}

HttpReply Models(TtsService& service) {
  nlohmann::json data = nlohmann::json::array();
  const auto models = service.model_choices();
  for (std::size_t i = 0; i < models.size(); ++i) data.push_back(ModelObject(models[i], i == 0, service.loaded_at()));
  return Json(200, {{"object", "list"}, {"data", std::move(data)}});
}

// The default model's voices and languages at the top level (what this
// answered when a server had one model), every model's under "models".
HttpReply Voices(TtsService& service) {
  const auto models = service.model_choices();
  nlohmann::json by_model = nlohmann::json::array();
  for (const auto& m : models) {
    by_model.push_back({{"model", m.name},
                        {"voices", m.voices},
                        {"languages", m.languages()},
                        {"default_voice", m.default_voice}});
  }
  const ModelChoices& first = models.front();
  return Json(200, {{"voices", first.voices},
                    {"languages", first.languages()},
                    {"model", first.name},
                    {"models", std::move(by_model)}});
}

HttpReply Live(TtsService&) { return Text(200, "ok\n"); }

HttpReply Startup(TtsService& service) {
  return service.started() ? Text(200, "started\n") : Text(503, "loading\n");
}

HttpReply Ready(TtsService& service) {
  if (service.ready()) return Text(200, "ready\n");
  return Text(503, !service.started() ? "loading\n" : service.draining() ? "draining\n" : "at capacity\n");
}

HttpReply Metrics(TtsService& service) {
  service.RefreshConnectionGauges();
  return HttpReply{200, "text/plain; version=0.0.4", service.metrics().Serialize()};
}

constexpr std::array<Route, 8> kRoutes = {{
    {"GET", "/ws/tts", Endpoint::kWebSocket, Access::kToken},
    {"POST", "/v1/audio/speech", Endpoint::kSpeech, Access::kToken},
    {"GET", "/v1/models", Endpoint::kReply, Access::kToken, Models},
    {"GET", "/v1/voices", Endpoint::kReply, Access::kToken, Voices},
    {"GET", "/health/live", Endpoint::kReply, Access::kOpen, Live},
    {"GET", "/health/startup", Endpoint::kReply, Access::kOpen, Startup},
    {"GET", "/health/ready", Endpoint::kReply, Access::kOpen, Ready},
    {"GET", "/metrics", Endpoint::kReply, Access::kMetricsToken, Metrics},
}};

bool IsApiPath(std::string_view path) { return path.starts_with("/v1/"); }

HttpReply Refuse(std::string_view path, int status, std::string_view code, const std::string& message) {
  if (IsApiPath(path)) return HttpReply{status, "application/json", JsonErrorBody(code, message)};
  return Text(status, message + "\n");
}

}  // namespace

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
  const std::string_view as = method == "HEAD" ? "GET" : method;
  for (const Route& r : kRoutes) {
    if (r.path != path) continue;
    same_path = &r;
    if (r.method == as && (r.endpoint == Endpoint::kWebSocket) == websocket_upgrade) found = &r;
  }
  if (found == nullptr) {
    if (websocket_upgrade) return {nullptr, Refuse(path, 404, "not_found", "no WebSocket endpoint here; use /ws/tts")};
    if (same_path == nullptr) return {nullptr, Refuse(path, 404, "not_found", "not found")};
    if (same_path->endpoint == Endpoint::kWebSocket) {
      return {nullptr, Refuse(path, 426, "upgrade_required", "this is a WebSocket endpoint: connect with a WebSocket client")};
    }
    HttpReply reply = Refuse(path, 405, "method_not_allowed",
                             std::string(same_path->method) + " only on " + std::string(path));
    return {nullptr, std::move(reply)};
  }
  const auto& cfg = service.config();
  const bool needs_token = !cfg.auth_token.empty() &&
                           (found->access == Access::kToken ||
                            (found->access == Access::kMetricsToken && cfg.metrics_require_auth));
  if (needs_token && !SecretsEqual(presented_token, cfg.auth_token)) {
    if (found->access == Access::kToken) service.metrics().Error("unauthorized");
    return {nullptr, Refuse(path, 401, "unauthorized", "missing or wrong token")};
  }
  return {found, std::nullopt};
}

}  // namespace supertonic::service
