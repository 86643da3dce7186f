#include "service/tts_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

#include "engine/supertonic_model.h"
#include "service/connection.h"

namespace supertonic::service {

namespace {
bool OnGpu(const Synthesizer& s) { return s.execution_provider().find("CUDA") != std::string::npos; }

// Threads are sized before the model loads, so for TTS_DEVICE=auto by whether
// this ONNX Runtime can use CUDA at all; the rest is resolved after loading.
bool ExpectGpu(const ServiceConfig& c) {
  return c.device == Device::kCuda || (c.device == Device::kAuto && CudaProviderCompiledIn());
}

// Batches exactly as large as configured, unless a batch would change what a
// conversation hears (Synthesizer::mixed_length_batches_exact): then one
// segment per model call.
std::size_t MaxBatch(const ServiceConfig& c, bool on_gpu, bool batches_exact) {
  return batches_exact ? static_cast<std::size_t>(c.ResolvedMaxBatch(on_gpu)) : 1;
}

SchedulerConfig SchedulerConfigFrom(const ServiceConfig& c, bool on_gpu, bool batches_exact) {
  SchedulerConfig s;
  s.max_inflight_per_session = static_cast<std::size_t>(c.max_inflight_segments);
  s.max_batch = MaxBatch(c, on_gpu, batches_exact);
  s.batch_wait = std::chrono::milliseconds(c.batch_wait_ms);
  s.fifo = c.scheduler == SchedulerPolicy::kFifo;
  return s;
}
}  // namespace

TtsService::TtsService(ServiceConfig config)
    : config_(std::move(config)),
      engine_config_(config_.ToEngineConfig(ExpectGpu(config_))),
      synthesizer_(std::make_unique<Synthesizer>(engine_config_)) {
  model_choices_ = ModelChoices{synthesizer_->voices().names(), synthesizer_->model_config().languages};
  // The automatic settings depend on where the model ended up (TTS_DEVICE=auto).
  const bool gpu = OnGpu(*synthesizer_);
  const std::string threads = engine_config_.intra_op_threads == 0 ? std::string("one per core")
                                                                    : std::to_string(engine_config_.intra_op_threads);
  if (gpu != ExpectGpu(config_)) {
    spdlog::warn("the model runs on the {} although this ONNX Runtime {}; its intra-op threads ({}) were sized for "
                 "the other device (set TTS_DEVICE or TTS_INTRA_OP_THREADS to choose)",
                 gpu ? "GPU" : "CPU", gpu ? "was not expected to use CUDA" : "has CUDA", threads);
  }
  const int workers = config_.ResolvedInferenceWorkers(gpu);
  const bool exact = synthesizer_->mixed_length_batches_exact();
  if (!exact && config_.ResolvedMaxBatch(gpu) > 1) {
    spdlog::warn("batches of one segment, not {} (TTS_MAX_BATCH): in a batch this model's audio would change with "
                 "the other segments ({})",
                 config_.ResolvedMaxBatch(gpu), synthesizer_->batch_probe().reason);
  }
  worker_ = std::make_unique<InferenceWorker>(*synthesizer_, SchedulerConfigFrom(config_, gpu, exact), &metrics_,
                                              workers);
  spdlog::info("model loaded from {} ({}{}, {} voices); {} inference worker(s), intra-op threads: {}, batches of "
               "up to {}",
               config_.model_dir, synthesizer_->execution_provider(),
               gpu ? fmt::format(" device {}", engine_config_.cuda_device_id) : std::string(),
               model_choices_.voices.size(), workers, threads, MaxBatch(config_, gpu, exact));
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
  synthesizer_->SynthesizeBatch({{"Warm up.", config_.lang_code, config_.default_voice, 1.0f, 0, nullptr}},
                                config_.num_inference_steps);
  started_ = true;
}

bool TtsService::ready() const {
  if (!started_ || draining_) return false;
  return config_.ready_at_capacity || active_sessions() < static_cast<std::size_t>(config_.max_sessions);
}

TtsService::Admission TtsService::AdmitSession(const std::optional<std::string>& session_id) {
  if (draining_) return Admission::kShuttingDown;
  std::lock_guard lock(mutex_);
  if (session_ids_.size() + unnamed_sessions_ >= static_cast<std::size_t>(config_.max_sessions)) {
    return Admission::kCapacity;
  }
  if (!session_id) {
    ++unnamed_sessions_;
    return Admission::kAdmitted;
  }
  if (!session_ids_.insert(*session_id).second) return Admission::kDuplicateId;
  return Admission::kAdmitted;
}

void TtsService::ReleaseSession(const std::optional<std::string>& session_id) {
  std::lock_guard lock(mutex_);
  if (!session_id) {
    if (unnamed_sessions_ > 0) --unnamed_sessions_;
    return;
  }
  session_ids_.erase(*session_id);
}

std::size_t TtsService::active_sessions() const {
  std::lock_guard lock(mutex_);
  return session_ids_.size() + unnamed_sessions_;
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
