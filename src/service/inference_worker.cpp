#include "service/inference_worker.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>

#include "service/metrics.h"
#include "text/exceptions.h"

namespace supertonic::service {

InferenceWorker::InferenceWorker(std::vector<WorkerModel> models, const SchedulerConfig& config,
                                 ServiceMetrics* metrics, int threads)
    : models_(std::move(models)), metrics_(metrics), scheduler_(config) {
  if (threads < 1) throw std::invalid_argument("an inference worker needs at least 1 thread, got " + std::to_string(threads));
  if (models_.empty()) throw std::invalid_argument("an inference worker needs at least one model");
  for (const auto& m : models_) {
    if (m.synthesizer == nullptr) throw std::invalid_argument("model " + m.name + " has no synthesizer");
  }
  for (int i = 0; i < threads; ++i) running_.push_back(std::make_unique<Running>());
  for (auto& r : running_) threads_.emplace_back([this, &running = *r] { Run(running); });
}

InferenceWorker::~InferenceWorker() { Stop(); }

void InferenceWorker::Stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    for (auto& r : running_) {
      if (r->control) r->control->Cancel();
    }
  }
  wake_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void InferenceWorker::RegisterSession(uint64_t session, ResultHandler handler) {
  std::lock_guard lock(mutex_);
  handlers_[session] = std::move(handler);
}

void InferenceWorker::UnregisterSession(uint64_t session) {
  CancelSession(session);
  std::lock_guard lock(mutex_);
  handlers_.erase(session);
  scheduler_.RemoveSession(session);
}

void InferenceWorker::Submit(SegmentJob job) {
  if (job.model >= models_.size()) {
    throw std::invalid_argument("segment of session " + std::to_string(job.session) + " names model " +
                                std::to_string(job.model) + " of " + std::to_string(models_.size()));
  }
  {
    std::lock_guard lock(mutex_);
    scheduler_.Submit(std::move(job));
    UpdateQueueMetric();
  }
  wake_.notify_one();
}

std::size_t InferenceWorker::CancelSession(uint64_t session) {
  std::lock_guard lock(mutex_);
  const std::size_t dropped = scheduler_.CancelSession(session);
  for (auto& r : running_) {
    if (r->sessions.count(session) == 0) continue;
    r->cancelled.insert(session);
    // Stop the model call only when every item in it is unwanted.
    if (r->cancelled.size() == r->sessions.size() && r->control) r->control->Cancel();
  }
  UpdateQueueMetric();
  return dropped;
}

std::size_t InferenceWorker::queue_depth() const {
  std::lock_guard lock(mutex_);
  return scheduler_.queue_depth();
}

void InferenceWorker::UpdateQueueMetric() {
  if (metrics_) metrics_->SetQueueDepth(static_cast<double>(scheduler_.queue_depth() + scheduler_.waiting()));
}

void InferenceWorker::Run(Running& running) {
  using Clock = std::chrono::steady_clock;
  for (;;) {
    std::vector<SegmentJob> batch;
    std::shared_ptr<RunControl> control;
    int concurrent = 1;
    {
      std::unique_lock lock(mutex_);
      for (;;) {
        if (stop_) return;
        batch = scheduler_.NextBatch(Clock::now());
        if (!batch.empty()) break;
        if (auto deadline = scheduler_.NextDeadline()) {
          wake_.wait_until(lock, *deadline);
        } else {
          wake_.wait(lock);
        }
      }
      running.sessions.clear();
      running.cancelled.clear();
      for (const auto& job : batch) running.sessions.insert(job.session);
      running.control = control = std::make_shared<RunControl>();
      // Calls that will share the CPU with this one: those running, and one
      // more for each idle thread that queued work will wake.
      std::size_t busy = 0;
      for (const auto& r : running_) busy += r->control ? 1 : 0;
      concurrent = static_cast<int>(std::min(running_.size(), busy + scheduler_.queue_depth()));
      UpdateQueueMetric();
    }

    const auto started = Clock::now();
    std::vector<SynthesisItem> items;
    items.reserve(batch.size());
    for (const auto& job : batch) {
      items.push_back({job.text, job.lang, job.voice, job.speed, job.segment, nullptr, job.voice_style});
    }
    std::vector<SegmentResult> results(batch.size());
    std::vector<bool> finished(batch.size(), false);
    auto handler_of = [&](const SegmentJob& job) -> ResultHandler {
      std::lock_guard lock(mutex_);
      auto it = handlers_.find(job.session);
      return it == handlers_.end() ? ResultHandler() : it->second;
    };
    // Audio goes to its session as soon as each chunk is vocoded.
    auto sink = [&](const AudioPiece& piece) {
      const auto& job = batch[piece.item];
      SegmentResult r;
      r.session = job.session;
      r.segment = job.segment;
      r.samples.assign(piece.samples.begin(), piece.samples.end());
      r.final = piece.final;
      r.duration_s = piece.duration_s;
      r.latent_frames = piece.latent_frames;
      r.num_tokens = piece.num_tokens;
      r.batch_size = batch.size();
      r.queue_s = std::chrono::duration<double>(started - job.submitted).count();
      r.synthesis_s = std::chrono::duration<double>(Clock::now() - started).count();
      if (piece.final) finished[piece.item] = true;
      if (auto handler = handler_of(job)) handler(std::move(r));
    };
    try {
      // The scheduler never mixes models in a batch.
      const WorkerModel& model = models_[batch.front().model];
      BatchAudio audio =
          model.synthesizer->SynthesizeBatch(items, batch.front().steps, control.get(), sink, concurrent);
      if (metrics_) {
        metrics_->Batch(model.name, batch.size());
        metrics_->StageSeconds(model.name, "duration_predictor", audio.times.duration_predictor_s);
        metrics_->StageSeconds(model.name, "text_encoder", audio.times.text_encoder_s);
        metrics_->StageSeconds(model.name, "vector_estimator", audio.times.vector_estimator_s);
        metrics_->StageSeconds(model.name, "vocoder", audio.times.vocoder_s);
      }
    } catch (const Cancelled&) {
      for (auto& r : results) r.cancelled = true;
    } catch (const std::exception& e) {
      spdlog::error("inference failed for a batch of {} on model {}: {}", batch.size(),
                    models_[batch.front().model].name, e.what());
      for (auto& r : results) r.error = e.what();
    }

    std::vector<std::pair<ResultHandler, SegmentResult>> deliveries;
    {
      std::lock_guard lock(mutex_);
      for (std::size_t i = 0; i < batch.size(); ++i) {
        const auto& job = batch[i];
        scheduler_.Complete(job.session, job.segment);
        auto& r = results[i];
        r.session = job.session;
        r.segment = job.segment;
        r.batch_size = batch.size();
        r.queue_s = std::chrono::duration<double>(started - job.submitted).count();
        if (running.cancelled.count(job.session) != 0) r.cancelled = true;
        if (finished[i]) continue;  // its audio, final piece included, is already delivered
        if (r.error.empty()) r.cancelled = true;  // stopped before its audio was complete
        auto it = handlers_.find(job.session);
        if (it != handlers_.end()) deliveries.emplace_back(it->second, std::move(r));
      }
      running.sessions.clear();
      running.cancelled.clear();
      running.control.reset();
      UpdateQueueMetric();
    }
    // Completing admitted the sessions' next segments: idle threads may take them.
    if (running_.size() > 1) wake_.notify_all();
    for (auto& [handler, result] : deliveries) handler(std::move(result));
  }
}

}  // namespace supertonic::service
