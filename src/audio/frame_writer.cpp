#include "audio/frame_writer.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "audio/pcm.h"

namespace supertonic::audio {

int FrameSamples(int rate, int frame_ms) {
  if (rate <= 0 || frame_ms <= 0) return 0;
  return static_cast<int>(static_cast<int64_t>(rate) * frame_ms / 1000);
}

namespace {

int CheckedFrameSamples(int output_rate, int frame_ms) {
  const int samples = FrameSamples(output_rate, frame_ms);
  if (samples < 1) {
    throw std::invalid_argument("a frame of " + std::to_string(frame_ms) + " ms at " + std::to_string(output_rate) +
                                " Hz holds no sample");
  }
  return samples;
}

}  // namespace

FrameWriter::FrameWriter(int input_rate, int output_rate, int frame_ms)
    : resampler_(input_rate, output_rate),
      frame_ms_(frame_ms),
      samples_per_frame_(CheckedFrameSamples(output_rate, frame_ms)),
      frame_(static_cast<std::size_t>(samples_per_frame_), 0) {}

double FrameWriter::duration_ms() const {
  return static_cast<double>(samples_emitted_) * 1000.0 / resampler_.output_rate();
}

void FrameWriter::Push(std::span<const float> samples, const FrameCallback& on_frame) {
  if (finished_) throw std::logic_error("FrameWriter::Push after Finish");
  if (samples.empty()) return;
  resampled_.clear();
  resampler_.Process(samples, resampled_);
  Append(resampled_, on_frame);
}

void FrameWriter::Finish(const FrameCallback& on_frame) {
  if (finished_) return;
  finished_ = true;
  resampled_.clear();
  resampler_.Flush(resampled_);
  Append(resampled_, on_frame);
  if (filled_ > 0) {
    const std::size_t real = filled_;
    std::fill(frame_.begin() + static_cast<std::ptrdiff_t>(filled_), frame_.end(), int16_t{0});
    Emit(real, on_frame);
  }
  resampled_ = {};
}

void FrameWriter::Append(std::span<const float> resampled, const FrameCallback& on_frame) {
  const std::size_t frame_size = frame_.size();
  std::size_t pos = 0;
  while (pos < resampled.size()) {
    const std::size_t n = std::min(frame_size - filled_, resampled.size() - pos);
    for (std::size_t i = 0; i < n; ++i) frame_[filled_ + i] = ToPcm16(resampled[pos + i]);
    filled_ += n;
    pos += n;
    if (filled_ == frame_size) Emit(frame_size, on_frame);
  }
}

void FrameWriter::Emit(std::size_t real_samples, const FrameCallback& on_frame) {
  filled_ = 0;
  ++frames_emitted_;
  samples_emitted_ += static_cast<int64_t>(real_samples);
  on_frame(std::span<const int16_t>(frame_));
}

}  // namespace supertonic::audio
