#include "service/segment_scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace supertonic::service {
namespace {

using namespace std::chrono_literals;
using Id = std::pair<uint64_t, uint64_t>;  // (session, segment)
using Ids = std::vector<Id>;

const TimePoint kT0 = TimePoint{} + 1000s;

SegmentJob Job(uint64_t session, uint64_t segment, bool first = false, TimePoint submitted = kT0, int steps = 2,
               std::string text = "A sentence of ordinary length.") {
  SegmentJob job;
  job.session = session;
  job.segment = segment;
  job.text = std::move(text);
  job.lang = "en";
  job.voice = "F1";
  job.speed = 1.05f;
  job.steps = steps;
  job.first_of_turn = first;
  job.submitted = submitted;
  job.cookie = session * 1000 + segment;
  return job;
}

Ids IdsOf(const std::vector<SegmentJob>& batch) {
  Ids ids;
  for (const SegmentJob& j : batch) ids.emplace_back(j.session, j.segment);
  return ids;
}

// Runs batches one at a time, completing each before the next, and returns
// the order in which jobs ran.
Ids Drain(SegmentScheduler& s, TimePoint now = kT0) {
  Ids order;
  while (true) {
    const std::vector<SegmentJob> batch = s.NextBatch(now);
    if (batch.empty()) break;
    for (const SegmentJob& j : batch) {
      order.emplace_back(j.session, j.segment);
      EXPECT_TRUE(s.Complete(j.session, j.segment));
    }
  }
  return order;
}

TEST(SchedulerConfigTest, ValidateNamesTheField) {
  SchedulerConfig c;
  EXPECT_NO_THROW(c.Validate());
  c.max_inflight_per_session = 0;
  try {
    c.Validate();
    FAIL() << "no throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("max_inflight_per_session"), std::string::npos);
  }
  c = {};
  c.max_batch = 0;
  EXPECT_THROW(SegmentScheduler{c}, std::invalid_argument);
  c = {};
  c.batch_wait = -1ms;
  try {
    c.Validate();
    FAIL() << "no throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("batch_wait"), std::string::npos);
  }
  EXPECT_NE(SchedulerConfig{}.ToString().find("max_inflight_per_session=2"), std::string::npos);
}

TEST(SegmentSchedulerTest, InflightLimitPerSessionAndQueueDepth) {
  SegmentScheduler s;  // 2 in flight per session
  for (uint64_t k = 0; k < 5; ++k) s.Submit(Job(1, k));
  EXPECT_EQ(s.queue_depth(), 2u);
  EXPECT_EQ(s.waiting(), 3u);
  EXPECT_EQ(s.running(), 0u);
  EXPECT_EQ(s.inflight(1), 2u);

  EXPECT_EQ(IdsOf(s.NextBatch(kT0)), (Ids{{1, 0}}));
  EXPECT_EQ(s.queue_depth(), 1u);
  EXPECT_EQ(s.running(), 1u);
  EXPECT_EQ(IdsOf(s.NextBatch(kT0)), (Ids{{1, 1}}));  // may start while segment 0 runs
  EXPECT_EQ(s.queue_depth(), 0u);
  EXPECT_EQ(s.running(), 2u);
  EXPECT_TRUE(s.NextBatch(kT0).empty());  // three wait, none admitted
  EXPECT_EQ(s.waiting(), 3u);
  EXPECT_EQ(s.inflight(1), 2u);
  EXPECT_FALSE(s.NextDeadline());
}

TEST(SegmentSchedulerTest, CompleteAdmitsWaitingJobsInOrder) {
  SegmentScheduler s;
  for (uint64_t k = 0; k < 4; ++k) s.Submit(Job(1, k));
  EXPECT_EQ(IdsOf(s.NextBatch(kT0)), (Ids{{1, 0}}));
  EXPECT_EQ(IdsOf(s.NextBatch(kT0)), (Ids{{1, 1}}));
  EXPECT_TRUE(s.Complete(1, 1));  // completions may come out of order
  EXPECT_EQ(s.waiting(), 1u);
  EXPECT_EQ(s.queue_depth(), 1u);
  EXPECT_EQ(IdsOf(s.NextBatch(kT0)), (Ids{{1, 2}}));
  EXPECT_FALSE(s.Complete(1, 1));  // not running any more
  EXPECT_FALSE(s.Complete(7, 0));  // unknown session
  EXPECT_TRUE(s.Complete(1, 0));
  EXPECT_TRUE(s.Complete(1, 2));
  EXPECT_EQ(Drain(s), (Ids{{1, 3}}));
  EXPECT_EQ(s.session_count(), 0u);  // an idle session is forgotten
  EXPECT_EQ(s.queue_depth() + s.waiting() + s.running(), 0u);
}

TEST(SegmentSchedulerTest, DuplicateSegmentIsRejected) {
  SegmentScheduler s;
  s.Submit(Job(1, 0));
  EXPECT_THROW(s.Submit(Job(1, 0)), std::invalid_argument);
  s.NextBatch(kT0);
  EXPECT_THROW(s.Submit(Job(1, 0)), std::invalid_argument);  // running
  EXPECT_NO_THROW(s.Submit(Job(2, 0)));
}

TEST(SegmentSchedulerTest, RoundRobinLetsALateSessionInAfterAtMostOneMoreJob) {
  SegmentScheduler s;
  for (uint64_t k = 0; k < 10; ++k) s.Submit(Job(1, k, false, kT0 + std::chrono::milliseconds(k)));
  Ids order;
  for (int round = 0; round < 3; ++round) {  // A runs alone for a while
    for (const SegmentJob& j : s.NextBatch(kT0 + 1s)) {
      order.emplace_back(j.session, j.segment);
      s.Complete(j.session, j.segment);
    }
  }
  s.Submit(Job(2, 0, false, kT0 + 1s));
  const Ids rest = Drain(s, kT0 + 2s);
  order.insert(order.end(), rest.begin(), rest.end());
  ASSERT_EQ(order.size(), 11u);
  std::size_t b = 0;
  while (order[b].first != 2) ++b;
  EXPECT_LE(b, 3u + 1u);  // at most one more A job after B arrived
  for (std::size_t k = 0, a = 0; k < order.size(); ++k) {
    if (order[k].first == 1) {
      EXPECT_EQ(order[k].second, a++);
    }
  }
}

TEST(SegmentSchedulerTest, RoundRobinInterleavesSessions) {
  SegmentScheduler s;
  for (uint64_t k = 0; k < 6; ++k) s.Submit(Job(1, k));  // a flood
  for (uint64_t k = 0; k < 2; ++k) s.Submit(Job(2, k));
  for (uint64_t k = 0; k < 2; ++k) s.Submit(Job(3, k));
  EXPECT_EQ(Drain(s), (Ids{{1, 0}, {2, 0}, {3, 0}, {1, 1}, {2, 1}, {3, 1}, {1, 2}, {1, 3}, {1, 4}, {1, 5}}));
}

TEST(SegmentSchedulerTest, FirstOfTurnJobsGoFirstOldestFirst) {
  SegmentScheduler s;
  s.Submit(Job(1, 3, false, kT0));
  s.Submit(Job(2, 7, false, kT0 + 1ms));
  s.Submit(Job(3, 0, true, kT0 + 5ms));
  s.Submit(Job(4, 0, true, kT0 + 2ms));
  EXPECT_EQ(IdsOf(s.NextBatch(kT0 + 10ms)), (Ids{{4, 0}}));
  EXPECT_EQ(IdsOf(s.NextBatch(kT0 + 10ms)), (Ids{{3, 0}}));
  // Round robin goes on where it was: the priority picks did not move it.
  EXPECT_EQ(IdsOf(s.NextBatch(kT0 + 10ms)), (Ids{{1, 3}}));
  EXPECT_EQ(IdsOf(s.NextBatch(kT0 + 10ms)), (Ids{{2, 7}}));
}

SegmentJob Due(SegmentJob job, TimePoint due) {
  job.due = due;
  return job;
}

TEST(SegmentSchedulerTest, TheListenerWhoRunsOutOfAudioFirstGoesFirst) {
  SegmentScheduler s;
  // Session 1 has 8 s of audio still to play, session 3 has 1 s, session 2 is
  // already late: its listener has heard everything sent.
  s.Submit(Due(Job(1, 4), kT0 + 8s));
  s.Submit(Due(Job(2, 2), kT0 - 1s));
  s.Submit(Due(Job(3, 1), kT0 + 1s));
  s.Submit(Job(4, 9));  // no deadline known: after every job that has one
  EXPECT_EQ(Drain(s), (Ids{{2, 2}, {3, 1}, {1, 4}, {4, 9}}));
}

TEST(SegmentSchedulerTest, AFirstOfTurnJobIsDueWhenSubmitted) {
  SegmentScheduler s;
  s.Submit(Due(Job(1, 3), kT0 + 2s));     // its listener still has 2 s to hear
  s.Submit(Job(2, 0, true, kT0 + 10ms));  // someone waits for the first audio
  s.Submit(Due(Job(3, 5), kT0));          // its listener ran out 10 ms before that
  EXPECT_EQ(Drain(s, kT0 + 20ms), (Ids{{3, 5}, {2, 0}, {1, 3}}));
}

TEST(SegmentSchedulerTest, EqualDeadlinesTakeTurns) {
  SegmentScheduler s;
  for (uint64_t k = 0; k < 3; ++k) s.Submit(Due(Job(1, k), kT0));
  for (uint64_t k = 0; k < 3; ++k) s.Submit(Due(Job(2, k), kT0));
  EXPECT_EQ(Drain(s), (Ids{{1, 0}, {2, 0}, {1, 1}, {2, 1}, {1, 2}, {2, 2}}));
}

TEST(SegmentSchedulerTest, ABatchIsFilledWithTheMostUrgentJobs) {
  SchedulerConfig c;
  c.max_batch = 2;
  SegmentScheduler s(c);
  s.Submit(Due(Job(1, 1), kT0 + 1s));
  s.Submit(Due(Job(2, 1), kT0 + 9s));
  s.Submit(Due(Job(3, 1), kT0 + 3s));
  EXPECT_EQ(IdsOf(s.NextBatch(kT0)), (Ids{{1, 1}, {3, 1}}));
}

TEST(SegmentSchedulerTest, SessionOrderHoldsEvenForALaterFirstOfTurnJob) {
  SegmentScheduler s;
  s.Submit(Job(1, 5, false));
  s.Submit(Job(1, 6, true));  // a new turn, queued behind the old one's last segment
  s.Submit(Job(2, 0, false));
  const Ids order = Drain(s);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order[0], (Id{1, 5}));
  EXPECT_EQ(order[1], (Id{1, 6}));  // first of turn once it is at the front
  EXPECT_EQ(order[2], (Id{2, 0}));
}

