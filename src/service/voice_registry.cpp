#include "service/voice_registry.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <random>
#include <system_error>

#include "engine/errors.h"
#include "engine/voice_blend.h"

namespace supertonic::service {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxNamesInMessage = 30;

std::string NowIso8601() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

std::string ErrnoText(int error) { return std::system_category().message(error); }

// Writes `bytes` to `target` atomically: a temporary file in the same folder,
// flushed to disk, renamed over the target, the folder flushed. Returns the
// error text, empty on success.
std::string WriteAtomically(const fs::path& target, const std::string& bytes) {
  static std::atomic<uint64_t> counter{0};
  std::random_device random;
  const fs::path tmp = target.parent_path() / fmt::format(".{}.tmp-{}-{}-{:x}", target.filename().string(), getpid(),
                                                          counter++, random());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return "cannot create " + tmp.string() + ": " + ErrnoText(errno);
  std::size_t written = 0;
  std::string error;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = "cannot write " + tmp.string() + ": " + ErrnoText(errno);
      break;
    }
    written += static_cast<std::size_t>(n);
  }
  if (error.empty() && ::fsync(fd) != 0) error = "cannot flush " + tmp.string() + ": " + ErrnoText(errno);
  if (::close(fd) != 0 && error.empty()) error = "cannot close " + tmp.string() + ": " + ErrnoText(errno);
  if (error.empty() && ::rename(tmp.c_str(), target.c_str()) != 0) {
    error = "cannot rename " + tmp.string() + " to " + target.string() + ": " + ErrnoText(errno);
  }
  if (!error.empty()) {
    ::unlink(tmp.c_str());
    return error;
  }
  const int dir = ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);  // best effort: the rename is durable once the folder is
    ::close(dir);
  }
  return {};
}

}  // namespace

std::string_view ToString(VoiceOrigin origin) {
  switch (origin) {
    case VoiceOrigin::kModel: return "model";
    case VoiceOrigin::kFile: return "file";
    case VoiceOrigin::kUpload: return "upload";
  }
  return "?";
}

std::size_t VoiceRegistry::CountStored(const std::map<std::string, Entry>& voices) {
  return static_cast<std::size_t>(std::count_if(voices.begin(), voices.end(), [](const auto& kv) {
    return kv.second.origin != VoiceOrigin::kModel;
  }));
}

VoiceRegistry::VoiceRegistry(std::vector<ModelVoices> models, VoiceRegistryConfig config)
    : config_(std::move(config)) {
  auto snap = std::make_shared<Snapshot>();
  for (const ModelVoices& m : models) {
    model_names_.push_back(m.name);
    auto& voices = snap->by_model.emplace_back();
    if (m.library == nullptr) continue;
    for (const auto& name : m.library->names()) {
      voices[name] = Entry{m.library->FindShared(name), VoiceOrigin::kModel, {}};
    }
  }
  LoadFiles(*snap);
  snapshot_ = std::move(snap);
}

fs::path VoiceRegistry::FolderOf(std::size_t model) const {
  const std::string& name = model_names_.at(model);
  if (name.empty() || name == "." || name == "..") return {};
  return config_.dir / name;
}

void VoiceRegistry::LoadFiles(Snapshot& snapshot) {
  if (config_.dir.empty()) return;
  std::error_code ec;
  if (!fs::exists(config_.dir, ec)) {
    fs::create_directories(config_.dir, ec);
    if (ec) {
      throw std::invalid_argument("TTS_VOICES_DIR " + config_.dir.string() + " does not exist and cannot be created: " +
                               ec.message());
    }
    spdlog::info("voices: created TTS_VOICES_DIR {}", config_.dir.string());
  }
  if (!fs::is_directory(config_.dir, ec)) {
    throw std::invalid_argument("TTS_VOICES_DIR " + config_.dir.string() + " is not a directory");
  }
  for (std::size_t m = 0; m < model_names_.size(); ++m) {
    const fs::path folder = FolderOf(m);
    if (folder.empty()) {
      spdlog::warn("voices: model '{}' has no voices folder (its name cannot name one)", model_names_[m]);
      continue;
    }
    if (fs::is_directory(folder, ec)) LoadFolder(snapshot, m, folder);
  }
  // A single model also owns the files directly in the folder; with several,
  // a file there would be offered to a model it may not be made for.
  std::vector<fs::path> top;
  for (const auto& entry : fs::directory_iterator(config_.dir, ec)) {
    if (entry.is_regular_file(ec) && entry.path().extension() == ".json") top.push_back(entry.path());
  }
  if (!top.empty() && model_names_.size() == 1) {
    LoadFolder(snapshot, 0, config_.dir);
  } else if (!top.empty()) {
    spdlog::warn("voices: {} voice file(s) directly in TTS_VOICES_DIR {} ignored: with several models served, each "
                 "model's voices go in its own folder ({})",
                 top.size(), config_.dir.string(), fmt::format("{}/", fmt::join(model_names_, "/, ")));
  }
  for (std::size_t m = 0; m < model_names_.size(); ++m) {
    const auto& voices = snapshot.by_model[m];
    spdlog::info("voices: model {}: {} of its own, {} from TTS_VOICES_DIR ({}), at most {}", model_names_[m],
                 voices.size() - CountStored(voices), CountStored(voices), config_.dir.string(), config_.max_voices);
  }
}

