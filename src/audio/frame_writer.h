#pragma once
// Turns one segment's model-rate float audio into the fixed-size PCM16 frames
// the WebSocket sends (docs/protocol.md): resample (libsoxr, streaming), clip to
// 16 bits, cut into frames of frame_ms, pad the last frame with silence.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "audio/resampler.h"

namespace supertonic::audio {

// Samples in one frame: floor(rate * frame_ms / 1000). Whole at every
// supported rate for multiples of 20 ms; otherwise the frame is a little
// shorter than frame_ms (10 ms at 22050 Hz: 220 samples, 9.977 ms).
int FrameSamples(int rate, int frame_ms);

class FrameWriter {
 public:
  // A frame: samples_per_frame() mono int16 samples (little-endian on every
  // platform this builds for: send the bytes as they are). Valid only during
  // the call.
  using FrameCallback = std::function<void(std::span<const int16_t> frame)>;

  // Throws std::invalid_argument for non-positive rates or a frame of less
  // than one sample.
  FrameWriter(int input_rate, int output_rate, int frame_ms);

  // Resamples `samples` and calls on_frame for every frame completed. The
  // frames depend only on the concatenated input, not on how it was split
  // into pushes. Throws std::logic_error after Finish().
  void Push(std::span<const float> samples, const FrameCallback& on_frame);

  // Flushes the resampler and emits what is left as a last frame padded
  // with zeros (nothing when nothing is left). Later calls do nothing.
  void Finish(const FrameCallback& on_frame);

  int input_rate() const { return resampler_.input_rate(); }
  int output_rate() const { return resampler_.output_rate(); }
  int frame_ms() const { return frame_ms_; }
  int samples_per_frame() const { return samples_per_frame_; }
  bool finished() const { return finished_; }
  int64_t frames_emitted() const { return frames_emitted_; }
  // Real samples in the frames emitted so far, padding excluded.
  int64_t samples_emitted() const { return samples_emitted_; }
  // Milliseconds of real audio emitted so far.
  double duration_ms() const;

 private:
  void Append(std::span<const float> resampled, const FrameCallback& on_frame);
  void Emit(std::size_t real_samples, const FrameCallback& on_frame);

  Resampler resampler_;
  int frame_ms_;
  int samples_per_frame_;
  std::vector<float> resampled_;  // scratch for one Push
  std::vector<int16_t> frame_;    // the frame being filled
  std::size_t filled_ = 0;
  int64_t frames_emitted_ = 0;
  int64_t samples_emitted_ = 0;
  bool finished_ = false;
};

}  // namespace supertonic::audio
