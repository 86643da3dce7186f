// VoiceRegistry: the voices of TTS_VOICES_DIR next to a model's own, blends
// and their cache, uploads (atomic files that survive a restart) and what a
// running session keeps when its voice changes or goes.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <chrono>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "engine/voice_style.h"
#include "service/session_settings.h"
#include "service/service_config.h"
#include "service/speech_request.h"
#include "service/voice_registry.h"
#include "support/test_paths.h"

namespace supertonic::service {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const VoiceLibrary& ProbeVoices() {
  static const VoiceLibrary library = VoiceLibrary::Load(testing::ProbeModelDir() / "voice_styles");
  return library;
}

json ProbeVoiceJson(const std::string& name) {
  std::ifstream in(testing::ProbeModelDir() / "voice_styles" / (name + ".json"));
  return json::parse(in);
}

// A voice file whose every value is `value` (easy to tell apart).
json ConstantVoice(float value) {
  json j = ProbeVoiceJson("F1");
  for (auto& row : j["style_ttl"]["data"][0]) {
    for (auto& x : row) x = value;
  }
  for (auto& row : j["style_dp"]["data"][0]) {
    for (auto& x : row) x = value;
  }
  j["metadata"] = {{"made_by", "test"}};
  return j;
}

void WriteFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

VoiceStyle Style(float value, const std::string& name = "x") {
  return VoiceStyle::FromJson(ConstantVoice(value), name, "test");
}

VoiceRegistryConfig Config(const fs::path& dir) {
  VoiceRegistryConfig c;
  c.dir = dir;
  c.default_voice = "F1";
  return c;
}

std::unique_ptr<VoiceRegistry> OneModel(const fs::path& dir, VoiceRegistryConfig config = {}) {
  if (config.dir.empty()) config = Config(dir);
  return std::make_unique<VoiceRegistry>(std::vector<ModelVoices>{{"supertonic-2", &ProbeVoices()}}, config);
}

ResolvedVoice Resolved(const VoiceRegistry& r, const std::string& voice, std::size_t model = 0) {
  auto result = r.Resolve(model, voice);
  if (const auto* e = std::get_if<ProtocolError>(&result)) {
    ADD_FAILURE() << voice << ": " << e->message;
    return {};
  }
  return std::get<ResolvedVoice>(result);
}

// The first style_ttl value of the voice as `r` resolves it; NaN when it does not.
float FirstValue(const VoiceRegistry& r, const std::string& voice) {
  const auto style = Resolved(r, voice).style;
  return style ? style->ttl[0] : std::nanf("");
}

std::string ResolveError(const VoiceRegistry& r, const std::string& voice, std::size_t model = 0) {
  auto result = r.Resolve(model, voice);
  const auto* e = std::get_if<ProtocolError>(&result);
  if (e == nullptr) return "";
  EXPECT_EQ(e->code, ErrorCode::kInvalidVoice) << voice;
  return e->message;
}

VoiceOrigin OriginOf(const VoiceRegistry& r, const std::string& name, std::size_t model = 0) {
  for (const auto& v : r.List(model)) {
    if (v.name == name) return v.origin;
  }
  ADD_FAILURE() << name << " is not listed";
  return VoiceOrigin::kModel;
}

bool Listed(const VoiceRegistry& r, const std::string& name, std::size_t model = 0) {
  const auto names = r.Names(model);
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(VoiceRegistryTest, WithoutAFolderTheModelsOwnVoicesOnly) {
  VoiceRegistry r({{"supertonic-2", &ProbeVoices()}}, VoiceRegistryConfig{});
  EXPECT_FALSE(r.has_storage());
  EXPECT_EQ(r.Names(0), ProbeVoices().names());
  EXPECT_EQ(OriginOf(r, "M3"), VoiceOrigin::kModel);
  EXPECT_EQ(Resolved(r, "M3").style.get(), ProbeVoices().Find("M3")) << "the model's own style, not a copy";
  auto saved = r.Save(0, "mine", Style(0.1f));
  ASSERT_TRUE(std::holds_alternative<VoiceWriteError>(saved));
  EXPECT_EQ(std::get<VoiceWriteError>(saved).kind, VoiceWriteError::Kind::kNoStorage);
}

TEST(VoiceRegistryTest, LoadsGoodFilesAndSkipsBadOnes) {
  const fs::path dir = testing::MakeTempDir("voices_load");
  WriteFile(dir / "supertonic-2" / "Ava.json", ConstantVoice(0.25f).dump());
  WriteFile(dir / "Bea.json", ConstantVoice(0.5f).dump());  // one model: the folder itself is its too
  json wrong = ConstantVoice(0.1f);
  wrong["style_ttl"]["dims"] = {1, 50, 128};
  WriteFile(dir / "supertonic-2" / "wrong_dims.json", wrong.dump());
  WriteFile(dir / "not_json.json", "{nope");
  WriteFile(dir / "bad name.json", ConstantVoice(0.1f).dump());
  WriteFile(dir / "F1.json", ConstantVoice(0.1f).dump());  // the model's own name
  WriteFile(dir / "Ava.json", ConstantVoice(0.9f).dump());  // the model folder's Ava takes its place
  WriteFile(dir / "notes.txt", "not a voice");
  std::string big_text = ConstantVoice(0.1f).dump();
  big_text.insert(big_text.size() - 1, std::string(300 * 1024, ' '));  // whitespace: still valid JSON
  WriteFile(dir / "big.json", big_text);

  VoiceRegistryConfig config = Config(dir);
  config.max_voice_bytes = 256 * 1024;
  const auto r = OneModel(dir, config);
  std::vector<std::string> stored;
  for (const auto& v : r->List(0)) {
    if (v.origin != VoiceOrigin::kModel) stored.push_back(v.name);
  }
  EXPECT_EQ(stored, (std::vector<std::string>{"Ava", "Bea"}));
  EXPECT_EQ(OriginOf(*r, "Ava"), VoiceOrigin::kFile);
  EXPECT_FLOAT_EQ(r->Find(0, "Ava")->ttl[7], 0.25f) << "the model folder's file wins";
  EXPECT_EQ(r->Find(0, "F1").get(), ProbeVoices().Find("F1")) << "a file cannot replace the model's own voice";
  EXPECT_EQ(json::parse(r->Find(0, "Bea")->metadata)["made_by"], "test");
}

TEST(VoiceRegistryTest, WithSeveralModelsEachHasItsFolder) {
  const fs::path dir = testing::MakeTempDir("voices_models");
  WriteFile(dir / "a" / "OnlyA.json", ConstantVoice(0.25f).dump());
  WriteFile(dir / "b" / "OnlyB.json", ConstantVoice(0.5f).dump());
  WriteFile(dir / "Top.json", ConstantVoice(0.75f).dump());  // whose? nobody's
  VoiceRegistry r({{"a", &ProbeVoices()}, {"b", &ProbeVoices()}}, Config(dir));
  EXPECT_TRUE(Listed(r, "OnlyA", 0));
  EXPECT_FALSE(Listed(r, "OnlyA", 1));
  EXPECT_TRUE(Listed(r, "OnlyB", 1));
  EXPECT_FALSE(Listed(r, "Top", 0));
  EXPECT_FALSE(Listed(r, "Top", 1));
  EXPECT_NE(ResolveError(r, "OnlyA", 1).find("unknown voice 'OnlyA' of model b"), std::string::npos);
  EXPECT_NE(ResolveError(r, "F1+OnlyA", 1).find("unknown voice 'OnlyA' in blend 'F1+OnlyA' of model b"),
            std::string::npos);
  // An upload goes to its model's folder.
  ASSERT_TRUE(std::holds_alternative<bool>(r.Save(1, "New", Style(0.1f))));
  EXPECT_TRUE(fs::exists(dir / "b" / "New.json"));
  EXPECT_FALSE(Listed(r, "New", 0));
}

TEST(VoiceRegistryTest, BlendsAreResolvedAndCached) {
  VoiceRegistryConfig config;
  config.blend_cache_size = 2;
  VoiceRegistry r({{"supertonic-2", &ProbeVoices()}}, config);
  const ResolvedVoice blend = Resolved(r, "F1:0.7+M2:0.3");
  EXPECT_EQ(blend.name, "F1:0.7+M2:0.3");
  const VoiceStyle& f1 = *ProbeVoices().Find("F1");
  const VoiceStyle& m2 = *ProbeVoices().Find("M2");
  EXPECT_FLOAT_EQ(blend.style->ttl[100], static_cast<float>(0.7 * f1.ttl[100] + 0.3 * m2.ttl[100]));
  EXPECT_EQ(Resolved(r, "F1:7+M2:3").style, blend.style) << "the same mix, written otherwise: the cached blend";
  EXPECT_EQ(Resolved(r, "F1+M2").name, "F1:0.5+M2:0.5");
  EXPECT_EQ(r.cached_blends(), 2u);
  Resolved(r, "F2+M2");
  EXPECT_EQ(r.cached_blends(), 2u) << "bounded";
  EXPECT_NE(Resolved(r, "F1:0.7+M2:0.3").style, blend.style) << "the least recently used blend was dropped";
  EXPECT_EQ(Resolved(r, "M2:1").name, "M2");
  EXPECT_EQ(Resolved(r, "M2:1").style.get(), &m2);

  EXPECT_NE(ResolveError(r, "F1+Nobody").find("unknown voice 'Nobody' in blend 'F1+Nobody'"), std::string::npos);
  EXPECT_NE(ResolveError(r, "F1:0+M2").find("blend part 'F1:0'"), std::string::npos);
  EXPECT_NE(ResolveError(r, "F1+M2+F3+F4+F5").find("more than 4 voices"), std::string::npos);
  EXPECT_NE(ResolveError(r, "Nobody").find("unknown voice 'Nobody' (available: F1, F2"), std::string::npos);
  EXPECT_NE(ResolveError(r, "../etc/passwd").find("unknown voice '../etc/passwd'"), std::string::npos);
}

TEST(VoiceRegistryTest, UploadsAreFilesThatSurviveARestart) {
  const fs::path dir = testing::MakeTempDir("voices_upload");
  {
    const auto r = OneModel(dir);
    auto saved = r->Save(0, "mine", Style(0.25f));
    ASSERT_TRUE(std::holds_alternative<bool>(saved));
    EXPECT_FALSE(std::get<bool>(saved)) << "new";
    EXPECT_EQ(OriginOf(*r, "mine"), VoiceOrigin::kUpload);
    EXPECT_FLOAT_EQ(Resolved(*r, "mine").style->dp[3], 0.25f) << "visible at once";
    auto blend = Resolved(*r, "F1:0.5+mine:0.5");
    VoiceStyle copy = *blend.style;
    ASSERT_TRUE(std::holds_alternative<bool>(r->Save(0, "half", std::move(copy), blend.name)));
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(dir / "supertonic-2")) files.push_back(e.path().filename().string());
    std::sort(files.begin(), files.end());
    EXPECT_EQ(files, (std::vector<std::string>{"half.json", "mine.json"})) << "no temporary file left";
    EXPECT_LT(fs::file_size(dir / "supertonic-2" / "half.json"), 200u * 1024) << "floats written as floats";
  }
  const auto again = OneModel(dir);
  EXPECT_EQ(OriginOf(*again, "mine"), VoiceOrigin::kUpload) << "the file records that it was uploaded";
  EXPECT_FLOAT_EQ(again->Find(0, "mine")->ttl[9], 0.25f);
  const json upload = json::parse(again->Find(0, "half")->upload);
  EXPECT_EQ(upload["blend"], "F1:0.5+mine:0.5");
  EXPECT_TRUE(upload.contains("created_at"));
  const float f1 = ProbeVoices().Find("F1")->ttl[9];
  EXPECT_FLOAT_EQ(again->Find(0, "half")->ttl[9], static_cast<float>(0.5 * f1 + 0.5 * 0.25));
  EXPECT_EQ(json::parse(again->Find(0, "mine")->metadata)["made_by"], "test");
}

TEST(VoiceRegistryTest, WritesAreRefusedSayingWhy) {
  const fs::path dir = testing::MakeTempDir("voices_refused");
  VoiceRegistryConfig config = Config(dir);
  config.max_voices = 2;
  const auto r = OneModel(dir, config);
  using Kind = VoiceWriteError::Kind;
  auto save_error = [&](const std::string& name) {
    auto saved = r->Save(0, name, Style(0.1f));
    return std::holds_alternative<VoiceWriteError>(saved) ? std::optional(std::get<VoiceWriteError>(saved))
                                                          : std::nullopt;
  };
  for (const char* name : {"../escape", "a/b", "", ".hidden", "x.json", "F1:0.5"}) {
    const auto e = save_error(name);
    ASSERT_TRUE(e) << name;
    EXPECT_EQ(e->kind, Kind::kInvalidName) << name;
  }
  EXPECT_FALSE(fs::exists(dir.parent_path() / "escape.json"));
  const auto own = save_error("F1");
  ASSERT_TRUE(own);
  EXPECT_EQ(own->kind, Kind::kProtected);
  EXPECT_FALSE(save_error("one"));
  EXPECT_FALSE(save_error("two"));
  const auto third = save_error("three");
  ASSERT_TRUE(third);
  EXPECT_EQ(third->kind, Kind::kTooMany);
  EXPECT_NE(third->message.find("TTS_MAX_VOICES (2)"), std::string::npos) << third->message;
  EXPECT_FALSE(save_error("two")) << "replacing one is no new voice";

  EXPECT_EQ(r->Delete(0, "F1")->kind, Kind::kProtected);
  EXPECT_EQ(r->Delete(0, "nobody")->kind, Kind::kNotFound);
  EXPECT_EQ(r->Delete(0, "../two")->kind, Kind::kInvalidName);
  EXPECT_FALSE(r->Delete(0, "two"));
  EXPECT_FALSE(fs::exists(dir / "supertonic-2" / "two.json"));
  EXPECT_FALSE(Listed(*r, "two"));
  EXPECT_EQ(r->Delete(0, "two")->kind, Kind::kNotFound);
}

TEST(VoiceRegistryTest, AVoiceWhoseFileWouldBeTooLargeIsRefused) {
  const fs::path dir = testing::MakeTempDir("voices_large");
  VoiceRegistryConfig config = Config(dir);
  config.max_voice_bytes = 100 * 1024;
  const auto r = OneModel(dir, config);
  auto saved = r->Save(0, "long", VoiceStyle(*ProbeVoices().Find("F1")));
  ASSERT_TRUE(std::holds_alternative<VoiceWriteError>(saved));
  EXPECT_EQ(std::get<VoiceWriteError>(saved).kind, VoiceWriteError::Kind::kTooLarge);
  EXPECT_FALSE(fs::exists(dir / "supertonic-2" / "long.json"));
  EXPECT_TRUE(std::holds_alternative<bool>(r->Save(0, "short", Style(0.5f)))) << "a constant voice writes short";
}

TEST(VoiceRegistryTest, TheDefaultVoiceCannotBeDeleted) {
  const fs::path dir = testing::MakeTempDir("voices_default");
  WriteFile(dir / "Narrator.json", ConstantVoice(0.3f).dump());
  VoiceRegistryConfig config = Config(dir);
  config.default_voice = "Narrator";
  const auto r = OneModel(dir, config);
  const auto e = r->Delete(0, "Narrator");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, VoiceWriteError::Kind::kProtected);
  EXPECT_TRUE(fs::exists(dir / "Narrator.json"));
}

