#include "service/voice_registry.h"

#include <fcntl.h>
#include <sys/stat.h>
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

#include "engine/voice_blend.h"
#include "service/speech_request.h"
#include "text/exceptions.h"

namespace supertonic::service {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxNamesInMessage = 30;

// A file modified this recently may change again without its stamp showing
// it (timestamps are as coarse as a clock tick, or a second on some network
// filesystems): it is read again at the next scan.
constexpr int64_t kRecentNs = 2'000'000'000;

std::string NowIso8601() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

std::string ErrnoText(int error) { return std::system_category().message(error); }

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool SameVoice(const VoiceStyle& a, const VoiceStyle& b) {
  return a.name == b.name && a.ttl == b.ttl && a.dp == b.dp && a.metadata == b.metadata && a.upload == b.upload;
}

bool Exists(const fs::path& file) {
  struct stat st {};
  return ::stat(file.c_str(), &st) == 0;
}

// The voice files (*.json) of a folder, sorted. A folder that does not exist
// (or is no folder) has none; one that cannot be listed is an error (its
// text returned).
std::string ListVoiceFiles(const fs::path& folder, std::vector<fs::path>& files) {
  std::error_code ec;
  fs::directory_iterator it(folder, ec);
  if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) return {};
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->path().extension() == ".json") files.push_back(it->path());
  }
  if (ec) return "cannot list " + folder.string() + ": " + ec.message();
  std::sort(files.begin(), files.end());
  return {};
}

struct WriteResult {
  std::string error;      // empty on success
  bool replaced = false;  // a file was there and was replaced
  struct stat written {};  // the new file's
};

// Writes `bytes` to a new file `tmp`, flushed to disk; returns the error text
// (and leaves no file then).
std::string WriteNewFile(const fs::path& tmp, const std::string& bytes, struct stat& written) {
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return "cannot create " + tmp.string() + ": " + ErrnoText(errno);
  std::string error;
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = "cannot write " + tmp.string() + ": " + ErrnoText(errno);
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (error.empty() && ::fsync(fd) != 0) error = "cannot flush " + tmp.string() + ": " + ErrnoText(errno);
  if (error.empty() && ::fstat(fd, &written) != 0) error = "cannot stat " + tmp.string() + ": " + ErrnoText(errno);
  if (::close(fd) != 0 && error.empty()) error = "cannot close " + tmp.string() + ": " + ErrnoText(errno);
  if (!error.empty()) ::unlink(tmp.c_str());
  return error;
}

// Gives the written file `tmp` the name `target`. link() does so only where
// no file is, so whether a file (written by whichever replica) was replaced
// is known from the filesystem itself; when one is there, rename() replaces it.
void PutInPlace(const fs::path& tmp, const fs::path& target, WriteResult& result) {
  if (::link(tmp.c_str(), target.c_str()) == 0) return;
  const int link_error = errno;
  struct stat there {};
  if (link_error == EEXIST && ::stat(target.c_str(), &there) == 0 && there.st_dev == result.written.st_dev &&
      there.st_ino == result.written.st_ino) {
    return;  // linked, but the answer was lost and a retry found the link (a network filesystem)
  }
  // Without hard links (some network and FUSE filesystems) whether a file is
  // there is looked up first: right unless another replica writes the same
  // name at that very moment.
  const bool no_links = link_error == EPERM || link_error == EOPNOTSUPP || link_error == ENOSYS ||
                        link_error == EMLINK || link_error == EXDEV;
  if (link_error != EEXIST && !no_links) {
    result.error = "cannot link " + tmp.string() + " to " + target.string() + ": " + ErrnoText(link_error);
    return;
  }
  result.replaced = link_error == EEXIST || Exists(target);
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    result.error = "cannot rename " + tmp.string() + " to " + target.string() + ": " + ErrnoText(errno);
  }
}