void VoiceRegistry::LoadFolder(Snapshot& snapshot, std::size_t model, const fs::path& folder) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    std::error_code type_ec;
    if (entry.path().extension() == ".json" && entry.is_regular_file(type_ec)) files.push_back(entry.path());
  }
  if (ec) spdlog::warn("voices: cannot list {}: {}", folder.string(), ec.message());
  std::sort(files.begin(), files.end());
  auto& voices = snapshot.by_model[model];
  for (const fs::path& file : files) {
    const std::string name = file.stem().string();
    auto skip = [&](const std::string& why) { spdlog::warn("voices: {} skipped: {}", file.string(), why); };
    if (!IsVoiceName(name)) {
      skip("its name is not a voice name (letters, digits, '_' or '-', at most 64 characters): rename the file");
      continue;
    }
    if (auto it = voices.find(name); it != voices.end()) {
      if (it->second.origin == VoiceOrigin::kModel) {
        skip("model " + model_names_[model] + " has a voice of its own called " + name + ": rename the file");
      } else {
        skip("the voice " + name + " of " + it->second.files.front().string() + " takes its place");
      }
      continue;
    }
    if (CountStored(voices) >= config_.max_voices) {
      skip("model " + model_names_[model] + " has TTS_MAX_VOICES (" + std::to_string(config_.max_voices) +
           ") voices from files already");
      continue;
    }
    try {
      auto style = std::make_shared<VoiceStyle>(VoiceStyle::Load(file, config_.max_voice_bytes));
      const VoiceOrigin origin = style->upload.empty() ? VoiceOrigin::kFile : VoiceOrigin::kUpload;
      voices[name] = Entry{std::move(style), origin, {file}};
    } catch (const std::exception& e) {
      std::string why = e.what();
      if (why.rfind(file.string() + ": ", 0) == 0) why = why.substr(file.string().size() + 2);
      skip(why);
    }
  }
}

std::shared_ptr<const VoiceRegistry::Snapshot> VoiceRegistry::snapshot() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

void VoiceRegistry::Publish(std::shared_ptr<Snapshot> next) {
  std::lock_guard lock(mutex_);
  next->generation = snapshot_->generation + 1;
  snapshot_ = std::move(next);
  // A blend of a voice that changed would be stale: every blend is made again.
  blend_lru_.clear();
  blend_index_.clear();
}

std::vector<VoiceInfo> VoiceRegistry::List(std::size_t model) const {
  const auto snap = snapshot();
  std::vector<VoiceInfo> out;
  if (model >= snap->by_model.size()) return out;
  for (VoiceOrigin origin : {VoiceOrigin::kModel, VoiceOrigin::kFile, VoiceOrigin::kUpload}) {
    for (const auto& [name, entry] : snap->by_model[model]) {
      if (entry.origin == origin) out.push_back({name, model_names_[model], origin, entry.style});
    }
  }
  return out;
}

std::vector<std::string> VoiceRegistry::Names(std::size_t model) const {
  std::vector<std::string> out;
  for (auto& v : List(model)) out.push_back(std::move(v.name));
  return out;
}