TEST(VoiceRegistryTest, ARunningSessionKeepsItsStyleThroughOverwriteAndDelete) {
  const fs::path dir = testing::MakeTempDir("voices_keep");
  const auto r = OneModel(dir);
  ASSERT_TRUE(std::holds_alternative<bool>(r->Save(0, "v", Style(0.25f))));
  const ResolvedVoice session = Resolved(*r, "v");
  const ResolvedVoice blended = Resolved(*r, "v+F1");
  auto replaced = r->Save(0, "v", Style(0.75f));
  ASSERT_TRUE(std::holds_alternative<bool>(replaced));
  EXPECT_TRUE(std::get<bool>(replaced));
  EXPECT_FLOAT_EQ(session.style->ttl[0], 0.25f) << "the session's style is unchanged";
  EXPECT_FLOAT_EQ(Resolved(*r, "v").style->ttl[0], 0.75f) << "new sessions get the new one";
  const float f1 = ProbeVoices().Find("F1")->ttl[0];
  EXPECT_FLOAT_EQ(Resolved(*r, "v+F1").style->ttl[0], static_cast<float>(0.5 * 0.75 + 0.5 * f1))
      << "a cached blend of the old voice is not served";
  EXPECT_FLOAT_EQ(blended.style->ttl[0], static_cast<float>(0.5 * 0.25 + 0.5 * f1));
  EXPECT_FALSE(r->Delete(0, "v"));
  EXPECT_FLOAT_EQ(session.style->ttl[0], 0.25f) << "still there for the session that holds it";
  EXPECT_NE(ResolveError(*r, "v").find("unknown voice 'v'"), std::string::npos);
  EXPECT_NE(ResolveError(*r, "v+F1").find("unknown voice 'v' in blend"), std::string::npos);
}

