#include "audio/audio_encoder.h"

#include <FLAC/stream_encoder.h>
#include <lame/lame.h>
#include <opusenc.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <utility>

namespace supertonic::audio {

namespace {

constexpr std::array<std::string_view, 5> kFormats = {"mp3", "opus", "flac", "wav", "pcm"};

std::string Bytes(std::span<const int16_t> samples) {
  // PCM16 little-endian; every supported platform is little-endian.
  return std::string(reinterpret_cast<const char*>(samples.data()), samples.size_bytes());
}

class PcmEncoder : public AudioEncoder {
 public:
  std::string_view content_type() const override { return "audio/pcm"; }
  std::string Encode(std::span<const int16_t> samples) override { return Bytes(samples); }
  std::string Finish() override { return {}; }
};

class WavEncoder : public AudioEncoder {
 public:
  explicit WavEncoder(int sample_rate) : sample_rate_(sample_rate) {}
  std::string_view content_type() const override { return "audio/wav"; }
  std::string Encode(std::span<const int16_t> samples) override { return TakeHeader() + Bytes(samples); }
  std::string Finish() override { return TakeHeader(); }

 private:
  // The header once, before the first samples (or alone, for a stream without audio).
  std::string TakeHeader() {
    if (header_sent_) return {};
    header_sent_ = true;
    return Header();
  }

  // The sizes are unknown while streaming: 0xFFFFFFFF, which players read as "to the end".
  std::string Header() const {
    std::string h;
    auto u32 = [&](uint32_t v) {
      for (int i = 0; i < 4; ++i) h.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    };
    auto u16 = [&](uint16_t v) {
      for (int i = 0; i < 2; ++i) h.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    };
    h += "RIFF";
    u32(0xFFFFFFFFu);
    h += "WAVEfmt ";
    u32(16);
    u16(1);  // PCM
    u16(1);  // mono
    u32(static_cast<uint32_t>(sample_rate_));
    u32(static_cast<uint32_t>(sample_rate_) * 2);
    u16(2);
    u16(16);
    h += "data";
    u32(0xFFFFFFFFu);
    return h;
  }

  int sample_rate_;
  bool header_sent_ = false;
};

class Mp3Encoder : public AudioEncoder {
 public:
  explicit Mp3Encoder(int sample_rate) : lame_(lame_init()) {
    if (lame_ == nullptr) throw std::runtime_error("mp3: lame_init failed");
    lame_set_in_samplerate(lame_, sample_rate);
    lame_set_out_samplerate(lame_, sample_rate);  // LAME would otherwise pick its own for the bit rate
    lame_set_num_channels(lame_, 1);
    lame_set_mode(lame_, MONO);
    // Constant bit rate, within what each MPEG version allows at this rate.
    lame_set_brate(lame_, sample_rate >= 32000 ? 128 : sample_rate >= 16000 ? 64 : 32);
    lame_set_quality(lame_, 5);
    // The Xing/LAME header must be rewritten at the start once the length is
    // known, which a stream cannot do.
    lame_set_bWriteVbrTag(lame_, 0);
    if (lame_init_params(lame_) < 0) {
      lame_close(lame_);
      throw std::invalid_argument("mp3: LAME cannot encode at " + std::to_string(sample_rate) + " Hz");
    }
  }
  ~Mp3Encoder() override { lame_close(lame_); }
  Mp3Encoder(const Mp3Encoder&) = delete;
  Mp3Encoder& operator=(const Mp3Encoder&) = delete;

  std::string_view content_type() const override { return "audio/mpeg"; }

