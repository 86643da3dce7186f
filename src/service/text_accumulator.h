#pragma once
// Text bundling (docs/protocol.md): LLM tokens arrive a few characters at a time; a
// session's TextAccumulator gathers them and cuts segments the model can speak
// naturally. Pure logic with an injected clock: no threads, no timers of its
// own. The session calls Append for each send_text, Poll when NextDeadline
// passes, TakeCompleteSentences when nothing of its is queued or playing,
// Flush on flush / end_session, Clear on cancel.
//
// When a segment is cut:
//  - First segment of a turn, at once: at the first complete sentence (a
//    sentence end followed by whitespace: the whitespace proves the sentence
//    is over), or, once first_clause_min_chars are pending, at the last clause
//    end (, ; : followed by whitespace). Time to first audio matters most.
//  - Debounce: when `debounce` has passed since text last arrived and the
//    pending text holds a sentence end, everything up to the last sentence
//    end is cut; the unfinished tail stays. A sentence end at the very end of
//    the pending text ("Hello.") counts, except a "." right after a digit
//    ("costs 3." may be "3.5" whose "5" is late): that waits for more text.
//  - Chunk limit: pending text longer than max_chars is cut at the last
//    sentence end that fits, else the last clause end, else the last space;
//    only a single word longer than max_chars is cut inside (at a character
//    boundary).
//  - Flush: everything, in pieces of at most max_chars.
//
// Deliberate choice: pending text with no sentence end is never cut by the
// debounce, however long the pause (the bundling rule: "a sentence has ended and no more
// text arrived"). A pause inside a sentence is the LLM being slow, not the
// sentence being over; speaking half a sentence breaks its prosody, and the
// end of a reply is announced by flush / end_session, which cut everything.
//
// Segments never split a UTF-8 character, are trimmed, never empty, at most
// max_chars code points, and have each run of whitespace collapsed to one
// space (the model's text preprocessing collapses it anyway): joining all
// segments of a session with single spaces gives its input with whitespace
// collapsed. The one exception is inherent to cutting at a sentence end that
// nothing follows yet: if, after such a debounce cut, the text goes on without
// a space (`Really?` ... pause ... `" she said`), the continuation starts the
// next segment (`" she said`), as if a space had been there. Every other cut
// is at whitespace, or inside a single word longer than max_chars.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace supertonic::service {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

struct TextAccumulatorConfig {
  std::chrono::milliseconds debounce{150};  // TTS_DEBOUNCE_MS
  std::size_t max_chars = 300;              // the language's chunk limit in code points (ChunkLimitFor)
  std::size_t first_clause_min_chars = 60;  // 0: the first segment is never cut at a clause end

  // Throws std::invalid_argument naming the field.
  void Validate() const;
  std::string ToString() const;
};

class TextAccumulator {
 public:
  explicit TextAccumulator(TextAccumulatorConfig config = {});  // validates

  const TextAccumulatorConfig& config() const { return config_; }

  // Adds text that arrived at `now`; returns the segments ready at once
  // (first segment of a turn, chunk limit).
  std::vector<std::string> Append(std::string_view text, TimePoint now);

  // Segments whose debounce has expired by `now`.
  std::vector<std::string> Poll(TimePoint now);

  // When Poll can next cut something; nullopt when nothing waits on the timer
  // (no pending text, or none with a sentence end). May be in the past.
  std::optional<TimePoint> NextDeadline() const;

  // Every complete sentence (up to the last sentence end followed by
  // whitespace) as one segment, the rest kept; nullopt when there is none.
  // For a session with nothing queued or playing: a listener who is waiting
  // gets audio without waiting for the debounce.
  std::optional<std::string> TakeCompleteSentences();

  // Everything pending, in pieces of at most max_chars cut at the best
  // boundaries (flush, end_session). Does not start a new turn.
  std::vector<std::string> Flush();

  // Drops the pending text and starts a new turn (barge-in).
  void Clear();

  // The next segment is the first of a turn again (cut as early as possible).
  void StartTurn() { next_is_first_ = true; }
  bool next_is_first() const { return next_is_first_; }

  bool empty() const { return pending_.empty(); }
  // Code points of the pending text as it would be cut (trimmed, collapsed).
  std::size_t pending_chars() const { return pending_chars_; }
  // Bytes held for the pending text: at most 4 per pending code point plus 2
  // (each run of whitespace is kept as at most 2 bytes).
  std::size_t pending_bytes() const { return pending_.size(); }
  // For tests: bytes of pending text decoded so far, over the accumulator's
  // life; an Append costs a bounded multiple of what it adds.
  std::size_t bytes_scanned() const { return bytes_scanned_; }

 private:
  struct Scan;

  void AppendCollapsed(std::string_view text);
  Scan ScanPending();
  void CutReady(std::vector<std::string>& out);
  std::string CutAt(const Scan& scan, std::size_t break_index);
  std::string CutAtLimit(const Scan& scan);
  std::string CutAll(const Scan& scan);
  bool EndEligibleForDebounce(const Scan& scan) const;
  void Refresh();

  TextAccumulatorConfig config_;
  std::string pending_;  // starts with a non-space character, or is empty; runs of whitespace collapsed
  std::size_t pending_chars_ = 0;
  bool debounce_can_cut_ = false;  // pending text holds a sentence end Poll would cut at
  TimePoint last_text_{};
  bool next_is_first_ = true;
  std::size_t bytes_scanned_ = 0;
};

}  // namespace supertonic::service
