#include "audio/resampler.h"

#include <soxr.h>

#include <stdexcept>
#include <string>

namespace supertonic::audio {

struct Resampler::Impl {
  soxr_t soxr = nullptr;
  ~Impl() {
    if (soxr) soxr_delete(soxr);
  }
};

Resampler::Resampler(int input_rate, int output_rate)
    : impl_(std::make_unique<Impl>()), input_rate_(input_rate), output_rate_(output_rate) {
  if (input_rate <= 0 || output_rate <= 0) {
    throw std::invalid_argument("sample rates must be positive, got " + std::to_string(input_rate) + " -> " +
                                std::to_string(output_rate));
  }
  if (passthrough()) return;
  soxr_error_t error = nullptr;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  impl_->soxr = soxr_create(input_rate, output_rate, 1, &error, &io, &quality, nullptr);
  if (error != nullptr) throw std::runtime_error(std::string("soxr_create failed: ") + error);
}

Resampler::~Resampler() = default;
Resampler::Resampler(Resampler&&) noexcept = default;
Resampler& Resampler::operator=(Resampler&&) noexcept = default;

void Resampler::Process(std::span<const float> input, std::vector<float>& out) {
  if (passthrough()) {
    out.insert(out.end(), input.begin(), input.end());
    return;
  }
  const double ratio = static_cast<double>(output_rate_) / input_rate_;
  size_t consumed_total = 0;
  while (consumed_total < input.size()) {
    const size_t remaining = input.size() - consumed_total;
    const size_t capacity = static_cast<size_t>(remaining * ratio) + 64;
    const size_t start = out.size();
    out.resize(start + capacity);
    size_t consumed = 0, produced = 0;
    soxr_error_t error = soxr_process(impl_->soxr, input.data() + consumed_total, remaining, &consumed,
                                      out.data() + start, capacity, &produced);
    out.resize(start + produced);
    if (error != nullptr) throw std::runtime_error(std::string("soxr_process failed: ") + error);
    consumed_total += consumed;
    if (consumed == 0 && produced == 0) break;
  }
}

void Resampler::Flush(std::vector<float>& out) {
  if (passthrough()) return;
  for (;;) {
    const size_t start = out.size();
    const size_t capacity = 4096;
    out.resize(start + capacity);
    size_t produced = 0;
    soxr_error_t error = soxr_process(impl_->soxr, nullptr, 0, nullptr, out.data() + start, capacity, &produced);
    out.resize(start + produced);
    if (error != nullptr) throw std::runtime_error(std::string("soxr_process failed: ") + error);
    if (produced == 0) break;
  }
}

std::vector<float> Resampler::Convert(std::span<const float> input, int input_rate, int output_rate) {
  Resampler r(input_rate, output_rate);
  std::vector<float> out;
  out.reserve(static_cast<size_t>(input.size() * (static_cast<double>(output_rate) / input_rate)) + 64);
  r.Process(input, out);
  r.Flush(out);
  return out;
}

}  // namespace supertonic::audio
