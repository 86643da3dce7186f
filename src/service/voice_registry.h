#pragma once
// The voices each served model offers: its own (voice_styles/), the voice
// files of TTS_VOICES_DIR, and those uploaded through /v1/voices (written
// there, so they survive a restart); and the blends of them sessions ask for.
//
// Layout of TTS_VOICES_DIR: one folder per served model, named as clients
// name the model (TTS_VOICES_DIR/supertonic-2/*.json, or the TTS_MODELS
// names); with a single model, *.json directly in TTS_VOICES_DIR are that
// model's too. A voice is named by its file stem. Uploads go to the model's
// folder (created when needed).
//
// Several servers (replicas) may share one TTS_VOICES_DIR. The folder is the
// truth: each server re-reads it every rescan_interval (TTS_VOICES_RESCAN_S)
// on a thread of its own, so what one replica writes or deletes reaches the
// others within that interval; Save and Delete look at the disk, not at what
// this server read last. Two writers of one name: the last to put its file
// in place wins, and each is told correctly whether it replaced a file.
//
// Thread safety: every method may be called from any thread. Readers take an
// immutable snapshot (a shared_ptr swapped under a mutex); writers (Save,
// Delete, re-scans) are serialized, change the files first and then publish
// a new snapshot. A resolved style is a shared_ptr the session keeps: an
// overwrite or a DELETE never changes or frees the style of a running session.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "engine/voice_style.h"
#include "service/session_settings.h"

struct stat;  // <sys/stat.h>

namespace supertonic::service {

enum class VoiceOrigin { kModel, kFile, kUpload };
std::string_view ToString(VoiceOrigin origin);  // "model", "file", "upload"

struct VoiceRegistryConfig {
  std::filesystem::path dir;        // TTS_VOICES_DIR; empty: the models' own voices only, no uploads
  std::size_t max_voices = 500;     // TTS_MAX_VOICES: file and uploaded voices per model
  std::size_t max_voice_bytes = VoiceStyle::kDefaultMaxFileBytes;  // TTS_MAX_VOICE_BYTES: one file
  std::size_t blend_cache_size = 64;  // resolved blends kept (least recently used dropped)
  std::string default_voice;          // TTS_DEFAULT_VOICE: never deleted
  // TTS_VOICES_RESCAN_S: how often a background thread re-scans dir for
  // files other replicas wrote; 0: never (Rescan() still works).
  std::chrono::milliseconds rescan_interval{0};
};

// A served model's own voices, as the registry starts with them.
struct ModelVoices {
  std::string name;              // the model's name as clients use it (and its folder's)
  const VoiceLibrary* library = nullptr;  // must outlive the registry
};

struct VoiceInfo {
  std::string name;
  std::string model;
  VoiceOrigin origin = VoiceOrigin::kModel;
  std::shared_ptr<const VoiceStyle> style;  // its metadata and upload record
};

// Why a write was refused. The API maps each kind to an HTTP status and a code.
struct VoiceWriteError {
  enum class Kind {
    kInvalidName,    // 400 invalid_voice_name
    kInvalidVoice,   // 400 invalid_voice: a bad blend
    kProtected,      // 409 voice_protected: the model's own, or TTS_DEFAULT_VOICE
    kTooMany,        // 409 too_many_voices: TTS_MAX_VOICES
    kTooLarge,       // 413 voice_too_large: its file would exceed TTS_MAX_VOICE_BYTES
    kNotFound,       // 404 voice_not_found
    kNoStorage,      // 403 uploads_disabled: no TTS_VOICES_DIR
    kStorage,        // 500 voice_storage_failed: the file could not be written or removed
  };
  Kind kind;
  std::string message;
};

class VoiceRegistry : public VoiceResolver {
 public:
  // Loads the voice files of config.dir (creating it when missing; throws
  // std::invalid_argument naming TTS_VOICES_DIR when it cannot) and starts
  // the re-scan thread. A bad file is skipped with a warning naming it and
  // why; so is one beyond max_voices, one whose name is not a voice name, one
  // named as the model's own or as an OpenAI voice (OpenAiVoiceAlias).
  VoiceRegistry(std::vector<ModelVoices> models, VoiceRegistryConfig config);
  ~VoiceRegistry() override;  // stops the re-scan thread
  VoiceRegistry(const VoiceRegistry&) = delete;
  VoiceRegistry& operator=(const VoiceRegistry&) = delete;

  const VoiceRegistryConfig& config() const { return config_; }
  bool has_storage() const { return !config_.dir.empty(); }
  std::size_t model_count() const { return model_names_.size(); }

  // The model's voices: its own, then the files', then the uploaded ones,
  // each by name.
  std::vector<VoiceInfo> List(std::size_t model) const;
  std::vector<std::string> Names(std::size_t model) const;
  // The model's voice of that name (no blends), or null.
  std::shared_ptr<const VoiceStyle> Find(std::size_t model, const std::string& name) const;

  // VoiceResolver: a name, or a blend of up to kMaxBlendParts of the model's
  // voices (cached).
  std::variant<ResolvedVoice, ProtocolError> Resolve(std::size_t model, std::string_view voice) const override;