  std::string Encode(std::span<const int16_t> samples) override {
    if (samples.empty()) return {};
    // LAME's documented worst case: 1.25 * samples + 7200 bytes.
    std::string out(samples.size() * 5 / 4 + 7200, '\0');
    const int n = lame_encode_buffer(lame_, samples.data(), nullptr, static_cast<int>(samples.size()),
                                     reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
    if (n < 0) throw std::runtime_error("mp3: lame_encode_buffer failed (" + std::to_string(n) + ")");
    out.resize(static_cast<std::size_t>(n));
    return out;
  }

  std::string Finish() override {
    std::string out(7200, '\0');
    const int n = lame_encode_flush(lame_, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
    if (n < 0) throw std::runtime_error("mp3: lame_encode_flush failed (" + std::to_string(n) + ")");
    out.resize(static_cast<std::size_t>(n));
    return out;
  }

 private:
  lame_t lame_;
};

class OpusEncoder : public AudioEncoder {
 public:
  explicit OpusEncoder(int sample_rate) : sample_rate_(sample_rate) {
    OggOpusComments* comments = ope_comments_create();
    if (comments == nullptr) throw std::runtime_error("opus: out of memory");
    ope_comments_add(comments, "ENCODER", "supertonic-tts");
    static const OpusEncCallbacks kCallbacks = {&OpusEncoder::Write, &OpusEncoder::Close};
    int error = OPE_OK;
    enc_ = ope_encoder_create_callbacks(&kCallbacks, this, comments, sample_rate, 1, 0, &error);
    ope_comments_destroy(comments);
    if (enc_ == nullptr) {
      throw std::invalid_argument("opus: cannot encode at " + std::to_string(sample_rate) + " Hz: " +
                                  ope_strerror(error));
    }
    // Out as soon as possible: libopusenc would otherwise hold up to 2 s of
    // audio for its own decisions and 1 s per Ogg page.
    ope_encoder_ctl(enc_, OPE_SET_DECISION_DELAY(0));
    ope_encoder_ctl(enc_, OPE_SET_MUXING_DELAY(4800));  // 100 ms at 48 kHz
    ope_encoder_ctl(enc_, OPUS_SET_BITRATE(48000));
    Check(ope_encoder_flush_header(enc_), "ope_encoder_flush_header");
  }
  ~OpusEncoder() override { ope_encoder_destroy(enc_); }
  OpusEncoder(const OpusEncoder&) = delete;
  OpusEncoder& operator=(const OpusEncoder&) = delete;

  std::string_view content_type() const override { return "audio/ogg"; }

  std::string Encode(std::span<const int16_t> samples) override {
    if (!samples.empty()) {
      Check(ope_encoder_write(enc_, samples.data(), static_cast<int>(samples.size())), "ope_encoder_write");
      wrote_audio_ = true;
    }
    return std::exchange(pending_, {});
  }

  std::string Finish() override {
    // libopusenc 0.2.1 aborts when a stream without audio is drained: give it
    // one 20 ms frame of silence.
    if (!wrote_audio_) Encode(std::vector<int16_t>(static_cast<std::size_t>(sample_rate_ / 50), 0));
    Check(ope_encoder_drain(enc_), "ope_encoder_drain");
    return std::exchange(pending_, {});
  }

 private:
  static int Write(void* self, const unsigned char* data, opus_int32 size) {
    static_cast<OpusEncoder*>(self)->pending_.append(reinterpret_cast<const char*>(data),
                                                     static_cast<std::size_t>(size));
    return 0;
  }
  static int Close(void*) { return 0; }
  static void Check(int r, const char* what) {
    if (r != OPE_OK) throw std::runtime_error(std::string("opus: ") + what + ": " + ope_strerror(r));
  }

  int sample_rate_;
  OggOpusEnc* enc_ = nullptr;
  std::string pending_;
  bool wrote_audio_ = false;
};

class FlacEncoder : public AudioEncoder {
 public:
  explicit FlacEncoder(int sample_rate) : enc_(FLAC__stream_encoder_new()) {
    if (enc_ == nullptr) throw std::runtime_error("flac: out of memory");
    FLAC__stream_encoder_set_channels(enc_, 1);
    FLAC__stream_encoder_set_bits_per_sample(enc_, 16);
    FLAC__stream_encoder_set_sample_rate(enc_, static_cast<unsigned>(sample_rate));
    FLAC__stream_encoder_set_compression_level(enc_, 5);
    // No seek callback: STREAMINFO keeps "total samples unknown", as a stream must.
    const auto status = FLAC__stream_encoder_init_stream(enc_, &FlacEncoder::Write, nullptr, nullptr, nullptr, this);
    if (status != FLAC__STREAM_ENCODER_INIT_STATUS_OK) {
      FLAC__stream_encoder_delete(enc_);
      throw std::invalid_argument(std::string("flac: cannot encode at ") + std::to_string(sample_rate) +
                                  " Hz: " + FLAC__StreamEncoderInitStatusString[status]);
    }
  }
  ~FlacEncoder() override {
    if (!finished_) FLAC__stream_encoder_finish(enc_);
    FLAC__stream_encoder_delete(enc_);
  }
  FlacEncoder(const FlacEncoder&) = delete;
  FlacEncoder& operator=(const FlacEncoder&) = delete;

  std::string_view content_type() const override { return "audio/flac"; }

  std::string Encode(std::span<const int16_t> samples) override {
    if (!samples.empty()) {
      widened_.assign(samples.begin(), samples.end());
      if (!FLAC__stream_encoder_process_interleaved(enc_, widened_.data(), static_cast<unsigned>(samples.size()))) {
        throw std::runtime_error(std::string("flac: ") +
                                 FLAC__stream_encoder_get_resolved_state_string(enc_));
      }
    }
    return std::exchange(pending_, {});
  }

  std::string Finish() override {
    finished_ = true;
    if (!FLAC__stream_encoder_finish(enc_)) {
      throw std::runtime_error(std::string("flac: ") + FLAC__stream_encoder_get_resolved_state_string(enc_));
    }
    return std::exchange(pending_, {});
  }

 private:
  static FLAC__StreamEncoderWriteStatus Write(const FLAC__StreamEncoder*, const FLAC__byte buffer[], size_t bytes,
                                              uint32_t, uint32_t, void* self) {
    static_cast<FlacEncoder*>(self)->pending_.append(reinterpret_cast<const char*>(buffer), bytes);
    return FLAC__STREAM_ENCODER_WRITE_STATUS_OK;
  }

  FLAC__StreamEncoder* enc_;
  std::vector<FLAC__int32> widened_;
  std::string pending_;
  bool finished_ = false;
};

}  // namespace

std::span<const std::string_view> SupportedAudioFormats() { return kFormats; }

void CheckAudioFormat(std::string_view format) {
  if (std::find(kFormats.begin(), kFormats.end(), format) != kFormats.end()) return;
  std::string known;
  for (auto f : kFormats) known += (known.empty() ? "" : ", ") + std::string(f);
  throw std::invalid_argument("response format '" + std::string(format) + "' is not supported; use one of " + known);
}

std::unique_ptr<AudioEncoder> MakeAudioEncoder(std::string_view format, int sample_rate) {
  CheckAudioFormat(format);
  if (sample_rate <= 0) throw std::invalid_argument("sample rate must be positive");
  if (format == "pcm") return std::make_unique<PcmEncoder>();
  if (format == "wav") return std::make_unique<WavEncoder>(sample_rate);
  if (format == "mp3") return std::make_unique<Mp3Encoder>(sample_rate);
  if (format == "opus") return std::make_unique<OpusEncoder>(sample_rate);
  return std::make_unique<FlacEncoder>(sample_rate);
}

}  // namespace supertonic::audio
