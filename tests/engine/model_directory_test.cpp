// A model directory that cannot be served is reported by file and tensor name.
#include <gtest/gtest.h>

#include <fstream>

#include "engine/synthesizer.h"
#include "support/test_paths.h"
#include "text/exceptions.h"

namespace supertonic {
namespace {

namespace fs = std::filesystem;

class BrokenModelDirectory : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("modeldir");
    fs::copy(testing::ProbeModelDir(), dir_, fs::copy_options::recursive);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string LoadError() {
    EngineConfig c;
    c.model_dir = dir_;
    c.intra_op_threads = 1;
    try {
      Synthesizer s(c);
    } catch (const ModelError& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(BrokenModelDirectory, IntactCopyLoads) { EXPECT_EQ(LoadError(), ""); }

TEST_F(BrokenModelDirectory, MissingGraphIsNamed) {
  fs::remove(dir_ / "onnx" / "vocoder.onnx");
  const auto err = LoadError();
  EXPECT_NE(err.find("missing model file"), std::string::npos) << err;
  EXPECT_NE(err.find("vocoder.onnx"), std::string::npos) << err;
}

TEST_F(BrokenModelDirectory, WrongInputNameIsNamed) {
  // The text encoder takes style_ttl where the duration predictor takes style_dp.
  fs::copy_file(dir_ / "onnx" / "text_encoder.onnx", dir_ / "onnx" / "duration_predictor.onnx",
                fs::copy_options::overwrite_existing);
  const auto err = LoadError();
  EXPECT_NE(err.find("duration_predictor.onnx"), std::string::npos) << err;
  EXPECT_NE(err.find("missing input 'style_dp'"), std::string::npos) << err;
}

TEST_F(BrokenModelDirectory, WrongGraphInPlaceIsNamed) {
  fs::copy_file(dir_ / "onnx" / "vocoder.onnx", dir_ / "onnx" / "vector_estimator.onnx",
                fs::copy_options::overwrite_existing);
  const auto err = LoadError();
  EXPECT_NE(err.find("vector_estimator.onnx"), std::string::npos) << err;
  EXPECT_NE(err.find("'noisy_latent'"), std::string::npos) << err;
}

TEST_F(BrokenModelDirectory, CorruptGraphIsNamed) {
  std::ofstream(dir_ / "onnx" / "text_encoder.onnx", std::ios::trunc) << "not a protobuf";
  const auto err = LoadError();
  EXPECT_NE(err.find("cannot load"), std::string::npos) << err;
  EXPECT_NE(err.find("text_encoder.onnx"), std::string::npos) << err;
}

TEST_F(BrokenModelDirectory, MalformedConfigIsNamed) {
  std::ofstream(dir_ / "onnx" / "tts.json", std::ios::trunc) << "{\"ae\": {\"sample_rate\": 0}, \"ttl\": {}}";
  const auto err = LoadError();
  EXPECT_NE(err.find("tts.json"), std::string::npos) << err;
  EXPECT_NE(err.find("sample_rate"), std::string::npos) << err;
}

TEST_F(BrokenModelDirectory, MissingIndexerIsNamed) {
  fs::remove(dir_ / "onnx" / "unicode_indexer.json");
  const auto err = LoadError();
  EXPECT_NE(err.find("unicode_indexer.json"), std::string::npos) << err;
}

TEST_F(BrokenModelDirectory, VoiceStyleWithWrongDimsIsNamed) {
  std::ofstream(dir_ / "voice_styles" / "Bad.json", std::ios::trunc)
      << R"({"style_ttl": {"data": [1, 2], "dims": [1, 2, 1]}, "style_dp": {"data": [], "dims": [1, 8, 16]}})";
  const auto err = LoadError();
  EXPECT_NE(err.find("Bad.json"), std::string::npos) << err;
  EXPECT_NE(err.find("style_ttl"), std::string::npos) << err;
}

TEST_F(BrokenModelDirectory, ExtraVoiceIsServed) {
  fs::copy_file(dir_ / "voice_styles" / "F1.json", dir_ / "voice_styles" / "Custom.json");
  EngineConfig c;
  c.model_dir = dir_;
  Synthesizer s(c);
  EXPECT_NE(s.voices().Find("Custom"), nullptr);
  EXPECT_NE(s.voices().Find("M5"), nullptr);
  EXPECT_EQ(s.voices().names().size(), 11u);
}

TEST(ModelDirectory, CudaRequestedWithoutCudaFailsClearlyButAutoFallsBack) {
  EngineConfig c;
  c.model_dir = testing::ProbeModelDir();
  c.device = Device::kCuda;
  try {
    Synthesizer s(c);
    GTEST_SKIP() << "this machine runs CUDA";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos) << e.what();
  }
  c.device = Device::kAuto;
  Synthesizer s(c);
  EXPECT_EQ(s.execution_provider(), "CPUExecutionProvider");
}

TEST(EngineConfigTest, ValidatesByName) {
  EngineConfig c;
  EXPECT_THROW(c.Validate(), std::invalid_argument);  // no model_dir
  c.model_dir = "x";
  c.intra_op_threads = -1;
  try {
    c.Validate();
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("intra_op_threads"), std::string::npos);
  }
  EXPECT_THROW(EngineConfig::ParseDevice("tpu"), std::invalid_argument);
  EXPECT_EQ(EngineConfig::ParseDevice("auto"), Device::kAuto);
  EXPECT_EQ(EngineConfig::ParseGraphOptimization("basic"), GraphOptimization::kBasic);
}

}  // namespace
}  // namespace supertonic