// Writes `bytes` to `target` atomically: a temporary file in the same folder,
// flushed to disk, put in place (PutInPlace), the folder flushed. A crash
// leaves the old file or the new one, never half of one.
WriteResult WriteAtomically(const fs::path& target, const std::string& bytes) {
  static std::atomic<uint64_t> counter{0};
  std::random_device random;
  const fs::path tmp = target.parent_path() / fmt::format(".{}.tmp-{}-{}-{:x}", target.filename().string(), getpid(),
                                                          counter++, random());
  WriteResult result;
  result.error = WriteNewFile(tmp, bytes, result.written);
  if (!result.error.empty()) return result;
  PutInPlace(tmp, target, result);
  ::unlink(tmp.c_str());  // after a link, the temporary name; after a rename, nothing is left
  if (!result.error.empty()) return result;
  const int dir = ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);  // best effort: the new name is durable once the folder is
    ::close(dir);
  }
  return result;
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

std::size_t VoiceRegistry::CountStored(const Voices& voices) {
  return static_cast<std::size_t>(std::count_if(voices.begin(), voices.end(), [](const auto& kv) {
    return kv.second.origin != VoiceOrigin::kModel;
  }));
}

VoiceRegistry::VoiceRegistry(std::vector<ModelVoices> models, VoiceRegistryConfig config)
    : config_(std::move(config)) {
  for (const ModelVoices& m : models) {
    model_names_.push_back(m.name);
    auto& voices = own_.emplace_back();
    if (m.library == nullptr) continue;
    for (const auto& name : m.library->names()) {
      voices[name] = Entry{m.library->FindShared(name), VoiceOrigin::kModel, {}};
    }
  }
  auto snap = std::make_shared<Snapshot>();
  snap->by_model = own_;
  if (has_storage()) {
    PrepareFolder();
    std::lock_guard write(write_mutex_);
    // A folder that cannot be listed now leaves the model's own voices; the
    // re-scans retry.
    if (auto stored = ScanFiles()) snap = WithStored(std::move(*stored));
    for (std::size_t m = 0; m < model_names_.size(); ++m) {
      const auto& voices = snap->by_model[m];
      spdlog::info("voices: model {}: {} of its own, {} from TTS_VOICES_DIR ({}), at most {}{}", model_names_[m],
                   voices.size() - CountStored(voices), CountStored(voices), config_.dir.string(), config_.max_voices,
                   config_.rescan_interval.count() > 0
                       ? fmt::format(", re-read every {:g} s", config_.rescan_interval.count() / 1000.0)
                       : std::string(", not re-read (TTS_VOICES_RESCAN_S=0)"));
    }
  }
  snapshot_ = std::move(snap);
  if (has_storage() && config_.rescan_interval.count() > 0) rescan_thread_ = std::thread([this] { RescanLoop(); });
}

VoiceRegistry::~VoiceRegistry() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (rescan_thread_.joinable()) rescan_thread_.join();
}

void VoiceRegistry::RescanLoop() {
  std::unique_lock lock(stop_mutex_);
  while (!stop_cv_.wait_for(lock, config_.rescan_interval, [this] { return stopping_; })) {
    lock.unlock();
    try {
      Rescan();
    } catch (const std::exception& e) {
      spdlog::error("voices: re-reading TTS_VOICES_DIR failed: {}", e.what());
    }
    lock.lock();
  }
}

void VoiceRegistry::PrepareFolder() const {
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
    if (FolderOf(m).empty()) {
      spdlog::warn("voices: model '{}' has no voices folder (its name cannot name one)", model_names_[m]);
    }
  }
}

fs::path VoiceRegistry::FolderOf(std::size_t model) const {
  const std::string& name = model_names_.at(model);
  if (config_.dir.empty() || name.empty() || name == "." || name == "..") return {};
  return config_.dir / name;
}

std::vector<fs::path> VoiceRegistry::CandidateFiles(std::size_t model, const std::string& name) const {
  std::vector<fs::path> files;
  if (const fs::path folder = FolderOf(model); !folder.empty()) files.push_back(folder / (name + ".json"));
  if (has_storage() && model_names_.size() == 1) files.push_back(config_.dir / (name + ".json"));
  return files;
}

