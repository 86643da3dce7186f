// Engine throughput on the seed's short/mid/long texts (Google Benchmark).
// bench/engine_bench.py runs this and the Python reference in one session and
// writes the comparison to bench/results/engine.json.
//
//   build/bin/engine_bench --model-dir models/faithful --texts bench/texts.json
//       --threads 2 [--backend openvino --precision bf16] -- --benchmark_format=json
//   build/bin/engine_bench --matmul-peak 2048 --backend openvino --precision bf16
//       (prints the backend's n^3 MatMul GFLOPS as JSON and exits)
#include <benchmark/benchmark.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "engine/synthesizer.h"
#include "matmul_peak.h"
#include "text/text_chunker.h"

namespace {

using namespace supertonic;

const std::vector<std::string> kVoices = {"F1", "M1", "F2", "M2"};

void BM_Synthesize(benchmark::State& state, const Synthesizer* synth, std::string text, int steps, int batch) {
  std::vector<SynthesisItem> items;
  for (int b = 0; b < batch; ++b) {
    items.push_back({text, "en", kVoices[static_cast<size_t>(b) % kVoices.size()], 1.05f,
                     static_cast<uint64_t>(b), nullptr});
  }
  double audio_s = 0;
  StageTimes stages;
  for (auto _ : state) {
    BatchAudio out = synth->SynthesizeBatch(items, steps);
    audio_s = 0;
    for (const auto& item : out.items) audio_s += item.duration_s;
    stages = out.times;
  }
  const double chars = static_cast<double>(CountCodePoints(text)) * batch;
  state.counters["chars"] = chars;
  state.counters["chars_per_s"] = benchmark::Counter(chars, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["audio_s"] = audio_s;
  state.counters["audio_s_per_s"] = benchmark::Counter(audio_s, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["duration_predictor_s"] = stages.duration_predictor_s;
  state.counters["text_encoder_s"] = stages.text_encoder_s;
  state.counters["vector_estimator_s"] = stages.vector_estimator_s;
  state.counters["vocoder_s"] = stages.vocoder_s;
  state.counters["vocoder_share"] =
      stages.vocoder_s / (stages.duration_predictor_s + stages.text_encoder_s + stages.vector_estimator_s +
                          stages.vocoder_s);
}

// Time to first audio with the streaming vocoder (first sink piece) against one
// full vocoder run (audio exists only at the end), and the total time of each.
// Each repetition runs both, in alternating order, so drift on a shared
// machine affects both alike.
void BM_FirstAudio(benchmark::State& state, const Synthesizer* synth, std::string text) {
  static int order = 0;
  std::vector<SynthesisItem> items = {{text, "en", "F1", 1.05f, 0, nullptr}};
  double full_s = 0, chunked_first_s = 0, chunked_total_s = 0, audio_s = 0;
  auto run = [&](bool chunked) {
    const auto t0 = std::chrono::steady_clock::now();
    double first = -1;
    auto sink = [&](const AudioPiece& p) {
      if (first < 0 && !p.samples.empty()) {
        first = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      }
    };
    BatchAudio out = chunked ? synth->SynthesizeBatch(items, 2, nullptr, sink) : synth->SynthesizeBatch(items, 2);
    const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    audio_s = out.items[0].duration_s;
    if (chunked) {
      chunked_first_s = first;
      chunked_total_s = total;
    } else {
      full_s = total;
    }
  };
  for (auto _ : state) {
    const bool chunked_first = (order++ % 2) == 1;
    run(chunked_first);
    run(!chunked_first);
  }
  state.counters["full_s"] = full_s;
  state.counters["chunked_first_audio_s"] = chunked_first_s;
  state.counters["chunked_total_s"] = chunked_total_s;
  state.counters["audio_s"] = audio_s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir = "models/faithful", texts_path = "bench/texts.json";
  int threads = 2, repetitions = 5, matmul_n = 0;
  std::string backend = "onnxruntime", precision = "fp32";
  bool first_audio = true;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--model-dir") model_dir = next();
    else if (a == "--texts") texts_path = next();
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--repetitions") repetitions = std::stoi(next());
    else if (a == "--backend") backend = next();
    else if (a == "--precision") precision = next();
    else if (a == "--matmul-peak") matmul_n = std::stoi(next());
    else if (a == "--no-first-audio") first_audio = false;
    else if (a == "--") continue;
    else rest.push_back(argv[i]);
  }
  EngineConfig config;
  config.model_dir = model_dir;
  config.intra_op_threads = threads;
  config.backend = EngineConfig::ParseBackend(backend);
  config.precision = EngineConfig::ParsePrecision(precision);
  if (matmul_n > 0) {
    const MatmulPeak peak = MeasureMatmulPeak(config, matmul_n);
    std::cout << nlohmann::json{{"backend", backend}, {"precision", precision}, {"threads", threads},
                                {"n", peak.n}, {"best_s", peak.best_s}, {"gflops", peak.gflops}}
              << "\n";
    return 0;
  }
  Synthesizer synth(config);
  nlohmann::json texts = nlohmann::json::parse(std::ifstream(texts_path));

  synth.SynthesizeBatch({{"Warm up.", "en", "F1", 1.05f, 0, nullptr}}, 2);  // first-run allocations
  for (const char* name : {"short", "mid", "long"}) {
    for (int steps : {2, 5}) {
      for (int batch : {1, 4}) {
        const std::string bench_name =
            std::string("cpp/") + name + "/steps:" + std::to_string(steps) + "/batch:" + std::to_string(batch);
        benchmark::RegisterBenchmark(bench_name.c_str(), BM_Synthesize, &synth, texts[name].get<std::string>(),
                                     steps, batch)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->Iterations(1)
            ->Repetitions(repetitions)
            ->ComputeStatistics("min", [](const std::vector<double>& v) {
              return *std::min_element(v.begin(), v.end());
            });
      }
    }
  }
  if (first_audio && synth.streaming_vocoder()) {
    for (const char* name : {"short", "mid", "long"}) {
      const std::string bench_name = std::string("first_audio/") + name;
      benchmark::RegisterBenchmark(bench_name.c_str(), BM_FirstAudio, &synth, texts[name].get<std::string>())
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime()
          ->Iterations(1)
          ->Repetitions(repetitions);
    }
  }
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