std::shared_ptr<const VoiceStyle> VoiceRegistry::Find(std::size_t model, const std::string& name) const {
  const auto snap = snapshot();
  if (model >= snap->by_model.size()) return nullptr;
  const auto& voices = snap->by_model[model];
  auto it = voices.find(name);
  return it == voices.end() ? nullptr : it->second.style;
}

std::string VoiceRegistry::AvailableText(const std::map<std::string, Entry>& voices) const {
  std::vector<std::string> names;
  for (const auto& [name, _] : voices) {
    if (names.size() == kMaxNamesInMessage) break;
    names.push_back(name);
  }
  std::string out = fmt::format("{}", fmt::join(names, ", "));
  if (voices.size() > names.size()) {
    out += fmt::format(" and {} more: GET /v1/voices lists them", voices.size() - names.size());
  }
  return out;
}

std::variant<ResolvedVoice, ProtocolError> VoiceRegistry::Resolve(std::size_t model, std::string_view voice) const {
  const auto snap = snapshot();
  if (model >= snap->by_model.size()) return ProtocolError{ErrorCode::kInvalidModel, "no such model"};
  const auto& voices = snap->by_model[model];
  const std::string of_model = model_names_.size() > 1 ? " of model " + model_names_[model] : "";
  const bool plain = voice.find_first_of(":+") == std::string_view::npos;
  if (plain) {
    auto it = voices.find(std::string(voice));
    if (it == voices.end()) {
      return ProtocolError{ErrorCode::kInvalidVoice, fmt::format("unknown voice {}{} (available: {})", Quoted(voice),
                                                                 of_model, AvailableText(voices))};
    }
    return ResolvedVoice{it->first, it->second.style};
  }
  auto parsed = ParseVoiceMix(voice);
  if (auto* error = std::get_if<std::string>(&parsed)) return ProtocolError{ErrorCode::kInvalidVoice, *error};
  const VoiceMix& mix = std::get<VoiceMix>(parsed);
  for (const auto& part : mix.parts) {
    if (voices.count(part.name) == 0) {
      return ProtocolError{ErrorCode::kInvalidVoice,
                           fmt::format("unknown voice {} in blend {}{} (available: {})", Quoted(part.name),
                                       Quoted(voice), of_model, AvailableText(voices))};
    }
  }
  const std::string canonical = mix.Canonical();
  if (!mix.is_blend()) return ResolvedVoice{canonical, voices.at(canonical).style};
  const std::string key = std::to_string(model) + "/" + canonical;
  {
    std::lock_guard lock(mutex_);
    if (auto it = blend_index_.find(key); it != blend_index_.end() && snapshot_ == snap) {
      blend_lru_.splice(blend_lru_.end(), blend_lru_, it->second);  // most recently used
      return ResolvedVoice{canonical, it->second->second};
    }
  }
  std::vector<WeightedStyle> parts;
  for (const auto& part : mix.parts) parts.push_back({voices.at(part.name).style.get(), part.weight});
  auto style = std::make_shared<const VoiceStyle>(BlendStyles(parts, canonical));
  {
    std::lock_guard lock(mutex_);
    // Only a blend of the voices as they still are is kept.
    if (snapshot_ == snap && config_.blend_cache_size > 0 && blend_index_.count(key) == 0) {
      blend_lru_.emplace_back(key, style);
      blend_index_[key] = std::prev(blend_lru_.end());
      while (blend_lru_.size() > config_.blend_cache_size) {
        blend_index_.erase(blend_lru_.front().first);
        blend_lru_.pop_front();
      }
    }
  }
  return ResolvedVoice{canonical, std::move(style)};
}

std::size_t VoiceRegistry::cached_blends() const {
  std::lock_guard lock(mutex_);
  return blend_lru_.size();
}