TEST(VoiceRegistryTest, SessionSettingsResolveTheirVoiceThroughTheRegistry) {
  const auto r = OneModel(testing::MakeTempDir("voices_settings"));
  const std::vector<ModelChoices> models = {
      MakeModelChoices("supertonic-2", SupertonicTwoProfile(), r->Names(0), ServiceConfig{})};
  StartSession request;
  request.voice = "F1:3+M2:1";
  auto resolved = ResolveSessionSettings(request, ServiceConfig{}, models, r.get());
  ASSERT_TRUE(std::holds_alternative<SessionSettings>(resolved));
  const auto& s = std::get<SessionSettings>(resolved);
  EXPECT_EQ(s.voice, "F1:3+M2:1") << "as the client wrote it";
  EXPECT_EQ(s.resolved_voice, "F1:0.75+M2:0.25");
  ASSERT_TRUE(s.voice_style);
  EXPECT_EQ(s.voice_style->name, "F1:0.75+M2:0.25");
  request.voice = "F1+Zed";
  auto refused = ResolveSessionSettings(request, ServiceConfig{}, models, r.get());
  ASSERT_TRUE(std::holds_alternative<ProtocolError>(refused));
  EXPECT_EQ(std::get<ProtocolError>(refused).code, ErrorCode::kInvalidVoice);
  EXPECT_NE(std::get<ProtocolError>(refused).message.find("'Zed'"), std::string::npos);
}

