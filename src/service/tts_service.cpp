#include "service/tts_service.h"

#include <spdlog/spdlog.h>

#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "engine/supertonic_model.h"
#include "service/connection.h"
#include "text/exceptions.h"

namespace supertonic::service {

namespace {
bool OnGpu(const Synthesizer& s) { return s.execution_provider().find("CUDA") != std::string::npos; }

// Threads are sized before the model loads, so for TTS_DEVICE=auto by whether
// this ONNX Runtime can use CUDA at all; the rest is resolved after loading.
bool ExpectGpu(const ServiceConfig& c) {
  if (c.backend == Backend::kOpenVino) return false;  // CPU only
  return c.device == Device::kCuda || (c.device == Device::kAuto && CudaProviderCompiledIn());
}

// Batches exactly as large as configured, unless a batch would change what a
// conversation hears (Synthesizer::mixed_length_batches_exact): then one
// segment per model call.
std::size_t MaxBatch(const ServiceConfig& c, bool on_gpu, bool batches_exact) {
  return batches_exact ? static_cast<std::size_t>(c.ResolvedMaxBatch(on_gpu)) : 1;
}

SchedulerConfig SchedulerConfigFrom(const ServiceConfig& c, bool on_gpu,
                                    const std::vector<std::unique_ptr<Synthesizer>>& models) {
  SchedulerConfig s;
  s.max_inflight_per_session = static_cast<std::size_t>(c.max_inflight_segments);
  s.max_batch = static_cast<std::size_t>(c.ResolvedMaxBatch(on_gpu));
  for (const auto& m : models) s.max_batch_by_model.push_back(MaxBatch(c, on_gpu, m->mixed_length_batches_exact()));
  s.batch_wait = std::chrono::milliseconds(c.batch_wait_ms);
  s.fifo = c.scheduler == SchedulerPolicy::kFifo;
  return s;
}

// A model that fails to load is named, so that with several the operator
// knows which directory to fix.
std::unique_ptr<Synthesizer> LoadModel(const EngineConfig& config, const ModelSource& source, std::size_t count) {
  try {
    return std::make_unique<Synthesizer>(config);
  } catch (const ModelError& e) {
    if (count == 1) throw;
    throw ModelError("model '" + source.name + "' (" + source.dir + "): " + e.what());
  }
}
}  // namespace

TtsService::TtsService(ServiceConfig config)
    : config_(std::move(config)), engine_config_(config_.ToEngineConfig(ExpectGpu(config_))) {
  const std::vector<ModelSource> sources = config_.ModelSources();
  std::vector<ModelVoices> model_voices;
  for (const ModelSource& source : sources) {
    EngineConfig engine = engine_config_;
    engine.model_dir = source.dir;
    synthesizers_.push_back(LoadModel(engine, source, sources.size()));
    const Synthesizer& s = *synthesizers_.back();
    model_voices.push_back({source.name.empty() ? s.profile().name : source.name, &s.voices()});
  }
  voices_ = std::make_unique<VoiceRegistry>(
      model_voices, VoiceRegistryConfig{.dir = config_.voices_dir,
                                        .max_voices = static_cast<std::size_t>(config_.max_voices),
                                        .max_voice_bytes = static_cast<std::size_t>(config_.max_voice_bytes),
                                        .default_voice = config_.default_voice,
                                        .rescan_interval = std::chrono::seconds(config_.voices_rescan_s)});
  if (config_.allow_voice_upload && config_.auth_token.empty()) {
    spdlog::warn("TTS_ALLOW_VOICE_UPLOAD is on without TTS_AUTH_TOKEN: anyone who can reach the port may add and "
                 "delete voices");
  }
  for (std::size_t i = 0; i < synthesizers_.size(); ++i) {
    const Synthesizer& s = *synthesizers_[i];
    const std::string& name = model_voices[i].name;
    model_choices_.push_back(MakeModelChoices(name, s.profile(), voices_->Names(i), config_));
    metrics_.RegisterModel(name);
    const auto& m = model_choices_.back();
    spdlog::info("model {}{} from {}: {}; {} voices; defaults: voice {}, language {}, {} steps, speed {}", name,
                 i == 0 ? " (default)" : "", sources[i].dir, s.profile().Describe(), m.voices.size(),
                 m.default_voice, m.default_lang, m.default_steps, m.default_speed);
  }
  sessions_by_model_.assign(synthesizers_.size(), 0);
  loaded_at_ =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const Synthesizer& first = *synthesizers_.front();
  // The automatic settings depend on where the model ended up (TTS_DEVICE=auto).
  const bool gpu = OnGpu(first);
  for (std::size_t i = 1; i < synthesizers_.size(); ++i) {
    if (OnGpu(*synthesizers_[i]) != gpu) {
      spdlog::warn("model {} runs on the {} but model {} on the {}: the automatic batch and worker settings follow "
                   "the first",
                   model_choices_[i].name, gpu ? "CPU" : "GPU", model_choices_.front().name, gpu ? "GPU" : "CPU");
    }
  }
  const std::string threads = engine_config_.intra_op_threads == 0 ? std::string("one per core")
                                                                    : std::to_string(engine_config_.intra_op_threads);
  if (gpu != ExpectGpu(config_)) {
    spdlog::warn("the model runs on the {} although this ONNX Runtime {}; its intra-op threads ({}) were sized for "
                 "the other device (set TTS_DEVICE or TTS_INTRA_OP_THREADS to choose)",
                 gpu ? "GPU" : "CPU", gpu ? "was not expected to use CUDA" : "has CUDA", threads);
  }
  const int workers = config_.ResolvedInferenceWorkers(gpu);
  const SchedulerConfig scheduler = SchedulerConfigFrom(config_, gpu, synthesizers_);
  std::vector<WorkerModel> worker_models;
  std::vector<std::string> batches;
  for (std::size_t i = 0; i < synthesizers_.size(); ++i) {
    const Synthesizer& s = *synthesizers_[i];
    const std::string& name = model_choices_[i].name;
    if (!s.mixed_length_batches_exact() && config_.ResolvedMaxBatch(gpu) > 1) {
      spdlog::warn("model {}: batches of one segment, not {} (TTS_MAX_BATCH): in a batch this model's audio would "
                   "change with the other segments ({})",
                   name, config_.ResolvedMaxBatch(gpu), s.batch_exactness().reason);
    }
    worker_models.push_back({name, &s});
    batches.push_back(fmt::format("{} {}", name, scheduler.MaxBatchFor(i)));
  }
  worker_ = std::make_unique<InferenceWorker>(std::move(worker_models), scheduler, &metrics_, workers);
  spdlog::info("{} model(s) on {}{}; {} inference worker(s) shared by all, intra-op threads: {}, batches of up to: {}",
               synthesizers_.size(), first.execution_provider(),
               gpu ? fmt::format(" device {}", engine_config_.cuda_device_id) : std::string(), workers, threads,
               fmt::join(batches, ", "));
  if (gpu) StartGpuMonitor();
}

void TtsService::StartGpuMonitor() {
  const auto selector =
      NvmlDeviceSelector::ForCudaDevice(engine_config_.cuda_device_id, std::getenv("CUDA_VISIBLE_DEVICES"));
  try {
    gpu_monitor_ = std::make_unique<GpuUtilizationMonitor>(std::make_unique<NvmlDevice>(selector),
                                                           std::chrono::seconds(1),
                                                           [this](double p) { metrics_.SetGpuUtilization(p); });
    spdlog::info("tts_gpu_utilization_percent: sampling {} through NVML every second", selector.Describe());
  } catch (const std::exception& e) {
    spdlog::warn("tts_gpu_utilization_percent stays 0: {}", e.what());
  }
}

TtsService::~TtsService() { worker_->Stop(); }

void TtsService::WarmUp() {
  for (std::size_t i = 0; i < synthesizers_.size(); ++i) {
    const ModelChoices& m = model_choices_[i];
    synthesizers_[i]->SynthesizeBatch({{"Warm up.", m.default_lang, m.default_voice,
                                        static_cast<float>(m.default_speed), 0, nullptr,
                                        voices_->Find(i, m.default_voice)}},
                                      m.default_steps);
  }
  started_ = true;
}

bool TtsService::ready() const {
  if (!started_ || draining_) return false;
  return config_.ready_at_capacity || active_sessions() < static_cast<std::size_t>(config_.max_sessions);
}

TtsService::Admission TtsService::AdmitSession(const std::optional<std::string>& session_id, std::size_t model) {
  if (draining_) return Admission::kShuttingDown;
  std::lock_guard lock(mutex_);
  if (session_ids_.size() + unnamed_sessions_ >= static_cast<std::size_t>(config_.max_sessions)) {
    return Admission::kCapacity;
  }
  if (!session_id) {
    ++unnamed_sessions_;
  } else if (!session_ids_.insert(*session_id).second) {
    return Admission::kDuplicateId;
  }
  metrics_.SetActiveSessions(model_choices_.at(model).name, static_cast<double>(++sessions_by_model_.at(model)));
  return Admission::kAdmitted;
}

void TtsService::ReleaseSession(const std::optional<std::string>& session_id, std::size_t model) {
  std::lock_guard lock(mutex_);
  if (!session_id) {
    if (unnamed_sessions_ == 0) return;
    --unnamed_sessions_;
  } else if (session_ids_.erase(*session_id) == 0) {
    return;
  }
  auto& n = sessions_by_model_.at(model);
  if (n > 0) --n;
  metrics_.SetActiveSessions(model_choices_.at(model).name, static_cast<double>(n));
}

std::size_t TtsService::active_sessions() const {
  std::lock_guard lock(mutex_);
  return session_ids_.size() + unnamed_sessions_;
}

std::size_t TtsService::active_sessions(std::size_t model) const {
  std::lock_guard lock(mutex_);
  return sessions_by_model_.at(model);
}

void TtsService::AddConnection(const std::shared_ptr<Connection>& c) {
  std::lock_guard lock(mutex_);
  connections_.push_back(c);
}

void TtsService::RemoveConnection(const Connection* c) {
  std::lock_guard lock(mutex_);
  std::erase_if(connections_, [c](const std::weak_ptr<Connection>& w) {
    auto s = w.lock();
    return !s || s.get() == c;
  });
}

std::size_t TtsService::open_connections() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(
      std::count_if(connections_.begin(), connections_.end(), [](const auto& w) { return !w.expired(); }));
}

std::vector<std::shared_ptr<Connection>> TtsService::LiveConnections() const {
  std::vector<std::shared_ptr<Connection>> open;
  std::lock_guard lock(mutex_);
  for (const auto& w : connections_) {
    if (auto c = w.lock()) open.push_back(std::move(c));
  }
  return open;
}

void TtsService::RefreshConnectionGauges() {
  std::size_t bytes = 0, chars = 0;
  for (const auto& c : LiveConnections()) {
    bytes += c->queued_output_bytes();
    chars += c->unspoken_chars();
  }
  bytes += static_cast<std::size_t>(std::max<int64_t>(0, queued_http_bytes_.load()));
  metrics_.SetBufferedOutputBytes(static_cast<double>(bytes));
  metrics_.SetUnspokenTextChars(static_cast<double>(chars));
}

void TtsService::ForceCloseAll() {
  for (const auto& c : LiveConnections()) c->ForceClose();
}

void TtsService::StartDrain() {
  draining_ = true;
  const auto open = LiveConnections();
  spdlog::info("draining: {} connection(s) open", open.size());
  for (const auto& c : open) c->Drain();
}

}  // namespace supertonic::service
