// The engine's objects that the service shares between threads, called from
// several threads at once: each caller gets what it would get alone. A
// target of its own, so that the ThreadSanitizer run builds only these and
// the service's tests (make test-tsan).
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "engine/synthesizer.h"
#include "support/engine_config.h"
#include "support/probe.h"
#include "support/test_paths.h"
#include "text/text_normalizer.h"

namespace supertonic {
namespace {

TEST(ProbeSynthesizer, ConcurrentCallsAreSafe) {
  const Synthesizer synth(testing::ConfigFor(testing::ProbeModelDir()));
  std::vector<std::thread> threads;
  std::vector<std::string> decoded(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto audio = synth.SynthesizeBatch({{"thread " + std::to_string(t), "en", "F1", 1.0f, 0, nullptr}}, 2);
      decoded[static_cast<size_t>(t)] = testing::DecodeProbeAudio(audio.items[0].samples, 44100).text;
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(decoded[static_cast<size_t>(t)], "<en>thread " + std::to_string(t) + ".</en>");
}

TEST(TextNormalizer, ConcurrentCallersGetTheSameWords) {
  const TextNormalizer normalizer;
  const std::string text = "On 2024-03-15 at 3:30 PM I paid $5.50, 12% more than the 21st.";
  const std::string expected = normalizer.Normalize(text, "en");
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const char* lang = (i % 2) ? "en" : "pt";
        const std::string said = normalizer.Normalize(text, lang);
        if (lang[0] == 'e' && said != expected) ++mismatches[static_cast<std::size_t>(t)];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

}  // namespace
}  // namespace supertonic
