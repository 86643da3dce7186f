// Which Supertonic a model directory holds is decided from its files (the text
// encoder's embedding rows, else the indexer's largest id), never from its
// name; a directory that fits no known model is refused saying what was found.
#include "engine/model_profile.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "engine/model_config.h"
#include "support/test_paths.h"
#include "text/exceptions.h"
#include "text/text_chunker.h"
#include "text/unicode_indexer.h"

namespace supertonic {
namespace {

namespace fs = std::filesystem;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(ModelProfileDetection, ProbeIsSupertonicTwoByItsIndexer) {
  const ModelProfile p = DetectModelProfile(testing::ProbeModelDir());
  EXPECT_EQ(p.name, "supertonic-2");
  EXPECT_EQ(p.version, 2);
  // The probe embeds ids arithmetically: no table to count.
  EXPECT_TRUE(Contains(p.detected_by, "no embedding table")) << p.detected_by;
  EXPECT_TRUE(Contains(p.detected_by, "largest id")) << p.detected_by;
}

TEST(ModelProfileDetection, FaithfulIsSupertonicTwoByItsEmbedding) {
  const auto t0 = std::chrono::steady_clock::now();
  const ModelProfile p = DetectModelProfile(testing::FaithfulModelDir());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(p.name, "supertonic-2");
  EXPECT_EQ(p.detected_by, "text encoder embedding: 163 rows");
  std::printf("detection on the 28 MB faithful text encoder: %.1f ms\n", seconds * 1000);
}

TEST(ModelProfileDetection, ProbeV3IsSupertonicThreeByItsEmbedding) {
  const ModelProfile p = DetectModelProfile(testing::ProbeV3ModelDir());
  EXPECT_EQ(p.name, "supertonic-3");
  EXPECT_EQ(p.version, 3);
  EXPECT_EQ(p.detected_by, "text encoder embedding: 8322 rows");
  for (const char* lang : {"en", "de", "ja", "ru", "it", "vi", "na"}) EXPECT_TRUE(p.SupportsLanguage(lang)) << lang;
}

TEST(ModelProfileDetection, NotFromTheDirectoryName) {
  const fs::path root = testing::MakeTempDir("named");
  const fs::path dir = root / "supertonic-2";
  fs::copy(testing::ProbeV3ModelDir(), dir, fs::copy_options::recursive);
  EXPECT_EQ(DetectModelProfile(dir).name, "supertonic-3");
  fs::remove_all(root);
}

// A text encoder with only what detection reads: `text_ids` and, optionally,
// a Gather of a [rows, 4] table by those ids (through a Cast when asked).
void WriteTextEncoder(const fs::path& path, std::optional<int64_t> rows, bool through_cast = false) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(17);
  auto* graph = model.mutable_graph();
  graph->set_name("text_encoder");
  auto* input = graph->add_input();
  input->set_name("text_ids");
  input->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT64);
  std::string ids = "text_ids";
  if (through_cast) {
    auto* cast = graph->add_node();
    cast->set_op_type("Cast");
    cast->add_input("text_ids");
    cast->add_output("ids_i32");
    ids = "ids_i32";
  }
  if (rows) {
    auto* table = graph->add_initializer();
    table->set_name("char_embedder.weight");
    table->set_data_type(onnx::TensorProto::FLOAT);
    table->add_dims(*rows);
    table->add_dims(4);
    table->mutable_raw_data()->assign(static_cast<size_t>(*rows) * 4 * sizeof(float), '\0');
    auto* gather = graph->add_node();
    gather->set_op_type("Gather");
    gather->add_input("char_embedder.weight");
    gather->add_input(ids);
    gather->add_output("text_emb");
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  ASSERT_TRUE(model.SerializeToOstream(&out));
}

void WriteIndexer(const fs::path& path, int32_t largest_id) {
  nlohmann::json table = nlohmann::json::array();
  for (int cp = 0; cp < 0x10000; ++cp) table.push_back(cp >= 'a' && cp <= 'z' ? (cp - 'a') : -1);
  table['z'] = largest_id;
  std::ofstream(path, std::ios::trunc) << table.dump();
}

class OddModelDirectory : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("profile");
    fs::copy(testing::ProbeModelDir(), dir_, fs::copy_options::recursive);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path onnx(const std::string& file) const { return dir_ / "onnx" / file; }

