#include "service/segment_scheduler.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "text/text_chunker.h"

namespace supertonic::service {

namespace {

// Lengths that pad each other little in one batch.
bool SimilarLength(std::size_t a, std::size_t b) {
  a = std::max<std::size_t>(a, 1);
  b = std::max<std::size_t>(b, 1);
  return std::max(a, b) <= 2 * std::min(a, b);
}

}  // namespace

void SchedulerConfig::Validate() const {
  if (max_inflight_per_session < 1) throw std::invalid_argument("max_inflight_per_session must be >= 1, got 0");
  if (max_batch < 1) throw std::invalid_argument("max_batch must be >= 1, got 0");
  for (std::size_t m = 0; m < max_batch_by_model.size(); ++m) {
    if (max_batch_by_model[m] < 1) {
      throw std::invalid_argument("max_batch_by_model[" + std::to_string(m) + "] must be >= 1, got 0");
    }
  }
  if (batch_wait.count() < 0) {
    throw std::invalid_argument("batch_wait must be >= 0 ms, got " + std::to_string(batch_wait.count()));
  }
}

std::string SchedulerConfig::ToString() const {
  std::ostringstream os;
  os << "SchedulerConfig(max_inflight_per_session=" << max_inflight_per_session << ", max_batch=" << max_batch;
  if (!max_batch_by_model.empty()) {
    os << ", max_batch_by_model=";
    for (std::size_t m = 0; m < max_batch_by_model.size(); ++m) os << (m ? "," : "") << max_batch_by_model[m];
  }
  os << ", batch_wait=" << batch_wait.count() << "ms, fifo=" << (fifo ? "true" : "false") << ")";
  return os.str();
}

SegmentScheduler::SegmentScheduler(SchedulerConfig config) : config_(config) { config_.Validate(); }

void SegmentScheduler::Submit(SegmentJob job) {
  Session& s = sessions_[job.session];
  const uint64_t segment = job.segment;
  auto same = [segment](const Entry& e) { return e.job.segment == segment; };
  if (std::any_of(s.waiting.begin(), s.waiting.end(), same) || std::any_of(s.queued.begin(), s.queued.end(), same) ||
      std::find(s.running.begin(), s.running.end(), segment) != s.running.end()) {
    throw std::invalid_argument("segment " + std::to_string(segment) + " of session " + std::to_string(job.session) +
                                " was already submitted");
  }
  Entry e;
  e.chars = CountCodePoints(job.text);
  e.job = std::move(job);
  s.waiting.push_back(std::move(e));
  ++waiting_;
  Admit(s);
}

void SegmentScheduler::Admit(Session& s) {
  while (!s.waiting.empty() && s.queued.size() + s.running.size() < config_.max_inflight_per_session) {
    s.queued.push_back(std::move(s.waiting.front()));
    s.waiting.pop_front();
    s.queued.back().admitted = next_admission_++;
    --waiting_;
    ++queued_;
  }
}

SegmentScheduler::Plan SegmentScheduler::MakePlan() const {
  Plan plan;
  if (queued_ == 0) return plan;

  // The oldest queued job and the fifo head.
  std::optional<TimePoint> oldest;
  const Entry* fifo_head = nullptr;
  uint64_t fifo_session = 0;
  for (const auto& [id, s] : sessions_) {
    if (s.queued.empty()) continue;
    const Entry& e = s.queued.front();
    if (!oldest || e.job.submitted < *oldest) oldest = e.job.submitted;
    if (!fifo_head || e.admitted < fifo_head->admitted) {
      fifo_head = &e;
      fifo_session = id;
    }
  }
  plan.oldest = *oldest;
  if (config_.fifo) {
    plan.sessions.push_back(fifo_session);
    return plan;
  }

  // Sessions with a queued job in round-robin order: after `after`, wrapping.
  auto ring_from = [this](std::optional<uint64_t> after) {
    std::vector<uint64_t> ring;
    auto start = after ? sessions_.upper_bound(*after) : sessions_.begin();
    for (auto it = start; it != sessions_.end(); ++it) {
      if (!it->second.queued.empty()) ring.push_back(it->first);
    }
    for (auto it = sessions_.begin(); it != start; ++it) {
      if (!it->second.queued.empty()) ring.push_back(it->first);
    }
    return ring;
  };

  // Earliest deadline first; no deadline after any; ties in round-robin order.
  auto more_urgent = [](const Entry& a, const Entry& b) {
    const auto da = a.due(), db = b.due();
    if (da.has_value() != db.has_value()) return da.has_value();
    return da && *da < *db;
  };
  const std::vector<uint64_t> ring = ring_from(cursor_);
  uint64_t lead_session = ring.front();
  for (uint64_t id : ring) {
    if (more_urgent(sessions_.at(id).queued.front(), sessions_.at(lead_session).queued.front())) lead_session = id;
  }
  plan.sessions.push_back(lead_session);
  const Entry& lead = sessions_.at(lead_session).queued.front();
  plan.round_robin_lead = !lead.job.first_of_turn;

  const std::size_t max_batch = config_.MaxBatchFor(lead.job.model);
  if (max_batch > 1) {
    // Other sessions' next jobs with the lead's model and step count, most
    // urgent first (equal deadlines in round-robin order after the lead).
    std::vector<std::pair<uint64_t, const Entry*>> candidates;
    for (uint64_t id : ring_from(lead_session)) {
      const Entry& e = sessions_.at(id).queued.front();
      if (id != lead_session && e.job.model == lead.job.model && e.job.steps == lead.job.steps) {
        candidates.emplace_back(id, &e);
      }
    }
    std::stable_sort(candidates.begin(), candidates.end(),
                     [&](const auto& a, const auto& b) { return more_urgent(*a.second, *b.second); });
    // Pass 0: first-of-turn jobs, whatever their length; 1: similar lengths; 2: any.
    // A first-of-turn lead decides someone's time to first audio: nothing much
    // longer than it may join its batch and stretch it.
    std::vector<bool> taken(candidates.size(), false);
    for (int pass = 0; pass < 3; ++pass) {
      for (std::size_t k = 0; k < candidates.size() && plan.sessions.size() < max_batch; ++k) {
        const Entry& e = *candidates[k].second;
        if (taken[k] || (pass == 0 && !e.job.first_of_turn) || (pass == 1 && !SimilarLength(e.chars, lead.chars))) {
          continue;
        }
        if (lead.job.first_of_turn && e.chars > 2 * lead.chars) continue;
        taken[k] = true;
        plan.sessions.push_back(candidates[k].first);
      }
    }
  }

  if (config_.batch_wait.count() > 0 && plan.sessions.size() < max_batch) {
    const bool has_first_of_turn = std::any_of(plan.sessions.begin(), plan.sessions.end(), [this](uint64_t id) {
      return sessions_.at(id).queued.front().job.first_of_turn;
    });
    if (!has_first_of_turn) plan.held_until = plan.oldest + config_.batch_wait;
  }
  return plan;
}

std::vector<SegmentJob> SegmentScheduler::NextBatch(TimePoint now) {
  std::vector<SegmentJob> batch;
  const Plan plan = MakePlan();
  if (plan.sessions.empty() || (plan.held_until && now < *plan.held_until)) return batch;
  batch.reserve(plan.sessions.size());
  for (uint64_t id : plan.sessions) {
    Session& s = sessions_.at(id);
    s.running.push_back(s.queued.front().job.segment);
    batch.push_back(std::move(s.queued.front().job));
    s.queued.pop_front();
    --queued_;
    ++running_;
  }
  if (plan.round_robin_lead) cursor_ = plan.sessions.front();
  return batch;
}

std::optional<TimePoint> SegmentScheduler::NextDeadline() const {
  const Plan plan = MakePlan();
  if (plan.sessions.empty()) return std::nullopt;
  return plan.held_until ? *plan.held_until : plan.oldest;
}

bool SegmentScheduler::Complete(uint64_t session, uint64_t segment) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return false;
  Session& s = it->second;
  auto r = std::find(s.running.begin(), s.running.end(), segment);
  if (r == s.running.end()) return false;
  s.running.erase(r);
  --running_;
  Admit(s);
  EraseIfIdle(it);
  return true;
}

std::size_t SegmentScheduler::CancelSession(uint64_t session) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return 0;
  Session& s = it->second;
  const std::size_t dropped = s.waiting.size() + s.queued.size();
  waiting_ -= s.waiting.size();
  queued_ -= s.queued.size();
  s.waiting.clear();
  s.queued.clear();
  EraseIfIdle(it);
  return dropped;
}

void SegmentScheduler::RemoveSession(uint64_t session) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  waiting_ -= it->second.waiting.size();
  queued_ -= it->second.queued.size();
  running_ -= it->second.running.size();
  sessions_.erase(it);
}

std::size_t SegmentScheduler::inflight(uint64_t session) const {
  auto it = sessions_.find(session);
  return it == sessions_.end() ? 0 : it->second.queued.size() + it->second.running.size();
}

void SegmentScheduler::EraseIfIdle(std::map<uint64_t, Session>::iterator it) {
  if (it->second.idle()) sessions_.erase(it);
}

}  // namespace supertonic::service
