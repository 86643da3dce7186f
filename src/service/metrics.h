#pragma once
// Prometheus metrics of the service (names are a contract: see README).
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

  void ObserveTimeToFirstAudio(double seconds);
  void ObserveRealtimeFactor(double rtf);
  void SetQueueDepth(double depth);
  void SetActiveSessions(double n);
  void SetGpuUtilization(double percent);
  // What clients make the server hold, summed over connections (at scrape time).
  void SetBufferedOutputBytes(double bytes);
  void SetUnspokenTextChars(double chars);
  void SetOpenConnections(double n);
  void SegmentCompleted(std::size_t characters, double audio_seconds);
  // Leading and trailing silence cut from a segment's audio (TTS_TRIM_SILENCE).
  void SilenceTrimmed(double seconds);
  void SessionStarted();
  void Error(std::string_view code);
  void Cancellation(std::size_t segments_dropped);
  void Batch(std::size_t size);
  void StageSeconds(std::string_view stage, double seconds);

  // Prometheus text exposition format.
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Histogram* ttfa_;
  prometheus::Histogram* rtf_;
  prometheus::Gauge* queue_depth_;
  prometheus::Gauge* active_sessions_;
  prometheus::Gauge* gpu_utilization_;
  prometheus::Gauge* buffered_output_bytes_;
  prometheus::Gauge* unspoken_text_chars_;
  prometheus::Gauge* open_connections_;
  prometheus::Counter* segments_;
  prometheus::Counter* characters_;
  prometheus::Counter* audio_seconds_;
  prometheus::Counter* trimmed_silence_seconds_;
  prometheus::Counter* sessions_;
  prometheus::Counter* cancellations_;
  prometheus::Counter* cancelled_segments_;
  prometheus::Histogram* batch_size_;
  prometheus::Family<prometheus::Counter>* errors_;
  prometheus::Family<prometheus::Histogram>* stage_seconds_;
};

}  // namespace supertonic::service