// Sessions resolving voices and blends while others upload, replace and
// delete them: every resolution is whole (a name, a style of full size, the
// value of one version), nothing crashes (TSan runs this suite).
TEST(VoiceRegistryTest, ConcurrentResolvesAndWrites) {
  const fs::path dir = testing::MakeTempDir("voices_concurrent");
  const auto r = OneModel(dir);
  ASSERT_TRUE(std::holds_alternative<bool>(r->Save(0, "hot", Style(1.0f))));
  std::atomic<bool> stop{false};
  std::atomic<int> resolved{0}, bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      const std::vector<std::string> voices = {"hot", "hot+F1", "F1:0.5+M2:0.5", "cold", "F2+cold"};
      for (std::size_t i = 0; !stop; ++i) {
        auto result = r->Resolve(0, voices[(i + static_cast<std::size_t>(t)) % voices.size()]);
        if (auto* v = std::get_if<ResolvedVoice>(&result)) {
          if (!v->style || v->style->ttl.size() != VoiceStyle::kTtlValues) ++bad;
          ++resolved;
        }
        r->List(0);
        // Readers that never pause starve the writer on a 2-core machine
        // (under a sanitizer, for tens of seconds); a pause keeps them racing it.
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
  }
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(std::holds_alternative<bool>(r->Save(0, "hot", Style(static_cast<float>(i)))));
    ASSERT_TRUE(std::holds_alternative<bool>(r->Save(0, "cold", Style(0.5f))));
    ASSERT_FALSE(r->Delete(0, "cold"));
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad, 0);
  EXPECT_GT(resolved, 0);
  EXPECT_FLOAT_EQ(r->Find(0, "hot")->ttl[0], 29.0f);
}