TEST(SegmentSchedulerTest, ABatchNeverHoldsTwoJobsOfOneSession) {
  SchedulerConfig c;
  c.max_batch = 4;
  SegmentScheduler s(c);
  for (uint64_t k = 0; k < 2; ++k) s.Submit(Job(1, k));
  for (uint64_t k = 0; k < 2; ++k) s.Submit(Job(2, k));
  EXPECT_EQ(IdsOf(s.NextBatch(kT0)), (Ids{{1, 0}, {2, 0}}));
  EXPECT_EQ(IdsOf(s.NextBatch(kT0)), (Ids{{2, 1}, {1, 1}}));  // session 2 leads this round
  EXPECT_EQ(s.running(), 4u);
}

TEST(SegmentSchedulerTest, BatchItemsShareTheirStepCount) {
  SchedulerConfig c;
  c.max_batch = 4;
  SegmentScheduler s(c);
  s.Submit(Job(1, 0, false, kT0, 2));
  s.Submit(Job(2, 0, false, kT0, 5));
  s.Submit(Job(3, 0, false, kT0, 2));
  s.Submit(Job(4, 0, false, kT0, 5));
  const std::vector<SegmentJob> first = s.NextBatch(kT0);
  EXPECT_EQ(IdsOf(first), (Ids{{1, 0}, {3, 0}}));
  for (const SegmentJob& j : first) EXPECT_EQ(j.steps, 2);
  EXPECT_EQ(IdsOf(s.NextBatch(kT0)), (Ids{{2, 0}, {4, 0}}));
}