std::variant<bool, VoiceWriteError> VoiceRegistry::Save(std::size_t model, const std::string& name,
                                                        VoiceStyle style, std::string_view blend) {
  using Kind = VoiceWriteError::Kind;
  if (!IsVoiceName(name)) {
    return VoiceWriteError{Kind::kInvalidName, "voice name " + Quoted(name) +
                                                   " must be 1..64 letters, digits, '_' or '-'"};
  }
  if (!has_storage()) {
    return VoiceWriteError{Kind::kNoStorage, "voices are stored in TTS_VOICES_DIR, which is not set on this server"};
  }
  std::lock_guard write(write_mutex_);
  const auto snap = snapshot();
  const auto& voices = snap->by_model.at(model);
  const auto existing = voices.find(name);
  if (existing != voices.end() && existing->second.origin == VoiceOrigin::kModel) {
    return VoiceWriteError{Kind::kProtected, Quoted(name) + " is one of model " + model_names_[model] +
                                                 "'s own voices; choose another name"};
  }
  if (existing == voices.end() && CountStored(voices) >= config_.max_voices) {
    return VoiceWriteError{Kind::kTooMany, "model " + model_names_[model] + " has TTS_MAX_VOICES (" +
                                               std::to_string(config_.max_voices) +
                                               ") voices from files and uploads; delete one first"};
  }
  const fs::path folder = FolderOf(model);
  if (folder.empty()) {
    return VoiceWriteError{Kind::kNoStorage, "model " + model_names_[model] + "'s name cannot name a voices folder"};
  }
  const fs::path target = existing != voices.end() ? existing->second.files.front() : folder / (name + ".json");
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (ec) {
    return VoiceWriteError{Kind::kStorage, "cannot create " + target.parent_path().string() + ": " + ec.message()};
  }
  style.name = name;
  nlohmann::json upload = {{"created_at", NowIso8601()}};
  if (!blend.empty()) upload["blend"] = blend;
  style.upload = upload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const std::string text = style.ToJson();
  if (text.size() > config_.max_voice_bytes) {
    return VoiceWriteError{Kind::kTooLarge, "its file would take " + std::to_string(text.size()) +
                                                " bytes, over TTS_MAX_VOICE_BYTES (" +
                                                std::to_string(config_.max_voice_bytes) + ")"};
  }
  if (const std::string error = WriteAtomically(target, text); !error.empty()) {
    spdlog::error("voices: saving {} for model {} failed: {}", name, model_names_[model], error);
    return VoiceWriteError{Kind::kStorage, "the voice could not be stored: " + error};
  }
  auto next = std::make_shared<Snapshot>(*snap);
  Entry entry{std::make_shared<const VoiceStyle>(std::move(style)), VoiceOrigin::kUpload, {target}};
  if (existing != voices.end()) {
    const auto& files = existing->second.files;
    entry.files.insert(entry.files.end(), files.begin() + 1, files.end());
  }
  next->by_model[model][name] = std::move(entry);
  Publish(std::move(next));
  spdlog::info("voices: {} {} for model {} ({})", existing != voices.end() ? "replaced" : "added", name,
               model_names_[model], target.string());
  return existing != voices.end();
}

std::optional<VoiceWriteError> VoiceRegistry::Delete(std::size_t model, const std::string& name) {
  using Kind = VoiceWriteError::Kind;
  if (!IsVoiceName(name)) {
    return VoiceWriteError{Kind::kInvalidName, "voice name " + Quoted(name) +
                                                   " must be 1..64 letters, digits, '_' or '-'"};
  }
  std::lock_guard write(write_mutex_);
  const auto snap = snapshot();
  const auto& voices = snap->by_model.at(model);
  const auto it = voices.find(name);
  if (it == voices.end()) {
    return VoiceWriteError{Kind::kNotFound, "model " + model_names_[model] + " has no voice " + Quoted(name)};
  }
  if (it->second.origin == VoiceOrigin::kModel) {
    return VoiceWriteError{Kind::kProtected,
                           Quoted(name) + " is one of model " + model_names_[model] + "'s own voices"};
  }
  if (name == config_.default_voice) {
    return VoiceWriteError{Kind::kProtected, Quoted(name) + " is TTS_DEFAULT_VOICE; it cannot be deleted"};
  }
  for (const fs::path& file : it->second.files) {
    if (::unlink(file.c_str()) != 0 && errno != ENOENT) {
      const std::string error = "cannot remove " + file.string() + ": " + ErrnoText(errno);
      spdlog::error("voices: deleting {} for model {} failed: {}", name, model_names_[model], error);
      return VoiceWriteError{Kind::kStorage, "the voice could not be deleted: " + error};
    }
  }
  auto next = std::make_shared<Snapshot>(*snap);
  next->by_model[model].erase(name);
  Publish(std::move(next));
  spdlog::info("voices: deleted {} of model {}", name, model_names_[model]);
  return std::nullopt;
}

}  // namespace supertonic::service