  std::string DetectionError() const {
    try {
      DetectModelProfile(dir_);
    } catch (const ModelError& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(OddModelDirectory, EmbeddingOfAnUnknownSizeIsRefusedWithWhatWasFound) {
  WriteTextEncoder(onnx("text_encoder.onnx"), 500);
  const std::string err = DetectionError();
  EXPECT_TRUE(Contains(err, "text_encoder.onnx")) << err;
  EXPECT_TRUE(Contains(err, "500 rows")) << err;
  EXPECT_TRUE(Contains(err, "163 (supertonic-2) or 8322 (supertonic-3)")) << err;
}

TEST_F(OddModelDirectory, EmbeddingBehindACastIsFound) {
  WriteTextEncoder(onnx("text_encoder.onnx"), 8322, /*through_cast=*/true);
  const ModelProfile p = DetectModelProfile(dir_);
  EXPECT_EQ(p.name, "supertonic-3");
  EXPECT_EQ(p.detected_by, "text encoder embedding: 8322 rows");
}

TEST_F(OddModelDirectory, IndexerPastTheEmbeddingIsRefused) {
  // A Supertonic 3 indexer beside Supertonic 2 graphs.
  WriteTextEncoder(onnx("text_encoder.onnx"), 163);
  fs::copy_file(testing::ProbeV3ModelDir() / "onnx" / "unicode_indexer.json", onnx("unicode_indexer.json"),
                fs::copy_options::overwrite_existing);
  const std::string err = DetectionError();
  EXPECT_TRUE(Contains(err, "unicode_indexer.json")) << err;
  EXPECT_TRUE(Contains(err, "largest id 8321")) << err;
  EXPECT_TRUE(Contains(err, "different models")) << err;
}

TEST_F(OddModelDirectory, WithoutEmbeddingTheIndexerDecides) {
  WriteTextEncoder(onnx("text_encoder.onnx"), std::nullopt);
  WriteIndexer(onnx("unicode_indexer.json"), 162);
  EXPECT_EQ(DetectModelProfile(dir_).name, "supertonic-2");
  WriteIndexer(onnx("unicode_indexer.json"), 163);
  EXPECT_EQ(DetectModelProfile(dir_).name, "supertonic-3");
  WriteIndexer(onnx("unicode_indexer.json"), 8321);
  EXPECT_EQ(DetectModelProfile(dir_).name, "supertonic-3");
  WriteIndexer(onnx("unicode_indexer.json"), 9000);
  const std::string err = DetectionError();
  EXPECT_TRUE(Contains(err, "largest id is 9000")) << err;
  EXPECT_TRUE(Contains(err, "unicode_indexer.json")) << err;
}

TEST_F(OddModelDirectory, IndexerThatMapsNothingIsRefused) {
  std::vector<int> none(0x10000, -1);
  std::ofstream(onnx("unicode_indexer.json"), std::ios::trunc) << nlohmann::json(none).dump();
  EXPECT_TRUE(Contains(DetectionError(), "maps no character")) << DetectionError();
}

TEST_F(OddModelDirectory, CorruptOrMissingTextEncoderIsNamed) {
  std::ofstream(onnx("text_encoder.onnx"), std::ios::trunc) << "not a protobuf";
  std::string err = DetectionError();
  EXPECT_TRUE(Contains(err, "cannot load")) << err;
  EXPECT_TRUE(Contains(err, "text_encoder.onnx")) << err;
  fs::remove(onnx("text_encoder.onnx"));
  err = DetectionError();
  EXPECT_TRUE(Contains(err, "missing model file")) << err;
  EXPECT_TRUE(Contains(err, "text_encoder.onnx")) << err;
}

TEST_F(OddModelDirectory, LanguagesListedInTtsJsonWin) {
  auto config = nlohmann::json::parse(std::ifstream(onnx("tts.json")));
  config["languages"] = {"de", "fr"};
  std::ofstream(onnx("tts.json"), std::ios::trunc) << config.dump();
  const ModelProfile p = DetectModelProfile(dir_);
  EXPECT_EQ(p.languages, (std::vector<std::string>{"de", "fr"}));
  EXPECT_TRUE(Contains(p.detected_by, "languages from tts.json")) << p.detected_by;
  EXPECT_EQ(p.UnsupportedLanguageMessage("en"), "unsupported language 'en'; this model (supertonic-2) speaks: de fr");
}

TEST(ModelProfiles, SupertonicTwoIsTodaysBehaviour) {
  const ModelProfile p = SupertonicTwoProfile();
  EXPECT_EQ(p.languages, (std::vector<std::string>{"en", "ko", "es", "pt", "fr"}));
  for (const char* lang : {"en", "ko", "es", "pt", "fr", ""}) EXPECT_EQ(p.ChunkLimit(lang), ChunkLimitFor(lang)) << lang;
  EXPECT_EQ(p.ChunkLimit("ko"), 120u);
  EXPECT_EQ(p.ChunkLimit("en"), 300u);
  EXPECT_EQ(p.default_steps, 2);
  EXPECT_EQ(p.min_steps, 1);
  EXPECT_EQ(p.max_steps, 64);
  EXPECT_FLOAT_EQ(p.default_speed, 1.05f);
  EXPECT_FALSE(p.SpeedAllowed(0.0f));
  EXPECT_TRUE(p.SpeedAllowed(0.1f));
  EXPECT_TRUE(p.SpeedAllowed(10.0f));
  EXPECT_FALSE(p.SpeedAllowed(10.01f));
  EXPECT_EQ(p.SpeedRange(), "(0, 10]");
  EXPECT_TRUE(p.expression_tags.empty());
  EXPECT_EQ(p.text_embedding_rows, 163);
}

TEST(ModelProfiles, SupertonicThreeFollowsTheOfficialPackage) {
  const ModelProfile p = SupertonicThreeProfile();
  EXPECT_EQ(p.name, "supertonic-3");
  EXPECT_EQ(p.languages.size(), 32u);  // 31 and `na`
  EXPECT_EQ(p.languages.back(), "na");
  EXPECT_EQ(p.ChunkLimit("ko"), 120u);
  EXPECT_EQ(p.ChunkLimit("ja"), 120u);
  EXPECT_EQ(p.ChunkLimit("de"), 150u);  // under the ~160 characters where repeats are reported
  EXPECT_EQ(p.default_steps, 8);
  EXPECT_EQ(p.max_steps, 64);
  EXPECT_FALSE(p.SpeedAllowed(0.69f));
  EXPECT_TRUE(p.SpeedAllowed(0.7f));
  EXPECT_TRUE(p.SpeedAllowed(2.0f));
  EXPECT_FALSE(p.SpeedAllowed(2.01f));
  EXPECT_EQ(p.SpeedRange(), "[0.7, 2]");
  EXPECT_EQ(p.expression_tags,
            (std::vector<std::string>{"<laugh>", "<breath>", "<surprise>", "<sigh>", "<scream>", "<throatclear>",
                                      "<sad>", "<angry>", "<cough>", "<yawn>"}));
  EXPECT_DOUBLE_EQ(p.max_seconds_per_token, 0.4);
  const std::string described = p.Describe();
  EXPECT_TRUE(Contains(described, "32 languages")) << described;
  EXPECT_TRUE(Contains(described, "ja 120, ko 120")) << described;
}

TEST(ModelProfiles, ConfiguredChunkLengthReplacesTheDefault) {
  ModelProfile p = SupertonicThreeProfile();
  p.OverrideChunkChars(300);
  EXPECT_EQ(p.ChunkLimit("de"), 300u);
  EXPECT_EQ(p.ChunkLimit("ko"), 120u);  // its own, smaller limit stays
  p.OverrideChunkChars(100);
  EXPECT_EQ(p.ChunkLimit("de"), 100u);
  EXPECT_EQ(p.ChunkLimit("ja"), 100u);
  p.OverrideChunkChars(0);  // 0: keep what is there
  EXPECT_EQ(p.ChunkLimit("de"), 100u);
}

}  // namespace
}  // namespace supertonic