SegmentJob OnModel(SegmentJob job, std::size_t model) {
  job.model = model;
  return job;
}

// A batch is one model call: segments of two models never share one, even
// with equal steps, lengths and deadlines.
TEST(SegmentSchedulerTest, BatchItemsShareTheirModel) {
  SchedulerConfig c;
  c.max_batch = 4;
  SegmentScheduler s(c);
  s.Submit(OnModel(Job(1, 0), 0));
  s.Submit(OnModel(Job(2, 0), 1));
  s.Submit(OnModel(Job(3, 0), 0));
  s.Submit(OnModel(Job(4, 0), 1));
  const std::vector<SegmentJob> first = s.NextBatch(kT0);
  EXPECT_EQ(IdsOf(first), (Ids{{1, 0}, {3, 0}}));
  for (const SegmentJob& j : first) EXPECT_EQ(j.model, 0u);
  const std::vector<SegmentJob> second = s.NextBatch(kT0);
  EXPECT_EQ(IdsOf(second), (Ids{{2, 0}, {4, 0}}));
  for (const SegmentJob& j : second) EXPECT_EQ(j.model, 1u);
}

// Each model has its own batch limit (one whose batches are not exact runs
// alone), whichever model leads.
TEST(SegmentSchedulerTest, EachModelHasItsOwnMaxBatch) {
  SchedulerConfig c;
  c.max_batch = 4;
  c.max_batch_by_model = {1, 3};
  EXPECT_EQ(c.MaxBatchFor(0), 1u);
  EXPECT_EQ(c.MaxBatchFor(1), 3u);
  EXPECT_EQ(c.MaxBatchFor(7), 4u) << "a model without its own limit: max_batch";
  SegmentScheduler s(c);
  for (uint64_t id = 1; id <= 8; ++id) s.Submit(OnModel(Job(id, 0), id % 2));
  std::vector<std::size_t> sizes;
  for (auto batch = s.NextBatch(kT0); !batch.empty(); batch = s.NextBatch(kT0)) {
    EXPECT_LE(batch.size(), c.MaxBatchFor(batch.front().model));
    sizes.push_back(batch.size());
  }
  // Session 1 (model 1) leads with 3 of model 1, then model 0's one at a time
  // and model 1's last one, in round-robin order.
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 1, 1, 1, 1, 1}));
  c.max_batch_by_model = {2, 0};
  EXPECT_THROW(c.Validate(), std::invalid_argument);
}

