#pragma once
// The policy of the process-wide inference queue (docs/architecture.md): which segments the
// model runs next, and together. Pure, single-threaded logic with an injected
// clock; the caller (InferenceWorker) holds the lock, wakes its worker, runs
// the batches and reports completions.
//
// A submitted job waits in its session; at most max_inflight_per_session jobs
// of a session are admitted (queued or running) at once, the rest wait in
// order and are admitted as earlier ones complete. Among admitted jobs:
//  - jobs of one session start in submission (segment) order, and never two
//    in one batch: the earlier segment's latency matters more;
//  - the job whose listener runs out of audio first goes first (earliest
//    deadline): a first-of-turn job is due when it was submitted (someone is
//    waiting for the first audio), a later one when the audio before it will
//    have played out (SegmentJob::due, set by the session); a job with no
//    deadline goes after all that have one;
//  - among equal deadlines (and jobs without one) sessions take turns (round
//    robin from a rotating cursor), one job per turn, so a session that floods
//    text cannot starve the others;
//  - with max_batch > 1 the first job picked leads the batch, which is filled
//    with the next jobs of other sessions that share its model and its step
//    count (a batch is one model call), most urgent first: first-of-turn ones first, then those of a similar length
//    (within a factor of 2 in code points: less padding), then any;
//  - the sessions of every model are in the one ring and the rules above
//    pick among them whatever their model, so a session gets its turn
//    however busy the other models are; each model has its own max_batch
//    (one whose batches would change its audio runs one segment per call);
//  - with batch_wait > 0 a batch smaller than max_batch is held until the
//    oldest queued job has waited batch_wait since it was submitted; a batch
//    holding a first-of-turn job is never held.
// fifo mode models the seed's design (benchmark baseline): one global queue in
// admission order, one job per batch, no priorities; the per-session in-flight
// limit still applies, as it did in the seed.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace supertonic {
struct VoiceStyle;
}

namespace supertonic::service {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

struct SchedulerConfig {
  std::size_t max_inflight_per_session = 2;  // TTS_MAX_INFLIGHT_SEGMENTS
  std::size_t max_batch = 1;                 // segments per model call
  // Per model (SegmentJob::model), replacing max_batch where given.
  std::vector<std::size_t> max_batch_by_model;
  std::chrono::milliseconds batch_wait{0};   // longest a partial batch is held
  bool fifo = false;                         // the seed's one global FIFO, as a baseline

  std::size_t MaxBatchFor(std::size_t model) const {
    return model < max_batch_by_model.size() ? max_batch_by_model[model] : max_batch;
  }

  // Throws std::invalid_argument naming the field.
  void Validate() const;
  std::string ToString() const;
};

struct SegmentJob {
  uint64_t session = 0;
  uint64_t segment = 0;  // index within the session
  std::size_t model = 0;  // which served model synthesizes it: only jobs of one model share a batch
  std::string text;
  std::string lang;
  std::string voice;
  std::shared_ptr<const VoiceStyle> voice_style{};  // the session's resolved voice (SessionSettings::voice_style)
  float speed = 1.05f;
  int steps = 2;
  bool first_of_turn = false;
  TimePoint submitted{};
  // When its model call must start for the listener to hear no gap; first-
  // of-turn jobs are due at `submitted` whatever this says.
  std::optional<TimePoint> due;
  uint64_t cookie = 0;  // the caller's, carried through untouched
};

class SegmentScheduler {
 public:
  explicit SegmentScheduler(SchedulerConfig config = {});  // validates

  const SchedulerConfig& config() const { return config_; }

  // Adds a job behind the session's earlier ones. Throws std::invalid_argument
  // when the session already holds a job with the same segment index.
  void Submit(SegmentJob job);

  // The next batch to run, marked running; empty when nothing is queued or a
  // partial batch is being held (see NextDeadline).
  std::vector<SegmentJob> NextBatch(TimePoint now);

  // When NextBatch will return a batch if nothing else changes: nullopt when
  // nothing is queued; a time at or before the oldest submission when a batch
  // is ready now; the release time of a held batch otherwise.
  std::optional<TimePoint> NextDeadline() const;

  // A running job finished (or failed): frees its slot and admits the
  // session's next waiting job. False when the job was not running here
  // (e.g. its session was removed).
  bool Complete(uint64_t session, uint64_t segment);

  // Drops the session's queued and waiting jobs and returns how many. Running
  // jobs stay running (and keep their slots until Complete); the caller
  // discards their results.
  std::size_t CancelSession(uint64_t session);

  // Forgets the session entirely; a later Complete for it returns false.
  void RemoveSession(uint64_t session);

  std::size_t queue_depth() const { return queued_; }  // admitted, not running
  std::size_t waiting() const { return waiting_; }      // held back in their sessions
  std::size_t running() const { return running_; }
  std::size_t inflight(uint64_t session) const;        // the session's queued + running
  std::size_t session_count() const { return sessions_.size(); }

 private:
  struct Entry {
    SegmentJob job;
    std::size_t chars = 0;    // code points of the text
    uint64_t admitted = 0;    // admission order, for fifo mode
    std::optional<TimePoint> due() const {
      return job.first_of_turn ? std::optional<TimePoint>(job.submitted) : job.due;
    }
  };
  struct Session {
    std::deque<Entry> waiting;
    std::deque<Entry> queued;
    std::vector<uint64_t> running;  // segment indices
    bool idle() const { return waiting.empty() && queued.empty() && running.empty(); }
  };
  struct Plan {
    std::vector<uint64_t> sessions;  // whose front queued job goes into the batch, lead first
    bool round_robin_lead = false;   // the lead was picked by the cursor (not a first-of-turn job)
    TimePoint oldest{};              // submission of the oldest queued job
    std::optional<TimePoint> held_until;
  };

  Plan MakePlan() const;
  void Admit(Session& s);
  void EraseIfIdle(std::map<uint64_t, Session>::iterator it);

  SchedulerConfig config_;
  std::map<uint64_t, Session> sessions_;  // ordered by id: the round-robin ring
  std::optional<uint64_t> cursor_;        // the session last served by round robin
  uint64_t next_admission_ = 0;
  std::size_t queued_ = 0;
  std::size_t waiting_ = 0;
  std::size_t running_ = 0;
};

}  // namespace supertonic::service
