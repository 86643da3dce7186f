// What text normalization costs next to synthesis, per segment, in one run:
// each segment is normalized many times (median) and the normalized text is
// synthesized on the faithful model (2 steps, batch 1, median of 3).
// Writes bench/results/normalization.json.
//
//   build/bin/normalization_bench --model-dir models/faithful --texts bench/normalization_texts.json
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/synthesizer.h"
#include "text/text_normalizer.h"

namespace {

using namespace supertonic;
using Clock = std::chrono::steady_clock;

template <typename F>
double MedianSeconds(int runs, F&& f) {
  std::vector<double> seconds;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    f();
    seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::nth_element(seconds.begin(), seconds.begin() + runs / 2, seconds.end());
  return seconds[static_cast<std::size_t>(runs / 2)];
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir = "models/faithful", texts_path = "bench/normalization_texts.json",
              out_path = "bench/results/normalization.json";
  int threads = 2;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--model-dir") model_dir = next();
    else if (a == "--texts") texts_path = next();
    else if (a == "--out") out_path = next();
    else if (a == "--threads") threads = std::stoi(next());
  }
  EngineConfig config;
  config.model_dir = model_dir;
  config.intra_op_threads = threads;
  const Synthesizer synth(config);
  const TextNormalizer normalizer;
  const nlohmann::json texts = nlohmann::json::parse(std::ifstream(texts_path));
  synth.SynthesizeBatch({{"Warm up.", "en", "F1", 1.05f, 0, nullptr}}, 2);

  nlohmann::json segments = nlohmann::json::array(), first_use = nlohmann::json::object();
  double worst = 0;
  for (const auto& [lang, list] : texts.items()) {
    // A language's tables compile on its first use, once per process.
    first_use[lang] = 1e3 * MedianSeconds(1, [&] { normalizer.Normalize(list[0].get<std::string>(), lang); });
    for (const auto& entry : list) {
      const std::string text = entry.get<std::string>();
      std::string spoken;
      const double normalize_s = MedianSeconds(201, [&] { spoken = normalizer.Normalize(text, lang); });
      const double synthesis_s =
          MedianSeconds(3, [&] { synth.SynthesizeBatch({{spoken, lang, "F1", 1.05f, 0, nullptr}}, 2); });
      const double share = normalize_s / synthesis_s;
      worst = std::max(worst, share);
      segments.push_back({{"lang", lang},
                          {"text", text},
                          {"spoken_text", spoken},
                          {"normalize_ms", normalize_s * 1e3},
                          {"synthesis_ms", synthesis_s * 1e3},
                          {"share_of_synthesis", share}});
      std::cerr << lang << ": normalize " << normalize_s * 1e3 << " ms, synthesize " << synthesis_s * 1e3
                << " ms, share " << share * 100 << " %\n";
    }
  }
  const nlohmann::json report = {
      {"what", "text normalization time per segment against the synthesis of that segment, one run"},
      {"command", "build/bin/normalization_bench --model-dir " + model_dir + " --texts " + texts_path},
      {"model_dir", model_dir},
      {"threads", threads},
      {"steps", 2},
      {"target_share", 0.01},
      {"largest_share", worst},
      {"within_target", worst < 0.01},
      {"first_use_ms_per_language", first_use},
      {"segments", segments}};
  std::ofstream(out_path) << report.dump(2) << "\n";
  std::cout << report.dump(2) << "\n";
  return worst < 0.01 ? 0 : 1;
}