// One queue for every model: sessions take turns whatever model they use, so
// a model with a backlog does not hold up another model's listeners.
TEST(SegmentSchedulerTest, SessionsOfDifferentModelsTakeTurns) {
  SchedulerConfig c;
  c.max_inflight_per_session = 8;
  SegmentScheduler s(c);
  for (uint64_t k = 0; k < 6; ++k) s.Submit(OnModel(Job(1, k), 0));  // a talkative session on model 0
  for (uint64_t k = 0; k < 2; ++k) s.Submit(OnModel(Job(2, k), 1));
  EXPECT_EQ(Drain(s), (Ids{{1, 0}, {2, 0}, {1, 1}, {2, 1}, {1, 2}, {1, 3}, {1, 4}, {1, 5}}));
}

TEST(SegmentSchedulerTest, BatchPrefersSimilarLengthsThenFillsWithAny) {
  SchedulerConfig c;
  c.max_batch = 2;
  SegmentScheduler s(c);
  const std::string short_text(40, 'a');
  s.Submit(Job(1, 0, false, kT0, 2, short_text));
  s.Submit(Job(2, 0, false, kT0, 2, std::string(300, 'b')));  // next in round robin, 7.5x longer
  s.Submit(Job(3, 0, false, kT0, 2, std::string(70, 'c')));   // within a factor of 2
  EXPECT_EQ(IdsOf(s.NextBatch(kT0)), (Ids{{1, 0}, {3, 0}}));
  s.Submit(Job(4, 0, false, kT0, 2, short_text));
  EXPECT_EQ(IdsOf(s.NextBatch(kT0)), (Ids{{2, 0}, {4, 0}}));  // nothing similar: any compatible job
}

