#include "support/probe.h"

#include <nlohmann/json.hpp>

#include "audio/wav_file.h"
#include "support/test_paths.h"

namespace supertonic::testing {

DecodedAudio DecodeProbeAudio(std::span<const float> samples, int sample_rate, const std::filesystem::path& model_dir) {
  const auto dir = MakeTempDir("probe");
  const auto wav = dir / "audio.wav";
  audio::WriteWav(wav, samples, sample_rate, audio::WavFormat::kFloat32);
  const std::string out = RunCommand(PythonExecutable().string() + " " +
                                     (SourceDir() / "tools" / "probe_decode.py").string() + " --json --model-dir " +
                                     model_dir.string() + " " + wav.string());
  std::filesystem::remove_all(dir);
  const auto j = nlohmann::json::parse(out);
  DecodedAudio result;
  result.text = j.at("text").get<std::string>();
  for (const auto& c : j.at("chars")) {
    result.chars.push_back({c.at("char").get<std::string>(), c.at("start_s").get<double>(),
                            c.at("duration_s").get<double>()});
  }
  return result;
}

}  // namespace supertonic::testing
