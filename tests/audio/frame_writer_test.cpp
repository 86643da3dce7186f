#include "audio/frame_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <numbers>
#include <random>
#include <stdexcept>
#include <vector>

#include "audio/pcm.h"

namespace supertonic::audio {
namespace {

constexpr int kModelRate = 44100;
constexpr int kRates[] = {8000, 16000, 22050, 24000, 44100, 48000};

struct Frames {
  std::vector<std::vector<int16_t>> frames;
  std::vector<int16_t> Concatenated() const {
    std::vector<int16_t> out;
    for (const auto& f : frames) out.insert(out.end(), f.begin(), f.end());
    return out;
  }
  FrameWriter::FrameCallback Collector() {
    return [this](std::span<const int16_t> f) { frames.emplace_back(f.begin(), f.end()); };
  }
};

std::vector<float> Sine(double frequency, double amplitude, int rate, std::size_t n) {
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = static_cast<float>(amplitude * std::sin(2 * std::numbers::pi * frequency * i / rate));
  }
  return out;
}

std::vector<float> Noise(std::size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.25f);
  std::vector<float> out(n);
  for (auto& s : out) s = dist(rng);
  return out;
}

// Pushes `input` in pieces of the given sizes (cycled), then finishes.
Frames Write(int out_rate, int frame_ms, const std::vector<float>& input, const std::vector<std::size_t>& pieces,
             FrameWriter* writer_out = nullptr) {
  FrameWriter writer(kModelRate, out_rate, frame_ms);
  Frames frames;
  const auto collect = frames.Collector();
  std::size_t pos = 0, piece = 0;
  while (pos < input.size()) {
    const std::size_t n = std::min(pieces[piece++ % pieces.size()], input.size() - pos);
    writer.Push(std::span<const float>(input).subspan(pos, n), collect);
    pos += n;
  }
  writer.Finish(collect);
  if (writer_out) *writer_out = std::move(writer);
  return frames;
}

