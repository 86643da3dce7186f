// Fuzz target: service::TextAccumulator driven as a session drives it.
//
// Input: three bytes of configuration (chunk limit, first-clause minimum,
// debounce), then a sequence of operations, one byte each plus operands:
//   append raw bytes | append "tokens" from a small alphabet of words,
//   punctuation, whitespace (ASCII and Unicode), abbreviations, digits, CJK
//   and broken UTF-8 | let time pass and fire the debounce timer at each
//   deadline (as Connection::ArmDebounce does) | Poll at an arbitrary time |
//   TakeCompleteSentences | Flush | Clear | StartTurn.
// Time never goes backwards.
//
// Invariants (text_accumulator.h):
//  - every segment is non-empty, at most max_chars code points, trimmed,
//    with each run of whitespace collapsed to one space;
//  - after Append, the pending text is within max_chars, and is held in at
//    most 4 bytes per pending code point plus 2 (whitespace runs collapsed,
//    so that a flood of whitespace is neither kept nor rescanned);
//  - when NextDeadline() is set, Poll at that deadline cuts a segment;
//  - the segments of a turn (since the last Clear), joined, are the text
//    appended in it modulo whitespace: a prefix while text is pending, all
//    of it right after Flush (which leaves nothing pending). Checked when
//    every append of the turn was valid UTF-8, as the service's always are
//    (the JSON parser rejects anything else); with broken UTF-8 the
//    accumulator only has to stay within its limits and not crash, since a
//    character split across appends may legitimately decode differently
//    once joined;
//  - Clear drops what is pending and nothing is lost before it.
#include <algorithm>
#include <array>
#include <chrono>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "service/text_accumulator.h"
#include "text/reference_preprocessor.h"
#include "text/text_chunker.h"

namespace supertonic::fuzz {

namespace {

using namespace std::chrono_literals;
using service::TextAccumulator;
using service::TextAccumulatorConfig;
using service::TimePoint;

constexpr std::array<std::string_view, 40> kTokens = {
    "Hello", " world", ".", " ", "  ", "!", "?", ",", ";", ":", "\n", "\n\n", "\t", "Mr.", " Dr.", " e.g.",
    " J.", "3", ".5", " 10.", "\"", ")", "...", "\xE2\x80\xA6",           // U+2026 …
    "\xE3\x80\x82",                                                        // U+3002 。
    "\xEC\x95\x88\xEB\x85\x95",                                            // 안녕
    "\xC3\xA9t\xC3\xA9",                                                   // été
    "\xE2\x80\xA8",                                                        // U+2028 line separator
    "\xC2\xA0",                                                            // U+00A0 no-break space
    "\xE3\x80\x80",                                                        // U+3000 ideographic space
    "\xF0\x9F\x98\x80",                                                    // U+1F600 emoji
    "abcdefghijklmnopqrstuvwxyz", " a", " bc", " def", "Q", "x",
    "\xFF", "\xE2\x82", "\x80"};  // broken UTF-8: last, picked only when an op asks for it
constexpr std::size_t kValidTokens = kTokens.size() - 3;

class Driver {
 public:
  explicit Driver(TextAccumulatorConfig config) : config_(config), acc_(config) {}

  void Append(std::string_view text) {
    turn_input_.append(text);
    turn_valid_ = turn_valid_ && IsValidUtf8(text);
    if (turn_valid_) {  // valid pieces cannot join into other characters: decode piecewise
      const std::vector<uint32_t> more = NonSpace(text);
      want_.insert(want_.end(), more.begin(), more.end());
    }
    Check(acc_.Append(text, now_), "Append");
    FUZZ_CHECK(acc_.pending_chars() <= config_.max_chars,
               "pending text of " + std::to_string(acc_.pending_chars()) + " code points after Append " +
                   Context());
    FUZZ_CHECK(acc_.pending_bytes() <= 4 * acc_.pending_chars() + 2,
               std::to_string(acc_.pending_bytes()) + " bytes held for " + std::to_string(acc_.pending_chars()) +
                   " pending code points after Append " + Context());
  }

  void Advance(std::chrono::milliseconds by) {
    const TimePoint next = now_ + by;
    // The session's debounce timer fires at each deadline before `next`.
    for (int guard = 0; guard < 10000; ++guard) {
      const auto deadline = acc_.NextDeadline();
      if (!deadline || *deadline > next) break;
      now_ = std::max(now_, *deadline);
      const std::vector<std::string> cut = acc_.Poll(now_);
      FUZZ_CHECK(!cut.empty(), "NextDeadline was set but Poll at it cut nothing " + Context());
      Check(cut, "Poll at the deadline");
    }
    now_ = next;
  }

  void Poll() { Check(acc_.Poll(now_), "Poll"); }

  void TakeCompleteSentences() {
    if (auto s = acc_.TakeCompleteSentences()) Check({*s}, "TakeCompleteSentences");
  }

  void Flush() {
    Check(acc_.Flush(), "Flush");
    FUZZ_CHECK(acc_.empty() && acc_.pending_chars() == 0, "text pending after Flush " + Context());
    FUZZ_CHECK(!acc_.NextDeadline(), "a debounce deadline after Flush " + Context());
    FUZZ_CHECK(!turn_valid_ || got_ == want_,
               "the segments do not add up to the input after Flush " + Context());
  }