TEST(SegmentSchedulerTest, BatchFillPrefersFirstOfTurnJobs) {
  SchedulerConfig c;
  c.max_batch = 2;
  SegmentScheduler s(c);
  s.Submit(Job(1, 0, true, kT0, 2, std::string(40, 'a')));
  s.Submit(Job(2, 4, false, kT0, 2, std::string(40, 'b')));
  s.Submit(Job(3, 0, true, kT0 + 1ms, 2, std::string(75, 'c')));
  EXPECT_EQ(IdsOf(s.NextBatch(kT0 + 1ms)), (Ids{{1, 0}, {3, 0}}));
}

// A short first segment batched with a long one would wait for the long one.
TEST(SegmentSchedulerTest, AFirstOfTurnLeadTakesNothingMoreThanTwiceItsLength) {
  SchedulerConfig c;
  c.max_batch = 3;
  SegmentScheduler s(c);
  s.Submit(Job(1, 0, true, kT0, 2, std::string(40, 'a')));
  s.Submit(Job(2, 4, false, kT0, 2, std::string(270, 'b')));
  s.Submit(Job(3, 0, true, kT0 + 1ms, 2, std::string(200, 'c')));
  s.Submit(Job(4, 2, false, kT0, 2, std::string(80, 'd')));
  EXPECT_EQ(IdsOf(s.NextBatch(kT0 + 1ms)), (Ids{{1, 0}, {4, 2}}));
  EXPECT_EQ(IdsOf(s.NextBatch(kT0 + 1ms)), (Ids{{3, 0}, {2, 4}}));  // 270 <= 2 x 200
}

TEST(SegmentSchedulerTest, BatchWaitHoldsAPartialBatchUntilTheOldestJobHasWaited) {
  SchedulerConfig c;
  c.max_batch = 3;
  c.batch_wait = 10ms;
  SegmentScheduler s(c);
  EXPECT_FALSE(s.NextDeadline());
  s.Submit(Job(1, 0, false, kT0));
  EXPECT_TRUE(s.NextBatch(kT0).empty());
  EXPECT_EQ(s.NextDeadline(), kT0 + 10ms);
  s.Submit(Job(2, 0, false, kT0 + 4ms));
  EXPECT_TRUE(s.NextBatch(kT0 + 9ms).empty());
  EXPECT_EQ(s.NextDeadline(), kT0 + 10ms);  // the oldest job sets it
  EXPECT_EQ(IdsOf(s.NextBatch(kT0 + 10ms)), (Ids{{1, 0}, {2, 0}}));
  EXPECT_FALSE(s.NextDeadline());

  // A full batch goes at once.
  for (uint64_t id = 3; id <= 5; ++id) s.Submit(Job(id, 0, false, kT0 + 20ms));
  EXPECT_EQ(s.NextDeadline(), kT0 + 20ms);  // ready: not after the oldest submission
  EXPECT_EQ(s.NextBatch(kT0 + 20ms).size(), 3u);

  // A first-of-turn job never waits.
  s.Submit(Job(6, 0, true, kT0 + 30ms));
  EXPECT_EQ(s.NextDeadline(), kT0 + 30ms);
  EXPECT_EQ(IdsOf(s.NextBatch(kT0 + 30ms)), (Ids{{6, 0}}));
}

TEST(SegmentSchedulerTest, WithoutBatchWaitABatchIsReadyAtOnce) {
  SchedulerConfig c;
  c.max_batch = 8;
  SegmentScheduler s(c);
  s.Submit(Job(1, 0, false, kT0 + 5ms));
  s.Submit(Job(2, 0, false, kT0 + 3ms));
  EXPECT_EQ(s.NextDeadline(), kT0 + 3ms);
  EXPECT_EQ(s.NextBatch(kT0 + 5ms).size(), 2u);
}