std::optional<std::vector<VoiceRegistry::Voices>> VoiceRegistry::ScanFiles() {
  std::vector<Voices> stored(model_names_.size());
  std::map<fs::path, ScannedFile> scanned;
  auto listing_failed = [&](const std::string& error) {
    if (error != listing_error_) {
      spdlog::warn("voices: {}; the voices of TTS_VOICES_DIR stay as they were until it can be", error);
    }
    listing_error_ = error;
    return std::nullopt;
  };
  for (std::size_t m = 0; m < model_names_.size(); ++m) {
    const fs::path folder = FolderOf(m);
    if (folder.empty()) continue;
    std::vector<fs::path> files;
    if (const std::string error = ListVoiceFiles(folder, files); !error.empty()) return listing_failed(error);
    ScanFolder(m, files, stored[m], scanned);
  }
  std::vector<fs::path> top;
  if (const std::string error = ListVoiceFiles(config_.dir, top); !error.empty()) return listing_failed(error);
  listing_error_.clear();
  // A single model also owns the files directly in the folder; with several,
  // a file there would be offered to a model it may not be made for.
  if (model_names_.size() == 1) {
    ScanFolder(0, top, stored[0], scanned);
  } else if (!top.empty() && top.size() != ignored_top_files_) {
    spdlog::warn("voices: {} voice file(s) directly in TTS_VOICES_DIR {} ignored: with several models served, each "
                 "model's voices go in its own folder ({})",
                 top.size(), config_.dir.string(), fmt::format("{}/", fmt::join(model_names_, "/, ")));
  }
  ignored_top_files_ = model_names_.size() == 1 ? 0 : top.size();
  files_ = std::move(scanned);  // files no longer listed are forgotten
  return stored;
}

VoiceRegistry::FileStamp VoiceRegistry::FileStamp::Of(const struct ::stat& st) {
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), static_cast<int64_t>(st.st_size),
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

void VoiceRegistry::ScanFolder(std::size_t model, const std::vector<fs::path>& files, Voices& voices,
                               std::map<fs::path, ScannedFile>& scanned) {
  for (const fs::path& file : files) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;  // gone since the listing, or no file
    ScannedFile f;
    if (auto known = files_.find(file); known != files_.end()) f = known->second;
    if (const FileStamp stamp = FileStamp::Of(st); f.stamp != stamp) {
      // Changed: read again, and say again why it is skipped if it is. The
      // style is kept to tell whether the new contents differ.
      f.stamp = stamp;
      f.read = false;
      f.reported.clear();
    }
    const std::string name = file.stem().string();
    std::string why = NameProblem(model, name);
    if (why.empty()) {
      if (const auto taken = voices.find(name); taken != voices.end()) {
        why = "the voice " + name + " of " + taken->second.files.front().string() + " takes its place";
        taken->second.files.push_back(file);
      } else if (voices.size() >= config_.max_voices) {
        why = "model " + model_names_[model] + " has TTS_MAX_VOICES (" + std::to_string(config_.max_voices) +
              ") voices from files already";
      } else if (!ReadVoiceFile(file, f)) {
        continue;  // another replica deleted it while it was read: it is simply gone
      } else if (f.style) {
        const VoiceOrigin origin = f.style->upload.empty() ? VoiceOrigin::kFile : VoiceOrigin::kUpload;
        voices[name] = Entry{f.style, origin, {file}};
      } else {
        why = f.error;
      }
    }
    if (why != f.reported && !why.empty()) spdlog::warn("voices: {} skipped: {}", file.string(), why);
    f.reported = why;
    scanned[file] = std::move(f);
  }
}

std::string VoiceRegistry::NameProblem(std::size_t model, const std::string& name) const {
  if (!IsVoiceName(name)) {
    return "its name is not a voice name (letters, digits, '_' or '-', at most 64 characters): rename the file";
  }
  if (const auto alias = OpenAiVoiceAlias(name)) {
    return fmt::format("{} is an OpenAI voice name, which POST /v1/audio/speech maps to the built-in voice {}: "
                       "rename the file",
                       name, *alias);
  }
  if (own_[model].count(name) != 0) {
    return "model " + model_names_[model] + " has a voice of its own called " + name + ": rename the file";
  }
  return {};
}