  void Clear() {
    acc_.Clear();
    FUZZ_CHECK(acc_.empty() && acc_.next_is_first(), "Clear left text pending or did not start a turn");
    turn_input_.clear();
    turn_segments_.clear();
    turn_valid_ = true;
    got_.clear();
    want_.clear();
  }

  void StartTurn() { acc_.StartTurn(); }

 private:
  void Check(const std::vector<std::string>& segments, const char* op) {
    for (const std::string& s : segments) {
      FUZZ_CHECK(!s.empty(), std::string(op) + " returned an empty segment " + Context());
      FUZZ_CHECK(CountCodePoints(s) <= config_.max_chars,
                 std::string(op) + " returned a segment of " + std::to_string(CountCodePoints(s)) +
                     " code points: " + Escape(s) + " " + Context());
      CheckCollapsed(s, op);
      turn_segments_.append(s);
      turn_segments_.push_back(' ');
      if (!turn_valid_) continue;
      const std::size_t from = got_.size();
      const std::vector<uint32_t> more = NonSpace(s);
      got_.insert(got_.end(), more.begin(), more.end());
      FUZZ_CHECK(got_.size() <= want_.size() && std::equal(got_.begin() + from, got_.end(), want_.begin() + from),
                 std::string(op) + ": the segments are not a prefix of the input " + Context());
    }
  }

  // Trimmed, and every whitespace a single ASCII space between non-spaces.
  void CheckCollapsed(const std::string& s, const char* op) {
    bool previous_space = true;  // a leading space counts as a double one
    for (uint32_t cp : Decode(s)) {
      const bool space = IsSpace(cp);
      FUZZ_CHECK(!space || cp == ' ',
                 std::string(op) + " returned a segment with whitespace other than a space: " + Escape(s));
      FUZZ_CHECK(!(space && previous_space),
                 std::string(op) + " returned a segment not trimmed/collapsed: " + Escape(s) + " " + Context());
      previous_space = space;
    }
    FUZZ_CHECK(!previous_space, std::string(op) + " returned a segment with trailing whitespace: " + Escape(s));
  }

  std::string Context() const {
    return "(" + config_.ToString() + "; turn input: " + Escape(turn_input_) +
           "; segments: " + Escape(turn_segments_) + ")";
  }

  TextAccumulatorConfig config_;
  TextAccumulator acc_;
  TimePoint now_ = TimePoint{} + 1000s;
  std::string turn_input_;     // appended since the last Clear
  std::string turn_segments_;  // segments since the last Clear, each followed by a space
  bool turn_valid_ = true;     // every append since the last Clear was valid UTF-8
  std::vector<uint32_t> want_, got_;  // their non-space characters (while turn_valid_)
};

}  // namespace

int FuzzAccumulator(const uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  TextAccumulatorConfig config;
  const uint8_t limit = in.Byte();
  config.max_chars = limit >= 250 ? (limit % 2 ? 300 : 120) : 1 + limit % 48;
  const uint8_t clause = in.Byte();
  config.first_clause_min_chars = clause % 4 == 0 ? 0 : std::min<std::size_t>(clause / 4, config.max_chars);
  config.debounce = std::chrono::milliseconds(in.Byte() * 2);
  Driver driver(config);

  int ops = 0;
  std::size_t long_bytes = 0;
  while (!in.empty() && ++ops <= 2000) {
    const uint8_t op = in.Byte();
    switch (op % 12) {
      case 0:
      case 1:  // raw bytes
        driver.Append(in.Take(in.Byte() % 48));
        break;
      case 2:
      case 3:
      case 4: {  // tokens from the alphabet, as an LLM streams them
        std::string text;
        const std::size_t alphabet = (op & 0x80) ? kTokens.size() : kValidTokens;
        for (int n = 1 + in.Byte() % 6; n > 0; --n) text += kTokens[in.Byte() % alphabet];
        driver.Append(text);
        break;
      }
      case 5: {  // a long message (exercises Append's slicing)
        std::string text;
        const std::string_view unit = kTokens[in.Byte() % kValidTokens];
        // Up to 10 KB at the real limits. A cut rescans the pending slice, so
        // with a tiny test limit a long message costs slice^2 / max_chars:
        // fine for the service (limits 120/300), slow for fuzzing; kept short.
        const std::size_t bytes = config.max_chars >= 100 ? 256u * (1 + in.Byte() % 40) : 64u * (1 + in.Byte() % 4);
        while (text.size() < bytes) text += unit, text += kTokens[(text.size() / 7) % kValidTokens];
        if ((long_bytes += text.size()) <= 24 * 1024) driver.Append(text);  // bounded time per input
        break;
      }
      case 6:
      case 7: driver.Advance(std::chrono::milliseconds(in.Byte() * 3)); break;
      case 8: driver.Poll(); break;
      case 9: driver.TakeCompleteSentences(); break;
      case 10: (op & 0x80) ? driver.Clear() : driver.Flush(); break;
      case 11: (op & 0x80) ? driver.StartTurn() : driver.Advance(std::chrono::milliseconds(in.U16())); break;
    }
  }
  driver.Flush();
  return 0;
}

}  // namespace supertonic::fuzz