TEST(SegmentSchedulerTest, CancelDropsQueuedAndWaitingJobsAndLeavesRunningOnes) {
  SegmentScheduler s;
  for (uint64_t k = 0; k < 5; ++k) s.Submit(Job(1, k));
  s.Submit(Job(2, 0));
  EXPECT_EQ(IdsOf(s.NextBatch(kT0)), (Ids{{1, 0}}));
  EXPECT_EQ(s.CancelSession(1), 4u);  // 1 queued + 3 waiting
  EXPECT_EQ(s.running(), 1u);
  EXPECT_EQ(s.waiting(), 0u);
  EXPECT_EQ(s.queue_depth(), 1u);  // session 2's
  EXPECT_EQ(s.inflight(1), 1u);
  EXPECT_EQ(s.CancelSession(1), 0u);
  EXPECT_EQ(s.CancelSession(9), 0u);

  // The session goes on; its running job still holds a slot.
  s.Submit(Job(1, 5, true));
  s.Submit(Job(1, 6));
  EXPECT_EQ(s.inflight(1), 2u);
  EXPECT_EQ(s.waiting(), 1u);
  EXPECT_TRUE(s.Complete(1, 0));
  EXPECT_EQ(s.waiting(), 0u);
  EXPECT_EQ(Drain(s), (Ids{{1, 5}, {2, 0}, {1, 6}}));
  EXPECT_EQ(s.session_count(), 0u);
}

TEST(SegmentSchedulerTest, RemoveSessionForgetsEverything) {
  SegmentScheduler s;
  for (uint64_t k = 0; k < 4; ++k) s.Submit(Job(1, k));
  s.NextBatch(kT0);
  s.RemoveSession(1);
  EXPECT_EQ(s.queue_depth() + s.waiting() + s.running(), 0u);
  EXPECT_EQ(s.session_count(), 0u);
  EXPECT_FALSE(s.Complete(1, 0));
  s.RemoveSession(1);  // twice is harmless
}

TEST(SegmentSchedulerTest, FifoModeRunsOneJobAtATimeInAdmissionOrder) {
  SchedulerConfig c;
  c.fifo = true;
  c.max_batch = 8;  // ignored
  c.batch_wait = 50ms;  // ignored
  SegmentScheduler s(c);
  s.Submit(Job(1, 0, false, kT0));
  s.Submit(Job(1, 1, false, kT0));
  s.Submit(Job(1, 2, false, kT0));  // waits: 2 in flight
  s.Submit(Job(2, 0, false, kT0 + 1ms));
  s.Submit(Job(3, 0, true, kT0 + 2ms));  // no priority in fifo mode
  EXPECT_EQ(IdsOf(s.NextBatch(kT0)), (Ids{{1, 0}}));
  EXPECT_TRUE(s.Complete(1, 0));  // admits (1, 2) behind everything queued
  EXPECT_EQ(Drain(s, kT0), (Ids{{1, 1}, {2, 0}, {3, 0}, {1, 2}}));
}

TEST(SegmentSchedulerTest, JobFieldsAreCarriedThrough) {
  SegmentScheduler s;
  SegmentJob job = Job(42, 3, true, kT0 + 7ms, 5, "Bonjour.");
  job.lang = "fr";
  job.voice = "M2";
  job.speed = 1.2f;
  job.model = 1;
  s.Submit(job);
  const std::vector<SegmentJob> batch = s.NextBatch(kT0 + 7ms);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].text, "Bonjour.");
  EXPECT_EQ(batch[0].lang, "fr");
  EXPECT_EQ(batch[0].voice, "M2");
  EXPECT_FLOAT_EQ(batch[0].speed, 1.2f);
  EXPECT_EQ(batch[0].steps, 5);
  EXPECT_EQ(batch[0].model, 1u);
  EXPECT_TRUE(batch[0].first_of_turn);
  EXPECT_EQ(batch[0].submitted, kT0 + 7ms);
  EXPECT_EQ(batch[0].cookie, 42003u);
}

}  // namespace
}  // namespace supertonic::service