// Amplitude of `frequency` in x (Goertzel), in the units of x.
double GoertzelAmplitude(std::span<const int16_t> x, double frequency, int rate) {
  const double w = 2 * std::numbers::pi * frequency / rate;
  const double coeff = 2 * std::cos(w);
  double s1 = 0, s2 = 0;
  for (int16_t v : x) {
    const double s0 = v + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const double power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return 2 * std::sqrt(std::max(power, 0.0)) / x.size();
}

TEST(FrameSamplesTest, RoundsDown) {
  EXPECT_EQ(FrameSamples(24000, 20), 480);
  EXPECT_EQ(FrameSamples(8000, 20), 160);
  EXPECT_EQ(FrameSamples(22050, 20), 441);
  EXPECT_EQ(FrameSamples(22050, 10), 220);
  EXPECT_EQ(FrameSamples(44100, 5), 220);
  EXPECT_EQ(FrameSamples(48000, 1000), 48000);
  EXPECT_EQ(FrameSamples(100, 5), 0);
  EXPECT_EQ(FrameSamples(0, 20), 0);
}

TEST(FrameWriterTest, RejectsBadArguments) {
  EXPECT_THROW(FrameWriter(0, 24000, 20), std::invalid_argument);
  EXPECT_THROW(FrameWriter(44100, -1, 20), std::invalid_argument);
  EXPECT_THROW(FrameWriter(44100, 24000, 0), std::invalid_argument);
  EXPECT_THROW(FrameWriter(44100, 100, 5), std::invalid_argument);
}

TEST(FrameWriterTest, WholeFramesAndExpectedLengthAtEveryRate) {
  const std::vector<float> input = Noise(32117, 1);  // 0.728 s, not a whole number of frames anywhere
  for (int rate : kRates) {
    for (int frame_ms : {10, 20, 40}) {
      SCOPED_TRACE(testing::Message() << rate << " Hz, " << frame_ms << " ms");
      FrameWriter writer(kModelRate, rate, frame_ms);
      const Frames frames = Write(rate, frame_ms, input, {input.size()}, &writer);
      const int spf = FrameSamples(rate, frame_ms);
      EXPECT_EQ(writer.samples_per_frame(), spf);
      ASSERT_FALSE(frames.frames.empty());
      for (const auto& f : frames.frames) ASSERT_EQ(f.size(), static_cast<std::size_t>(spf));
      EXPECT_EQ(writer.frames_emitted(), static_cast<int64_t>(frames.frames.size()));

      const double expected = static_cast<double>(input.size()) * rate / kModelRate;
      EXPECT_NEAR(static_cast<double>(writer.samples_emitted()), expected, 3.0);
      EXPECT_EQ(writer.frames_emitted(), (writer.samples_emitted() + spf - 1) / spf);
      EXPECT_NEAR(writer.duration_ms(), 1000.0 * input.size() / kModelRate, 0.5);

      // The padding of the last frame is silence.
      const auto real_in_last = static_cast<std::size_t>(writer.samples_emitted() % spf);
      if (real_in_last != 0) {
        const auto& last = frames.frames.back();
        for (std::size_t i = real_in_last; i < last.size(); ++i) ASSERT_EQ(last[i], 0) << i;
      }
    }
  }
}

TEST(FrameWriterTest, SplittingThePushesChangesNothing) {
  const std::vector<float> input = Noise(29999, 2);
  const std::vector<std::vector<std::size_t>> splits = {{1}, {7, 1, 333}, {3072}, {4095, 1, 10000}, {1000, 17}};
  for (int rate : kRates) {
    SCOPED_TRACE(rate);
    const std::vector<int16_t> whole = Write(rate, 20, input, {input.size()}).Concatenated();
    for (const auto& pieces : splits) {
      EXPECT_EQ(Write(rate, 20, input, pieces).Concatenated(), whole) << "first piece " << pieces[0];
    }
  }
}

TEST(FrameWriterTest, SineKeepsFrequencyAndAmplitude) {
  const double amplitude = 0.5;
  const std::vector<float> input = Sine(1000.0, amplitude, kModelRate, kModelRate);  // 1 s
  for (int rate : kRates) {
    SCOPED_TRACE(rate);
    const std::vector<int16_t> out = Write(rate, 20, input, {4410}).Concatenated();
    // The middle half: away from the filter's start-up and the padding.
    const std::span<const int16_t> middle(out.data() + rate / 4, static_cast<std::size_t>(rate / 2));

    const double at_1k = GoertzelAmplitude(middle, 1000.0, rate);
    EXPECT_NEAR(at_1k, amplitude * 32767, amplitude * 32767 * 0.01);
    EXPECT_LT(GoertzelAmplitude(middle, 1100.0, rate), at_1k * 0.01);
    EXPECT_LT(GoertzelAmplitude(middle, 2000.0, rate), at_1k * 0.001);

    // Zero crossings: 2 per period.
    int crossings = 0;
    for (std::size_t i = 1; i < middle.size(); ++i) crossings += (middle[i - 1] < 0) != (middle[i] < 0);
    EXPECT_NEAR(crossings, 1000, 2);  // 0.5 s of 1 kHz
  }
}

TEST(FrameWriterTest, AddsNoDelay) {
  // A click at 0.5 s comes out at 0.5 s, so audio stays aligned with text timing.
  std::vector<float> input(kModelRate, 0.0f);
  input[kModelRate / 2] = 1.0f;
  for (int rate : kRates) {
    SCOPED_TRACE(rate);
    const std::vector<int16_t> out = Write(rate, 20, input, {input.size()}).Concatenated();
    const auto peak = std::max_element(out.begin(), out.end(), [](int16_t a, int16_t b) {
      return std::abs(static_cast<int>(a)) < std::abs(static_cast<int>(b));
    });
    EXPECT_NEAR(static_cast<double>(peak - out.begin()), rate / 2.0, 1.0);
  }
}

TEST(FrameWriterTest, ClipsInsteadOfWrapping) {
  // Without resampling the values are exact.
  FrameWriter writer(24000, 24000, 20);
  Frames frames;
  const std::vector<float> input = {1.5f, -1.5f, 1.0f, -1.0f, 0.0f, 0.5f, 100.0f, -100.0f, 1.0001f, -1.0001f};
  writer.Push(input, frames.Collector());
  writer.Finish(frames.Collector());
  ASSERT_EQ(frames.frames.size(), 1u);
  const auto& f = frames.frames[0];
  const std::vector<int16_t> expected = {32767, -32768, 32767, -32767, 0, 16384, 32767, -32768, 32767, -32768};
  EXPECT_EQ(std::vector<int16_t>(f.begin(), f.begin() + 10), expected);

  // Resampled: a loud square wave clips at the rails and never wraps around.
  std::vector<float> loud(kModelRate / 10);
  for (std::size_t i = 0; i < loud.size(); ++i) loud[i] = (i / 441) % 2 ? 3.0f : -3.0f;
  for (int rate : kRates) {
    const std::vector<int16_t> out = Write(rate, 20, loud, {loud.size()}).Concatenated();
    const auto [lo, hi] = std::minmax_element(out.begin(), out.end());
    EXPECT_EQ(*hi, 32767) << rate;
    EXPECT_EQ(*lo, -32768) << rate;
    // Mid-period samples sit at the rails.
    const std::size_t half_period = static_cast<std::size_t>(rate) / 100;
    EXPECT_EQ(out[half_period / 2], -32768) << rate;
    EXPECT_EQ(out[half_period + half_period / 2], 32767) << rate;
  }
}

TEST(FrameWriterTest, LastFrameIsZeroPadded) {
  FrameWriter writer(24000, 24000, 20);
  Frames frames;
  const std::vector<float> input(500, 0.25f);  // one frame and 20 samples
  writer.Push(input, frames.Collector());
  EXPECT_EQ(frames.frames.size(), 1u);
  EXPECT_EQ(writer.samples_emitted(), 480);
  writer.Finish(frames.Collector());
  ASSERT_EQ(frames.frames.size(), 2u);
  EXPECT_EQ(writer.frames_emitted(), 2);
  EXPECT_EQ(writer.samples_emitted(), 500);
  EXPECT_DOUBLE_EQ(writer.duration_ms(), 500.0 / 24.0);
  const auto& last = frames.frames[1];
  ASSERT_EQ(last.size(), 480u);
  for (std::size_t i = 0; i < 20; ++i) EXPECT_EQ(last[i], ToPcm16(0.25f)) << i;
  for (std::size_t i = 20; i < 480; ++i) ASSERT_EQ(last[i], 0) << i;
}

TEST(FrameWriterTest, ExactFramesGetNoExtraFrame) {
  FrameWriter writer(24000, 24000, 20);
  Frames frames;
  writer.Push(std::vector<float>(960, 0.1f), frames.Collector());
  writer.Finish(frames.Collector());
  EXPECT_EQ(frames.frames.size(), 2u);
  EXPECT_EQ(writer.samples_emitted(), 960);
}

TEST(FrameWriterTest, EmptyInputGivesNoFrames) {
  for (int rate : kRates) {
    FrameWriter writer(kModelRate, rate, 20);
    Frames frames;
    writer.Push({}, frames.Collector());
    writer.Finish(frames.Collector());
    EXPECT_TRUE(frames.frames.empty()) << rate;
    EXPECT_EQ(writer.frames_emitted(), 0);
    EXPECT_EQ(writer.samples_emitted(), 0);
  }
}

TEST(FrameWriterTest, FinishIsFinal) {
  FrameWriter writer(kModelRate, 24000, 20);
  Frames frames;
  writer.Push(Noise(1000, 3), frames.Collector());
  writer.Finish(frames.Collector());
  const std::size_t n = frames.frames.size();
  EXPECT_TRUE(writer.finished());
  writer.Finish(frames.Collector());
  EXPECT_EQ(frames.frames.size(), n);
  const std::vector<float> more(10, 0.0f);
  EXPECT_THROW(writer.Push(more, frames.Collector()), std::logic_error);
}

TEST(FrameWriterTest, ShortSegmentStillGivesItsAudio) {
  // Less than one frame of input, resampled: one padded frame with the real samples counted.
  for (int rate : kRates) {
    FrameWriter writer(kModelRate, rate, 20);
    Frames frames;
    writer.Push(Noise(300, 4), frames.Collector());
    writer.Finish(frames.Collector());
    ASSERT_EQ(frames.frames.size(), 1u) << rate;
    EXPECT_NEAR(static_cast<double>(writer.samples_emitted()), 300.0 * rate / kModelRate, 2.0) << rate;
  }
}

}  // namespace
}  // namespace supertonic::audio
