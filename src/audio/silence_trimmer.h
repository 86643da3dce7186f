#pragma once
// Trims one segment's leading and trailing silence down to a natural pause,
// while the segment streams. Supertonic 3 is reported to put 0.25-0.6 s of
// silence before its speech and 0.6-0.9 s after it; between the segments of
// a voice-agent turn the listener would hear both, and the first segment's
// leading silence adds to the time to first audio.
//
// The analysis works on fixed windows aligned to the segment's first sample:
// a window is speech when its RMS is above the threshold (relative to full
// scale, 1.0); a sample is loud when its magnitude is. The output depends
// only on the concatenated input, never on how it was split into Push calls.
//  - Before speech nothing is emitted. Speech starts at the earliest loud
//    sample of the windows rising into the first speech window: those before
//    it within 6 dB of the threshold (a soft attack; at most
//    kOnsetLookbackWindows), and the one before them (a window straddling an
//    abrupt onset may be quiet on the whole), or of the speech window itself.
//    The output starts keep_leading_ms earlier, so the part of an attack
//    below the threshold level is kept, not clipped.
//  - Speech ends, for now, at the last loud sample of a speech window or of
//    the window right after it. Every sample within keep_trailing_ms of that
//    goes out at once: no added latency while someone speaks, as long as
//    keep_trailing_ms spans two windows. Audio beyond that is held back: if
//    speech resumes it is emitted whole (pauses inside the segment are never
//    shortened); at the end of the segment it is dropped. At most max_held_ms
//    are held: beyond that the oldest held audio goes out, which bounds
//    memory and the delay a long pause can add, at the price of trimming only
//    max_held_ms of a trailing silence longer than keep_trailing_ms +
//    max_held_ms.
//  - A segment without any speech window is emitted as the pause it stands
//    for: its first keep_leading_ms + keep_trailing_ms.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

namespace supertonic::audio {

// How far the onset search reaches back before the first speech window.
inline constexpr std::size_t kOnsetLookbackWindows = 5;

struct SilenceTrimConfig {
  double threshold_dbfs = -50.0;   // window RMS at or below this is silence
  double keep_leading_ms = 15.0;   // pre-roll kept before the onset
  double keep_trailing_ms = 200.0; // pause kept after the last speech
  double window_ms = 10.0;         // analysis window
  double max_held_ms = 2000.0;     // trailing-candidate audio held back at most

  // Throws std::invalid_argument naming the field for values out of range.
  void Validate() const;
};

class SilenceTrimmer {
 public:
  // Throws std::invalid_argument for a non-positive rate or an invalid config.
  SilenceTrimmer(int sample_rate, const SilenceTrimConfig& config = {});

  // Appends to `out` whatever of `samples` (and of earlier held audio) can be
  // released now. Throws std::logic_error after Finish().
  void Push(std::span<const float> samples, std::vector<float>& out);
  // The segment is complete: appends what is left to keep. Later calls do nothing.
  void Finish(std::vector<float>& out);

  bool speech_started() const { return in_speech_; }
  bool finished() const { return finished_; }
  int64_t samples_in() const { return samples_in_; }
  int64_t samples_out() const { return samples_out_; }
  // Samples that were or will be dropped: exact once finished.
  int64_t samples_dropped() const { return samples_in_ - samples_out_ - static_cast<int64_t>(held_.size()); }
  int sample_rate() const { return sample_rate_; }
  // Where the output starts in the segment: the leading samples cut (0 until
  // speech starts, and for a segment without speech). Word timings shift by it.
  int64_t leading_dropped() const { return leading_dropped_; }

 private:
  void Emit(float sample, std::vector<float>& out);
  void EmitHeld(std::vector<float>& out);
  // The window just completed (or the partial last one) holds `count` samples.
  void CloseWindow(std::size_t count, std::vector<float>& out);

  int sample_rate_;
  std::size_t window_;
  std::size_t keep_leading_;
  std::size_t keep_trailing_;
  std::size_t max_held_;
  std::size_t pause_only_;  // what an all-silent segment keeps
  float threshold_amplitude_;
  double threshold_power_;

  bool in_speech_ = false;
  bool finished_ = false;
  // The current window: its fill, its power and its first and last loud samples (indices in it; -1: none).
  std::size_t window_fill_ = 0;
  double window_power_sum_ = 0;
  std::ptrdiff_t first_loud_ = -1;
  std::ptrdiff_t last_loud_ = -1;
  // Before speech: the current window plus the look-back windows and
  // keep_leading_ samples before it, and the look-back windows' mean power
  // and first loud sample (position in the segment; -1: none), latest last.
  struct QuietWindow {
    double power = 0;
    int64_t first_loud = -1;
  };
  std::deque<float> lead_;
  std::deque<QuietWindow> lookback_;
  std::vector<float> head_;  // the segment's first pause_only_ samples, for an all-silent segment
  // In speech: samples since the last speech sample, and those of them held back.
  std::size_t quiet_run_ = 0;
  std::deque<float> held_;
  bool after_speech_window_ = false;  // the previous window was speech
  int64_t samples_in_ = 0;
  int64_t samples_out_ = 0;
  int64_t leading_dropped_ = 0;
};

}  // namespace supertonic::audio
