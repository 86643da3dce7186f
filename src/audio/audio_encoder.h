#pragma once
// Streaming encoders from mono PCM16 to the response formats of the OpenAI
// speech API: bytes come out as the audio goes in, so an HTTP response can
// start before the text is fully synthesized.
//
//   pcm   raw PCM16 little-endian (no header)
//   wav   RIFF header with "unknown" sizes (0xFFFFFFFF), then PCM16
//   mp3   MPEG audio via LAME, constant bit rate
//   opus  Ogg Opus via libopusenc (pages every 100 ms of audio at most)
//   flac  native FLAC via libFLAC (no seek table; the total length is unknown)
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace supertonic::audio {

class AudioEncoder {
 public:
  virtual ~AudioEncoder() = default;

  // MIME type of the stream ("audio/mpeg", ...).
  virtual std::string_view content_type() const = 0;
  // Encodes these samples; returns the bytes that are ready (often none: the
  // codecs work in frames and pages).
  virtual std::string Encode(std::span<const int16_t> samples) = 0;
  // Encodes what is buffered and ends the stream. Call once, last.
  virtual std::string Finish() = 0;
};

// The formats MakeAudioEncoder knows, in the order the OpenAI API lists them.
std::span<const std::string_view> SupportedAudioFormats();

// Throws std::invalid_argument, naming the supported formats, unless `format` is one.
void CheckAudioFormat(std::string_view format);

// Throws std::invalid_argument for an unknown format or a sample rate the
// codec cannot carry (every rate of the protocol works with every format).
std::unique_ptr<AudioEncoder> MakeAudioEncoder(std::string_view format, int sample_rate);

}  // namespace supertonic::audio
