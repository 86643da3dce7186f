#pragma once
// Process-wide state of the TTS service, shared by every connection: the
// served models (one engine each), the one inference worker they share,
// metrics, session accounting and draining.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "engine/synthesizer.h"
#include "service/gpu_monitor.h"
#include "service/inference_worker.h"
#include "service/metrics.h"
#include "service/service_config.h"
#include "service/session_settings.h"
#include "service/voice_registry.h"
#include "text/text_normalizer.h"

namespace supertonic::service {

class Connection;

class TtsService {
 public:
  // Loads every model of config.ModelSources() in order (throws ModelError
  // naming the model and what is wrong with its files; std::invalid_argument
  // when a default the configuration sets does not fit a model), starts the
  // worker.
  explicit TtsService(ServiceConfig config);
  ~TtsService();

  // One synthesis per model so the first user does not pay for first-run
  // allocations; /health/startup turns true after it.
  void WarmUp();
  bool started() const { return started_; }
  // Accepting new sessions now (not draining, and not full unless configured).
  bool ready() const;
  bool draining() const { return draining_; }

  const ServiceConfig& config() const { return config_; }
  // The served models in order (index = SessionSettings::model); the first is the default.
  std::span<const ModelChoices> model_choices() const { return model_choices_; }
  const Synthesizer& synthesizer(std::size_t model = 0) const { return *synthesizers_.at(model); }
  // Every model's voices: its own, TTS_VOICES_DIR's and the uploaded ones, and their blends.
  VoiceRegistry& voices() { return *voices_; }
  const VoiceRegistry& voices() const { return *voices_; }
  std::size_t model_count() const { return synthesizers_.size(); }
  // Shared by every session: compiled language tables, safe across threads.
  const TextNormalizer& normalizer() const { return normalizer_; }
  // When the models were loaded, in Unix seconds (the OpenAI model object's "created").
  int64_t loaded_at() const { return loaded_at_; }
  InferenceWorker& worker() { return *worker_; }
  ServiceMetrics& metrics() { return metrics_; }

  enum class Admission { kAdmitted, kCapacity, kShuttingDown, kDuplicateId };
  // A session on `model` with a client-chosen id, or (nullopt) one the
  // server names itself: those count against TTS_MAX_SESSIONS but hold no
  // id, so no client can collide with them.
  Admission AdmitSession(const std::optional<std::string>& session_id, std::size_t model = 0);
  void ReleaseSession(const std::optional<std::string>& session_id, std::size_t model = 0);
  std::size_t active_sessions() const;
  std::size_t active_sessions(std::size_t model) const;
  uint64_t NextSessionUid() { return next_uid_++; }

  void AddConnection(const std::shared_ptr<Connection>& c);
  void RemoveConnection(const Connection* c);
  // SIGTERM: stop admitting, finish what every open session has, end them.
  void StartDrain();
  // The grace period is over: end every open session now.
  void ForceCloseAll();
  std::size_t open_connections() const;
  // Sets the gauges summed over connections (buffered output, unspoken
  // text). On the connections' executor (the /metrics handler).
  void RefreshConnectionGauges();
  // HTTP reply bytes the transport holds for clients (counted in the
  // buffered output gauge with the WebSocket and speech output).
  void ChangeQueuedHttpBytes(int64_t delta) { queued_http_bytes_ += delta; }

 private:
  void StartGpuMonitor();
  // The connections still alive, taken under the lock and used outside it.
  std::vector<std::shared_ptr<Connection>> LiveConnections() const;

  ServiceConfig config_;
  ServiceMetrics metrics_;
  EngineConfig engine_config_;  // as resolved for the device expected (model_dir: the first model's)
  std::vector<std::unique_ptr<Synthesizer>> synthesizers_;
  TextNormalizer normalizer_;
  std::vector<ModelChoices> model_choices_;
  std::unique_ptr<VoiceRegistry> voices_;
  int64_t loaded_at_ = 0;
  std::unique_ptr<InferenceWorker> worker_;
  std::atomic<bool> started_{false};
  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> next_uid_{1};
  std::atomic<int64_t> queued_http_bytes_{0};
  mutable std::mutex mutex_;
  std::set<std::string> session_ids_;
  std::size_t unnamed_sessions_ = 0;
  std::vector<std::size_t> sessions_by_model_;
  std::vector<std::weak_ptr<Connection>> connections_;
  // Last: it publishes into metrics_ until it is destroyed.
  std::unique_ptr<GpuUtilizationMonitor> gpu_monitor_;
};

}  // namespace supertonic::service
