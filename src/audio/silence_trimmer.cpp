#include "audio/silence_trimmer.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace supertonic::audio {

namespace {

void Require(bool ok, const char* field, const char* range, double value) {
  if (!ok) {
    throw std::invalid_argument(std::string("silence trimming: ") + field + " must be in " + range + ", got " +
                                std::to_string(value));
  }
}

std::size_t Samples(double ms, int rate) {
  return static_cast<std::size_t>(std::llround(ms * rate / 1000.0));
}

}  // namespace

void SilenceTrimConfig::Validate() const {
  Require(std::isfinite(threshold_dbfs) && threshold_dbfs >= -120.0 && threshold_dbfs < 0.0, "threshold_dbfs",
          "-120..0 (exclusive)", threshold_dbfs);
  Require(std::isfinite(keep_leading_ms) && keep_leading_ms >= 0.0 && keep_leading_ms <= 10000.0, "keep_leading_ms",
          "0..10000", keep_leading_ms);
  Require(std::isfinite(keep_trailing_ms) && keep_trailing_ms >= 0.0 && keep_trailing_ms <= 10000.0,
          "keep_trailing_ms", "0..10000", keep_trailing_ms);
  Require(std::isfinite(window_ms) && window_ms > 0.0 && window_ms <= 1000.0, "window_ms", "0..1000 (exclusive of 0)",
          window_ms);
  Require(std::isfinite(max_held_ms) && max_held_ms >= 0.0 && max_held_ms <= 60000.0, "max_held_ms", "0..60000",
          max_held_ms);
}

SilenceTrimmer::SilenceTrimmer(int sample_rate, const SilenceTrimConfig& config) : sample_rate_(sample_rate) {
  if (sample_rate <= 0) throw std::invalid_argument("silence trimming needs a positive sample rate");
  config.Validate();
  window_ = std::max<std::size_t>(1, Samples(config.window_ms, sample_rate));
  keep_leading_ = Samples(config.keep_leading_ms, sample_rate);
  keep_trailing_ = Samples(config.keep_trailing_ms, sample_rate);
  max_held_ = Samples(config.max_held_ms, sample_rate);
  pause_only_ = keep_leading_ + keep_trailing_;
  threshold_amplitude_ = static_cast<float>(std::pow(10.0, config.threshold_dbfs / 20.0));
  threshold_power_ = std::pow(10.0, config.threshold_dbfs / 10.0);
}

void SilenceTrimmer::Emit(float sample, std::vector<float>& out) {
  out.push_back(sample);
  ++samples_out_;
}

void SilenceTrimmer::EmitHeld(std::vector<float>& out) {
  out.insert(out.end(), held_.begin(), held_.end());
  samples_out_ += static_cast<int64_t>(held_.size());
  held_.clear();
}

void SilenceTrimmer::Push(std::span<const float> samples, std::vector<float>& out) {
  if (finished_) throw std::logic_error("SilenceTrimmer::Push after Finish");
  for (const float x : samples) {
    ++samples_in_;
    if (!in_speech_) {
      lead_.push_back(x);
      if (head_.size() < pause_only_) head_.push_back(x);
    } else {
      ++quiet_run_;
      // Held audio is older than this sample: once anything is held, the rest follows it.
      if (held_.empty() && quiet_run_ <= keep_trailing_) {
        Emit(x, out);
      } else {
        held_.push_back(x);
        if (held_.size() > max_held_) {
          Emit(held_.front(), out);
          held_.pop_front();
        }
      }
    }
    if (std::fabs(x) >= threshold_amplitude_) {
      if (first_loud_ < 0) first_loud_ = static_cast<std::ptrdiff_t>(window_fill_);
      last_loud_ = static_cast<std::ptrdiff_t>(window_fill_);
    }
    window_power_sum_ += static_cast<double>(x) * x;
    if (++window_fill_ == window_) CloseWindow(window_, out);
  }
}

void SilenceTrimmer::CloseWindow(std::size_t count, std::vector<float>& out) {
  // A window whose RMS passes the threshold has a sample that does too, so
  // first_loud_ and last_loud_ are set whenever it is speech.
  const bool speech = window_power_sum_ / static_cast<double>(count) > threshold_power_ && first_loud_ >= 0;
  const int64_t window_start = samples_in_ - static_cast<int64_t>(count);
  if (!in_speech_) {
    if (speech) {
      int64_t onset = window_start + first_loud_;
      std::size_t rising = 0;  // look-back windows within 6 dB of the threshold, counted back from the latest
      while (rising < std::min(lookback_.size(), kOnsetLookbackWindows) &&
             lookback_[lookback_.size() - 1 - rising].power > threshold_power_ / 4) {
        ++rising;
      }
      for (std::size_t k = lookback_.size() - std::min(lookback_.size(), rising + 1); k < lookback_.size(); ++k) {
        if (lookback_[k].first_loud >= 0) {
          onset = lookback_[k].first_loud;
          break;
        }
      }
      const int64_t front = samples_in_ - static_cast<int64_t>(lead_.size());
      const int64_t start = std::max(front, onset - static_cast<int64_t>(keep_leading_));
      leading_dropped_ = start;
      for (auto i = static_cast<std::size_t>(start - front); i < lead_.size(); ++i) Emit(lead_[i], out);
      lead_.clear();
      lead_.shrink_to_fit();
      lookback_.clear();
      head_.clear();
      head_.shrink_to_fit();
      in_speech_ = true;
      quiet_run_ = count - 1 - static_cast<std::size_t>(last_loud_);
    } else {
      lookback_.push_back({window_power_sum_ / static_cast<double>(count),
                           first_loud_ >= 0 ? window_start + first_loud_ : -1});
      if (lookback_.size() > kOnsetLookbackWindows + 1) lookback_.pop_front();
      while (lead_.size() > keep_leading_ + (kOnsetLookbackWindows + 1) * window_) lead_.pop_front();
    }
  } else if (speech || (after_speech_window_ && last_loud_ >= 0)) {
    // A speech window, or the quiet one right after it whose loud samples are
    // the speech's tail: the pause is counted from there.
    EmitHeld(out);
    quiet_run_ = count - 1 - static_cast<std::size_t>(last_loud_);
  }
  after_speech_window_ = speech;
  window_fill_ = 0;
  window_power_sum_ = 0;
  first_loud_ = -1;
  last_loud_ = -1;
}

void SilenceTrimmer::Finish(std::vector<float>& out) {
  if (finished_) return;
  if (window_fill_ > 0) CloseWindow(window_fill_, out);
  if (!in_speech_) {
    for (const float x : head_) Emit(x, out);
    head_.clear();
    lead_.clear();
  }
  held_.clear();  // trailing silence beyond the kept pause
  finished_ = true;
}

}  // namespace supertonic::audio
