#pragma once
// The consumers of the global inference queue: `threads` threads that take
// batches from the one SegmentScheduler, run each on its model's engine
// (SegmentJob::model), and hand each segment's audio to its session's result
// handler. Network threads never wait
// on them. More than one thread pays on a CPU whose cores one model call
// cannot keep busy (its many small operators scale poorly over threads).
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/synthesizer.h"
#include "service/segment_scheduler.h"

namespace supertonic::service {

class ServiceMetrics;

// A piece of a segment's audio; the segment is complete at the piece with
// final = true (or one with cancelled/error set).
struct SegmentResult {
  uint64_t session = 0;
  uint64_t segment = 0;
  std::vector<float> samples;   // model rate, continuing the segment's previous pieces
  bool final = true;
  double duration_s = 0;        // predicted
  int64_t latent_frames = 0;    // the item's (Synthesizer::TokenTimelineOf)
  std::size_t num_tokens = 0;
  double queue_s = 0;           // submitted -> inference started
  double synthesis_s = 0;       // batch start -> this piece
  std::size_t batch_size = 1;
  bool cancelled = false;       // stopped by CancelSession; samples empty
  std::string error;            // non-empty when synthesis failed
};

// A served model as the worker runs it.
struct WorkerModel {
  std::string name;  // the `model` label of its metrics
  const Synthesizer* synthesizer = nullptr;
};

class InferenceWorker {
 public:
  // Called on the worker thread; must not block (post to the session's executor).
  using ResultHandler = std::function<void(SegmentResult)>;

  // `models[i]` synthesizes the jobs whose SegmentJob::model is i.
  InferenceWorker(std::vector<WorkerModel> models, const SchedulerConfig& config, ServiceMetrics* metrics,
                  int threads = 1);
  ~InferenceWorker();

  void RegisterSession(uint64_t session, ResultHandler handler);
  // Drops the session's queued work and forgets its handler.
  void UnregisterSession(uint64_t session);
  void Submit(SegmentJob job);
  // Drops the session's queued and waiting segments and stops its running
  // inference in every batch it has alone. Returns how many were dropped
  // before running.
  std::size_t CancelSession(uint64_t session);
  void Stop();

  std::size_t queue_depth() const;

 private:
  // A batch being synthesized by one of the threads.
  struct Running {
    std::set<uint64_t> sessions;
    std::set<uint64_t> cancelled;
    std::shared_ptr<RunControl> control;
  };

  void Run(Running& running);
  void UpdateQueueMetric();

  std::vector<WorkerModel> models_;
  ServiceMetrics* metrics_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  SegmentScheduler scheduler_;
  std::map<uint64_t, ResultHandler> handlers_;
  std::vector<std::unique_ptr<Running>> running_;  // one per thread
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace supertonic::service