bool VoiceRegistry::ReadVoiceFile(const fs::path& file, ScannedFile& f) const {
  if (f.read && !f.recheck) return true;
  try {
    auto style = std::make_shared<const VoiceStyle>(VoiceStyle::Load(file, config_.max_voice_bytes));
    // Unchanged contents keep their style, so that nothing is published.
    if (!f.style || !SameVoice(*f.style, *style)) f.style = std::move(style);
    f.error.clear();
  } catch (const std::exception& e) {
    if (!Exists(file)) return false;
    f.style.reset();
    f.error = e.what();
    if (f.error.rfind(file.string() + ": ", 0) == 0) f.error = f.error.substr(file.string().size() + 2);
  }
  f.read = true;
  f.recheck = NowNs() - f.stamp.mtime_ns < kRecentNs;
  return true;
}

std::shared_ptr<VoiceRegistry::Snapshot> VoiceRegistry::WithStored(std::vector<Voices> stored) const {
  auto next = std::make_shared<Snapshot>();
  next->by_model = own_;
  for (std::size_t m = 0; m < stored.size(); ++m) next->by_model[m].merge(stored[m]);
  return next;
}

bool VoiceRegistry::Rescan() {
  if (!has_storage()) return false;
  std::lock_guard write(write_mutex_);
  auto stored = ScanFiles();
  if (!stored) return false;
  const auto snap = snapshot();
  auto next = WithStored(std::move(*stored));
  if (next->by_model == snap->by_model) return false;
  for (std::size_t m = 0; m < model_names_.size(); ++m) {
    std::vector<std::string> added, replaced, removed;
    const Voices& before = snap->by_model[m];
    const Voices& after = next->by_model[m];
    for (const auto& [name, entry] : after) {
      auto it = before.find(name);
      if (it == before.end()) {
        added.push_back(name);
      } else if (it->second.style != entry.style) {
        replaced.push_back(name);
      }
    }
    for (const auto& [name, _] : before) {
      if (after.count(name) == 0) removed.push_back(name);
    }
    std::vector<std::string> changes;
    for (const auto& [what, names] : {std::pair{"added", &added}, {"replaced", &replaced}, {"removed", &removed}}) {
      if (!names->empty()) changes.push_back(fmt::format("{} {}", what, fmt::join(*names, ", ")));
    }
    if (changes.empty()) continue;
    spdlog::info("voices: model {}: TTS_VOICES_DIR changed: {}", model_names_[m], fmt::join(changes, "; "));
    if (std::find(removed.begin(), removed.end(), config_.default_voice) != removed.end()) {
      spdlog::warn("voices: TTS_DEFAULT_VOICE {} of model {} is gone from TTS_VOICES_DIR: sessions that name no voice "
                   "are refused until its file is back",
                   config_.default_voice, model_names_[m]);
    }
  }
  Publish(std::move(next));
  return true;
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

std::string VoiceRegistry::AvailableText(const Voices& voices) const {
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
  if (const auto alias = OpenAiVoiceAlias(name)) {
    return VoiceWriteError{Kind::kProtected,
                           fmt::format("{} is an OpenAI voice name: POST /v1/audio/speech maps it to the built-in "
                                       "voice {}, so a voice of that name would mean two things; choose another name",
                                       Quoted(name), *alias)};
  }
  if (own_.at(model).count(name) != 0) {
    return VoiceWriteError{Kind::kProtected, Quoted(name) + " is one of model " + model_names_[model] +
                                                 "'s own voices; choose another name"};
  }
  if (FolderOf(model).empty()) {
    return VoiceWriteError{Kind::kNoStorage, "model " + model_names_[model] + "'s name cannot name a voices folder"};
  }
  std::lock_guard write(write_mutex_);
  const auto snap = snapshot();
  const auto& voices = snap->by_model.at(model);
  // The disk decides, not what this server read last: another replica may
  // have written or deleted the file since.
  const std::vector<fs::path> candidates = CandidateFiles(model, name);
  std::vector<fs::path> on_disk;
  std::copy_if(candidates.begin(), candidates.end(), std::back_inserter(on_disk), Exists);
  // Counted against what this server has read: a file of another replica's
  // that it has not read yet is one more voice for it once it has.
  if (voices.count(name) == 0 && CountStored(voices) >= config_.max_voices) {
    return VoiceWriteError{Kind::kTooMany, "model " + model_names_[model] + " has TTS_MAX_VOICES (" +
                                               std::to_string(config_.max_voices) +
                                               ") voices from files and uploads; delete one first"};
  }
  // A file voice of TTS_VOICES_DIR itself is replaced where it is.
  const fs::path target = on_disk.empty() ? candidates.front() : on_disk.front();
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
  const WriteResult written = WriteAtomically(target, text);
  if (!written.error.empty()) {
    spdlog::error("voices: saving {} for model {} failed: {}", name, model_names_[model], written.error);
    return VoiceWriteError{Kind::kStorage, "the voice could not be stored: " + written.error};
  }
  auto stored = std::make_shared<const VoiceStyle>(std::move(style));
  // The next scan finds the file it wrote as written, and publishes nothing.
  ScannedFile& scanned = files_[target];
  scanned.stamp = FileStamp::Of(written.written);
  scanned.read = true;
  scanned.recheck = NowNs() - scanned.stamp.mtime_ns < kRecentNs;
  scanned.style = stored;
  scanned.error.clear();
  scanned.reported.clear();
  Entry entry{std::move(stored), VoiceOrigin::kUpload, {}};
  for (const fs::path& file : candidates) {
    if (file == target || std::find(on_disk.begin(), on_disk.end(), file) != on_disk.end()) {
      entry.files.push_back(file);
    }
  }
  auto next = std::make_shared<Snapshot>(*snap);
  next->by_model[model][name] = std::move(entry);
  Publish(std::move(next));
  spdlog::info("voices: {} {} for model {} ({})", written.replaced ? "replaced" : "added", name, model_names_[model],
               target.string());
  return written.replaced;
}

std::optional<VoiceWriteError> VoiceRegistry::Delete(std::size_t model, const std::string& name) {
  using Kind = VoiceWriteError::Kind;
  if (!IsVoiceName(name)) {
    return VoiceWriteError{Kind::kInvalidName, "voice name " + Quoted(name) +
                                                   " must be 1..64 letters, digits, '_' or '-'"};
  }
  if (own_.at(model).count(name) != 0) {
    return VoiceWriteError{Kind::kProtected,
                           Quoted(name) + " is one of model " + model_names_[model] + "'s own voices"};
  }
  if (name == config_.default_voice) {
    return VoiceWriteError{Kind::kProtected, Quoted(name) + " is TTS_DEFAULT_VOICE; it cannot be deleted"};
  }
  std::lock_guard write(write_mutex_);
  const auto snap = snapshot();
  // Every file that would provide the voice goes, whether this server has
  // read it or not (another replica's, a duplicate in TTS_VOICES_DIR itself):
  // else a re-scan or a restart would bring the voice back.
  std::vector<fs::path> on_disk;
  for (const fs::path& file : CandidateFiles(model, name)) {
    if (Exists(file)) on_disk.push_back(file);
  }
  const bool listed = snap->by_model.at(model).count(name) != 0;
  if (on_disk.empty()) {
    if (listed) {  // deleted through another replica since this one looked
      auto next = std::make_shared<Snapshot>(*snap);
      next->by_model[model].erase(name);
      Publish(std::move(next));
    }
    return VoiceWriteError{Kind::kNotFound, "model " + model_names_[model] + " has no voice " + Quoted(name)};
  }
  // The least preferred first: should one fail, the voice is still the one it was.
  for (auto file = on_disk.rbegin(); file != on_disk.rend(); ++file) {
    if (::unlink(file->c_str()) != 0 && errno != ENOENT) {
      const std::string error = "cannot remove " + file->string() + ": " + ErrnoText(errno);
      spdlog::error("voices: deleting {} for model {} failed: {}", name, model_names_[model], error);
      return VoiceWriteError{Kind::kStorage, "the voice could not be deleted: " + error};
    }
    files_.erase(*file);
  }
  auto next = std::make_shared<Snapshot>(*snap);
  next->by_model[model].erase(name);
  Publish(std::move(next));
  std::vector<std::string> removed;
  for (const fs::path& file : on_disk) removed.push_back(file.string());
  spdlog::info("voices: deleted {} of model {} ({})", name, model_names_[model], fmt::join(removed, ", "));
  return std::nullopt;
}

}  // namespace supertonic::service
