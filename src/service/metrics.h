#pragma once
// Prometheus metrics of the service (names are a contract: see docs/deployment.md, Metrics). The
// series about one model's work carry a `model` label (the served name).
#include <memory>
#include <string>
#include <string_view>

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace supertonic::service {

class ServiceMetrics {
 public:
  ServiceMetrics();
  ~ServiceMetrics();

  // Creates the model's series at 0, so that rate() sees its first event.
  void RegisterModel(std::string_view model);

  void ObserveTimeToFirstAudio(std::string_view model, double seconds);
  void ObserveRealtimeFactor(std::string_view model, double rtf);
  void SetQueueDepth(double depth);
  void SetActiveSessions(std::string_view model, double n);
  void SetGpuUtilization(double percent);
  // What clients make the server hold, summed over connections (at scrape time).
  void SetBufferedOutputBytes(double bytes);
  void SetUnspokenTextChars(double chars);
  void SetOpenConnections(double n);
  void SegmentCompleted(std::string_view model, std::size_t characters, double audio_seconds);
  // Leading and trailing silence cut from a segment's audio (TTS_TRIM_SILENCE).
  void SilenceTrimmed(double seconds);
  void SessionStarted(std::string_view model);
  void Error(std::string_view code);
  void Cancellation(std::size_t segments_dropped);
  void Batch(std::string_view model, std::size_t size);
  void StageSeconds(std::string_view model, std::string_view stage, double seconds);

  // Prometheus text exposition format.
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Histogram>* ttfa_;
  prometheus::Family<prometheus::Histogram>* rtf_;
  prometheus::Gauge* queue_depth_;
  prometheus::Family<prometheus::Gauge>* active_sessions_;
  prometheus::Gauge* gpu_utilization_;
  prometheus::Gauge* buffered_output_bytes_;
  prometheus::Gauge* unspoken_text_chars_;
  prometheus::Gauge* open_connections_;
  prometheus::Family<prometheus::Counter>* segments_;
  prometheus::Family<prometheus::Counter>* characters_;
  prometheus::Family<prometheus::Counter>* audio_seconds_;
  prometheus::Family<prometheus::Counter>* sessions_;
  prometheus::Counter* trimmed_silence_seconds_;
  prometheus::Counter* cancellations_;
  prometheus::Counter* cancelled_segments_;
  prometheus::Family<prometheus::Histogram>* batch_size_;
  prometheus::Family<prometheus::Counter>* errors_;
  prometheus::Family<prometheus::Histogram>* stage_seconds_;
};

}  // namespace supertonic::service