// Replicas share one TTS_VOICES_DIR: what one writes, another sees after a
// re-scan; a re-scan that finds nothing new publishes nothing (the blend
// cache survives it).
TEST(VoiceRegistryTest, ReplicasSeeEachOthersWritesAfterARescan) {
  const fs::path dir = testing::MakeTempDir("voices_replicas");
  const auto a = OneModel(dir);
  const auto b = OneModel(dir);
  ASSERT_TRUE(std::holds_alternative<bool>(a->Save(0, "shared", Style(0.25f))));
  EXPECT_FALSE(Listed(*b, "shared")) << "not before B looks";
  EXPECT_TRUE(b->Rescan());
  EXPECT_EQ(OriginOf(*b, "shared"), VoiceOrigin::kUpload);
  EXPECT_FLOAT_EQ(FirstValue(*b, "shared"), 0.25f);
  Resolved(*b, "shared+F1");
  EXPECT_EQ(b->cached_blends(), 1u);
  EXPECT_FALSE(b->Rescan()) << "nothing changed";
  EXPECT_FALSE(a->Rescan()) << "A knows its own write";
  EXPECT_EQ(b->cached_blends(), 1u) << "no new snapshot, so the blends stay";

  ASSERT_TRUE(std::holds_alternative<bool>(a->Save(0, "shared", Style(0.75f))));
  EXPECT_TRUE(b->Rescan());
  EXPECT_FLOAT_EQ(FirstValue(*b, "shared"), 0.75f) << "a replacement";
  EXPECT_EQ(b->cached_blends(), 0u);
  EXPECT_FALSE(a->Delete(0, "shared"));
  EXPECT_TRUE(b->Rescan());
  EXPECT_NE(ResolveError(*b, "shared").find("unknown voice 'shared'"), std::string::npos) << "a deletion";
  EXPECT_NE(ResolveError(*b, "shared+F1").find("unknown voice 'shared' in blend"), std::string::npos);

  // A file an operator drops in, and one that turns bad.
  WriteFile(dir / "supertonic-2" / "dropped.json", ConstantVoice(0.5f).dump());
  EXPECT_TRUE(a->Rescan());
  EXPECT_EQ(OriginOf(*a, "dropped"), VoiceOrigin::kFile);
  WriteFile(dir / "supertonic-2" / "dropped.json", "{not json");
  EXPECT_TRUE(a->Rescan());
  EXPECT_FALSE(Listed(*a, "dropped")) << "skipped, as at start";
}

