#include "audio/wav_file.h"

#include <sndfile.h>

#include <stdexcept>
#include <string>

namespace supertonic::audio {

void WriteWav(const std::filesystem::path& path, std::span<const float> samples, int sample_rate, WavFormat format) {
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | (format == WavFormat::kPcm16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT);
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (f == nullptr) throw std::runtime_error("cannot write " + path.string() + ": " + sf_strerror(nullptr));
  // Clip rather than let libsndfile wrap out-of-range floats.
  sf_command(f, SFC_SET_CLIPPING, nullptr, SF_TRUE);
  const sf_count_t written = sf_write_float(f, samples.data(), static_cast<sf_count_t>(samples.size()));
  sf_close(f);
  if (written != static_cast<sf_count_t>(samples.size())) {
    throw std::runtime_error("short write to " + path.string());
  }
}

WavData ReadWav(const std::filesystem::path& path) {
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (f == nullptr) throw std::runtime_error("cannot read " + path.string() + ": " + sf_strerror(nullptr));
  std::vector<float> interleaved(static_cast<size_t>(info.frames * info.channels));
  sf_readf_float(f, interleaved.data(), info.frames);
  sf_close(f);
  WavData out;
  out.sample_rate = info.samplerate;
  out.samples.resize(static_cast<size_t>(info.frames));
  for (sf_count_t i = 0; i < info.frames; ++i) {
    float sum = 0;
    for (int c = 0; c < info.channels; ++c) sum += interleaved[static_cast<size_t>(i * info.channels + c)];
    out.samples[static_cast<size_t>(i)] = sum / static_cast<float>(info.channels);
  }
  return out;
}

}  // namespace supertonic::audio