  // Stores `style` as the model's voice `name` (a new one, or replacing an
  // uploaded or file voice): written atomically (temporary file, then link or
  // rename) into the model's folder (or over the file of TTS_VOICES_DIR
  // itself that holds it), then visible to new sessions. The file records
  // the upload ("upload": {"created_at", and "blend" when it was saved from
  // one}). Returns whether it replaced a file, whoever wrote that file. An
  // OpenAI voice name is refused (kProtected).
  std::variant<bool, VoiceWriteError> Save(std::size_t model, const std::string& name, VoiceStyle style,
                                           std::string_view blend = {});
  // Removes the model's file or uploaded voice `name`: every file that would
  // provide it (its model's folder's and, with one model, TTS_VOICES_DIR's
  // own), those this server has not read yet included. kNotFound when there
  // is none on disk.
  std::optional<VoiceWriteError> Delete(std::size_t model, const std::string& name);

  // Reads the folder again and publishes what changed (other replicas'
  // writes, files an operator added, changed or removed); returns whether it
  // published. Only files whose inode, size or modification time changed are
  // parsed again. The background thread calls it every rescan_interval.
  bool Rescan();

  // For tests: how many blends are cached.
  std::size_t cached_blends() const;

 private:
  struct Entry {
    std::shared_ptr<const VoiceStyle> style;
    VoiceOrigin origin = VoiceOrigin::kModel;
    // Every file of that name that would provide it, the one it was read
    // from first (none for the model's own).
    std::vector<std::filesystem::path> files;
    bool operator==(const Entry&) const = default;
  };
  using Voices = std::map<std::string, Entry>;
  struct Snapshot {
    uint64_t generation = 0;
    std::vector<Voices> by_model;
  };
  // What tells a file's contents apart without reading them: every write
  // of this server (and of a replica) makes a new inode.
  struct FileStamp {
    uint64_t device = 0;
    uint64_t inode = 0;
    int64_t size = 0;
    int64_t mtime_ns = 0;
    static FileStamp Of(const struct ::stat& st);
    bool operator==(const FileStamp&) const = default;
  };
  // A voice file as the last scan found it.
  struct ScannedFile {
    FileStamp stamp;
    bool read = false;     // style or error is what reading this stamp gave
    bool recheck = false;  // changed too recently to trust the stamp: read again at the next scan
    std::shared_ptr<const VoiceStyle> style;
    std::string error;     // why it could not be read
    std::string reported;  // why it is skipped, as last logged ("" while it is used)
  };

  static std::size_t CountStored(const Voices& voices);  // file and uploaded voices
  void PrepareFolder() const;
  // The files that may hold the model's voice `name`, in the order a scan
  // prefers them: its model's folder, then (one model) TTS_VOICES_DIR itself.
  std::vector<std::filesystem::path> CandidateFiles(std::size_t model, const std::string& name) const;
  // Under write_mutex_: the file and uploaded voices of every model as the
  // folder holds them now, re-reading only changed files; nullopt when a
  // folder cannot be listed (nothing is concluded from a partial listing).
  std::optional<std::vector<Voices>> ScanFiles();
  void ScanFolder(std::size_t model, const std::vector<std::filesystem::path>& files, Voices& voices,
                  std::map<std::filesystem::path, ScannedFile>& scanned);
  // Why a file of that name cannot be a voice of the model ("" when it can).
  std::string NameProblem(std::size_t model, const std::string& name) const;
  // Reads `file` unless `f` already holds what it has; false when it was
  // deleted meanwhile.
  bool ReadVoiceFile(const std::filesystem::path& file, ScannedFile& f) const;
  std::shared_ptr<Snapshot> WithStored(std::vector<Voices> stored) const;
  void RescanLoop();
  std::shared_ptr<const Snapshot> snapshot() const;
  void Publish(std::shared_ptr<Snapshot> next);
  std::filesystem::path FolderOf(std::size_t model) const;
  std::string AvailableText(const Voices& voices) const;

  VoiceRegistryConfig config_;
  std::vector<std::string> model_names_;
  std::vector<Voices> own_;    // each model's own voices, which never change
  std::mutex write_mutex_;     // one Save, Delete or scan at a time (files, then snapshot); guards the two below
  std::map<std::filesystem::path, ScannedFile> files_;  // every voice file the last scan listed
  std::size_t ignored_top_files_ = 0;  // with several models: files directly in TTS_VOICES_DIR, last warned about
  std::string listing_error_;          // the last folder listing that failed, as logged
  mutable std::mutex mutex_;   // snapshot_ and the blend cache
  std::shared_ptr<const Snapshot> snapshot_;
  // Least recently used first; keyed by model and canonical blend.
  mutable std::list<std::pair<std::string, std::shared_ptr<const VoiceStyle>>> blend_lru_;
  mutable std::map<std::string, decltype(blend_lru_)::iterator> blend_index_;
  // The background re-scan (rescan_interval > 0 and a folder).
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread rescan_thread_;
};

}  // namespace supertonic::service