// A write through a replica that has not seen the other's files yet still
// acts on the disk: a POST over another's file says it replaced it, a DELETE
// removes a file it never loaded, and files it sees count against
// TTS_MAX_VOICES.
TEST(VoiceRegistryTest, WritesActOnTheDiskNotOnWhatThisReplicaSawLast) {
  const fs::path dir = testing::MakeTempDir("voices_disk");
  VoiceRegistryConfig config = Config(dir);
  config.max_voices = 2;
  const auto a = OneModel(dir, config);
  const auto b = OneModel(dir, config);
  ASSERT_TRUE(std::holds_alternative<bool>(a->Save(0, "v", Style(0.25f))));
  auto over = b->Save(0, "v", Style(0.75f));
  ASSERT_TRUE(std::holds_alternative<bool>(over));
  EXPECT_TRUE(std::get<bool>(over)) << "B replaced A's file";
  EXPECT_TRUE(a->Rescan());
  EXPECT_FLOAT_EQ(FirstValue(*a, "v"), 0.75f) << "the last writer wins";

  ASSERT_TRUE(std::holds_alternative<bool>(a->Save(0, "w", Style(0.5f))));
  EXPECT_TRUE(b->Rescan());
  auto third = b->Save(0, "x", Style(0.1f));
  ASSERT_TRUE(std::holds_alternative<VoiceWriteError>(third));
  EXPECT_EQ(std::get<VoiceWriteError>(third).kind, VoiceWriteError::Kind::kTooMany) << "A's files count";

  EXPECT_TRUE(std::holds_alternative<VoiceWriteError>(a->Save(0, "y", Style(0.5f)))) << "A is full too";
  EXPECT_FALSE(a->Delete(0, "w"));
  ASSERT_TRUE(std::holds_alternative<bool>(a->Save(0, "late", Style(0.5f))));
  EXPECT_FALSE(b->Delete(0, "late")) << "B never loaded it, but its file is there";
  EXPECT_FALSE(fs::exists(dir / "supertonic-2" / "late.json"));
  EXPECT_EQ(b->Delete(0, "late")->kind, VoiceWriteError::Kind::kNotFound);
  EXPECT_TRUE(a->Rescan());
  EXPECT_FALSE(Listed(*a, "late"));
}

