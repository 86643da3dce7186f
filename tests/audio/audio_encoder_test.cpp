// The streaming encoders of the OpenAI-compatible endpoint: each format
// decodes (with libsndfile, an independent decoder) to the audio that went in,
// at every output rate, and the compressed formats emit bytes while the audio
// is still coming in rather than only at the end.
#include "audio/audio_encoder.h"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

namespace supertonic::audio {
namespace {

struct Decoded {
  int sample_rate = 0;
  int channels = 0;
  int format = 0;
  std::vector<double> samples;
};

// libsndfile reading from memory.
struct MemoryFile {
  const std::string& bytes;
  sf_count_t pos = 0;
};
sf_count_t Length(void* u) { return static_cast<sf_count_t>(static_cast<MemoryFile*>(u)->bytes.size()); }
sf_count_t Seek(sf_count_t offset, int whence, void* u) {
  auto* f = static_cast<MemoryFile*>(u);
  const sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? f->pos : Length(u);
  f->pos = std::clamp<sf_count_t>(base + offset, 0, Length(u));
  return f->pos;
}
sf_count_t Read(void* ptr, sf_count_t count, void* u) {
  auto* f = static_cast<MemoryFile*>(u);
  const sf_count_t n = std::min(count, Length(u) - f->pos);
  std::memcpy(ptr, f->bytes.data() + f->pos, static_cast<std::size_t>(n));
  f->pos += n;
  return n;
}
sf_count_t Write(const void*, sf_count_t, void*) { return 0; }
sf_count_t Tell(void* u) { return static_cast<MemoryFile*>(u)->pos; }

Decoded Decode(const std::string& bytes) {
  SF_VIRTUAL_IO io{Length, Seek, Read, Write, Tell};
  MemoryFile file{bytes};
  SF_INFO info{};
  SNDFILE* sf = sf_open_virtual(&io, SFM_READ, &info, &file);
  if (sf == nullptr) throw std::runtime_error(std::string("libsndfile cannot read it: ") + sf_strerror(nullptr));
  Decoded d{info.samplerate, info.channels, info.format, {}};
  std::vector<double> block(4096);
  sf_count_t n;
  while ((n = sf_read_double(sf, block.data(), static_cast<sf_count_t>(block.size()))) > 0) {
    d.samples.insert(d.samples.end(), block.begin(), block.begin() + n);
  }
  sf_close(sf);
  return d;
}

std::vector<int16_t> Tone(int rate, double seconds, double hz) {
  std::vector<int16_t> s(static_cast<std::size_t>(rate * seconds));
  for (std::size_t i = 0; i < s.size(); ++i) {
    s[i] = static_cast<int16_t>(std::lround(8000 * std::sin(2 * std::numbers::pi * hz * i / rate)));
  }
  return s;
}

// Encodes in 20 ms frames, as the service does; returns the stream and how
// many bytes came out before Finish().
std::pair<std::string, std::size_t> EncodeInFrames(std::string_view format, const std::vector<int16_t>& pcm,
                                                   int rate) {
  auto encoder = MakeAudioEncoder(format, rate);
  std::string out;
  const std::size_t frame = static_cast<std::size_t>(rate / 50);
  for (std::size_t i = 0; i < pcm.size(); i += frame) {
    out += encoder->Encode(std::span(pcm).subspan(i, std::min(frame, pcm.size() - i)));
  }
  const std::size_t before_finish = out.size();
  out += encoder->Finish();
  return {out, before_finish};
}

// Best alignment of the decoded signal with the input (codecs add a delay),
// then the signal-to-noise ratio in dB over the aligned part.
double AlignedSnrDb(const std::vector<int16_t>& input, const std::vector<double>& decoded) {
  double best = -1e9;
  for (std::size_t lag = 0; lag < 4096 && lag < decoded.size(); ++lag) {
    double signal = 0, noise = 0;
    const std::size_t n = std::min(input.size(), decoded.size() - lag);
    if (n < input.size() / 2) break;
    for (std::size_t i = 0; i < n; ++i) {
      const double x = input[i] / 32768.0;
      const double e = decoded[i + lag] - x;
      signal += x * x;
      noise += e * e;
    }
    best = std::max(best, 10 * std::log10(signal / std::max(noise, 1e-20)));
  }
  return best;
}

// Raw PCM has no container to decode: PcmIsTheSamplesAsIs checks it.
class EveryFormatAndRate : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

// Opus runs at 8/12/16/24/48 kHz; libsndfile decodes at the one the stream's
// header names, the smallest at or above the input rate.
int OpusDecodingRate(int rate) {
  for (int r : {8000, 12000, 16000, 24000, 48000}) {
    if (r >= rate) return r;
  }
  return 48000;
}

TEST_P(EveryFormatAndRate, DecodesToTheInput) {
  const auto& [format, rate] = GetParam();
  const auto pcm = Tone(rate, 1.0, 440.0);
  const auto [bytes, before_finish] = EncodeInFrames(format, pcm, rate);
  const Decoded d = Decode(bytes);
  EXPECT_EQ(d.channels, 1);
  const int decoded_rate = format == "opus" ? OpusDecodingRate(rate) : rate;
  EXPECT_EQ(d.sample_rate, decoded_rate);
  if (format == "wav" || format == "flac") {
    ASSERT_EQ(d.samples.size(), pcm.size());
    for (std::size_t i = 0; i < pcm.size(); ++i) ASSERT_EQ(std::lround(d.samples[i] * 32768.0), pcm[i]) << i;
  } else {
    // Lossy: whole codec frames (MP3: 576 or 1152 samples, 72 ms at 8 kHz)
    // and the decoder's delay lengthen it a little; the tone survives.
    const double seconds = static_cast<double>(d.samples.size()) / d.sample_rate;
    EXPECT_NEAR(seconds, 1.0, 0.2) << format << " at " << rate;
    EXPECT_GT(AlignedSnrDb(Tone(decoded_rate, 1.0, 440.0), d.samples), 15.0) << format << " at " << rate;
  }
  if (format != "wav") {
    EXPECT_GT(before_finish, bytes.size() / 2) << format << ": most of the stream must come out before the end";
  }
}

INSTANTIATE_TEST_SUITE_P(AudioEncoder, EveryFormatAndRate,
                         ::testing::Combine(::testing::Values("mp3", "opus", "flac", "wav"),
                                            ::testing::Values(8000, 16000, 22050, 24000, 44100, 48000)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::to_string(std::get<1>(info.param));
                         });

TEST(AudioEncoder, PcmIsTheSamplesAsIs) {
  const std::vector<int16_t> pcm = {0, 1, -1, 32767, -32768, 256};
  auto encoder = MakeAudioEncoder("pcm", 24000);
  EXPECT_EQ(encoder->content_type(), "audio/pcm");
  const std::string bytes = encoder->Encode(pcm) + encoder->Finish();
  ASSERT_EQ(bytes.size(), pcm.size() * 2);
  EXPECT_EQ(std::memcmp(bytes.data(), pcm.data(), bytes.size()), 0);
}

TEST(AudioEncoder, NoAudioIsAnEmptyStream) {
  for (std::string_view format : {"wav", "flac"}) {
    EXPECT_TRUE(Decode(MakeAudioEncoder(format, 24000)->Finish()).samples.empty()) << format;
  }
  for (std::string_view format : {"mp3", "opus", "pcm"}) {
    EXPECT_NO_THROW(MakeAudioEncoder(format, 24000)->Finish()) << format;
  }
}

TEST(AudioEncoder, ContentTypes) {
  EXPECT_EQ(MakeAudioEncoder("mp3", 24000)->content_type(), "audio/mpeg");
  EXPECT_EQ(MakeAudioEncoder("opus", 24000)->content_type(), "audio/ogg");
  EXPECT_EQ(MakeAudioEncoder("flac", 24000)->content_type(), "audio/flac");
  EXPECT_EQ(MakeAudioEncoder("wav", 24000)->content_type(), "audio/wav");
}

TEST(AudioEncoder, UnknownFormatNamesTheSupportedOnes) {
  try {
    MakeAudioEncoder("aac", 24000);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'aac'"), std::string::npos) << what;
    for (auto f : SupportedAudioFormats()) EXPECT_NE(what.find(f), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace supertonic::audio
