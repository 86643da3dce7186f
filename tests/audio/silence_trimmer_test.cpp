// The streaming silence trimmer on synthetic audio whose silences are known
// to the sample: what it keeps, what it drops, and that neither depends on
// how the segment's audio was split into pieces.
#include "audio/silence_trimmer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <stdexcept>
#include <vector>

namespace supertonic::audio {
namespace {

constexpr int kRate = 44100;

std::size_t Ms(double ms, int rate = kRate) { return static_cast<std::size_t>(std::llround(ms * rate / 1000.0)); }

// A 440 Hz tone starting at its crest, so its first sample is already loud.
std::vector<float> Tone(std::size_t n, double amplitude = 0.3, int rate = kRate) {
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = static_cast<float>(amplitude * std::cos(2 * std::numbers::pi * 440.0 * static_cast<double>(i) / rate));
  }
  return out;
}

std::vector<float> Zeros(std::size_t n) { return std::vector<float>(n, 0.0f); }

// White noise of the given RMS level in dBFS.
std::vector<float> Noise(std::size_t n, double dbfs, uint32_t seed = 7) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, static_cast<float>(std::pow(10.0, dbfs / 20.0)));
  std::vector<float> out(n);
  for (auto& x : out) x = dist(rng);
  return out;
}

std::vector<float> Concat(std::initializer_list<std::vector<float>> parts) {
  std::vector<float> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<float> Slice(const std::vector<float>& x, std::size_t begin, std::size_t end) {
  return std::vector<float>(x.begin() + static_cast<std::ptrdiff_t>(begin), x.begin() + static_cast<std::ptrdiff_t>(end));
}

// The whole segment in one piece.
std::vector<float> Trim(const std::vector<float>& in, const SilenceTrimConfig& config = {}, int rate = kRate) {
  SilenceTrimmer trimmer(rate, config);
  std::vector<float> out;
  trimmer.Push(in, out);
  trimmer.Finish(out);
  EXPECT_EQ(trimmer.samples_dropped(), static_cast<int64_t>(in.size()) - static_cast<int64_t>(out.size()));
  return out;
}

// The segment in pieces whose sizes cycle through `sizes`.
std::vector<float> TrimInPieces(const std::vector<float>& in, const std::vector<std::size_t>& sizes,
                                const SilenceTrimConfig& config = {}) {
  SilenceTrimmer trimmer(kRate, config);
  std::vector<float> out;
  std::size_t pos = 0;
  for (std::size_t k = 0; pos < in.size(); ++k) {
    const std::size_t n = std::min(sizes[k % sizes.size()], in.size() - pos);
    trimmer.Push(std::span<const float>(in).subspan(pos, n), out);
    pos += n;
  }
  trimmer.Finish(out);
  return out;
}

TEST(SilenceTrimmerTest, SpeechWithoutSilencePassesUnchanged) {
  const auto speech = Tone(Ms(500));
  EXPECT_EQ(Trim(speech), speech);
}

TEST(SilenceTrimmerTest, LeadingSilenceIsCutToThePreRoll) {
  const auto speech = Tone(Ms(500));
  const auto out = Trim(Concat({Zeros(Ms(400)), speech}));
  EXPECT_EQ(out, Concat({Zeros(Ms(15)), speech}));
}

TEST(SilenceTrimmerTest, SaysWhereItsOutputStartsInTheSegment) {
  // Word timings shift by what was cut in front, known from the first output on.
  const auto speech = Tone(Ms(500));
  SilenceTrimmer trimmer(kRate);
  std::vector<float> out;
  trimmer.Push(Zeros(Ms(400)), out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(trimmer.leading_dropped(), 0);
  trimmer.Push(speech, out);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(trimmer.leading_dropped(), static_cast<int64_t>(Ms(400) - Ms(15)));
  trimmer.Push(Zeros(Ms(1000)), out);
  trimmer.Finish(out);
  EXPECT_EQ(trimmer.leading_dropped(), static_cast<int64_t>(Ms(400) - Ms(15)));  // the tail does not count

  SilenceTrimmer silent(kRate);
  silent.Push(Zeros(Ms(300)), out);
  silent.Finish(out);
  EXPECT_EQ(silent.leading_dropped(), 0);  // a pause is kept from its start
}

TEST(SilenceTrimmerTest, TrailingSilenceIsCutToThePause) {
  const auto speech = Tone(Ms(500));
  const auto out = Trim(Concat({speech, Zeros(Ms(700))}));
  // The pause is counted from the last sample at the threshold level, which a
  // 440 Hz tone reaches within its last period.
  ASSERT_GE(out.size(), speech.size() + Ms(200) - Ms(3));
  EXPECT_LE(out.size(), speech.size() + Ms(200));
  EXPECT_EQ(Slice(out, 0, speech.size()), speech);
}

TEST(SilenceTrimmerTest, BothEndsAsSupertonicThreeIsReportedToPadThem) {
  const auto speech = Tone(Ms(1200));
  for (double lead_ms : {250.0, 600.0}) {
    for (double trail_ms : {600.0, 900.0}) {
      const auto out = Trim(Concat({Zeros(Ms(lead_ms)), speech, Zeros(Ms(trail_ms))}));
      EXPECT_EQ(Slice(out, 0, Ms(15) + speech.size()), Concat({Zeros(Ms(15)), speech})) << lead_ms << "/" << trail_ms;
      EXPECT_NEAR(static_cast<double>(out.size()), static_cast<double>(Ms(15) + speech.size() + Ms(200)), Ms(3));
    }
  }
}

TEST(SilenceTrimmerTest, PausesInsideTheSegmentAreNeverShortened) {
  const auto a = Tone(Ms(300)), b = Tone(Ms(300), 0.2);
  for (double pause_ms : {50.0, 250.0, 600.0, 1900.0}) {
    const auto inner = Concat({a, Zeros(Ms(pause_ms)), b});
    const auto out = Trim(Concat({Zeros(Ms(300)), inner, Zeros(Ms(800))}));
    ASSERT_GE(out.size(), Ms(15) + inner.size()) << pause_ms;
    EXPECT_EQ(Slice(out, Ms(15), Ms(15) + inner.size()), inner) << pause_ms;
  }
}

TEST(SilenceTrimmerTest, ASoftOnsetLosesNoSampleAtTheThresholdLevel) {
  // Fade-ins from -80 to -10 dBFS over 250-1000 ms (280-70 dB/s; speech
  // onsets rise by hundreds of dB/s): their RMS passes the -50 dBFS threshold
  // a few windows after their first sample does. Slower ones lose what lies
  // more than the look-back and the pre-roll before the first speech window.
  const float threshold = static_cast<float>(std::pow(10.0, -50.0 / 20.0));
  for (double fade_ms : {250.0, 350.0, 500.0, 1000.0}) {
    const std::size_t fade = Ms(fade_ms);
    std::vector<float> onset = Tone(fade + Ms(300), 1.0);
    for (std::size_t i = 0; i < onset.size(); ++i) {
      const double db = i < fade ? -80.0 + 70.0 * static_cast<double>(i) / static_cast<double>(fade) : -10.0;
      onset[i] *= static_cast<float>(std::pow(10.0, db / 20.0));
    }
    for (std::size_t lead : {Ms(200), Ms(200) + 100, Ms(200) + 300}) {  // where the windows fall
      const auto in = Concat({Zeros(lead), onset});
      const auto out = Trim(in);
      const auto first_loud = static_cast<std::size_t>(
          std::find_if(in.begin(), in.end(), [&](float x) { return std::fabs(x) >= threshold; }) - in.begin());
      ASSERT_LE(out.size(), in.size());
      const std::size_t start = in.size() - out.size();
      // A suffix of the input, from at least one sample below the threshold
      // level before the first one at it, and not much earlier than the pre-roll.
      EXPECT_EQ(out, Slice(in, start, in.size())) << fade_ms;
      EXPECT_LT(start, first_loud) << fade_ms << " ms fade: a sample at the threshold level was dropped";
      EXPECT_GE(start + Ms(15) + Ms(10), first_loud) << fade_ms;
    }
  }
}

TEST(SilenceTrimmerTest, AnAbruptOnsetAfterAShortGapIsUntouched) {
  // The probe model's characters: 512 silent samples (11.6 ms), then a chord.
  const auto in = Concat({Zeros(512), Tone(Ms(300)), Zeros(512), Tone(Ms(300))});
  EXPECT_EQ(Trim(in), in);
}

TEST(SilenceTrimmerTest, ANoiseFloorBelowTheThresholdIsSilence) {
  const auto speech = Tone(Ms(500));
  const auto in = Concat({Noise(Ms(400), -65.0, 1), speech, Noise(Ms(700), -65.0, 2)});
  const auto out = Trim(in);
  EXPECT_EQ(Slice(out, Ms(15), Ms(15) + speech.size()), speech);
  EXPECT_NEAR(static_cast<double>(out.size()), static_cast<double>(Ms(15) + speech.size() + Ms(200)), Ms(3));
  // Noise above the threshold is speech as far as the trimmer can tell: nothing is cut.
  const auto loud_noise = Concat({Noise(Ms(400), -40.0, 3), speech, Noise(Ms(700), -40.0, 4)});
  EXPECT_EQ(Trim(loud_noise), loud_noise);
}

TEST(SilenceTrimmerTest, AnAllSilentSegmentBecomesThePauseItStandsFor) {
  const auto silence = Noise(Ms(1000), -70.0);
  EXPECT_EQ(Trim(silence), Slice(silence, 0, Ms(15) + Ms(200)));
  const auto short_silence = Zeros(Ms(100));
  EXPECT_EQ(Trim(short_silence), short_silence);
  EXPECT_TRUE(Trim({}).empty());
}

TEST(SilenceTrimmerTest, TheOutputDoesNotDependOnHowTheAudioWasSplit) {
  const std::vector<std::vector<float>> inputs = {
      Concat({Zeros(Ms(400)), Tone(Ms(200)), Zeros(Ms(300)), Tone(Ms(150), 0.1), Zeros(Ms(700))}),
      Concat({Noise(Ms(250), -60.0), Tone(Ms(100)), Noise(Ms(900), -60.0)}),
      Concat({Tone(Ms(90)), Zeros(Ms(2500)), Tone(Ms(50)), Zeros(Ms(3000))}),  // holds past max_held_ms
      Zeros(Ms(600)),
      Tone(7),
  };
  const std::vector<std::vector<std::size_t>> splits = {
      {1}, {2}, {3}, {440}, {441}, {442}, {4410}, {1, 1000, 7, 441, 3}, {100000}};
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const auto whole = Trim(inputs[i]);
    for (const auto& sizes : splits) {
      EXPECT_EQ(TrimInPieces(inputs[i], sizes), whole) << "input " << i << ", first piece size " << sizes.front();
    }
  }
  std::mt19937 rng(11);
  std::uniform_int_distribution<std::size_t> size(1, 3000);
  std::vector<std::size_t> random_sizes(64);
  for (auto& s : random_sizes) s = size(rng);
  for (std::size_t i = 0; i < inputs.size(); ++i) EXPECT_EQ(TrimInPieces(inputs[i], random_sizes), Trim(inputs[i]));
}

TEST(SilenceTrimmerTest, SpeechGoesOutAsItArrives) {
  // After the first speech window, every sample of speech is released by the
  // Push that brought it, one sample at a time.
  SilenceTrimmer trimmer(kRate);
  std::vector<float> out;
  trimmer.Push(Zeros(Ms(300)), out);
  EXPECT_TRUE(out.empty());
  const auto speech = Tone(Ms(400));
  const std::size_t window = Ms(10);
  for (std::size_t i = 0; i < speech.size(); ++i) {
    trimmer.Push(std::span<const float>(speech).subspan(i, 1), out);
    if (i >= window) {
      ASSERT_EQ(out.size(), Ms(15) + i + 1) << "sample " << i << " of speech was held back";
    }
  }
  EXPECT_TRUE(trimmer.speech_started());
  // A trailing pause goes out up to the kept length at once, then is held.
  trimmer.Push(Zeros(Ms(1000)), out);
  EXPECT_LE(out.size(), Ms(15) + speech.size() + Ms(200));
  trimmer.Finish(out);
  EXPECT_EQ(trimmer.samples_dropped(), static_cast<int64_t>(Ms(300) + speech.size() + Ms(1000) - out.size()));
}

TEST(SilenceTrimmerTest, HeldAudioIsBoundedAndALongerPauseIsOnlyPartlyTrimmed) {
  SilenceTrimConfig config;
  config.max_held_ms = 500;
  SilenceTrimmer trimmer(kRate, config);
  std::vector<float> out;
  const auto speech = Tone(Ms(200));
  trimmer.Push(speech, out);
  std::size_t most_held = 0;
  for (int i = 0; i < 300; ++i) {
    trimmer.Push(Zeros(Ms(10)), out);
    most_held = std::max(most_held, static_cast<std::size_t>(trimmer.samples_in()) - out.size());
  }
  EXPECT_LE(most_held, Ms(500) + 1);
  trimmer.Finish(out);
  // 3 s of trailing silence: 500 ms of it were held and dropped.
  EXPECT_NEAR(static_cast<double>(out.size()), static_cast<double>(speech.size() + Ms(3000) - Ms(500)), Ms(3));
}

TEST(SilenceTrimmerTest, SettingsChangeWhatIsKept) {
  const auto speech = Tone(Ms(300), 0.01);  // -43 dBFS peak, -46 dBFS RMS
  const auto in = Concat({Zeros(Ms(300)), speech, Zeros(Ms(600))});
  SilenceTrimConfig config;
  config.keep_leading_ms = 40;
  config.keep_trailing_ms = 100;
  auto out = Trim(in, config);
  EXPECT_EQ(Slice(out, 0, Ms(40) + speech.size()), Concat({Zeros(Ms(40)), speech}));
  EXPECT_NEAR(static_cast<double>(out.size()), static_cast<double>(Ms(40) + speech.size() + Ms(100)), Ms(3));
  // The tone is below a -40 dBFS threshold: the segment is all silence.
  config.threshold_dbfs = -40;
  EXPECT_EQ(Trim(in, config).size(), Ms(40) + Ms(100));
  // Nothing kept around the speech.
  config = {};
  config.keep_leading_ms = 0;
  config.keep_trailing_ms = 0;
  out = Trim(Concat({Zeros(Ms(300)), Tone(Ms(300)), Zeros(Ms(600))}), config);
  EXPECT_NEAR(static_cast<double>(out.size()), static_cast<double>(Ms(300)), Ms(3));
}

TEST(SilenceTrimmerTest, WorksAtEveryRate) {
  for (int rate : {8000, 16000, 22050, 24000, 44100, 48000}) {
    const auto speech = Tone(Ms(500, rate), 0.3, rate);
    const auto out = Trim(Concat({Zeros(Ms(400, rate)), speech, Zeros(Ms(700, rate))}), {}, rate);
    EXPECT_EQ(Slice(out, 0, Ms(15, rate) + speech.size()), Concat({Zeros(Ms(15, rate)), speech})) << rate;
    EXPECT_NEAR(static_cast<double>(out.size()), static_cast<double>(Ms(15, rate) + speech.size() + Ms(200, rate)),
                Ms(3, rate))
        << rate;
  }
}

TEST(SilenceTrimmerTest, BadSettingsAndMisuseAreRefused) {
  EXPECT_THROW(SilenceTrimmer(0), std::invalid_argument);
  for (auto bad : std::vector<SilenceTrimConfig>{{.threshold_dbfs = 0}, {.threshold_dbfs = -121},
                                                 {.threshold_dbfs = std::nan("")}, {.keep_leading_ms = -1},
                                                 {.keep_trailing_ms = 10001}, {.window_ms = 0},
                                                 {.max_held_ms = -5}}) {
    EXPECT_THROW(SilenceTrimmer(kRate, bad), std::invalid_argument);
  }
  SilenceTrimmer trimmer(kRate);
  std::vector<float> out;
  trimmer.Finish(out);
  trimmer.Finish(out);  // a second Finish does nothing
  EXPECT_THROW(trimmer.Push(Tone(10), out), std::logic_error);
}

}  // namespace
}  // namespace supertonic::audio