// The registry re-scans on its own thread every rescan_interval; destroying
// it stops the thread (TSan runs this suite).
TEST(VoiceRegistryTest, TheBackgroundRescanFollowsTheFolder) {
  const fs::path dir = testing::MakeTempDir("voices_background");
  const auto a = OneModel(dir);
  VoiceRegistryConfig config = Config(dir);
  config.rescan_interval = std::chrono::milliseconds(5);
  auto b = OneModel(dir, config);
  auto until = [](const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  };
  ASSERT_TRUE(std::holds_alternative<bool>(a->Save(0, "bg", Style(0.25f))));
  EXPECT_TRUE(until([&] { return b->Find(0, "bg") != nullptr; })) << "B never saw A's upload";
  Resolved(*b, "bg+F1");
  EXPECT_FALSE(a->Delete(0, "bg"));
  EXPECT_TRUE(until([&] { return b->Find(0, "bg") == nullptr; })) << "B kept A's deleted voice";
  b.reset();
}

// Files come and go while a replica re-scans: no crash, and once the
// folder is still the registry offers exactly its good files.
TEST(VoiceRegistryTest, RescansWhileFilesComeAndGo) {
  const fs::path dir = testing::MakeTempDir("voices_churn");
  const auto r = OneModel(dir);
  const std::string good = ConstantVoice(0.5f).dump();
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    const char* names[] = {"c0.json", "c1.json", "c2.json", "c3.json", "c4.json"};
    for (int i = 0; !stop || i < 50; ++i) {
      const fs::path file = dir / "supertonic-2" / names[i % 5];
      if (i % 3 == 2) {
        fs::remove(file);
      } else {
        WriteFile(file, i % 7 == 0 ? good.substr(0, good.size() / 2) : good);  // half: a file mid-write
      }
    }
  });
  for (int i = 0; i < 50; ++i) {
    r->Rescan();
    Resolved(*r, "F1");
  }
  stop = true;
  churn.join();
  r->Rescan();
  std::vector<std::string> want;
  for (const auto& e : fs::directory_iterator(dir / "supertonic-2")) {
    std::ifstream in(e.path());
    if (json::parse(in, nullptr, false).is_object()) want.push_back(e.path().stem().string());
  }
  std::sort(want.begin(), want.end());
  std::vector<std::string> stored;
  for (const auto& v : r->List(0)) {
    if (v.origin != VoiceOrigin::kModel) stored.push_back(v.name);
  }
  EXPECT_EQ(stored, want);
}

