#pragma once
// Sample-rate conversion with libsoxr (high quality), usable as a stream:
// feed chunks as they arrive, then Flush() once at the end of the stream.
#include <memory>
#include <span>
#include <vector>

namespace supertonic::audio {

class Resampler {
 public:
  // Throws std::invalid_argument for non-positive rates.
  Resampler(int input_rate, int output_rate);
  ~Resampler();
  Resampler(Resampler&&) noexcept;
  Resampler& operator=(Resampler&&) noexcept;

  // Appends the output available so far to `out`.
  void Process(std::span<const float> input, std::vector<float>& out);
  // Appends the remaining output (the filter's tail); the stream then ends.
  void Flush(std::vector<float>& out);

  int input_rate() const { return input_rate_; }
  int output_rate() const { return output_rate_; }
  bool passthrough() const { return input_rate_ == output_rate_; }

  // One whole signal at once.
  static std::vector<float> Convert(std::span<const float> input, int input_rate, int output_rate);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int input_rate_;
  int output_rate_;
};

}  // namespace supertonic::audio
