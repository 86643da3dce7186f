#include "service/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>

#include "service/protocol.h"

namespace supertonic::service {

namespace {
const prometheus::Histogram::BucketBoundaries kLatencyBuckets{0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5,
                                                              0.75,  1.0,  1.5,   2.0, 3.0,  5.0, 10.0};
const prometheus::Histogram::BucketBoundaries kRtfBuckets{0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0};
const prometheus::Histogram::BucketBoundaries kStageBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0};
const prometheus::Histogram::BucketBoundaries kBatchBuckets{1, 2, 3, 4, 6, 8, 12, 16, 32, 64};
}  // namespace

ServiceMetrics::ServiceMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  using namespace prometheus;
  auto& r = *registry_;
  ttfa_ = &BuildHistogram()
               .Name("tts_time_to_first_audio_seconds")
               .Help("From a turn's first text to its first audio frame on the wire, by model")
               .Register(r);
  rtf_ = &BuildHistogram()
              .Name("tts_realtime_factor")
              .Help("Synthesis time divided by audio duration, per segment, by model")
              .Register(r);
  queue_depth_ = &BuildGauge().Name("tts_queue_depth").Help("Segments queued for inference").Register(r).Add({});
  active_sessions_ = &BuildGauge().Name("tts_active_sessions").Help("Sessions currently open, by model").Register(r);
  gpu_utilization_ = &BuildGauge()
                          .Name("tts_gpu_utilization_percent")
                          .Help("GPU utilization from NVML (0 when running on the CPU)")
                          .Register(r)
                          .Add({});
  buffered_output_bytes_ = &BuildGauge()
                                .Name("tts_buffered_output_bytes")
                                .Help("Bytes accepted for clients and not yet written to their sockets")
                                .Register(r)
                                .Add({});
  unspoken_text_chars_ = &BuildGauge()
                              .Name("tts_unspoken_text_characters")
                              .Help("Characters of open sessions not yet spoken (pending, queued or being sent)")
                              .Register(r)
                              .Add({});
  open_connections_ =
      &BuildGauge().Name("tts_open_connections").Help("Open TCP connections (HTTP and WebSocket)").Register(r).Add({});
  segments_ = &BuildCounter().Name("tts_segments_total").Help("Segments synthesized and sent, by model").Register(r);
  characters_ = &BuildCounter().Name("tts_characters_total").Help("Characters synthesized, by model").Register(r);
  audio_seconds_ = &BuildCounter().Name("tts_audio_seconds_total").Help("Seconds of audio sent, by model").Register(r);
  sessions_ = &BuildCounter().Name("tts_sessions_total").Help("Sessions started, by model").Register(r);
  trimmed_silence_seconds_ = &BuildCounter()
                                  .Name("tts_trimmed_silence_seconds_total")
                                  .Help("Seconds of leading and trailing silence cut from segments before sending")
                                  .Register(r)
                                  .Add({});
  cancellations_ =
      &BuildCounter().Name("tts_cancellations_total").Help("Cancel requests (barge-in)").Register(r).Add({});
  cancelled_segments_ = &BuildCounter()
                             .Name("tts_cancelled_segments_total")
                             .Help("Segments dropped by cancellations")
                             .Register(r)
                             .Add({});
  batch_size_ = &BuildHistogram().Name("tts_batch_size").Help("Segments per model call, by model").Register(r);
  errors_ = &BuildCounter().Name("tts_errors_total").Help("Errors sent to clients, by code").Register(r);
  stage_seconds_ = &BuildHistogram()
                        .Name("tts_inference_seconds")
                        .Help("Model time per batch, by pipeline stage and model")
                        .Register(r);
  // Every series exists from the start at 0: rate() and increase() miss the
  // first event of a series that appears with it, so an alert on the first
  // internal error would otherwise never fire. Of the HTTP-only codes, the few
  // counted (origin_not_allowed) appear when first sent.
  for (const auto& info : AllErrorCodes()) {
    if (SentOverWebSocket(info.code)) errors_->Add({{"code", std::string(info.wire_name)}});
  }
}

ServiceMetrics::~ServiceMetrics() = default;

namespace {
prometheus::Labels Model(std::string_view model) { return {{"model", std::string(model)}}; }
constexpr std::array<const char*, 4> kStages = {"duration_predictor", "text_encoder", "vector_estimator", "vocoder"};
}  // namespace

void ServiceMetrics::RegisterModel(std::string_view model) {
  ttfa_->Add(Model(model), kLatencyBuckets);
  rtf_->Add(Model(model), kRtfBuckets);
  active_sessions_->Add(Model(model));
  segments_->Add(Model(model));
  characters_->Add(Model(model));
  audio_seconds_->Add(Model(model));
  sessions_->Add(Model(model));
  batch_size_->Add(Model(model), kBatchBuckets);
  for (const char* stage : kStages) {
    stage_seconds_->Add({{"stage", stage}, {"model", std::string(model)}}, kStageBuckets);
  }
}

void ServiceMetrics::ObserveTimeToFirstAudio(std::string_view model, double s) {
  ttfa_->Add(Model(model), kLatencyBuckets).Observe(s);
}
void ServiceMetrics::ObserveRealtimeFactor(std::string_view model, double rtf) {
  rtf_->Add(Model(model), kRtfBuckets).Observe(rtf);
}
void ServiceMetrics::SetQueueDepth(double d) { queue_depth_->Set(d); }
void ServiceMetrics::SetActiveSessions(std::string_view model, double n) { active_sessions_->Add(Model(model)).Set(n); }
void ServiceMetrics::SetGpuUtilization(double p) { gpu_utilization_->Set(p); }
void ServiceMetrics::SetBufferedOutputBytes(double b) { buffered_output_bytes_->Set(b); }
void ServiceMetrics::SetUnspokenTextChars(double c) { unspoken_text_chars_->Set(c); }
void ServiceMetrics::SetOpenConnections(double n) { open_connections_->Set(n); }
void ServiceMetrics::SegmentCompleted(std::string_view model, std::size_t characters, double audio_seconds) {
  segments_->Add(Model(model)).Increment();
  characters_->Add(Model(model)).Increment(static_cast<double>(characters));
  audio_seconds_->Add(Model(model)).Increment(audio_seconds);
}
void ServiceMetrics::SilenceTrimmed(double seconds) { trimmed_silence_seconds_->Increment(seconds); }
void ServiceMetrics::SessionStarted(std::string_view model) { sessions_->Add(Model(model)).Increment(); }
void ServiceMetrics::Error(std::string_view code) { errors_->Add({{"code", std::string(code)}}).Increment(); }
void ServiceMetrics::Cancellation(std::size_t dropped) {
  cancellations_->Increment();
  cancelled_segments_->Increment(static_cast<double>(dropped));
}
void ServiceMetrics::Batch(std::string_view model, std::size_t size) {
  batch_size_->Add(Model(model), kBatchBuckets).Observe(static_cast<double>(size));
}
void ServiceMetrics::StageSeconds(std::string_view model, std::string_view stage, double seconds) {
  stage_seconds_->Add({{"stage", std::string(stage)}, {"model", std::string(model)}}, kStageBuckets).Observe(seconds);
}

std::string ServiceMetrics::Serialize() const {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry_->Collect());
}

}  // namespace supertonic::service