// With one model a voice may have a file in its model's folder and one in
// TTS_VOICES_DIR itself: DELETE removes both, so neither a re-scan nor a
// restart brings it back.
TEST(VoiceRegistryTest, DeleteRemovesEveryFileThatProvidesTheVoice) {
  const fs::path dir = testing::MakeTempDir("voices_duplicate");
  WriteFile(dir / "supertonic-2" / "dup.json", ConstantVoice(0.25f).dump());
  WriteFile(dir / "dup.json", ConstantVoice(0.5f).dump());
  WriteFile(dir / "top.json", ConstantVoice(0.5f).dump());
  const auto r = OneModel(dir);
  EXPECT_FLOAT_EQ(FirstValue(*r, "dup"), 0.25f) << "the model folder's";
  EXPECT_FALSE(r->Delete(0, "dup"));
  EXPECT_FALSE(fs::exists(dir / "supertonic-2" / "dup.json"));
  EXPECT_FALSE(fs::exists(dir / "dup.json"));
  r->Rescan();
  EXPECT_FALSE(Listed(*r, "dup")) << "the re-scan does not bring it back";
  EXPECT_FALSE(Listed(*OneModel(dir), "dup")) << "nor does a restart";

  auto replaced = r->Save(0, "top", Style(0.75f));
  ASSERT_TRUE(std::holds_alternative<bool>(replaced));
  EXPECT_TRUE(std::get<bool>(replaced)) << "a file voice of the top folder";
  EXPECT_FLOAT_EQ(FirstValue(*OneModel(dir), "top"), 0.75f);
}

// OpenAI's voice names (alloy, ...) mean a built-in voice on
// /v1/audio/speech; no upload or file may give them a second meaning.
TEST(VoiceRegistryTest, OpenAiVoiceNamesAreRefused) {
  const fs::path dir = testing::MakeTempDir("voices_openai");
  WriteFile(dir / "supertonic-2" / "nova.json", ConstantVoice(0.5f).dump());
  WriteFile(dir / "shimmer.json", ConstantVoice(0.5f).dump());
  const auto r = OneModel(dir);
  EXPECT_FALSE(Listed(*r, "nova")) << "skipped at load";
  EXPECT_FALSE(Listed(*r, "shimmer"));
  for (const char* name : {"alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer"}) {
    EXPECT_TRUE(OpenAiVoiceAlias(name)) << name;
    auto saved = r->Save(0, name, Style(0.1f));
    ASSERT_TRUE(std::holds_alternative<VoiceWriteError>(saved)) << name;
    const auto& e = std::get<VoiceWriteError>(saved);
    EXPECT_EQ(e.kind, VoiceWriteError::Kind::kProtected) << name;
    EXPECT_NE(e.message.find("OpenAI"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find(std::string(*OpenAiVoiceAlias(name))), std::string::npos) << e.message;
  }
  EXPECT_EQ(OpenAiVoiceAlias("alloy"), "F1");
  EXPECT_FALSE(fs::exists(dir / "supertonic-2" / "alloy.json"));
  WriteFile(dir / "supertonic-2" / "alloy.json", ConstantVoice(0.5f).dump());
  r->Rescan();
  EXPECT_FALSE(Listed(*r, "alloy")) << "skipped at a re-scan too";
}

}  // namespace
}  // namespace supertonic::service
